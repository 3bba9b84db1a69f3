//! Prompt latency benchmark: how long after the prospect finishes an
//! objection does its prompt reach a WebSocket client, and how long after
//! the talk ratio crosses its limit does the talk-ratio prompt arrive.
//!
//! A ~5 minute two-speaker call (espeak-ng) with ten objections of all five
//! types and two talk-ratio episodes is replayed at `--speed 1` by the real
//! `callcoach replay … --serve 0` (whisper tiny.en, coach, server), while this
//! process listens on the WebSocket like the overlay does and timestamps
//! every prompt on arrival. Call time maps to wall time through the metrics
//! messages: at speed 1, `wall = offset + t_s`, and the offset is the smallest
//! `arrival - t_s` seen (the metrics message that waited least).
//!
//! Run: `cargo bench --bench prompts` (needs the fetched model and
//! espeak-ng; about 6 minutes per run). Env: CALLCOACH_MODEL,
//! CALLCOACH_BENCH_RUNS (replays pooled into the figures, default 1).
//!
//! Labelled calls instead of the built-in script: `CALLCOACH_BENCH_CALLS=DIR`
//! (or a `:`-separated list of directories and `NAME.txt` scripts, each with its
//! `NAME.toml`; format `tests/fixtures/calls/FORMAT.md`) renders each call as
//! `callcoach eval --mode audio` does (`brief::eval::load_labelled` +
//! `brief::eval::render`), replays it at `--speed 1` with its prep, and pairs every
//! truth objection with the first `objection_detected` prompt of its type that
//! was triggered no earlier than 1 s before the start of the prospect line
//! carrying its quote and arrived by that line's end + 10 s (the eval's matching
//! window). Latency is arrival minus the line's end. Only figures are printed —
//! no transcript, script or evidence text, so held-out calls stay unread.
//! `CALLCOACH_BENCH_MAX_CALLS=N` keeps the N shortest calls (rendered length).
//! Latency is reported twice: arrival on the WebSocket, and the prompt's own
//! `t_emit_s` (call clock), each minus the end of the line.
//!
//! Early cards (issue 9): a card raised from partial words and later
//! confirmed is timed by its first (early) prompt; the confirmation
//! (`revises`) is not another card. A card withdrawn (`objection_withdrawn`)
//! matches nothing and is counted in its own column. `CALLCOACH_BENCH_EARLY=0`
//! measures the product as it was before them (`[coach] early_objections =
//! false`, `[segmenter] partial_interval_s = 1.5`, through the replay's
//! config file); `CALLCOACH_BENCH_BUSY=1` keeps a busy process (`yes`) pinned
//! to core 0 (`taskset -c 0`) for the whole run.

