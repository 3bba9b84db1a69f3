//! Issue 3's bars, end to end through the real `callcoach` binary:
//! - `callcoach run` on real cpal capture from a private PulseAudio daemon
//!   (tests/pulse.rs) transcribes two espeak-ng voices with the right
//!   speakers, and its talk share matches the source audio;
//! - `callcoach replay` of a 5-minute call gives the same transcript at
//!   `--speed max` and `--speed 1`, with the right talk share;
//! - `kill -9` mid-replay loses no utterance that ended a second before;
//! - the sound server dying under `callcoach run` is reported, cheap, not a
//!   hang, and recovered from.
//!
//! These tests are paced by the wall clock (live capture, `--speed 1`), so
//! they take turns ([`one_at_a_time`]) rather than fight over the 2 cores.
//! Every child gets its own `XDG_DATA_HOME`, `XDG_CONFIG_HOME` and `HOME`
//! (a [`Home`]), so nothing touches the real user's directories.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use callcoach::call::Speaker;
use callcoach::journal::{self, JournalRecord};
use callcoach::synth::{self, RenderedCall, ScriptLine, TruthLine, Voices};
use callcoach::wer::word_error_rate;

use crate::pulse::{self, PulseServer};
use crate::util;

static TURN: Mutex<()> = Mutex::new(());

/// Real-time tests run one at a time (a failed one must not block the rest).
fn one_at_a_time() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Polls `check` every `every` until it returns `Some` or `timeout` passes.
fn wait_for<T>(timeout: Duration, every: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Private XDG data/config directories and HOME for one test's children.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let home = Home { dir: util::temp_dir() };
        for sub in ["data", "config", "home"] {
            fs::create_dir_all(home.dir.path().join(sub)).expect("creating the test's home");
        }
        home
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `$XDG_DATA_HOME/callcoach`: calls, briefs, history.
    fn data_dir(&self) -> PathBuf {
        self.path().join("data/callcoach")
    }

    fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("XDG_DATA_HOME", self.path().join("data").into_os_string()),
            ("XDG_CONFIG_HOME", self.path().join("config").into_os_string()),
            ("HOME", self.path().join("home").into_os_string()),
        ]
    }

    /// Writes `$XDG_CONFIG_HOME/callcoach/config.toml`, which every command
    /// then finds by itself (no `--config`).
    fn write_config(&self, text: &str) {
        let dir = self.path().join("config/callcoach");
        fs::create_dir_all(&dir).expect("creating the config dir");
        fs::write(dir.join("config.toml"), text).expect("writing config.toml");
    }

    /// `callcoach` with this home (and the model from the environment).
    fn callcoach(&self) -> Command {
        let mut command = util::callcoach();
        command.envs(self.env());
        command
    }

    /// The journals of the calls `callcoach run` recorded here.
    fn call_journals(&self) -> Vec<PathBuf> {
        let mut journals: Vec<PathBuf> = fs::read_dir(self.data_dir().join("calls"))
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path().join("journal.jsonl")).filter(|p| p.is_file()).collect())
            .unwrap_or_default();
        journals.sort();
        journals
    }

    /// Brief folders written here.
    fn briefs(&self) -> Vec<PathBuf> {
        fs::read_dir(self.data_dir().join("briefs"))
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("brief.md").is_file()).collect())
            .unwrap_or_default()
    }
}

/// A port nobody listens on right now (`callcoach run` takes a fixed port).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("bound address").port()
}

/// The `[capture]`/`[server]`/`[call]` config for the test's PulseAudio PCMs.
fn live_config(port: u16) -> String {
    format!(
        "[capture]\nmic = \"{}\"\nfar_end = \"{}\"\n\n[server]\nport = {port}\n\n[call]\nauto_start = true\n",
        pulse::ALSA_MIC,
        pulse::ALSA_FAR_END
    )
}

/// A running `callcoach run`, its stderr collected line by line with the
/// moment each line arrived. Killed if dropped while running.
struct Daemon {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
    reader: Option<JoinHandle<()>>,
}

impl Daemon {
    fn start(server: &PulseServer, home: &Home, port: u16) -> Daemon {
        Daemon::start_with(server, home, port, &[])
    }

