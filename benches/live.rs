//! Live-pipeline benchmark: replays a synthetic two-speaker call through the
//! real pipeline (VAD, echo gate, whisper worker, coach, journal) and reports
//! end-of-speech → final-transcript latency p50/p95, real-time factor,
//! dropped/untranscribed jobs, backlog, and RSS sampled through the call.
//!
//! `cargo bench --bench live` — env: CALLCOACH_BENCH_MINUTES (default 3),
//! CALLCOACH_BENCH_SPEED (1 or max, default 1), CALLCOACH_BENCH_BUSY=1 runs a
//! competing busy process on one core (as a video-call app would),
//! CALLCOACH_BENCH_THREADS (default from TranscribeOptions).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use callcoach::audio::file::CallAudio;
use callcoach::audio::replay::{self, Speed};
use callcoach::call::Speaker;
use callcoach::pipeline::{run_call, PipelineOptions};
use callcoach::synth::{self, ScriptLine, Voices};
use callcoach::transcribe::{TranscribeOptions, WhisperEngine};

mod support;
use support::{percentile, status_mb};

const REP: &[&str] = &[
    "Thanks for taking the time today. How does your team plan the week right now?",
    "What happens when someone runs late on a job?",
    "Our planner moves the rest of the day for you when something slips.",
    "What would it mean for your customers if arrival times were right?",
    "Could we meet again next week to go through the numbers with your manager?",
];
const PROSPECT: &[&str] = &[
    "We use spreadsheets, and our people lose hours every single week.",
    "Everything after it slips and the customers call us angry.",
    "Honestly, the price worries me. It is more than we planned to spend this year.",
    "I would have to run it by our vice president before we sign anything.",
    "Yes, next Tuesday afternoon works for both of us.",
];

fn main() {
    let minutes: f64 = std::env::var("CALLCOACH_BENCH_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(3.0);
    let speed: Speed = std::env::var("CALLCOACH_BENCH_SPEED").ok().and_then(|s| s.parse().ok()).unwrap_or(Speed::Factor(1.0));
    let busy = std::env::var("CALLCOACH_BENCH_BUSY").is_ok_and(|b| b == "1");
    let mut options = TranscribeOptions::default();
    if let Some(threads) = std::env::var("CALLCOACH_BENCH_THREADS").ok().and_then(|t| t.parse().ok()) {
        options.threads = threads;
    }
    let model = std::env::var_os("CALLCOACH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/ggml-tiny.en-q8_0.bin"));

    // Render a cycle of lines once, then repeat the rendered audio to the length asked for.
    let mut lines = Vec::new();
    for i in 0..REP.len() {
        lines.push(ScriptLine { speaker: Speaker::Rep, text: REP[i].into(), gap_before_s: 0.7 });
        lines.push(ScriptLine { speaker: Speaker::Prospect, text: PROSPECT[i].into(), gap_before_s: 0.7 });
    }
    let cycle = synth::render(&lines, &Voices::default()).expect("espeak-ng");
    let target = (minutes * 60.0 * 16_000.0) as usize;
    let mut audio = CallAudio { rep: Vec::with_capacity(target), prospect: Some(Vec::with_capacity(target)) };
    while audio.rep.len() < target {
        audio.rep.extend_from_slice(&cycle.rep);
        audio.prospect.as_mut().unwrap().extend_from_slice(&cycle.prospect);
    }
    let truth_ratio = cycle.talk_ratio_rep();

    let busy_child = busy.then(|| {
        std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("busy process")
    });
    let engine = WhisperEngine::load(&model, options.clone()).expect("model");
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = PipelineOptions::new("bench", "bench");
    pipeline.realtime = speed.is_realtime();
    pipeline.journal_paths = vec![dir.path().join("journal.jsonl")];
    pipeline.events_path = Some(dir.path().join("events.jsonl"));

    // Sample RSS through the call to show it stays flat.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            let started = Instant::now();
            while !done.load(Ordering::Relaxed) {
                samples.push((started.elapsed().as_secs_f64(), status_mb("VmRSS:")));
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            samples
        })
    };
    let (tx, rx) = crossbeam_channel::bounded(256);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let source = replay::start(audio, speed, tx, stop.clone());
    let outcome = run_call(rx, engine, pipeline, Vec::new(), stop).expect("pipeline");
    source.join().unwrap();
    let wall_s = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let rss = sampler.join().unwrap();
    if let Some(mut child) = busy_child {
        let _ = child.kill();
        let _ = child.wait();
    }

    let mut latencies = outcome.final_latencies_s.clone();
    latencies.sort_by(f64::total_cmp);
    let quarter = |q: f64| {
        let at = rss.len().saturating_sub(1) as f64 * q;
        rss.get(at as usize).map_or(f64::NAN, |s| s.1)
    };
    println!(
        "callcoach live pipeline: {:.1} min call, speed {:?}, {} thread(s), busy competitor: {}",
        outcome.duration_s / 60.0,
        speed,
        options.threads,
        busy
    );
    println!("  utterances            {} ({} transcribed)", outcome.utterances.len(), outcome.segments.len());
    println!(
        "  end of speech -> final text  p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.5) * 1e3,
        percentile(&latencies, 0.95) * 1e3,
        percentile(&latencies, 1.0) * 1e3
    );
    println!("  wall time / call time {:.3}", wall_s / outcome.duration_s.max(1e-9));
    println!("  dropped jobs {} (untranscribed finals {}), max backlog {}", outcome.dropped_jobs, outcome.untranscribed, outcome.max_backlog_seen);
    println!("  talk ratio rep        {:.3} (truth {:.3})", outcome.talk_ratio_rep(), truth_ratio);
    println!(
        "  RSS at 25/50/75/100% of the call: {:.0} / {:.0} / {:.0} / {:.0} MB; peak {:.0} MB",
        quarter(0.25),
        quarter(0.5),
        quarter(0.75),
        quarter(1.0),
        status_mb("VmHWM:")
    );
}