mod support;
use support::percentile;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use callcoach::brief::eval::{self, LabelledCall};
use callcoach::call::Speaker;
use callcoach::coach::CoachConfig;
use callcoach::synth::{self, RenderedCall, TruthLine, Voices};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// The call. `# objection: TYPE` tags the next prospect line as an objection
/// of that type; its end is when the prompt is due. The rep pitches alone for
/// the first minute (talk-ratio episode 1), handles ten objections, then
/// pitches again until the window ratio passes 65% once more (episode 2).
const SCRIPT: &str = "\
rep: Hi Dana, thanks for making the time today. I know your team is busy, so let me walk you through what we do and why teams like yours switch to us.
prospect: Sure, go ahead.
rep: Our platform connects your warehouse systems, your carriers and your finance tools in one place. Every order, every shipment and every invoice shows up on one screen, so nobody has to copy numbers between spreadsheets anymore.
rep: We built it for operations teams of fifty to five hundred people. The setup takes about two weeks, we do the integration work ourselves, and your people keep using the tools they already know.
rep: Customers usually see fewer billing errors in the first month, and the weekly reporting that used to take a whole day now takes a few minutes. We also include training for every new hire, and support is available around the clock.
prospect: Okay.
rep: On pricing, the plan for a team your size is forty thousand dollars a year, which covers every user and every integration.
# objection: price
prospect: That sounds expensive. It is way more than we planned to spend this year.
rep: I understand, it is a real investment. What budget range did you have in mind?
prospect: We set aside about twenty thousand for tools like this one.
rep: Great. When would you want the first team to go live?
# objection: timing
prospect: Honestly, the timing is not right. Maybe next quarter.
rep: That makes sense. What is happening this quarter that makes it hard?
prospect: We are hiring two new planners and moving one of our sites.
rep: Who else would be involved in choosing a tool like this?
# objection: authority
prospect: I would have to run it by my boss before we commit to anything.
rep: Of course. What would your boss want to see before saying yes?
prospect: She mostly cares about savings and how long the setup takes.
rep: How do you handle the weekly reporting today?
# objection: need
prospect: To be honest, we are fine with spreadsheets for now.
rep: Fair enough. How many hours a week go into keeping those spreadsheets up to date?
prospect: Probably ten hours a week across the team, maybe more.
rep: Are you using any other tool for shipment tracking at the moment?
# objection: competitor
prospect: We are locked into a contract with another vendor until spring.
rep: Thanks for telling me. When does that contract come up for renewal?
prospect: It ends in April, and we start reviewing options in February.
rep: Let me share the numbers from a similar customer. They saved about thirty percent.
# objection: price
prospect: I hear you, but the price is too high for a team our size.
rep: Understood. We could start with one site and grow from there. Would that help?
prospect: Starting with one site would make it easier to test it.
rep: Could we plan the first site for next month?
# objection: timing
prospect: We are in the middle of a migration, so we would rather wait.
rep: That is reasonable. When does the migration finish?
prospect: It should be done by the end of March.
rep: Could your finance director join our next call?
# objection: authority
prospect: It is not my decision. Our CFO signs off on anything like this.
rep: Thanks. What does your CFO usually need to approve a purchase?
prospect: A short business case with the savings and the payback period.
rep: What would change for your planners if the reports were automatic?
# objection: need
prospect: I do not think we need this. Our current process works.
rep: Got it. What happens when a shipment goes missing today?
prospect: We find out from the customer, usually a day or two later.
rep: How does your current tracking tool handle that?
# objection: competitor
prospect: We already use another tool for that, and switching would be a pain.
rep: Good to know. What do you like most about it, and what would you change?
prospect: It is reliable, but the reports are hard to read.
rep: That is exactly where we help. Let me explain how our reports work. Every morning your planners get one page with every late shipment, every billing mismatch and every order at risk. They can click any line to see the history, the carrier and the customer. Your finance team gets the same view for invoices, and it matches every invoice to the shipment automatically. Most teams stop building their own reports within the first month, and the time they save goes back into planning. We also send a weekly summary to managers, so nobody has to ask for status updates anymore. Setup is simple too. We connect to your warehouse system in the first week, we import a year of history in the second week, and your planners get trained on site by our team. After that, you have a named success manager who checks in every month and helps you add new sites whenever you are ready.
prospect: Okay.
rep: So here is what I suggest. We start with one site in April, right after your contract ends, and I send your CFO a short business case this week.
prospect: That works. Send it over.
rep: Great. Can we meet again on Tuesday at two to review it with your CFO?
prospect: Yes, Tuesday at two works.
";

/// A prompt as it arrived.
struct Arrival {
    at: Instant,
    id: u64,
    /// Raised from partial words (`early`), or replacing an earlier card (`revises`).
    early: bool,
    revises: Option<u64>,
    kind: String,
    objection: Option<String>,
    title: String,
    evidence: String,
    t_trigger_s: f64,
    t_emit_s: f64,
}

/// A final transcript segment of the prospect's, to show what whisper heard when an objection is missed.
struct Heard {
    start_s: f64,
    end_s: f64,
    text: String,
}

/// What one replay's WebSocket client saw.
struct Listened {
    /// When the replay was started; every arrival is timed from here.
    started: Instant,
    prompts: Vec<Arrival>,
    /// Arrival and call time of each metrics message.
    metrics: Vec<(Instant, f64)>,
    heard: Vec<Heard>,
}

/// An objection the script raises: its type and when the prospect finished saying it.
struct ScriptedObjection {
    kind: String,
    start_s: f64,
    end_s: f64,
    text: String,
}

/// Latencies (seconds) pooled over runs, and what each run saw.
#[derive(Default)]
struct Measured {
    objection_on_socket: Vec<f64>,
    objection_emitted: Vec<f64>,
    objection_coach: Vec<f64>,
    talk_on_socket: Vec<f64>,
    talk_coach: Vec<f64>,
    talk_vs_audio: Vec<f64>,
    delivery: Vec<f64>,
    missed: usize,
    false_alarms: usize,
    talk_prompts: usize,
    metrics_messages: usize,
    median_metrics_lag_ms: Vec<f64>,
    rows: Vec<String>,
}