    /// `callcoach run` with `extra` arguments.
    fn start_with(server: &PulseServer, home: &Home, port: u16, extra: &[&str]) -> Daemon {
        let mut child = home
            .callcoach()
            .args(["run", "--model"])
            .arg(util::model_path())
            .args(extra)
            .envs(server.env())
            // Device loss is logged at warn, recovery and call start/end at info.
            .env("CALLCOACH_LOG", "warn,callcoach=info,whisper_rs=off")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting callcoach run");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push((Instant::now(), line));
            }
        });
        let mut daemon = Daemon { child, port, log, reader: Some(reader) };
        let listening = daemon.wait_for_line(Duration::from_secs(60), |l| l.contains("callcoach listening"));
        if listening.is_none() {
            let status = daemon.child.try_wait().ok().flatten();
            panic!("callcoach run did not start listening within 60 s (exit: {status:?}):\n{}", daemon.log_text());
        }
        daemon
    }

    /// The first stderr line (so far or within `timeout`) that `matches`.
    fn wait_for_line(&self, timeout: Duration, matches: impl Fn(&str) -> bool) -> Option<(Instant, String)> {
        wait_for(timeout, Duration::from_millis(10), || self.log.lock().unwrap().iter().find(|(_, l)| matches(l)).cloned())
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `callcoach call start|end` against this daemon.
    fn call(&self, home: &Home, action: &str) {
        let output = util::run(home.callcoach().args(["call", action]));
        assert!(output.status.success(), "callcoach call {action} failed: {}\ndaemon log:\n{}", util::stderr(&output), self.log_text());
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the daemon to exit.
    fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let sent = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        let status = wait_for(timeout, Duration::from_millis(50), || self.child.try_wait().expect("waiting for callcoach"));
        let status = status.unwrap_or_else(|| panic!("callcoach run did not exit within {timeout:?} of SIGTERM:\n{}", self.log_text()));
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The events a call wrote, one JSON value per line (a cut-off last line is skipped).
fn read_events(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The latest `metrics` event.
fn last_metrics(events: &[serde_json::Value]) -> Option<&serde_json::Value> {
    events.iter().rev().find(|e| e["type"] == "metrics")
}

/// How long after a device is opened its first block can arrive: an idle
/// PulseAudio null sink works in 2 s blocks (../shared/AUDIO-TESTING.md).
const DEVICE_START_S: f64 = 2.5;

/// Waits for `callcoach run`'s call to exist, for audio to reach its
/// pipeline (call time advancing) and for both devices' first blocks to have
/// come (the daemon shows no callback count, so wait out the documented
/// start-up gap after the capture log line). Audio played earlier can be lost
/// or placed on the call clock as if it had just arrived. Returns the journal.
fn wait_for_call_audio(home: &Home, daemon: &Daemon) -> PathBuf {
    let (opened, _) = daemon
        .wait_for_line(Duration::from_secs(1), |l| l.contains("capturing prospect from"))
        .unwrap_or_else(|| panic!("the daemon did not log opening the far end:\n{}", daemon.log_text()));
    std::thread::sleep(Duration::from_secs_f64(DEVICE_START_S).saturating_sub(opened.elapsed()));
    let journal = wait_for(Duration::from_secs(10), Duration::from_millis(20), || home.call_journals().into_iter().next())
        .unwrap_or_else(|| panic!("no call journal within 10 s of `call start`:\n{}", daemon.log_text()));
    let events = journal.with_file_name("events.jsonl");
    wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        last_metrics(&read_events(&events)).and_then(|m| m["t_s"].as_f64()).filter(|t| *t >= 1.0)
    })
    .unwrap_or_else(|| panic!("call time did not advance within 10 s: is audio arriving?\n{}", daemon.log_text()));
    journal
}

/// utime + stime of a process, seconds.
fn process_cpu_s(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf");
    ticks as f64 / String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().unwrap_or(100.0)
}

/// `GET /healthz` on the daemon's port, with a 2 s timeout.
fn healthz(port: u16) -> Result<String, String> {
    let response =
        ureq::get(&format!("http://127.0.0.1:{port}/healthz")).timeout(Duration::from_secs(2)).call().map_err(|e| e.to_string())?;
    response.into_string().map_err(|e| e.to_string())
}

fn write_mono_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec { channels: 1, sample_rate: synth::RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).expect("creating a WAV");
    for s in samples {
        writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16).expect("writing a sample");
    }
    writer.finalize().expect("finishing a WAV");
}

/// One speaker's final transcript, in call order.
fn text_of(record: &JournalRecord, speaker: Speaker) -> String {
    let mut segments: Vec<_> = record.segments.iter().filter(|s| s.speaker == speaker).collect();
    segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    segments.iter().map(|s| s.text.trim()).collect::<Vec<_>>().join(" ")
}

/// The rep's share of the VAD talk time in a journal.
fn journal_talk_ratio(record: &JournalRecord) -> f64 {
    let rep = record.talk_seconds(Speaker::Rep);
    rep / (rep + record.talk_seconds(Speaker::Prospect))
}

/// Plain sentences for longer calls, cycled; whisper-friendly words.
const REP_LINES: [&str; 10] = [
    "Thanks for taking the time to talk with me today.",
    "How does your team plan the work for each week?",
    "What happens when a project runs late for one of your customers?",
    "Our software keeps every schedule in one shared place.",
    "Most teams see the first results within a month of starting.",
    "Who else should be part of the decision on your side?",
    "Could we set up a short demo for your managers next week?",
    "What would success look like for you at the end of the year?",
    "I can send you a summary of our pricing after this call.",
    "Many of our customers started with a small pilot project.",
];
const PROSPECT_LINES: [&str; 10] = [
    "We mostly use spreadsheets and a lot of email.",
    "When a project runs late, we call the customer and apologize.",
    "The price matters to us because our budget is small this year.",
    "My manager would need to approve any new contract.",
    "We tried another tool last year, but nobody used it.",
    "A demo next week sounds fine, maybe on Tuesday afternoon.",
    "Our biggest problem is that people do not update the plan.",
    "I would like to see how it works with our calendar.",
    "Please send the summary and I will share it with the team.",
    "We have about forty people in three different offices.",
];

/// Renders an alternating two-speaker call of about `target_s` seconds in
/// which the rep talks more (every other rep turn is two sentences): each
/// sentence is spoken once first to learn its length, then turns are added
/// (gaps 0.6–2 s) until the call is long enough.
fn long_call(target_s: f64) -> RenderedCall {
    let voices = Voices::default();
    let length_s = |text: &str, voice: &str| synth::speak(text, voice, voices.speed).expect("espeak-ng").len() as f64 / synth::RATE as f64;
    let rep_s: Vec<f64> = REP_LINES.iter().map(|t| length_s(t, &voices.rep)).collect();
    let prospect_s: Vec<f64> = PROSPECT_LINES.iter().map(|t| length_s(t, &voices.prospect)).collect();
    const GAPS: [f64; 5] = [0.6, 0.9, 1.4, 0.7, 2.0];
    let mut lines = Vec::new();
    let mut total_s = voices.lead_in_s + voices.tail_s;
    let mut turn = 0;
    while total_s < target_s {
        let k = turn / 2 % 10;
        let (speaker, text, speech_s) = if turn % 2 == 1 {
            (Speaker::Prospect, PROSPECT_LINES[k].to_string(), prospect_s[k])
        } else if k % 2 == 0 {
            let second = (k + 3) % 10;
            (Speaker::Rep, format!("{} {}", REP_LINES[k], REP_LINES[second]), rep_s[k] + rep_s[second] + 0.3)
        } else {
            (Speaker::Rep, REP_LINES[k].to_string(), rep_s[k])
        };
        let gap_before_s = GAPS[turn % GAPS.len()];
        total_s += gap_before_s + speech_s;
        lines.push(ScriptLine { speaker, text, gap_before_s });
        turn += 1;
    }
    synth::render(&lines, &voices).expect("espeak-ng renders the call")
}

/// Runs `command` to completion, failing the test if it takes longer than
/// `timeout` (a hung child must fail the suite, not stall it). Output goes
/// to files so a chatty child can never block on a full pipe.
fn run_within(mut command: Command, timeout: Duration, dir: &Path, name: &str) -> (ExitStatus, String, String) {
    let (out_path, err_path) = (dir.join(format!("{name}.stdout")), dir.join(format!("{name}.stderr")));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("creating a stdout file"))
        .stderr(fs::File::create(&err_path).expect("creating a stderr file"))
        .spawn()
        .expect("starting callcoach");
    let status = wait_for(timeout, Duration::from_millis(100), || child.try_wait().expect("waiting for callcoach"));
    let read = |path: &Path| fs::read_to_string(path).unwrap_or_default();
    match status {
        Some(status) => (status, read(&out_path), read(&err_path)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {timeout:?}; killed it. stderr:\n{}", read(&err_path));
        }
    }
}

