// End-to-end check of the overlay in a real headless Chromium (Debian's
// `chromium`), driven by playwright-core. tests/overlay.rs starts
// `callcoach replay … --serve 0` and runs this script against the URL it
// printed; it can also be run by hand against any running daemon:
//
//   node tests/e2e/overlay.spec.mjs http://127.0.0.1:PORT/ target/e2e/overlay.png [TIMEOUT_S]
//
// It waits, up to TIMEOUT_S (default 150), for the page to show an objection
// card with a prepared response and a talk-ratio prompt card, checks them,
// saves a screenshot, and exits 0. Any failure exits non-zero with the reason
// on stderr (and a screenshot of what the page showed instead, if possible).

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CALLCOACH_CHROMIUM || "/usr/bin/chromium";
// A quiet, offline browser: nothing but the page under test talks to the network.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const OBJECTION_CARD = "#objection-card";
const TALK_RATIO_CARD = '#prompts .prompt-card[data-kind="talk_ratio_high"]';

class Failure extends Error {}

function usage() {
  console.error("usage: node overlay.spec.mjs URL SCREENSHOT.png [TIMEOUT_S]");
  process.exit(2);
}

/// What the overlay shows right now, for the assertions and for error messages.
function readOverlay() {
  const text = (selector) => (document.querySelector(selector)?.textContent || "").trim();
  const card = document.querySelector("#objection-card");
  return {
    connection: document.querySelector("#connection")?.dataset.state,
    call: document.querySelector("#overlay")?.dataset.call,
    clock: text("#call-clock"),
    objection: card && !card.hidden
      ? {
          type: card.dataset.objection || "",
          state: card.dataset.state || "",
          heading: text("#objection-card .objection-type"),
          quote: text("#objection-card .objection-quote"),
          answer: text("#objection-card .prepared-answer"),
          visible: card.getBoundingClientRect().height > 0,
        }
      : null,
    prompts: [...document.querySelectorAll("#prompts .prompt-card")].map((c) => ({
      kind: c.dataset.kind,
      severity: c.dataset.severity,
      title: c.querySelector(".title")?.textContent || "",
      visible: c.getBoundingClientRect().height > 0,
    })),
    talkRatioWindow: text("#talk-ratio-window .value"),
    transcriptLines: document.querySelectorAll("#transcript .segment.final").length,
    messages: window.callcoachOverlay ? window.callcoachOverlay.messagesReceived : 0,
  };
}

async function main() {
  const [url, screenshot, timeoutArg] = process.argv.slice(2);
  if (!url || !screenshot) usage();
  const timeoutMs = Math.round(1000 * (timeoutArg ? Number(timeoutArg) : 150));
  if (!(timeoutMs > 0)) usage();
  await mkdir(dirname(screenshot), { recursive: true });
  const failedShot = screenshot.replace(/\.png$/i, "") + ".failed.png";
  await rm(failedShot, { force: true });

  const profile = await mkdtemp(join(tmpdir(), "callcoach-chromium-"));
  const pageErrors = [];
  let context;
  let page;
  const started = Date.now();
  const since = () => ((Date.now() - started) / 1000).toFixed(1);
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 460, height: 900 },
      deviceScaleFactor: 1,
      timeout: 60_000,
    });
    page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`console: ${message.text()} (${message.location().url || "?"})`);
    });

    const response = await page.goto(url, { waitUntil: "load", timeout: 15_000 });
    if (!response || response.status() !== 200) throw new Failure(`GET ${url} answered ${response && response.status()}`);
    await page
      .waitForSelector('#connection[data-state="open"]', { timeout: 10_000 })
      .catch(() => { throw new Failure("the overlay never connected to the WebSocket (#connection is not \"open\")"); });
    console.log(`[${since()} s] overlay connected`);

    // Both conditions, each logged as it shows up.
    const deadline = started + timeoutMs;
    const remaining = () => Math.max(1, deadline - Date.now());
    const objection = page
      .waitForFunction(
        (sel) => {
          const card = document.querySelector(sel);
          const answer = card && card.querySelector(".prepared-answer");
          return !!card && !card.hidden && !!answer && answer.textContent.trim().length > 0;
        },
        OBJECTION_CARD,
        { timeout: remaining(), polling: 100 },
      )
      .then(() => console.log(`[${since()} s] objection card shown`));
    const talkRatio = page
      .waitForSelector(TALK_RATIO_CARD, { state: "visible", timeout: remaining() })
      .then(() => console.log(`[${since()} s] talk-ratio prompt shown`));
    const [objectionResult, talkRatioResult] = await Promise.allSettled([objection, talkRatio]);
    const shown = await page.evaluate(readOverlay);
    const missing = [];
    if (objectionResult.status === "rejected") missing.push("an objection card with a prepared response");
    if (talkRatioResult.status === "rejected") missing.push(`a talk-ratio prompt card (${TALK_RATIO_CARD})`);
    if (missing.length) {
      throw new Failure(`after ${since()} s the overlay still lacks ${missing.join(" and ")}; it shows ${JSON.stringify(shown)}`);
    }

    // What the rep actually sees.
    const o = shown.objection;
    if (!o.visible) throw new Failure(`the objection card has no size on screen: ${JSON.stringify(o)}`);
    if (o.type !== "price") throw new Failure(`expected a price objection, the card shows ${JSON.stringify(o)}`);
    if (!/price/i.test(o.heading)) throw new Failure(`the objection card's heading does not name price: ${JSON.stringify(o.heading)}`);
    if (o.answer.split(/\s+/).length < 8) throw new Failure(`the prepared response is too short to be one: ${JSON.stringify(o.answer)}`);
    const talk = shown.prompts.find((p) => p.kind === "talk_ratio_high");
    if (!/\d+%/.test(talk.title)) throw new Failure(`the talk-ratio card does not say the share: ${JSON.stringify(talk)}`);
    if (talk.severity !== "warn") throw new Failure(`the talk-ratio card should be a warning: ${JSON.stringify(talk)}`);
    if (!/%/.test(shown.talkRatioWindow)) throw new Failure(`the talk-ratio gauge shows no figure: ${JSON.stringify(shown.talkRatioWindow)}`);
    if (pageErrors.length) throw new Failure(`the page reported errors: ${pageErrors.join(" | ")}`);

    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`[${since()} s] ok: ${o.heading}: "${o.answer}"; ${talk.title}; screenshot ${screenshot}`);
  } catch (error) {
    const message = error instanceof Failure ? error.message : `driver error: ${error && error.stack ? error.stack : error}`;
    console.error(`overlay e2e FAILED: ${message}`);
    if (page) {
      await page.screenshot({ path: failedShot, fullPage: true }).then(
        () => console.error(`what the page showed: ${failedShot}`),
        () => {},
      );
    }
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

await main();