fn main() {
    let model = std::env::var_os("CALLCOACH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/ggml-tiny.en-q8_0.bin"));
    assert!(model.is_file(), "{} is missing: run scripts/setup.sh (it fetches the model)", model.display());
    let runs: usize = std::env::var("CALLCOACH_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(1).max(1);
    let _busy = BusyCore::start_if_asked();
    eprintln!(
        "early objection cards {}; {}",
        if early_cards() { "on (the product's defaults)" } else { "off (CALLCOACH_BENCH_EARLY=0: as before them)" },
        if _busy.is_some() { "a busy process on core 0" } else { "no busy process" }
    );
    let dir = tempfile::Builder::new().prefix("callcoach-bench-prompts-").tempdir().expect("temp dir");
    if let Some(calls) = std::env::var_os("CALLCOACH_BENCH_CALLS") {
        let max_calls = std::env::var("CALLCOACH_BENCH_MAX_CALLS").ok().map(|n| n.parse::<usize>().expect("CALLCOACH_BENCH_MAX_CALLS is a number"));
        bench_calls(&calls, max_calls, runs, &model, dir.path());
        return;
    }

    let lines = synth::parse_script(SCRIPT).expect("valid script");
    let call = synth::render(&lines, &Voices::default()).expect("espeak-ng renders the script (is it installed?)");
    let wav = dir.path().join("call.wav");
    call.write_wav(&wav).expect("writing the call");
    let objections = scripted_objections(SCRIPT, &call.truth);
    let talk_truth = talk_ratio_truth(&call, &CoachConfig::default());
    eprintln!(
        "call: {:.1} s, {} objections, talk-ratio crossings in the rendered audio at {:?} s; {runs} replay(s) at speed 1…",
        call.duration_s(),
        objections.len(),
        talk_truth.iter().map(|t| (t * 10.0).round() / 10.0).collect::<Vec<_>>()
    );

    let mut measured = Measured::default();
    for run in 1..=runs {
        let run_dir = dir.path().join(format!("run{run}"));
        std::fs::create_dir_all(&run_dir).expect("run directory");
        let prep = ["--account", "ACME", "--contact", "Dana Lee", "--role", "VP Operations"].map(std::ffi::OsString::from);
        let listened = replay_and_listen(&wav, &model, &run_dir, call.duration_s(), &prep, false);
        measure(run, &objections, &talk_truth, &listened, &mut measured);
    }
    let m = &measured;

    println!(
        "## Prompt latency (replay at --speed 1, {} cores, {runs} run(s))\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "Call {:.0} s; per run {} objections ({} of {} detected over all runs, {} false alarm(s)) and {} talk-ratio episode(s) ({} prompt(s) over all runs). \
         Call time → wall clock from {} metrics messages (median lag behind the fit {:.1} ms).\n",
        call.duration_s(),
        objections.len(),
        m.objection_on_socket.len(),
        objections.len() * runs,
        m.false_alarms,
        talk_truth.len(),
        m.talk_prompts,
        m.metrics_messages,
        m.median_metrics_lag_ms.iter().copied().fold(0.0, f64::max)
    );
    println!("| latency (s) | n | p50 | p95 | max | goal |");
    println!("|---|---:|---:|---:|---:|---|");
    table_row("objection: end of phrase → prompt on WebSocket", &m.objection_on_socket, "p95 ≤ 1.0");
    table_row("objection: end of phrase → prompt emitted (call clock)", &m.objection_emitted, "");
    table_row("objection: t_emit_s − t_trigger_s", &m.objection_coach, "");
    table_row("talk ratio: crossing (pipeline's VAD) → prompt on WebSocket", &m.talk_on_socket, "≤ 0.3");
    table_row("talk ratio: t_emit_s − t_trigger_s", &m.talk_coach, "");
    table_row("talk ratio: crossing (rendered audio) → prompt on WebSocket", &m.talk_vs_audio, "");
    table_row("any prompt: t_emit_s → on WebSocket", &m.delivery, "");
    // "due": the end of the objection phrase (rendered audio), or the talk-ratio crossing (pipeline).
    println!("\n| run | prompt | due (s) | t_trigger_s | t_emit_s | on WebSocket after due (s) | heard / evidence |");
    println!("|---:|---|---:|---:|---:|---:|---|");
    for row in &m.rows {
        println!("{row}");
    }
    println!("\nCommand: `cargo bench --bench prompts` (CALLCOACH_BENCH_RUNS={runs})");
    assert!(!m.objection_on_socket.is_empty(), "no objection prompt arrived: the bench measured nothing");
}