/// About 45 s of alternating speech in which the rep talks about two thirds
/// of the time, for the live capture test.
const LIVE_CALL: &str = "\
rep: Thanks for joining today. I would love to hear how the quarter is going for your team.
prospect: Pretty busy. We are hiring three new engineers.
rep: That is great news. What does training look like for a new engineer right now, and who runs it?
prospect: Mostly shared documents and a lot of questions.
rep: If we could cut that time in half, what would it be worth to your team over a full year?
prospect: Quite a lot, but the budget is already spent.
rep: That makes sense. Would it help to start with a small pilot next month, at no cost to you?
prospect: Maybe. Send me a proposal and I will share it.
";

/// Bar 1: two espeak-ng voices played into the `mic` and far-end sinks of a
/// real PulseAudio daemon, captured by `callcoach run` through cpal, come out
/// of the journal with the right speaker on every segment, WER ≤ 35% per
/// speaker, and the rep's talk share within 2 points of the source audio's.
///
/// The call is started with `callcoach call start` before anything is
/// played: auto-start only fires once both sides have spoken 2 s, so it
/// would (by design) leave the opening lines out of the call.
#[test]
fn run_transcribes_two_live_voices_with_speakers_and_talk_share() {
    let _turn = one_at_a_time();
    let server = PulseServer::start();
    let home = Home::new();
    let port = free_port();
    home.write_config(&live_config(port));
    let call = util::render_script(LIVE_CALL);
    let rep_wav = home.path().join("rep.wav");
    let prospect_wav = home.path().join("prospect.wav");
    // Each channel is padded with silence where the other speaks, so the
    // turns alternate when both files play at once.
    write_mono_wav(&rep_wav, &call.rep);
    write_mono_wav(&prospect_wav, &call.prospect);

    let mut daemon = Daemon::start(&server, &home, port);
    daemon.call(&home, "start");
    let journal_path = wait_for_call_audio(&home, &daemon);

    let rep_play = server.play(pulse::MIC_SINK, &rep_wav);
    let prospect_play = server.play(pulse::FAR_END_SINK, &prospect_wav);
    rep_play.wait();
    prospect_play.wait();
    // Let the last utterance close (hangover 0.45 s) before ending the call.
    std::thread::sleep(Duration::from_millis(1500));
    let terminated = Instant::now();
    let status = daemon.terminate(Duration::from_secs(200));
    let stop_s = terminated.elapsed().as_secs_f64();
    eprintln!("live: SIGTERM to exit (final transcripts + brief) {stop_s:.1} s");
    assert!(status.success(), "callcoach run exited with {status} after SIGTERM:\n{}", daemon.log_text());

    let record = journal::read(&journal_path).expect("the journal reads back");
    assert!(record.ended_at_s.is_some(), "SIGTERM must close the call in the journal:\n{}", daemon.log_text());
    assert!(!home.briefs().is_empty(), "SIGTERM must leave a brief in {}:\n{}", home.data_dir().display(), daemon.log_text());

    // Capture began before playback: estimate that offset from the first utterance.
    let mut utterances = record.utterances.clone();
    utterances.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let first = utterances.first().unwrap_or_else(|| panic!("no utterance in the journal:\n{}", daemon.log_text()));
    let first_line = call.truth.iter().find(|l| l.speaker == first.speaker).expect("both speakers have lines");
    let offset_s = first.start_s - first_line.start_s;
    eprintln!("live: capture offset {offset_s:.2} s (first utterance {} at {:.2} s)", first.speaker, first.start_s);
    assert!((0.0..15.0).contains(&offset_s), "implausible offset {offset_s:.2} s: first utterance {first:?}, first line {first_line:?}");
    assert!(record.health.is_empty(), "device trouble during the call: {:?}", record.health);

    // Both channels on one call clock: every line's speech starts where the
    // offset says, on its own speaker's channel (VAD onsets are within ~0.15 s).
    const ONSET_SLACK_S: f64 = 0.25;
    for line in &call.truth {
        let onset = utterances
            .iter()
            .find(|u| u.speaker == line.speaker && u.start_s - offset_s < line.end_s && u.end_s - offset_s > line.start_s)
            .map(|u| u.start_s - offset_s - line.start_s)
            .unwrap_or_else(|| panic!("no {} utterance for {line:?} (offset {offset_s:.2} s): {utterances:?}", line.speaker));
        eprintln!("live: {} line at {:.2} s: utterance onset {onset:+.3} s", line.speaker, line.start_s);
        assert!(onset.abs() <= ONSET_SLACK_S, "{} line at {:.2} s starts {onset:+.3} s off on the call clock", line.speaker, line.start_s);
    }

    // Speaker labels: every final segment sits inside a line of its own speaker.
    const SLACK_S: f64 = 0.5;
    assert!(!record.segments.is_empty(), "no transcript in the journal:\n{}", daemon.log_text());
    for segment in &record.segments {
        let mid = (segment.start_s + segment.end_s) / 2.0 - offset_s;
        let line = call
            .truth
            .iter()
            .find(|l| mid >= l.start_s - SLACK_S && mid <= l.end_s + SLACK_S)
            .unwrap_or_else(|| panic!("segment at {mid:.2} s (source time) matches no scripted line: {segment:?}"));
        assert_eq!(line.speaker, segment.speaker, "{segment:?} is labelled wrong (the line there is {line:?})");
    }
    for speaker in Speaker::BOTH {
        let reference = call.text_of(speaker);
        let heard = text_of(&record, speaker);
        let wer = word_error_rate(&reference, &heard);
        eprintln!("live: {speaker} WER {:.1}%\n  ref: {reference}\n  hyp: {heard}", wer * 100.0);
        assert!(wer <= 0.35, "{speaker}: WER {:.1}% > 35%\nref: {reference}\nhyp: {heard}", wer * 100.0);
    }

    let truth = call.talk_ratio_rep();
    let measured = journal_talk_ratio(&record);
    eprintln!(
        "live: rep talk share {:.2}% (journal VAD: rep {:.2} s, prospect {:.2} s) vs truth {:.2}% (rep {:.2} s, prospect {:.2} s)",
        measured * 100.0,
        record.talk_seconds(Speaker::Rep),
        record.talk_seconds(Speaker::Prospect),
        truth * 100.0,
        call.talk_seconds(Speaker::Rep),
        call.talk_seconds(Speaker::Prospect),
    );
    assert!((measured - truth).abs() <= 0.02, "rep talk share {:.2}% vs truth {:.2}%", measured * 100.0, truth * 100.0);
}

