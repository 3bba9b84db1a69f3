//! The overlay end to end in a real browser: a two-speaker call replays at
//! `--speed 1` through the real pipeline (whisper, coach, server) while
//! headless Chromium, driven by playwright-core (`tests/e2e/overlay.spec.mjs`),
//! loads the page the daemon serves. The rep talks far too much, then the
//! prospect raises a price objection; the page must show a talk-ratio prompt
//! card and the objection card with its prepared response, and the driver
//! saves a screenshot to `target/e2e/overlay.png`.
//!
//! Needs `chromium` and `node`/`npm` (scripts/setup.sh installs them); the
//! driver's npm dependencies are installed with `npm ci` on first use.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use callcoach::call::Speaker;
use callcoach::coach::CoachConfig;

use crate::util;

/// About 110 s: the rep pitches for ~45 s of speech with one "okay" from the
/// prospect (the window talk ratio passes 65% once 45 s of speech are in the
/// window, `coach.talk_ratio_min_speech_s`), names the price, and the prospect
/// objects in words from the objection library; then a good recovery.
const CALL: &str = "\
rep: Hi Dana, thanks for making the time today. I know your team is busy, so let me walk you through what we do and why teams like yours switch to us.
prospect: Sure, go ahead.
rep: Our platform connects your warehouse systems, your carriers and your finance tools in one place. Every order, every shipment and every invoice shows up on one screen, so nobody has to copy numbers between spreadsheets anymore.
rep: We built it for operations teams of fifty to five hundred people. The setup takes about two weeks, we do the integration work ourselves, and your people keep using the tools they already know.
rep: Customers usually see fewer billing errors in the first month, and the weekly reporting that used to take a whole day now takes a few minutes. We also include training for every new hire, and support is available around the clock.
prospect: Okay.
rep: On pricing, the plan for a team your size is forty thousand dollars a year, which covers every user, every integration and the onboarding work.
pause: 1.0
prospect: That sounds expensive. It is way more than we planned to spend this year.
pause: 1.0
rep: I understand, it is a real investment. Can I ask what budget range you had in mind, and who owns that budget on your side?
prospect: We set aside about twenty thousand for tools like this. Our finance director owns it.
rep: That helps. We could start with one team this quarter and phase the rest in next year, so the first phase fits in that range.
prospect: That could work. Send me a proposal for one team.
rep: I will send it today. Can we meet again on Tuesday at two to go through it with your finance director?
prospect: Yes, Tuesday at two works.
";

/// Kills the replay if the test fails before it exits by itself.
struct Replay(Child);

impl Drop for Replay {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn browser_overlay_shows_objection_card_and_talk_ratio_prompt_during_a_replay() {
    let e2e = util::repo_root().join("tests/e2e");
    let node = require_tool("node");
    ensure_driver_installed(&e2e);
    assert!(Path::new(CHROMIUM).is_file(), "{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)");

    let dir = util::temp_dir();
    let (wav, call) = util::write_call(dir.path(), "call.wav", CALL);
    // The script does what the test needs, measured on the rendered audio:
    // before the objection, enough speech for the coach to judge the ratio, and far too much of it the rep's.
    let coach = CoachConfig::default();
    let objection = call.truth.iter().position(|l| l.text.contains("expensive")).expect("the objection line");
    let speech_before = |who: Speaker| -> f64 { call.truth[..objection].iter().filter(|l| l.speaker == who).map(|l| l.speech_s).sum() };
    let (rep, prospect) = (speech_before(Speaker::Rep), speech_before(Speaker::Prospect));
    assert!(
        rep + prospect > coach.talk_ratio_min_speech_s + 5.0 && rep / (rep + prospect) > coach.talk_ratio_high + 0.2,
        "the scripted pitch is too short or too balanced to trip the talk-ratio rule: rep {rep:.1} s, prospect {prospect:.1} s"
    );
    let duration_s = call.duration_s();
    assert!((90.0..=130.0).contains(&duration_s), "call is {duration_s:.1} s");