/// Matches one run's prompts to the script and adds its latencies to `m`.
fn measure(run: usize, objections: &[ScriptedObjection], talk_truth: &[f64], listened: &Listened, m: &mut Measured) {
    let Listened { started, prompts: arrivals, metrics, heard } = listened;
    let started = *started;
    // Call time → wall clock: the least-delayed metrics message fixes the offset.
    let offset = metrics.iter().map(|(at, t_s)| secs_since(started, *at) - t_s).fold(f64::INFINITY, f64::min);
    let mut lags: Vec<f64> = metrics.iter().map(|(at, t_s)| secs_since(started, *at) - t_s - offset).collect();
    lags.sort_by(f64::total_cmp);
    m.median_metrics_lag_ms.push(percentile(&lags, 0.5) * 1e3);
    m.metrics_messages += metrics.len();
    let on_socket = |a: &Arrival, t_s: f64| secs_since(started, a.at) - (offset + t_s);

    // Objections: each scripted one against the prompt of its type triggered nearest its end.
    // Confirmations of early cards and withdrawn cards are not cards of their own.
    let mut used: Vec<bool> = arrivals.iter().map(|a| !is_standing_card(a, arrivals)).collect();
    for o in objections {
        let found = arrivals
            .iter()
            .enumerate()
            .filter(|(i, a)| !used[*i] && a.kind == "objection_detected" && a.objection.as_deref() == Some(o.kind.as_str()))
            .filter(|(_, a)| (a.t_trigger_s - o.end_s).abs() <= 4.0)
            .min_by(|(_, a), (_, b)| (a.t_trigger_s - o.end_s).abs().total_cmp(&(b.t_trigger_s - o.end_s).abs()));
        match found {
            Some((i, a)) => {
                used[i] = true;
                let latency = on_socket(a, o.end_s);
                m.objection_on_socket.push(latency);
                m.objection_emitted.push(a.t_emit_s - o.end_s);
                m.objection_coach.push(a.t_emit_s - a.t_trigger_s);
                m.rows.push(format!(
                    "| {run} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                    o.kind,
                    o.end_s,
                    a.t_trigger_s,
                    a.t_emit_s,
                    latency,
                    a.evidence.replace('|', "/")
                ));
            }
            None => {
                m.missed += 1;
                let said: Vec<&str> = heard.iter().filter(|h| h.end_s > o.start_s && h.start_s < o.end_s).map(|h| h.text.as_str()).collect();
                m.rows.push(format!("| {run} | {} (missed) | {:.2} | — | — | — | said “{}”, heard “{}” |", o.kind, o.end_s, o.text, said.join(" ")));
            }
        }
    }
    for (_, a) in arrivals.iter().enumerate().filter(|(i, a)| !used[*i] && a.kind == "objection_detected") {
        m.false_alarms += 1;
        m.rows.push(format!(
            "| {run} | false alarm: {} | — | {:.2} | {:.2} | — | {} |",
            a.objection.as_deref().unwrap_or("?"),
            a.t_trigger_s,
            a.t_emit_s,
            a.evidence
        ));
    }

    // Talk ratio: each prompt against the crossing the pipeline measured (its
    // t_trigger_s, from the VAD) and against the crossing in the rendered
    // audio (negative when the VAD, which counts its hangover as speech,
    // crosses first).
    for a in arrivals.iter().filter(|a| a.kind == "talk_ratio_high") {
        m.talk_prompts += 1;
        m.talk_coach.push(a.t_emit_s - a.t_trigger_s);
        m.talk_on_socket.push(on_socket(a, a.t_trigger_s));
        let nearest = talk_truth.iter().copied().min_by(|x, y| (x - a.t_trigger_s).abs().total_cmp(&(y - a.t_trigger_s).abs()));
        if let Some(truth) = nearest.filter(|t| (t - a.t_trigger_s).abs() <= 30.0) {
            m.talk_vs_audio.push(on_socket(a, truth));
        }
        m.rows.push(format!(
            "| {run} | talk ratio | {:.2} | {:.2} | {:.2} | {:.2} | {} ({}; rendered audio crossed at {}) |",
            a.t_trigger_s,
            a.t_trigger_s,
            a.t_emit_s,
            on_socket(a, a.t_trigger_s),
            a.title,
            a.evidence,
            nearest.map_or("—".into(), |t| format!("{t:.2} s")),
        ));
    }
    m.delivery.extend(arrivals.iter().map(|a| on_socket(a, a.t_emit_s)));
}