/// What one `callcoach replay --out DIR` left behind.
struct ReplayRun {
    record: JournalRecord,
    final_talk_ratio_rep: f64,
    wall_s: f64,
}

fn replay(home: &Home, wav: &Path, speed: &str, out: &Path, timeout: Duration) -> ReplayRun {
    let mut command = home.callcoach();
    command.args(["replay", "--speed", speed, "--out"]).arg(out).arg("--model").arg(util::model_path()).arg(wav);
    let started = Instant::now();
    let (status, _, stderr) = run_within(command, timeout, home.path(), &format!("replay-speed-{speed}"));
    let wall_s = started.elapsed().as_secs_f64();
    assert!(status.success(), "replay --speed {speed} failed ({status}): {stderr}");
    let record = journal::read(&out.join("journal.jsonl")).expect("the replay's journal");
    let events = read_events(&out.join("events.jsonl"));
    let final_talk_ratio_rep = last_metrics(&events).and_then(|m| m["talk_ratio_rep"].as_f64()).expect("a metrics event");
    ReplayRun { record, final_talk_ratio_rep, wall_s }
}

/// Bar 2: a 5-minute call replayed at `--speed max` and at `--speed 1` gives
/// the same speaker-labelled transcript (WER between the two ≤ 5% per
/// speaker), and each run's final talk_ratio_rep is within 3 points of the
/// truth. The paced run takes 5 minutes of wall time by design.
#[test]
fn replay_at_max_and_real_time_speed_agree_on_a_five_minute_call() {
    let _turn = one_at_a_time();
    let home = Home::new();
    let call = long_call(300.0);
    let wav = home.path().join("call.wav");
    call.write_wav(&wav).expect("writing the call");
    let truth = call.talk_ratio_rep();
    eprintln!("replay: {:.1} s call, {} lines, truth rep share {:.2}%", call.duration_s(), call.truth.len(), truth * 100.0);
    assert!((270.0..=330.0).contains(&call.duration_s()), "the call should last about 5 minutes: {:.1} s", call.duration_s());

    // One after the other: run together they would compete for the 2 cores.
    let fast = replay(&home, &wav, "max", &home.path().join("max"), Duration::from_secs(300));
    let paced = replay(&home, &wav, "1", &home.path().join("speed1"), Duration::from_secs_f64(call.duration_s() + 120.0));
    eprintln!("replay: --speed max took {:.1} s, --speed 1 took {:.1} s", fast.wall_s, paced.wall_s);
    assert!(paced.wall_s >= call.duration_s() * 0.98, "--speed 1 ran faster than real time: {:.1} s", paced.wall_s);

    for speaker in Speaker::BOTH {
        let reference = call.text_of(speaker);
        let (fast_text, paced_text) = (text_of(&fast.record, speaker), text_of(&paced.record, speaker));
        let between = word_error_rate(&fast_text, &paced_text);
        eprintln!(
            "replay: {speaker}: WER max vs 1 {:.2}%; vs script: max {:.1}%, speed 1 {:.1}% ({} / {} segments)",
            between * 100.0,
            word_error_rate(&reference, &fast_text) * 100.0,
            word_error_rate(&reference, &paced_text) * 100.0,
            fast.record.segments.iter().filter(|s| s.speaker == speaker).count(),
            paced.record.segments.iter().filter(|s| s.speaker == speaker).count(),
        );
        assert!(!fast_text.is_empty(), "no {speaker} transcript at --speed max");
        assert!(
            between <= 0.05,
            "{speaker}: WER between --speed max and --speed 1 is {:.1}%\nmax: {fast_text}\n  1: {paced_text}",
            between * 100.0
        );
    }
    for (name, run) in [("max", &fast), ("1", &paced)] {
        eprintln!("replay: --speed {name}: final talk_ratio_rep {:.2}% vs truth {:.2}%", run.final_talk_ratio_rep * 100.0, truth * 100.0);
        assert!(
            (run.final_talk_ratio_rep - truth).abs() <= 0.03,
            "--speed {name}: final talk_ratio_rep {:.2}% vs truth {:.2}%",
            run.final_talk_ratio_rep * 100.0,
            truth * 100.0
        );
    }
}

/// Whether the journal holds an utterance of `line`'s speaker overlapping it.
fn journaled(record: &JournalRecord, line: &TruthLine) -> bool {
    record.utterances.iter().any(|u| u.speaker == line.speaker && u.start_s < line.end_s && u.end_s > line.start_s)
}

/// Starts `replay --speed 1 --out OUT WAV` (log in the home's replay.log)
/// and returns it with the moment its journal said `call_started`. Call time
/// 0 is when the replay starts reading audio, just before that line: timing
/// a kill from it can only under-count how far the call got, never over-count.
fn start_paced_replay(home: &Home, wav: &Path, out: &Path) -> (Child, Instant) {
    let journal_path = out.join("journal.jsonl");
    let stderr = fs::File::create(home.path().join("replay.log")).expect("creating the replay log");
    let child = home
        .callcoach()
        .args(["replay", "--speed", "1", "--out"])
        .arg(out)
        .arg("--model")
        .arg(util::model_path())
        .arg(wav)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("starting callcoach replay");
    let call_started = wait_for(Duration::from_secs(30), Duration::from_millis(5), || {
        fs::read_to_string(&journal_path).ok().filter(|t| t.contains("\"call_started\"")).map(|_| Instant::now())
    })
    .unwrap_or_else(|| panic!("no call_started in {} within 30 s", journal_path.display()));
    (child, call_started)
}