    let (data, config, out) = (dir.path().join("data"), dir.path().join("config"), dir.path().join("out"));
    let mut command = util::callcoach();
    command
        .arg("replay")
        .arg(&wav)
        .args(["--speed", "1", "--serve", "0", "--linger", "5", "--out"])
        .arg(&out)
        .args(["--account", "ACME", "--contact", "Dana Lee", "--role", "VP Operations", "--agenda", "platform,pricing", "--minutes", "30"])
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CONFIG_HOME", &config)
        .env("CALLCOACH_MODEL", util::model_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut replay = Replay(command.spawn().expect("starting callcoach replay"));
    let stdout = read_all_later(replay.0.stdout.take().expect("stdout"));
    let (url, stderr) = overlay_url(replay.0.stderr.take().expect("stderr"));

    let screenshot = util::repo_root().join("target/e2e/overlay.png");
    let _ = std::fs::remove_file(&screenshot);
    // The driver waits at most the call's length (plus start-up and transcription slack).
    let timeout_s = (duration_s + 30.0).ceil();
    let driver = Command::new(&node)
        .current_dir(util::repo_root())
        .arg(e2e.join("overlay.spec.mjs"))
        .arg(&url)
        .arg(&screenshot)
        .arg(format!("{timeout_s}"))
        .stdin(Stdio::null())
        .output()
        .expect("running node");
    let driver_log = format!("{}{}", String::from_utf8_lossy(&driver.stdout), String::from_utf8_lossy(&driver.stderr));
    eprintln!("{driver_log}");

    // Let the replay finish its call and brief (it lingers 5 s after), so a
    // failure below can show what the daemon said.
    let status = wait_with_timeout(&mut replay.0, Duration::from_secs(duration_s as u64 + 60));
    let stderr = stderr.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let stdout = stdout.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    assert!(
        driver.status.success(),
        "the browser test failed ({}):\n{driver_log}\ncallcoach replay stderr:\n{stderr}",
        driver.status
    );
    assert!(status.is_some_and(|s| s.success()), "callcoach replay did not finish cleanly ({status:?}):\n{stderr}\n{stdout}");

    let png = std::fs::read(&screenshot).unwrap_or_else(|e| panic!("{}: {e}", screenshot.display()));
    let (width, height) = png_size(&png).unwrap_or_else(|| panic!("{} is not a PNG", screenshot.display()));
    assert!(width >= 300 && height >= 400, "the screenshot is {width}x{height}: not the overlay page");

    // The browser showed what the call's own record holds.
    let events = std::fs::read_to_string(out.join("events.jsonl")).expect("events.jsonl");
    assert!(events.contains(r#""kind":"talk_ratio_high""#) && events.contains(r#""objection":"price""#), "events.jsonl lacks the prompts");
}

const CHROMIUM: &str = "/usr/bin/chromium";

fn require_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    found.unwrap_or_else(|| panic!("`{name}` is not on PATH: run scripts/setup.sh (it installs nodejs and npm)"))
}

/// `npm ci` from the committed lock file, once: playwright-core only, no browser download.
fn ensure_driver_installed(e2e: &Path) {
    if e2e.join("node_modules/playwright-core/package.json").is_file() {
        return;
    }
    let npm = require_tool("npm");
    let output = Command::new(npm)
        .current_dir(e2e)
        .args(["ci", "--no-audit", "--no-fund"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("running npm ci");
    assert!(output.status.success(), "npm ci in {} failed:\n{}", e2e.display(), util::stderr(&output));
}

/// Reads stderr until the `overlay: URL` line; the rest arrives on the channel when the process exits.
fn overlay_url(stderr: impl Read + Send + 'static) -> (String, mpsc::Receiver<String>) {
    let (url_tx, url_rx) = mpsc::channel();
    let (all_tx, all_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("overlay: ") {
                let _ = url_tx.send(url.trim().to_string());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = all_tx.send(seen);
    });
    match url_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => {
            assert!(url.starts_with("http://127.0.0.1:"), "the overlay is not on loopback: {url}");
            (url, all_rx)
        }
        Err(_) => panic!(
            "callcoach replay printed no `overlay: URL` within 60 s:\n{}",
            all_rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
        ),
    }
}

fn read_all_later(mut from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = from.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Width and height from a PNG's signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((width, height))
}