/// Replays the call through the real binary with the overlay served, and
/// records every prompt and metrics message as it arrives on a WebSocket.
/// `prep`: the prep flags. `quiet`: the replay's stderr goes to `dir/stderr.log`
/// instead of this process's stderr (held-out calls: nothing of them is shown).
fn replay_and_listen(wav: &Path, model: &Path, dir: &Path, duration_s: f64, prep: &[std::ffi::OsString], quiet: bool) -> Listened {
    let config_home = dir.join("config");
    if !early_cards() {
        let config_dir = config_home.join("callcoach");
        std::fs::create_dir_all(&config_dir).expect("config directory");
        std::fs::write(config_dir.join("config.toml"), "[coach]\nearly_objections = false\n\n[segmenter]\npartial_interval_s = 1.5\n")
            .expect("writing the replay's config");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_callcoach"))
        .arg("replay")
        .arg(wav)
        .args(["--speed", "1", "--serve", "0", "--linger", "2", "--out"])
        .arg(dir.join("out"))
        .args(prep)
        .env("CALLCOACH_LOG", "warn")
        .env("CALLCOACH_MODEL", model)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", &config_home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting callcoach replay");
    let run = Instant::now();
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let log_path = dir.join("stderr.log");
    let mut log = quiet.then(|| std::fs::File::create(&log_path).expect("stderr log"));
    let mut forward = move |line: &str| match log.as_mut() {
        Some(file) => {
            use std::io::Write;
            let _ = writeln!(file, "{line}");
        }
        None => eprintln!("callcoach: {line}"),
    };
    let url = loop {
        match stderr.next() {
            Some(Ok(line)) => match line.strip_prefix("overlay: ") {
                Some(url) => break url.trim().to_string(),
                None => forward(&line),
            },
            _ => panic!("callcoach replay exited before serving the overlay: {:?}", child.wait()),
        }
    };
    std::thread::spawn(move || stderr.map_while(Result::ok).for_each(|line| forward(&line)));
    let token = callcoach::server::load_or_create_token(&config_home.join("callcoach").join("token")).expect("the daemon's token");
    let ws_url = format!("{}ws?token={}", url.replacen("http://", "ws://", 1), token.as_str());

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let (arrivals, metrics, heard) = runtime.block_on(async move {
        let (mut socket, _) = tokio_tungstenite::connect_async(ws_url.as_str()).await.expect("WebSocket connects");
        let (mut arrivals, mut metrics, mut heard) = (Vec::new(), Vec::new(), Vec::new());
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(duration_s + 120.0);
        loop {
            let message = match tokio::time::timeout_at(deadline, socket.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(_)) | None) => break,
                Err(_) => panic!("the replay did not end within its length plus 2 minutes"),
            };
            let at = Instant::now();
            let Message::Text(text) = message else { continue };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            let number = |key: &str| value.get(key).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
            let string = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            match value.get("type").and_then(|t| t.as_str()) {
                Some("metrics") => metrics.push((at, number("t_s"))),
                Some("prompt") => arrivals.push(Arrival {
                    at,
                    id: value.get("id").and_then(|v| v.as_u64()).unwrap_or(u64::MAX),
                    early: value.get("early").and_then(|v| v.as_bool()).unwrap_or(false),
                    revises: value.get("revises").and_then(|v| v.as_u64()),
                    kind: string("kind"),
                    objection: value.get("objection").and_then(|v| v.as_str()).map(str::to_string),
                    title: string("title"),
                    evidence: string("evidence"),
                    t_trigger_s: number("t_trigger_s"),
                    t_emit_s: number("t_emit_s"),
                }),
                Some("segment") if value.get("final") == Some(&serde_json::Value::Bool(true)) && string("speaker") == "prospect" => {
                    heard.push(Heard { start_s: number("start_s"), end_s: number("end_s"), text: string("text") })
                }
                Some("call_ended") => break,
                _ => {}
            }
        }
        (arrivals, metrics, heard)
    });
    let status = child.wait().expect("waiting for callcoach");
    assert!(status.success(), "callcoach replay failed: {status}");
    assert!(metrics.len() > 100, "only {} metrics messages arrived", metrics.len());
    Listened { started: run, prompts: arrivals, metrics, heard }
}

/// The tagged prospect lines, with their rendered end times.
fn scripted_objections(script: &str, truth: &[TruthLine]) -> Vec<ScriptedObjection> {
    let mut found = Vec::new();
    let mut tag: Option<String> = None;
    let mut index = 0;
    for line in script.lines().map(str::trim) {
        if let Some(kind) = line.strip_prefix("# objection:") {
            tag = Some(kind.trim().to_string());
        } else if line.starts_with("rep:") || line.starts_with("prospect:") {
            if let Some(kind) = tag.take() {
                let rendered = &truth[index];
                assert_eq!(rendered.speaker, Speaker::Prospect, "`# objection` must tag a prospect line");
                found.push(ScriptedObjection { kind, start_s: rendered.start_s, end_s: rendered.end_s, text: rendered.text.clone() });
            }
            index += 1;
        }
    }
    assert_eq!(index, truth.len(), "script and rendering disagree");
    found
}