/// Bar 3: `kill -9` during a replay at `--speed 1` loses no utterance that
/// ended more than 1 s before the kill, and `callcoach brief --from-journal`
/// rebuilds the brief from what was left (crash recovery).
#[test]
fn kill_9_mid_replay_keeps_every_utterance_that_ended_a_second_before() {
    let _turn = one_at_a_time();
    let home = Home::new();
    let call = long_call(45.0);
    let wav = home.path().join("call.wav");
    call.write_wav(&wav).expect("writing the call");
    let out = home.path().join("out");
    let journal_path = out.join("journal.jsonl");
    let (mut child, call_started) = start_paced_replay(&home, &wav, &out);
    std::thread::sleep(Duration::from_secs(25).saturating_sub(call_started.elapsed()));
    let killed_at = Instant::now();
    child.kill().expect("kill -9");
    child.wait().expect("reaping the replay");
    let kill_s = killed_at.duration_since(call_started).as_secs_f64();

    let record = journal::read(&journal_path).expect("the journal of a killed replay reads back");
    assert!(record.ended_at_s.is_none(), "the replay was killed, yet the journal says the call ended");
    let due: Vec<_> = call.truth.iter().filter(|l| l.end_s < kill_s - 1.0).collect();
    assert!(due.len() >= 4, "the kill came too early to prove anything: {} lines due at {kill_s:.1} s", due.len());
    for line in &due {
        assert!(
            journaled(&record, line),
            "line ending at {:.2} s ({kill_s:.2} s at the kill) is not in the journal: {line:?}\n{:?}",
            line.end_s,
            record.utterances
        );
    }
    // Lines that ended less than a second before the kill may or may not have made it.
    let ended: Vec<_> = call.truth.iter().filter(|l| l.end_s < kill_s).collect();
    let kept = ended.iter().filter(|l| journaled(&record, l)).count();
    eprintln!(
        "kill -9 at call time {kill_s:.2} s: {} lines ended over 1 s before, all in the journal; {kept} of the {} that ended before the kill at all ({} utterances, {} segments, cut-off last line: {})",
        due.len(),
        ended.len(),
        record.utterances.len(),
        record.segments.len(),
        record.truncated_tail
    );

    let mut command = home.callcoach();
    command.args(["brief", "--from-journal"]).arg(&journal_path);
    let (status, stdout, stderr) = run_within(command, Duration::from_secs(180), home.path(), "brief");
    assert!(status.success(), "brief --from-journal failed ({status}): {stderr}");
    let folder = PathBuf::from(stdout.trim());
    let brief = fs::read_to_string(folder.join("brief.md")).unwrap_or_else(|e| panic!("{}: {e}", folder.join("brief.md").display()));
    assert!(!brief.trim().is_empty(), "empty brief.md");
    assert!(folder.starts_with(home.data_dir()), "the brief went to {} instead of the test's data dir", folder.display());
    serde_json::from_str::<serde_json::Value>(&fs::read_to_string(folder.join("brief.json")).expect("brief.json"))
        .expect("brief.json is JSON");
}

