//! Live capture through real cpal streams from a private PulseAudio daemon
//! (tests/pulse.rs): known espeak-ng speech is played into null sinks and
//! must come out of the right channel; the daemon is killed and restarted
//! under a running capture.
//!
//! Each test runs its body in a fresh process of this test binary
//! ([`in_child_process`]): the ALSA configuration and `PULSE_SERVER` are
//! process-wide, and the CPU bar is measured on the whole process
//! (`/proc/self/stat`), which the other tests of this binary would pollute.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use callcoach::audio::capture::{self, Capture, CaptureConfig, CaptureError, CaptureHost};
use callcoach::audio::source::{AudioEvent, HealthEvent};
use callcoach::call::Speaker;

use crate::pulse::{self, PulseServer};

const REP_TEXT: &str = "Thanks for joining today. How does your team handle scheduling at the moment?";
const PROSPECT_TEXT: &str = "We mostly use spreadsheets, and honestly the price of new tools worries me.";

/// Set in a child process to the name of the test it must run.
const CHILD_ENV: &str = "CALLCOACH_CAPTURE_TEST_CHILD";
/// The child prints its measurements on a line starting with this.
const REPORT_PREFIX: &str = "capture-report:";

/// Runs `body` in a new process of this test binary that runs only `test`
/// (this module's test of that name); the parent waits (at most 3 minutes),
/// echoes the child's output and fails if the child failed.
fn in_child_process(test: &str, body: impl FnOnce()) {
    let module = module_path!().split_once("::").map(|(_, m)| m).unwrap_or(module_path!());
    let full_name = format!("{module}::{test}");
    if std::env::var(CHILD_ENV).as_deref() == Ok(full_name.as_str()) {
        // The capture's own log (device lost/back, hung closes) goes with the child's output.
        let filter = std::env::var("CALLCOACH_LOG").unwrap_or_else(|_| "callcoach=debug".into());
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
        body();
        return;
    }
    // /proc/self/exe is this very image, even if cargo has rebuilt the file
    // at current_exe() meanwhile (a shared target dir).
    let mut child = Command::new("/proc/self/exe")
        .args([full_name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &full_name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("re-running the test binary");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    // libtest's "test NAME ... " shares a line with the first report.
    for report in stdout.lines().filter_map(|l| l.find(REPORT_PREFIX).map(|at| &l[at..])) {
        eprintln!("{full_name}: {report}");
    }
    match status {
        Some(status) if status.success() => {
            assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}\n{stderr}");
        }
        Some(status) => panic!("{full_name} failed in its child process ({status}):\n{stdout}\n{stderr}"),
        None => panic!("{full_name} hung: its child process was killed after 3 minutes:\n{stdout}\n{stderr}"),
    }
}

/// Prints a measurement for the parent (and the log).
fn report(what: &str, value: impl std::fmt::Display) {
    println!("{REPORT_PREFIX} {what} = {value}");
}

/// Everything a capture delivered, with arrival times of health events.
#[derive(Default)]
struct Recorded {
    audio: [Vec<f32>; 2],
    health: Vec<(Instant, HealthEvent)>,
    ended: bool,
}

/// Collects a capture's events on a thread, as the pipeline would.
struct Recorder {
    state: Arc<Mutex<Recorded>>,
    thread: JoinHandle<()>,
}

impl Recorder {
    fn start(events: crossbeam_channel::Receiver<AudioEvent>) -> Recorder {
        let state = Arc::new(Mutex::new(Recorded::default()));
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            for event in events {
                let mut state = shared.lock().unwrap();
                match event {
                    AudioEvent::Chunk { speaker, samples } => state.audio[speaker.channel()].extend_from_slice(&samples),
                    AudioEvent::Health(health) => {
                        eprintln!("health: {health:?}");
                        state.health.push((Instant::now(), health));
                    }
                    AudioEvent::End => {
                        state.ended = true;
                        return;
                    }
                }
            }
        });
        Recorder { state, thread }
    }

    /// Polls `check` until it returns `Some`, or `timeout` passes.
    fn wait_for<T>(&self, timeout: Duration, check: impl Fn(&Recorded) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check(&self.state.lock().unwrap()) {
                return Some(found);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn samples(&self, speaker: Speaker) -> usize {
        self.state.lock().unwrap().audio[speaker.channel()].len()
    }

    /// Waits for `End` (the capture must have been stopped) and returns everything.
    fn finish(self) -> Recorded {
        self.thread.join().expect("recorder thread");
        Arc::try_unwrap(self.state).ok().expect("recorder finished").into_inner().unwrap()
    }
}

fn alsa_config() -> CaptureConfig {
    CaptureConfig::new(pulse::ALSA_MIC, pulse::ALSA_FAR_END)
}

fn pulse_config() -> CaptureConfig {
    CaptureConfig { host: CaptureHost::Pulse, ..CaptureConfig::new(pulse::PULSE_MIC, pulse::PULSE_FAR_END) }
}

/// Waits for the first callback of both streams: an idle null sink starts
/// delivering up to 2 s late, and audio played before that is lost.
fn wait_for_first_callbacks(capture: &Capture) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while capture.stats().channels.iter().any(|c| c.callbacks == 0) {
        assert!(Instant::now() < deadline, "no callback within 10 s: {:?}", capture.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops a capture, failing the test if that takes more than 5 s.
fn stop_within_5s(capture: Capture) {
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        capture.stop();
        let _ = done_tx.send(());
    });
    let started = Instant::now();
    done_rx.recv_timeout(Duration::from_secs(5)).expect("Capture::stop hung");
    report("stop_ms", started.elapsed().as_millis());
}

/// Dot product with independent accumulators, so it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f32; 16];
    let chunks = a.len() / 16;
    for i in 0..chunks {
        let (x, y) = (&a[i * 16..i * 16 + 16], &b[i * 16..i * 16 + 16]);
        for k in 0..16 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = a[chunks * 16..].iter().zip(&b[chunks * 16..]).map(|(x, y)| x * y).sum();
    acc.iter().map(|&v| v as f64).sum::<f64>() + tail as f64
}

/// Normalised cross-correlation of `reference` with `captured[lag..]`.
fn ncc_at(captured: &[f32], reference: &[f32], lag: usize) -> f64 {
    let n = reference.len().min(captured.len().saturating_sub(lag));
    if n == 0 {
        return 0.0;
    }
    let segment = &captured[lag..lag + n];
    let energy = dot(segment, segment) * dot(&reference[..n], &reference[..n]);
    if energy <= 0.0 {
        0.0
    } else {
        dot(segment, &reference[..n]) / energy.sqrt()
    }
}

/// The best normalised cross-correlation of `reference` inside `captured`,
/// over lags in `[from, to)`: `(ncc, lag)`.
fn best_ncc(captured: &[f32], reference: &[f32], from: usize, to: usize) -> (f64, usize) {
    let to = to.min(captured.len().saturating_sub(reference.len()) + 1);
    (from..to).map(|lag| (ncc_at(captured, reference, lag), lag)).fold((f64::MIN, 0), |best, x| if x.0 > best.0 { x } else { best })
}

/// utime + stime of this whole process, seconds.
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / clock_ticks_per_s()
}