/// When the coach's talk-ratio rule would fire on the rendered audio's own
/// speech (each line's measured speech spread evenly over it), with the
/// coach's window, minimum speech, threshold, re-arm level and cooldown.
fn talk_ratio_truth(call: &RenderedCall, coach: &CoachConfig) -> Vec<f64> {
    let speech_in = |speaker: Speaker, from: f64, to: f64| -> f64 {
        call.truth
            .iter()
            .filter(|l| l.speaker == speaker && l.end_s > l.start_s)
            .map(|l| (to.min(l.end_s) - from.max(l.start_s)).max(0.0) * l.speech_s / (l.end_s - l.start_s))
            .sum()
    };
    let mut fires: Vec<f64> = Vec::new();
    let mut high = false;
    let mut prompted = false;
    let mut t = 0.0;
    while t < call.duration_s() {
        let rep = speech_in(Speaker::Rep, t - coach.talk_window_s, t);
        let prospect = speech_in(Speaker::Prospect, t - coach.talk_window_s, t);
        if rep + prospect >= coach.talk_ratio_min_speech_s {
            let ratio = rep / (rep + prospect);
            if ratio > coach.talk_ratio_high {
                if !high {
                    high = true;
                    prompted = false;
                }
                let cooled = fires.last().is_none_or(|last| t - last >= coach.talk_ratio_cooldown_s);
                if (!prompted || coach.talk_ratio_remind) && cooled {
                    fires.push(t);
                    prompted = true;
                }
            } else if ratio < coach.talk_ratio_rearm {
                high = false;
            }
        }
        t += 0.01;
    }
    fires
}

fn secs_since(start: Instant, at: Instant) -> f64 {
    at.duration_since(start).as_secs_f64()
}

fn table_row(what: &str, values: &[f64], goal: &str) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let cell = |v: f64| if v.is_nan() { "—".to_string() } else { format!("{v:.2}") };
    println!(
        "| {what} | {} | {} | {} | {} | {goal} |",
        sorted.len(),
        cell(percentile(&sorted, 0.5)),
        cell(percentile(&sorted, 0.95)),
        cell(sorted.last().copied().unwrap_or(f64::NAN)),
    );
}

/// The eval's objection window (`brief::eval`): a prompt may be triggered from
/// 1 s before the start of the line carrying the quote, and must reach the
/// WebSocket by 10 s after the line's end.
const MATCH_BEFORE_S: f64 = 1.0;
const MATCH_AFTER_S: f64 = 10.0;
/// The bar: every objection prompt on the WebSocket ≤ 1.0 s after its line ends.
const BAR_S: f64 = 1.0;

/// One call's (or the pool's) objection figures.
#[derive(Default)]
struct CallFigures {
    due: usize,
    /// Truth objections without a quote: no line, so no due time.
    unlocated: usize,
    latencies: Vec<f64>,
    missed: usize,
    other_prompts: usize,
    /// Prompt `t_emit_s` − end of the line, for the matched prompts.
    emitted: Vec<f64>,
    /// Cards raised early, and how many of them the final withdrew.
    early_cards: usize,
    withdrawn: usize,
}

impl CallFigures {
    fn add(&mut self, other: &CallFigures) {
        self.due += other.due;
        self.unlocated += other.unlocated;
        self.latencies.extend(&other.latencies);
        self.missed += other.missed;
        self.other_prompts += other.other_prompts;
        self.emitted.extend(&other.emitted);
        self.early_cards += other.early_cards;
        self.withdrawn += other.withdrawn;
    }

    fn within_bar(&self) -> usize {
        self.latencies.iter().filter(|l| **l <= BAR_S).count()
    }

    fn pass(&self) -> bool {
        self.missed == 0 && self.within_bar() == self.latencies.len()
    }

    fn row(&self, name: &str, length_s: Option<f64>) -> String {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let cell = |v: f64| if v.is_nan() { "—".to_string() } else { format!("{v:.2}") };
        let share = if self.due == 0 { "—".to_string() } else { format!("{}/{} ({:.0}%)", self.within_bar(), self.due, 100.0 * self.within_bar() as f64 / self.due as f64) };
        let mut emitted = self.emitted.clone();
        emitted.sort_by(f64::total_cmp);
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {share} | {} | {} | {} / {} | {} | {} |",
            length_s.map_or("—".into(), |s| format!("{s:.0}")),
            self.due,
            self.latencies.len(),
            self.missed,
            cell(percentile(&sorted, 0.5)),
            cell(percentile(&sorted, 0.95)),
            cell(sorted.last().copied().unwrap_or(f64::NAN)),
            cell(percentile(&emitted, 0.5)),
            cell(percentile(&emitted, 0.95)),
            self.early_cards,
            self.withdrawn,
            self.other_prompts,
            if self.pass() { "pass" } else { "FAIL" },
        )
    }
}