/// The device-health entries of a journal: `(kind, speaker, t_s of the event)`.
fn health_events(record: &JournalRecord) -> Vec<(String, String, f64)> {
    record
        .health
        .iter()
        .map(|(_, e)| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["speaker"].as_str().unwrap_or_default().to_string(),
                e["t_s"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

/// Waits until the journal holds a `kind` health event for both speakers;
/// returns when that was first seen and the events' call times.
fn wait_for_health(journal_path: &Path, kind: &str, timeout: Duration) -> Option<(Instant, Vec<f64>)> {
    wait_for(timeout, Duration::from_millis(10), || {
        let record = journal::read(journal_path).ok()?;
        let events = health_events(&record);
        let times: Vec<f64> = ["rep", "prospect"]
            .iter()
            .filter_map(|speaker| events.iter().find(|(k, s, _)| k == kind && s == speaker).map(|(_, _, t)| *t))
            .collect();
        (times.len() == 2).then(|| (Instant::now(), times))
    })
}

/// Bar 4: killing the PulseAudio daemon under `callcoach run` is reported
/// within 2 s (journal and log), costs a few percent of a core while the
/// server is gone, hangs nothing (the overlay server still answers), and
/// capture resumes when the server is back: later speech is journaled.
#[test]
fn run_survives_the_sound_server_dying_and_coming_back() {
    let _turn = one_at_a_time();
    let mut server = PulseServer::start();
    let home = Home::new();
    let port = free_port();
    home.write_config(&live_config(port));
    // After the restart each side says one line (the test's voices, which tiny.en hears well).
    let voices = Voices::default();
    let lines = [
        (Speaker::Rep, "Could we meet again next week to review the numbers?"),
        (Speaker::Prospect, "Yes, next Tuesday afternoon works for both of us."),
    ];
    let wavs: Vec<PathBuf> = lines
        .iter()
        .map(|(speaker, text)| {
            let voice = if *speaker == Speaker::Rep { &voices.rep } else { &voices.prospect };
            let path = home.path().join(format!("{speaker}.wav"));
            write_mono_wav(&path, &synth::speak(text, voice, voices.speed).expect("espeak-ng"));
            path
        })
        .collect();

    let mut daemon = Daemon::start(&server, &home, port);
    // A call is running, so the device trouble lands in its journal.
    daemon.call(&home, "start");
    let journal_path = wait_for_call_audio(&home, &daemon);

    let killed_at = Instant::now();
    server.kill();
    let lost = wait_for_health(&journal_path, "device_lost", Duration::from_secs(5));
    let (lost_at, lost_t) = lost.unwrap_or_else(|| panic!("no device_lost for both devices within 5 s:\n{}", daemon.log_text()));
    let journal_latency = lost_at.duration_since(killed_at);
    let log_latencies: Vec<Duration> = [pulse::ALSA_MIC, pulse::ALSA_FAR_END]
        .iter()
        .map(|device| {
            let needle = format!("device \"{device}\" lost");
            let (at, line) = daemon
                .wait_for_line(Duration::from_secs(1), |l| l.contains(&needle))
                .unwrap_or_else(|| panic!("no '{needle}' in the log:\n{}", daemon.log_text()));
            eprintln!("outage: log: {line}");
            at.duration_since(killed_at)
        })
        .collect();
    eprintln!(
        "outage: loss in the journal after {} ms (call time {lost_t:?}), in the log after {:?}",
        journal_latency.as_millis(),
        log_latencies
    );
    assert!(journal_latency < Duration::from_secs(2), "device loss reached the journal after {journal_latency:?}");
    assert!(log_latencies.iter().all(|l| *l < Duration::from_secs(2)), "device loss logged after {log_latencies:?}");

    // While the server is gone: a few percent of a core, and still answering.
    std::thread::sleep(Duration::from_millis(300));
    let cpu_before = process_cpu_s(daemon.pid());
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let cpu_share = (process_cpu_s(daemon.pid()) - cpu_before) / window.elapsed().as_secs_f64();
    let asked = Instant::now();
    let health =
        healthz(daemon.port).unwrap_or_else(|e| panic!("GET /healthz failed while the server is gone: {e}\n{}", daemon.log_text()));
    eprintln!("outage: CPU {:.1}% of a core; /healthz answered in {} ms: {health}", cpu_share * 100.0, asked.elapsed().as_millis());
    assert!(cpu_share < 0.15, "{:.1}% of a core while the sound server is gone", cpu_share * 100.0);
    assert!(health.contains("\"ok\":true"), "{health}");

    let restarted_at = Instant::now();
    server.restart();
    let back = wait_for_health(&journal_path, "device_back", Duration::from_secs(10));
    let (back_at, back_t) =
        back.unwrap_or_else(|| panic!("no device_back for both devices within 10 s of the restart:\n{}", daemon.log_text()));
    eprintln!("outage: devices back {} ms after the restart (call time {back_t:?})", back_at.duration_since(restarted_at).as_millis());

    // Later speech is captured on both channels.
    let back_from = back_t.iter().copied().fold(0.0, f64::max);
    let after = |record: &JournalRecord, speaker: Speaker| {
        record.utterances.iter().filter(|u| u.speaker == speaker && u.start_s >= back_from).count()
    };
    // One after the other: simultaneous speech while the far end has spoken
    // less than 3 s in the call would meet the echo gate's start-up guess
    // (segment::echo, PROBATION_FRAMES), which is not what this test is about.
    server.play(pulse::MIC_SINK, &wavs[0]).wait();
    server.play(pulse::FAR_END_SINK, &wavs[1]).wait();
    let heard = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let record = journal::read(&journal_path).ok()?;
        (after(&record, Speaker::Rep) > 0 && after(&record, Speaker::Prospect) > 0).then_some(record)
    });
    let heard = heard.unwrap_or_else(|| panic!("no utterance on both channels after the server came back:\n{}", daemon.log_text()));
    let onsets: Vec<String> = heard
        .utterances
        .iter()
        .filter(|u| u.start_s >= back_from)
        .map(|u| format!("{} {:.2}-{:.2} s", u.speaker, u.start_s, u.end_s))
        .collect();
    eprintln!("outage: utterances after the restart: {onsets:?}");
    let talk_after = |speaker: Speaker| {
        heard.utterances.iter().filter(|u| u.speaker == speaker && u.start_s >= back_from).map(|u| u.duration_s()).sum::<f64>()
    };
    eprintln!(
        "outage: after the restart: rep {:.2} s, prospect {:.2} s of speech",
        talk_after(Speaker::Rep),
        talk_after(Speaker::Prospect)
    );

    let status = daemon.terminate(Duration::from_secs(200));
    assert!(status.success(), "callcoach run exited with {status} after SIGTERM:\n{}", daemon.log_text());
    let record = journal::read(&journal_path).expect("the journal reads back");
    assert!(record.ended_at_s.is_some(), "the call did not end cleanly");
    for (speaker, text) in lines {
        let heard: Vec<&str> =
            record.segments.iter().filter(|s| s.speaker == speaker && s.start_s >= back_from).map(|s| s.text.trim()).collect();
        let heard = heard.join(" ");
        let wer = word_error_rate(text, &heard);
        eprintln!("outage: {speaker} after the restart: \"{heard}\" (WER {:.0}%)", wer * 100.0);
        assert!(wer <= 0.35, "{speaker}'s line after the restart: \"{heard}\", WER {:.0}%", wer * 100.0);
    }
}

/// Issue 10 item 3: `kill -9` in the middle of an utterance keeps the words
/// the overlay had already shown. A rep's 16-second monologue is still going
/// when the replay (`--speed 1`, so partials are transcribed) is killed 10 s
/// into it; the journal holds its partial transcripts, and `brief
/// --from-journal` puts them in the transcript.
#[test]
fn kill_9_mid_utterance_keeps_the_words_already_transcribed() {
    let _turn = one_at_a_time();
    let home = Home::new();
    const MONOLOGUE: &str = "so what I would like to walk you through today is how the scheduling board pulls in every technician and every open job and then lines them up by distance and skill so that your dispatchers stop juggling spreadsheets and phone calls all morning long";
    let lines = vec![
        ScriptLine { speaker: Speaker::Prospect, text: "Sure, go ahead.".into(), gap_before_s: 0.3 },
        ScriptLine { speaker: Speaker::Rep, text: MONOLOGUE.into(), gap_before_s: 0.8 },
        ScriptLine { speaker: Speaker::Prospect, text: "Okay, that makes sense to me.".into(), gap_before_s: 1.0 },
    ];
    let call = synth::render(&lines, &Voices::default()).expect("espeak-ng renders the call");
    let monologue = call.truth.iter().find(|l| l.speaker == Speaker::Rep).expect("the rep's line").clone();
    assert!(monologue.end_s - monologue.start_s > 13.0, "the monologue is too short to be killed in: {monologue:?}");
    let wav = home.path().join("call.wav");
    call.write_wav(&wav).expect("writing the call");
    let out = home.path().join("out");
    let journal_path = out.join("journal.jsonl");
    let (mut child, call_started) = start_paced_replay(&home, &wav, &out);
    let kill_at_s = monologue.start_s + 10.0;
    std::thread::sleep(Duration::from_secs_f64(kill_at_s).saturating_sub(call_started.elapsed()));
    child.kill().expect("kill -9");
    child.wait().expect("reaping the replay");
    let kill_s = call_started.elapsed().as_secs_f64();
    assert!(kill_s < monologue.end_s - 1.0, "killed at {kill_s:.1} s, after the monologue ended ({:.1} s)", monologue.end_s);

    let text = fs::read_to_string(&journal_path).expect("the journal");
    assert!(text.contains("\"type\":\"partial\""), "no partial transcript journaled before the kill:\n{text}");
    let record = journal::read(&journal_path).expect("the journal of a killed replay reads back");
    assert!(record.recovered_from_partials >= 1, "the open utterance was not recovered: {:?}", record.segments);
    let recovered = record
        .segments
        .iter()
        .find(|s| s.speaker == Speaker::Rep && s.start_s < monologue.start_s + 1.0 && s.end_s > monologue.start_s + 3.0)
        .unwrap_or_else(|| panic!("no rep segment over the monologue: {:?}", record.segments));
    let said: Vec<&str> = MONOLOGUE.split(' ').collect();
    let kept: Vec<String> = recovered.text.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).collect();
    let known = kept.iter().filter(|w| said.contains(&w.as_str())).count();
    assert!(known >= 8, "too few of the monologue's words survived the kill: {:?}", recovered.text);
    assert!(record.talk_seconds(Speaker::Rep) > 5.0, "the open utterance's time is not counted");
    eprintln!(
        "kill -9 {:.1} s into a {:.1} s monologue: {} words recovered from partials, up to {:.1} s: {:?}",
        kill_s - monologue.start_s,
        monologue.end_s - monologue.start_s,
        kept.len(),
        recovered.end_s - monologue.start_s,
        recovered.text
    );

    let mut command = home.callcoach();
    command.args(["brief", "--from-journal"]).arg(&journal_path);
    let (status, stdout, stderr) = run_within(command, Duration::from_secs(180), home.path(), "brief");
    assert!(status.success(), "brief --from-journal failed ({status}): {stderr}");
    let transcript = fs::read_to_string(PathBuf::from(stdout.trim()).join("transcript.md")).expect("transcript.md");
    let first_words: String = recovered.text.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
    assert!(transcript.contains(&first_words), "the recovered words are not in transcript.md: {first_words:?}\n{transcript}");
}