fn clock_ticks_per_s() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(100.0)
}

fn speech(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    (
        pulse::speech_wav(dir, "rep", "en-us", REP_TEXT),
        pulse::speech_wav(dir, "prospect", "en-us+f3", PROSPECT_TEXT),
    )
}

/// Two voices played into the two sinks come out of the right channels,
/// sample for sample, on the same call clock, with no drops.
#[test]
fn two_voices_arrive_on_their_own_channels() {
    in_child_process("two_voices_arrive_on_their_own_channels", || {
        let server = PulseServer::start();
        server.use_in_this_process();
        let (rep_wav, prospect_wav) = speech(server.dir());
        let rep_src = pulse::read_wav(&rep_wav);
        let prospect_src = pulse::read_wav(&prospect_wav);

        let (tx, rx) = crossbeam_channel::bounded(256);
        let capture = Capture::start(&alsa_config(), tx).expect("capture starts");
        let recorder = Recorder::start(rx);
        wait_for_first_callbacks(&capture);

        let played_at = [recorder.samples(Speaker::Rep), recorder.samples(Speaker::Prospect)];
        let rep_play = server.play(pulse::MIC_SINK, &rep_wav);
        let prospect_play = server.play(pulse::FAR_END_SINK, &prospect_wav);
        let playing_from = Instant::now();
        let cpu_before = process_cpu_s();
        // Level meters as the overlay reads them: from another thread.
        let meters = capture.stats_reader();
        let peaks = std::thread::spawn(move || {
            let mut peak_seen = [0.0f32; 2];
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                for (peak, channel) in peak_seen.iter_mut().zip(meters.stats().channels) {
                    *peak = peak.max(channel.peak);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            peak_seen
        });
        let peak_seen = peaks.join().expect("meter thread");
        rep_play.wait();
        prospect_play.wait();
        let cpu_share = (process_cpu_s() - cpu_before) / playing_from.elapsed().as_secs_f64();
        report("cpu_while_capturing_percent_of_a_core", format!("{:.1}", cpu_share * 100.0));
        // A loose bound: capture must stay a small part of the daemon's budget.
        assert!(cpu_share < 0.25, "{:.1}% of a core while capturing", cpu_share * 100.0);
        std::thread::sleep(Duration::from_millis(700));
        let stats = capture.stats();
        stop_within_5s(capture);
        let recorded = recorder.finish();
        assert!(recorded.ended, "no End event");

        let [rep, prospect] = &recorded.audio;
        assert_eq!(rep.len(), prospect.len(), "both channels end at the same call time");
        let window = |speaker: Speaker| {
            let at = played_at[speaker.channel()];
            // An idle null sink renders its first audio about 2 s late (README,
            // capture start-up), so the search runs to 3 s after playback began.
            (at.saturating_sub(4_000), at + 48_000)
        };
        let (from, to) = window(Speaker::Rep);
        let (rep_ncc, rep_lag) = best_ncc(rep, &rep_src, from, to);
        let (from, to) = window(Speaker::Prospect);
        let (prospect_ncc, prospect_lag) = best_ncc(prospect, &prospect_src, from, to);
        // Crosstalk: each channel against the other's source, at that source's alignment.
        let crosstalk_rep = ncc_at(rep, &prospect_src, prospect_lag).abs();
        let crosstalk_prospect = ncc_at(prospect, &rep_src, rep_lag).abs();
        report("ncc_rep", format!("{rep_ncc:.4} at {:.3} s", rep_lag as f64 / 16_000.0));
        report("ncc_prospect", format!("{prospect_ncc:.4} at {:.3} s", prospect_lag as f64 / 16_000.0));
        report("crosstalk", format!("rep {crosstalk_rep:.4}, prospect {crosstalk_prospect:.4}"));
        report("peak_during_playback", format!("{:.3} / {:.3}", peak_seen[0], peak_seen[1]));
        report("device_format", format!("{} Hz x {} ch", stats.channels[0].device_rate, stats.channels[0].device_channels));
        report("dropped", format!("{} / {}", stats.channels[0].dropped, stats.channels[1].dropped));

        assert!(rep_ncc >= 0.9, "rep channel does not match the rep's speech: ncc {rep_ncc:.3}");
        assert!(prospect_ncc >= 0.9, "far-end channel does not match the prospect's speech: ncc {prospect_ncc:.3}");
        assert!(crosstalk_rep < 0.2 && crosstalk_prospect < 0.2, "crosstalk {crosstalk_rep:.3} / {crosstalk_prospect:.3}");
        // Played together, so they must sit at the same call time.
        let skew_s = (rep_lag as f64 - prospect_lag as f64).abs() / 16_000.0;
        report("channel_skew_s", format!("{skew_s:.3}"));
        assert!(skew_s < 0.15, "channels are {skew_s:.3} s apart on the call clock");
        assert!(peak_seen.iter().all(|&p| p > 0.05), "level meters never moved: {peak_seen:?}");
        for channel in &stats.channels {
            assert_eq!(channel.dropped, 0, "{} dropped frames", channel.speaker);
            assert!(channel.frames_in > 0);
        }
        assert!(recorded.health.is_empty(), "unexpected health events: {:?}", recorded.health);
    });
}

/// Killing the sound server is reported within 2 s, costs next to no CPU
/// while it is gone, hangs nothing, and capture resumes when it returns.
#[test]
fn a_killed_sound_server_is_reported_and_capture_resumes() {
    in_child_process("a_killed_sound_server_is_reported_and_capture_resumes", || {
        let mut server = PulseServer::start();
        server.use_in_this_process();
        let (rep_wav, prospect_wav) = speech(server.dir());
        let prospect_src = pulse::read_wav(&prospect_wav);

        let (tx, rx) = crossbeam_channel::bounded(256);
        let started = Instant::now();
        let capture = Capture::start(&alsa_config(), tx).expect("capture starts");
        let recorder = Recorder::start(rx);
        wait_for_first_callbacks(&capture);
        server.play(pulse::MIC_SINK, &rep_wav).wait();

        let killed_at = Instant::now();
        server.kill();
        let lost = recorder
            .wait_for(Duration::from_secs(5), |r| {
                let lost: Vec<_> = r.health.iter().filter(|(_, h)| matches!(h, HealthEvent::DeviceLost { .. })).cloned().collect();
                (lost.len() == 2).then_some(lost)
            })
            .expect("both devices reported lost within 5 s");
        for (at, event) in &lost {
            let latency = at.duration_since(killed_at);
            report("loss_detected_after_ms", format!("{} ({event:?})", latency.as_millis()));
            assert!(latency < Duration::from_secs(2), "loss reported after {latency:?}: {event:?}");
        }

        // While the server is gone: few percent of a core, and the channels
        // keep advancing on the call clock (silence; the first tick after the
        // loss catches up on the watchdog's second, so start counting after it).
        std::thread::sleep(Duration::from_millis(200));
        let before = recorder.samples(Speaker::Prospect);
        let cpu_before = process_cpu_s();
        let wall = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        let cpu_share = (process_cpu_s() - cpu_before) / wall.elapsed().as_secs_f64();
        report("cpu_while_gone_percent_of_a_core", format!("{:.1}", cpu_share * 100.0));
        assert!(cpu_share < 0.10, "{:.1}% of a core while the device is gone", cpu_share * 100.0);
        let advanced_s = (recorder.samples(Speaker::Prospect) - before) as f64 / 16_000.0;
        assert!((2.5..=3.5).contains(&advanced_s), "silence for the gap: {advanced_s:.2} s in 3 s");
        let stats = capture.stats();
        assert!(stats.channels.iter().all(|c| !c.live && c.losses == 1), "{stats:?}");

        let restarted_at = Instant::now();
        server.restart();
        let back = recorder
            .wait_for(Duration::from_secs(10), |r| {
                let back: Vec<_> = r.health.iter().filter(|(_, h)| matches!(h, HealthEvent::DeviceBack { .. })).cloned().collect();
                (back.len() == 2).then_some(back)
            })
            .expect("both devices back within 10 s of the restart");
        for (at, event) in &back {
            report("back_after_restart_ms", format!("{} ({event:?})", at.duration_since(restarted_at).as_millis()));
            let HealthEvent::DeviceBack { gap_s, .. } = event else { unreachable!() };
            let outage = at.duration_since(killed_at).as_secs_f64();
            assert!(*gap_s > 3.0 && *gap_s <= outage + 0.5, "gap {gap_s:.2} s for an outage of {outage:.2} s");
        }

        // Audio flows again, on the right channel.
        let resumed_at = recorder.samples(Speaker::Prospect);
        server.play(pulse::FAR_END_SINK, &prospect_wav).wait();
        std::thread::sleep(Duration::from_millis(700));
        let elapsed_s = started.elapsed().as_secs_f64();
        let final_stats = capture.stats();
        stop_within_5s(capture);
        let recorded = recorder.finish();
        let prospect = &recorded.audio[Speaker::Prospect.channel()];
        let (ncc, lag) = best_ncc(prospect, &prospect_src, resumed_at.saturating_sub(4_000), resumed_at + 32_000);
        report("ncc_after_restart", format!("{ncc:.4} at {:.3} s", lag as f64 / 16_000.0));
        assert!(ncc >= 0.9, "far-end audio after the restart does not match: ncc {ncc:.3}");
        // Gaps were filled: both channels still span the whole call.
        for audio in &recorded.audio {
            let length_s = audio.len() as f64 / 16_000.0;
            report("channel_length_vs_wall_s", format!("{length_s:.2} / {elapsed_s:.2}"));
            assert!((length_s - elapsed_s).abs() < 1.0, "channel is {length_s:.2} s long after {elapsed_s:.2} s");
        }
        report("hung_closes", format!("{} / {}", final_stats.channels[0].hung_closes, final_stats.channels[1].hung_closes));
        let losses = recorded.health.iter().filter(|(_, h)| matches!(h, HealthEvent::DeviceLost { .. })).count();
        assert_eq!(losses, 2, "exactly one loss per device: {:?}", recorded.health);
    });
}

/// A far-end source removed while the server keeps running: PulseAudio
/// silently moves the stream to the default source (the mic), so the "far
/// end" starts recording the rep. Caught by the device-list check (PulseAudio
/// host) or by noticing the far end has become a copy of the mic (ALSA host,
/// where the PCM stays listed); picked up again when the source returns.
fn a_removed_far_end_is_reported_and_picked_up_again(cfg: CaptureConfig) {
    let server = PulseServer::start();
    server.use_in_this_process();
    let (rep_wav, prospect_wav) = speech(server.dir());

    let (tx, rx) = crossbeam_channel::bounded(256);
    let capture = Capture::start(&cfg, tx).expect("capture starts");
    let recorder = Recorder::start(rx);
    wait_for_first_callbacks(&capture);

    let removed_at = Instant::now();
    server.remove_sink(pulse::FAR_END_SINK);
    // The rep talks: a re-routed far end would now hear it.
    let talking = server.play(pulse::MIC_SINK, &rep_wav);
    let (at, event) = recorder
        .wait_for(Duration::from_secs(5), |r| r.health.iter().find(|(_, h)| matches!(h, HealthEvent::DeviceLost { .. })).cloned())
        .expect("the removed far end is reported within 5 s");
    let latency = at.duration_since(removed_at);
    report("removed_far_end_detected_after_ms", format!("{} ({event:?})", latency.as_millis()));
    assert!(latency < Duration::from_secs(2), "reported after {latency:?}");
    assert!(matches!(&event, HealthEvent::DeviceLost { speaker: Speaker::Prospect, .. }), "{event:?}");
    talking.wait();
    // While the source is missing the far end stays lost (no flapping back to the mic).
    std::thread::sleep(Duration::from_secs(2));
    let events = recorder.state.lock().unwrap().health.len();
    assert_eq!(events, 1, "{:?}", recorder.state.lock().unwrap().health);

    server.add_sink(pulse::FAR_END_SINK);
    recorder
        .wait_for(Duration::from_secs(10), |r| r.health.iter().find(|(_, h)| matches!(h, HealthEvent::DeviceBack { .. })).cloned())
        .expect("the far end is back within 10 s of its return");
    let resumed_at = recorder.samples(Speaker::Prospect);
    server.play(pulse::FAR_END_SINK, &prospect_wav).wait();
    std::thread::sleep(Duration::from_millis(700));
    stop_within_5s(capture);
    let recorded = recorder.finish();
    let prospect_src = pulse::read_wav(&prospect_wav);
    let (ncc, _) = best_ncc(&recorded.audio[1], &prospect_src, resumed_at.saturating_sub(4_000), resumed_at + 40_000);
    report("ncc_after_far_end_returned", format!("{ncc:.4}"));
    assert!(ncc >= 0.9, "far-end audio after the source returned does not match: ncc {ncc:.3}");
    // The mic never noticed.
    assert!(
        !recorded.health.iter().any(|(_, h)| matches!(h, HealthEvent::DeviceLost { speaker: Speaker::Rep, .. })),
        "{:?}",
        recorded.health
    );
}

#[test]
fn a_removed_far_end_is_caught_on_the_pulseaudio_host() {
    in_child_process("a_removed_far_end_is_caught_on_the_pulseaudio_host", || {
        a_removed_far_end_is_reported_and_picked_up_again(pulse_config())
    });
}

#[test]
fn a_far_end_rerouted_to_the_mic_is_caught_on_the_alsa_host() {
    in_child_process("a_far_end_rerouted_to_the_mic_is_caught_on_the_alsa_host", || {
        a_removed_far_end_is_reported_and_picked_up_again(alsa_config())
    });
}

/// A configured device that does not exist fails at start-up, naming it and
/// listing what there is instead.
#[test]
fn a_missing_device_is_named_with_the_alternatives() {
    in_child_process("a_missing_device_is_named_with_the_alternatives", || {
        let server = PulseServer::start();
        server.use_in_this_process();
        let (tx, _rx) = crossbeam_channel::bounded(16);

        let cfg = CaptureConfig::new(pulse::ALSA_MIC, "callcoach_headset_that_is_not_there");
        let error = Capture::start(&cfg, tx.clone()).err().expect("a missing device is an error");
        let text = error.to_string();
        report("missing_device_error", &text);
        assert!(matches!(error, CaptureError::DeviceNotFound { role: "far_end", .. }), "{error:?}");
        for needle in ["callcoach_headset_that_is_not_there", "capture.far_end", pulse::ALSA_MIC, "callcoach_farend (monitor)"] {
            assert!(text.contains(needle), "error does not mention {needle}: {text}");
        }

        let cfg = CaptureConfig { mic: "nobody.monitor".into(), ..pulse_config() };
        let text = Capture::start(&cfg, tx).err().expect("a missing device is an error").to_string();
        report("missing_device_error_pulse", &text);
        for needle in ["nobody.monitor", "capture.mic", "farend.monitor (monitor)", "\"mic\""] {
            assert!(text.contains(needle), "error does not mention {needle}: {text}");
        }
    });
}

/// `callcoach devices` material: both harness devices are listed under the
/// names the config takes, and the far end is marked as a likely monitor.
#[test]
fn devices_are_listed_with_monitors_marked() {
    in_child_process("devices_are_listed_with_monitors_marked", || {
        let server = PulseServer::start();
        server.use_in_this_process();

        for (host, mic, far_end) in [
            (CaptureHost::Alsa, pulse::ALSA_MIC, pulse::ALSA_FAR_END),
            (CaptureHost::Pulse, pulse::PULSE_MIC, pulse::PULSE_FAR_END),
        ] {
            let devices = capture::list_devices_on(host).expect("listing devices");
            for d in &devices {
                report("device", format!("{host}: {} [{}] monitor={} {:?}", d.name, d.description, d.is_monitor_likely, d.default_config));
            }
            let find = |name: &str| devices.iter().find(|d| d.name == name).unwrap_or_else(|| panic!("{name} not listed on {host}: {devices:?}"));
            assert!(!find(mic).is_monitor_likely, "{mic} is not a monitor");
            assert!(find(far_end).is_monitor_likely, "{far_end} is a monitor");
            assert!(find(far_end).default_config.is_some(), "{far_end} can be opened");
        }
        let default_host = capture::list_devices().expect("listing devices");
        assert!(default_host.iter().any(|d| d.name == pulse::ALSA_MIC), "list_devices uses the ALSA host");
    });
}

/// Writes `seconds` of 16 kHz mono: a `hz` tone burst for the first 0.3 s, then silence.
fn burst_wav(path: &Path, hz: f64, seconds: f64) {
    let spec = hound::WavSpec { channels: 1, sample_rate: 16_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).expect("creating a WAV");
    for i in 0..(seconds * 16_000.0) as usize {
        let t = i as f64 / 16_000.0;
        let s = if t < 0.3 { 0.5 * (2.0 * std::f64::consts::PI * hz * t).sin() } else { 0.0 };
        writer.write_sample((s * 32767.0) as i16).expect("writing a sample");
    }
    writer.finalize().expect("finishing a WAV");
}

/// Call time (seconds) of the first loud sample, if any.
fn onset_s(samples: &[f32]) -> Option<f64> {
    samples.iter().position(|s| s.abs() > 0.1).map(|i| i as f64 / 16_000.0)
}

/// Plays a burst into each sink at `at_s` after the capture opened (ALSA
/// host) and once more `later_s` after that; returns when each was played and
/// where each channel heard it on the call clock (call time of its first
/// loud sample after the previous burst), with the devices' callbacks before
/// the first burst.
fn bursts_after_opening(server: &PulseServer, at_s: f64, later_s: f64) -> ([f64; 2], [[Option<f64>; 2]; 2], [u64; 2]) {
    // Different tones: the same sound on both would be taken for a far end re-routed to the mic.
    let (mic_wav, far_wav) = (server.dir().join("mic-burst.wav"), server.dir().join("far-burst.wav"));
    burst_wav(&mic_wav, 700.0, 1.0);
    burst_wav(&far_wav, 1100.0, 1.0);
    let cfg = alsa_config();
    let (tx, rx) = crossbeam_channel::bounded(4096);
    let capture = Capture::start(&cfg, tx).expect("capture starts");
    let recorder = Recorder::start(rx);
    let mut played = [0.0; 2];
    let mut callbacks_before = [0; 2];
    for (i, due_s) in [at_s, at_s + later_s].into_iter().enumerate() {
        while capture.started_at().elapsed().as_secs_f64() < due_s {
            std::thread::sleep(Duration::from_millis(2));
        }
        if i == 0 {
            callbacks_before = capture.stats().channels.map(|c| c.callbacks);
        }
        played[i] = capture.started_at().elapsed().as_secs_f64();
        let mic = server.play_now(pulse::MIC_SINK, &mic_wav);
        let far_end = server.play_now(pulse::FAR_END_SINK, &far_wav);
        mic.wait();
        far_end.wait();
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop_within_5s(capture);
    let recorded = recorder.finish();
    assert!(recorded.health.is_empty(), "{:?}", recorded.health);
    let heard = recorded.audio.each_ref().map(|audio| {
        let from = ((played[1] - 0.5).max(played[0] + 0.5) * 16_000.0) as usize;
        let first = onset_s(&audio[..from.min(audio.len())]);
        let second = onset_s(&audio[from.min(audio.len())..]).map(|t| t + from as f64 / 16_000.0);
        [first, second]
    });
    (played, [[heard[0][0], heard[1][0]], [heard[0][1], heard[1][1]]], callbacks_before)
}

/// Issue 12 item 4: a device's first seconds after opening are on the call
/// clock. The sound server here is rendering (a playback keeps both null
/// sinks running, as a call does the far end's output): a burst played 0.05 s
/// after the devices open is heard on both channels as late as one played
/// 3 s later, within 0.1 s (and each within 0.2 s of when paplay was started).
#[test]
fn audio_played_right_after_the_devices_open_is_heard_when_it_was_played() {
    in_child_process("audio_played_right_after_the_devices_open_is_heard_when_it_was_played", || {
        let server = PulseServer::start();
        server.use_in_this_process();
        let quiet = server.dir().join("quiet.wav");
        burst_wav(&quiet, 0.0, 15.0);
        let _running = (server.play_now(pulse::MIC_SINK, &quiet), server.play_now(pulse::FAR_END_SINK, &quiet));
        std::thread::sleep(Duration::from_millis(2500));
        let (played, heard, _) = bursts_after_opening(&server, 0.05, 3.0);
        report("first_seconds_rendering", format!("played at {played:.3?} s after opening; heard at (mic, far end) {heard:.3?}"));
        for channel in 0..2 {
            let [Some(first), Some(later)] = [heard[0][channel], heard[1][channel]] else { panic!("a burst is missing: {heard:?}") };
            for (played, onset) in [(played[0], first), (played[1], later)] {
                assert!(onset >= played - 0.02 && onset <= played + 0.2, "played at {played:.3} s, heard at {onset:.3} s");
            }
            // Starting paplay takes part of each offset; what the capture
            // owes is the same offset in its first second as later.
            let (first_late, later_late) = (first - played[0], later - played[1]);
            assert!((first_late - later_late).abs() <= 0.1, "channel {channel}: {first_late:.3} s late at start-up, {later_late:.3} s later");
        }
    });
}

/// With idle null sinks (nothing playing) the first callback comes up to 2 s
/// after opening, and a burst played before it sounds only when the idle
/// sink next renders (~2 s after opening: a 3 s tone played then is heard
/// whole and unbroken from there). Such audio is kept on both channels
/// alike, never placed before it was played; and the channels stay on wall
/// time after it: a burst played 3 s later is heard within 0.1 s (placing
/// the first block by the pulse plugin's capture timestamps put it 0.65 s
/// before it was played).
#[test]
fn audio_in_a_devices_first_seconds_is_kept_on_both_channels_alike() {
    in_child_process("audio_in_a_devices_first_seconds_is_kept_on_both_channels_alike", || {
        let server = PulseServer::start();
        server.use_in_this_process();
        let (played, heard, callbacks_before) = bursts_after_opening(&server, 0.0, 4.0);
        report(
            "first_seconds",
            format!("played at {played:.3?} s after opening (callbacks before the first: {callbacks_before:?}); heard at (mic, far end) {heard:.3?}"),
        );
        assert_eq!(callbacks_before, [0, 0], "the first burst must be played before the devices' first callbacks");
        let [Some(mic_s), Some(far_s)] = heard[0] else { panic!("the first burst is missing from a channel: {heard:?}") };
        // 0.04-0.09 s on an idle machine; more when another process holds a core.
        assert!((mic_s - far_s).abs() <= 0.25, "the channels disagree by {:.3} s", mic_s - far_s);
        for onset in [mic_s, far_s] {
            assert!(onset >= played[0] - 0.02 && onset <= played[0] + 2.3, "played at {:.3} s, heard at {onset:.3} s", played[0]);
        }
        for onset in heard[1] {
            let onset = onset.unwrap_or_else(|| panic!("the later burst is missing: {heard:?}"));
            assert!((onset - played[1]).abs() <= 0.1, "played at {:.3} s, heard at {onset:.3} s", played[1]);
        }
    });
}