/// The labelled calls named by CALLCOACH_BENCH_CALLS: directories, or `NAME.txt` scripts.
fn load_calls(spec: &std::ffi::OsStr) -> Vec<LabelledCall> {
    let mut calls: Vec<LabelledCall> = Vec::new();
    for entry in std::env::split_paths(spec).filter(|p| !p.as_os_str().is_empty()) {
        if entry.is_dir() {
            calls.extend(eval::load_labelled(&entry).unwrap_or_else(|e| panic!("{e}")));
        } else {
            let parent = entry.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let found = eval::load_labelled(parent).unwrap_or_else(|e| panic!("{e}"));
            let call = found
                .into_iter()
                .find(|c| c.script_path.file_name() == entry.file_name())
                .unwrap_or_else(|| panic!("{}: not a labelled call (NAME.txt with NAME.toml)", entry.display()));
            calls.push(call);
        }
    }
    calls.sort_by(|a, b| a.name.cmp(&b.name));
    calls.dedup_by(|a, b| a.name == b.name);
    assert!(!calls.is_empty(), "CALLCOACH_BENCH_CALLS names no labelled call");
    calls
}

/// Replays labelled calls at speed 1 and reports, per call and pooled, how
/// long after the end of each truth objection's line its prompt arrived.
fn bench_calls(spec: &std::ffi::OsStr, max_calls: Option<usize>, runs: usize, model: &Path, dir: &Path) {
    let mut calls = load_calls(spec);
    let total = calls.len();
    // Rendered lengths (the audio is dropped: a call's stereo is tens of MB).
    let mut lengths: Vec<(f64, LabelledCall)> = calls
        .drain(..)
        .map(|call| {
            let rendered = eval::render(&call).unwrap_or_else(|e| panic!("espeak-ng renders the call (is it installed?): {e}"));
            (rendered.duration_s(), call)
        })
        .collect();
    lengths.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(n) = max_calls {
        lengths.truncate(n.max(1));
    }
    lengths.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    let audio_s: f64 = lengths.iter().map(|(s, _)| s).sum();
    eprintln!("{} of {total} call(s), {audio_s:.0} s of audio, {runs} replay(s) each at speed 1…", lengths.len());

    let mut rows = Vec::new();
    let mut pooled = CallFigures::default();
    let mut passed = 0;
    for (length_s, call) in &lengths {
        let rendered = eval::render(call).unwrap_or_else(|e| panic!("{e}"));
        let call_dir = dir.join(&call.name);
        std::fs::create_dir_all(&call_dir).expect("call directory");
        let wav = call_dir.join("call.wav");
        rendered.write_wav(&wav).expect("writing the call");
        let prep_path = call_dir.join("prep.toml");
        std::fs::write(&prep_path, toml::to_string(&call.prep).expect("prep as TOML")).expect("writing the prep");
        let prep = [std::ffi::OsString::from("--prep-file"), prep_path.into_os_string()];
        // Each truth objection's line: (start, end) in the rendered call.
        let windows: Vec<Option<(f64, f64)>> =
            call.objection_lines.iter().map(|l| l.and_then(|i| rendered.truth.get(i)).map(|t| (t.start_s, t.end_s))).collect();
        let kinds: Vec<&str> = call.truth.objections.iter().map(|o| o.kind.as_str()).collect();
        drop(rendered);
        let mut figures = CallFigures::default();
        for run in 1..=runs {
            let run_dir = call_dir.join(format!("run{run}"));
            std::fs::create_dir_all(&run_dir).expect("run directory");
            let started = Instant::now();
            let listened = replay_and_listen(&wav, model, &run_dir, *length_s, &prep, true);
            let run_figures = measure_call(&kinds, &windows, &listened);
            eprintln!(
                "{} run {run}: {:.0} s wall, {}/{} objection prompts matched",
                call.name,
                started.elapsed().as_secs_f64(),
                run_figures.latencies.len(),
                run_figures.due
            );
            figures.add(&run_figures);
        }
        let _ = std::fs::remove_dir_all(&call_dir);
        if figures.pass() {
            passed += 1;
        }
        rows.push(figures.row(&call.name, Some(*length_s)));
        pooled.add(&figures);
    }

    println!(
        "## Objection prompt latency on labelled calls (replay at --speed 1, {} cores, {runs} run(s) per call)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{} call(s), {audio_s:.0} s of audio. Latency = prompt on the WebSocket − end of the prospect line carrying the quote; \
         missed = no `objection_detected` prompt of the type by the line's end + {MATCH_AFTER_S:.0} s. Goal: every objection ≤ {BAR_S:.1} s.\n",
        lengths.len()
    );
    println!(
        "Early cards {}; {}.\n",
        if early_cards() { "on" } else { "off (as before them)" },
        if std::env::var("CALLCOACH_BENCH_BUSY").is_ok_and(|v| v == "1") { "a busy process on core 0" } else { "no busy process" }
    );
    println!("| call | length (s) | objections due | prompts matched | missed | p50 (s) | p95 (s) | max (s) | ≤ {BAR_S:.1} s | t_emit_s − end p50 (s) | p95 (s) | early cards / withdrawn | other objection prompts (standing) | bar |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in &rows {
        println!("{row}");
    }
    println!("{}", pooled.row(&format!("**pooled** ({passed}/{} calls pass)", lengths.len()), Some(audio_s)));
    if pooled.unlocated > 0 {
        println!("\n{} truth objection(s) without a quote were not timed.", pooled.unlocated);
    }
    let list = std::env::var("CALLCOACH_BENCH_CALLS").unwrap_or_default();
    let max = max_calls.map_or(String::new(), |n| format!(" CALLCOACH_BENCH_MAX_CALLS={n}"));
    let mode = format!(
        "{}{}",
        if early_cards() { "" } else { " CALLCOACH_BENCH_EARLY=0" },
        if std::env::var("CALLCOACH_BENCH_BUSY").is_ok_and(|v| v == "1") { " CALLCOACH_BENCH_BUSY=1" } else { "" }
    );
    println!("\nCommand: `CALLCOACH_BENCH_CALLS={list}{max}{mode} cargo bench --bench prompts` (CALLCOACH_BENCH_RUNS={runs})");
}