/// The first words of `text`, lower-case, without punctuation.
fn first_words(text: &str, n: usize) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .take(n)
        .collect()
}

/// The call the auto-start tests play: the rep opens, so the call must reach
/// back to the rep's first word, well before auto-start decides (once both
/// sides have spoken 2 s, i.e. after the prospect's first line).
const AUTO_CALL: &str = "\
rep: Thanks for joining today. How does your team plan the work for each week?
prospect: We mostly use spreadsheets and a lot of email.
rep: What happens when a project runs late for one of your customers?
prospect: When a project runs late, we call the customer and apologize.
";

/// Issue 12 item 3: with real cpal capture on PulseAudio null sinks, speech
/// begins, the call starts by itself, and its first utterance is in the
/// journal from its first word (whisper hears the rep's opening words, and
/// the utterance begins just after the call's time 0, the pre-roll's start);
/// after the last line the call ends by itself on silence (auto-end set to
/// 6 s) and leaves a brief.
#[test]
fn an_auto_started_call_keeps_its_first_words_and_ends_on_silence() {
    let _turn = one_at_a_time();
    let server = PulseServer::start();
    let home = Home::new();
    let port = free_port();
    home.write_config(&format!("{}auto_end_silence_min = 0.1\n", live_config(port)));
    let call = util::render_script(AUTO_CALL);
    let rep_wav = home.path().join("rep.wav");
    let prospect_wav = home.path().join("prospect.wav");
    write_mono_wav(&rep_wav, &call.rep);
    write_mono_wav(&prospect_wav, &call.prospect);

    let mut daemon = Daemon::start(&server, &home, port);
    let (opened, _) = daemon
        .wait_for_line(Duration::from_secs(1), |l| l.contains("capturing prospect from"))
        .unwrap_or_else(|| panic!("the daemon did not log opening the far end:\n{}", daemon.log_text()));
    std::thread::sleep(Duration::from_secs_f64(DEVICE_START_S).saturating_sub(opened.elapsed()));
    assert!(home.call_journals().is_empty(), "a call started before anyone spoke:\n{}", daemon.log_text());

    let rep_play = server.play(pulse::MIC_SINK, &rep_wav);
    let prospect_play = server.play(pulse::FAR_END_SINK, &prospect_wav);
    rep_play.wait();
    prospect_play.wait();
    let (started, line) = daemon
        .wait_for_line(Duration::from_secs(5), |l| l.contains("starting a call"))
        .unwrap_or_else(|| panic!("no call started by itself:\n{}", daemon.log_text()));
    eprintln!("auto-start: {line}");
    let ended = daemon
        .wait_for_line(Duration::from_secs(40), |l| l.contains("call") && l.contains("ended; brief in"))
        .unwrap_or_else(|| panic!("the call did not end by itself on silence:\n{}", daemon.log_text()));
    let log = daemon.log_text();
    assert!(log.contains("reason=\"silence\"") || log.contains("reason=silence"), "the call ended, but not on silence:\n{log}");
    eprintln!("auto-end: {:.1} s after the call started", ended.0.duration_since(started).as_secs_f64());
    let status = daemon.terminate(Duration::from_secs(60));
    assert!(status.success(), "callcoach run exited with {status}:\n{}", daemon.log_text());

    let journals = home.call_journals();
    assert_eq!(journals.len(), 1, "one call: {journals:?}\n{}", daemon.log_text());
    let record = journal::read(&journals[0]).expect("the journal reads back");
    assert!(record.ended_at_s.is_some(), "the call is closed in its journal");
    assert!(!home.briefs().is_empty(), "the call left no brief:\n{}", daemon.log_text());
    let mut utterances = record.utterances.clone();
    utterances.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let first = utterances.first().unwrap_or_else(|| panic!("no utterance in the journal:\n{}", daemon.log_text()));
    eprintln!("auto-start: first utterance {} at {:.2}-{:.2} s", first.speaker, first.start_s, first.end_s);
    assert_eq!(first.speaker, Speaker::Rep, "the rep spoke first: {utterances:?}");
    // Call time 0 is a second before the first voice (the VAD's onset).
    assert!((0.4..=1.6).contains(&first.start_s), "the first utterance starts at {:.2} s of the call", first.start_s);

    let mut segments = record.segments.clone();
    segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let first_segment = segments.first().unwrap_or_else(|| panic!("no transcript in the journal:\n{}", daemon.log_text()));
    let first_line = &call.truth[0];
    eprintln!("auto-start: first segment \"{}\" (line \"{}\")", first_segment.text, first_line.text);
    assert_eq!(first_segment.speaker, Speaker::Rep);
    assert_eq!(first_words(&first_segment.text, 2), first_words(&first_line.text, 2), "the call lost its first words: {first_segment:?}");
    for speaker in Speaker::BOTH {
        let (reference, heard) = (call.text_of(speaker), text_of(&record, speaker));
        let wer = word_error_rate(&reference, &heard);
        eprintln!("auto-start: {speaker} WER {:.1}%\n  ref: {reference}\n  hyp: {heard}", wer * 100.0);
        assert!(wer <= 0.35, "{speaker}: WER {:.1}% > 35% (a line lost?)\nref: {reference}\nhyp: {heard}", wer * 100.0);
    }
}