/// Pairs each truth objection (its type and its line's start and end) with the
/// first unused `objection_detected` prompt of that type inside the window.
fn measure_call(kinds: &[&str], windows: &[Option<(f64, f64)>], listened: &Listened) -> CallFigures {
    let Listened { started, prompts, metrics, .. } = listened;
    let offset = metrics.iter().map(|(at, t_s)| secs_since(*started, *at) - t_s).fold(f64::INFINITY, f64::min);
    // Arrival on the WebSocket, in call time.
    let arrived = |a: &Arrival| secs_since(*started, a.at) - offset;
    let mut figures = CallFigures::default();
    let mut used: Vec<bool> = prompts.iter().map(|a| !is_standing_card(a, prompts)).collect();
    figures.early_cards = prompts.iter().filter(|a| a.kind == "objection_detected" && a.early).count();
    figures.withdrawn = prompts.iter().filter(|a| a.kind == "objection_withdrawn").count();
    for (kind, window) in kinds.iter().zip(windows) {
        let Some((start, end)) = *window else {
            figures.unlocated += 1;
            continue;
        };
        figures.due += 1;
        let found = prompts.iter().enumerate().position(|(i, a)| {
            !used[i]
                && a.kind == "objection_detected"
                && a.objection.as_deref() == Some(*kind)
                && a.t_trigger_s >= start - MATCH_BEFORE_S
                && arrived(a) <= end + MATCH_AFTER_S
        });
        match found {
            Some(i) => {
                used[i] = true;
                figures.latencies.push(arrived(&prompts[i]) - end);
                figures.emitted.push(prompts[i].t_emit_s - end);
            }
            None => figures.missed += 1,
        }
    }
    figures.other_prompts = prompts.iter().enumerate().filter(|(i, a)| !used[*i] && a.kind == "objection_detected").count();
    figures
}

/// A card of its own that stayed: an `objection_detected` prompt that neither
/// revises an earlier card (an early card's confirmation) nor was withdrawn.
fn is_standing_card(a: &Arrival, all: &[Arrival]) -> bool {
    a.kind == "objection_detected"
        && a.revises.is_none()
        && !all.iter().any(|w| w.kind == "objection_withdrawn" && w.revises == Some(a.id))
}

/// Whether the replays run with early objection cards (the default), or as before them.
fn early_cards() -> bool {
    std::env::var("CALLCOACH_BENCH_EARLY").map_or(true, |v| v != "0")
}

/// `taskset -c 0 yes > /dev/null` for as long as it lives (CALLCOACH_BENCH_BUSY=1):
/// the video-call app competing for a core.
struct BusyCore(std::process::Child);

impl BusyCore {
    fn start_if_asked() -> Option<BusyCore> {
        if !std::env::var("CALLCOACH_BENCH_BUSY").is_ok_and(|v| v == "1") {
            return None;
        }
        let child = Command::new("taskset")
            .args(["-c", "0", "yes"])
            .stdout(Stdio::null())
            .spawn()
            .expect("starting `taskset -c 0 yes` (util-linux)");
        Some(BusyCore(child))
    }
}

impl Drop for BusyCore {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