/// Issue 12 item 5: a first run. No config file at all, a PulseAudio server
/// running: `callcoach run` takes the default source (`mic`) as the mic and
/// the default sink's monitor (`farend.monitor`) as the far end, says so,
/// and captures both (each voice transcribed on its own channel).
/// `callcoach devices` names the server, lists its real sources with the
/// monitors marked, and prints none of ALSA's plugins or library noise.
#[test]
fn a_first_run_without_a_config_captures_the_default_source_and_the_default_outputs_monitor() {
    let _turn = one_at_a_time();
    let server = PulseServer::start();
    let home = Home::new();
    assert!(!home.path().join("config/callcoach/config.toml").exists());

    let devices = util::run(home.callcoach().arg("devices").envs(server.env()));
    let (out, err) = (util::stdout(&devices), util::stderr(&devices));
    eprintln!("devices:\n{out}{err}");
    assert!(devices.status.success(), "{err}");
    assert!(out.contains("sound server: pulseaudio"), "the server is not named:\n{out}");
    let line = |name: &str| out.lines().find(|l| l.trim_start().split_whitespace().next() == Some(name)).unwrap_or_else(|| panic!("{name} not listed:\n{out}"));
    assert!(line("farend.monitor").contains("monitor") && line("farend.monitor").contains("first run: far_end"), "{out}");
    assert!(!line("mic").contains("monitor:") && line("mic").contains("first run: mic"), "{out}");
    for noise in ["lavrate", "samplerate", "speexrate", "upmix", "vdownmix", "jack", "oss", "ALSA lib", "Cannot connect"] {
        assert!(!out.contains(noise) && !err.contains(noise), "`devices` printed \"{noise}\":\n{out}{err}");
    }

    let call = util::render_script(AUTO_CALL);
    let rep_wav = home.path().join("rep.wav");
    let prospect_wav = home.path().join("prospect.wav");
    write_mono_wav(&rep_wav, &call.rep);
    write_mono_wav(&prospect_wav, &call.prospect);
    let port = free_port();
    let mut daemon = Daemon::start_with(&server, &home, port, &["--port", &port.to_string()]);
    let (_, picked) = daemon
        .wait_for_line(Duration::from_secs(1), |l| l.contains("no capture devices configured"))
        .unwrap_or_else(|| panic!("run did not say which devices it picked:\n{}", daemon.log_text()));
    eprintln!("first run: {picked}");
    assert!(picked.contains("\"mic\"") && picked.contains("\"farend.monitor\"") && picked.contains("pulseaudio"), "{picked}");
    let (opened, _) = daemon
        .wait_for_line(Duration::from_secs(1), |l| l.contains("capturing prospect from \"farend.monitor\""))
        .unwrap_or_else(|| panic!("the far end is not the default output's monitor:\n{}", daemon.log_text()));
    std::thread::sleep(Duration::from_secs_f64(DEVICE_START_S).saturating_sub(opened.elapsed()));

    let rep_play = server.play(pulse::MIC_SINK, &rep_wav);
    let prospect_play = server.play(pulse::FAR_END_SINK, &prospect_wav);
    rep_play.wait();
    prospect_play.wait();
    std::thread::sleep(Duration::from_millis(1500));
    let status = daemon.terminate(Duration::from_secs(60));
    assert!(status.success(), "callcoach run exited with {status}:\n{}", daemon.log_text());
    let journals = home.call_journals();
    assert_eq!(journals.len(), 1, "the speech started one call: {journals:?}\n{}", daemon.log_text());
    let record = journal::read(&journals[0]).expect("the journal reads back");
    for speaker in Speaker::BOTH {
        let (reference, heard) = (call.text_of(speaker), text_of(&record, speaker));
        let wer = word_error_rate(&reference, &heard);
        eprintln!("first run: {speaker} WER {:.1}%\n  ref: {reference}\n  hyp: {heard}", wer * 100.0);
        assert!(wer <= 0.35, "{speaker}: WER {:.1}% > 35%\nref: {reference}\nhyp: {heard}", wer * 100.0);
    }
}

/// Issue 12 item 5, without a sound server: `callcoach devices` says none is
/// running and lists no ALSA plugins, with the libraries' errors kept off
/// the terminal; `callcoach run` without a far end says what to do.
#[test]
fn without_a_sound_server_devices_is_quiet_and_run_explains() {
    let home = Home::new();
    let runtime = home.path().join("runtime");
    fs::create_dir_all(&runtime).expect("an empty runtime dir");
    let quiet = |command: &mut Command| {
        command.env_remove("PULSE_SERVER").env("XDG_RUNTIME_DIR", &runtime).env_remove("PULSE_RUNTIME_PATH");
    };
    let mut devices = home.callcoach();
    devices.arg("devices");
    quiet(&mut devices);
    let devices = util::run(&mut devices);
    let (out, err) = (util::stdout(&devices), util::stderr(&devices));
    eprintln!("devices:\n{out}{err}");
    assert!(devices.status.success(), "{err}");
    assert!(out.contains("sound server: none running"), "{out}");
    for noise in ["lavrate", "samplerate", "speexrate", "upmix", "vdownmix", "jack", "oss", "ALSA lib", "Cannot connect"] {
        assert!(!out.contains(noise) && !err.contains(noise), "`devices` printed \"{noise}\":\n{out}{err}");
    }
    let mut run = home.callcoach();
    run.args(["run", "--port", "0", "--model"]).arg(util::model_path());
    quiet(&mut run);
    let (status, _, err) = run_within(run, Duration::from_secs(60), home.path(), "run");
    assert!(!status.success());
    assert!(err.contains("capture.far_end is not set") && err.contains("no PulseAudio or PipeWire server"), "{err}");
}
