//! Second-pass benchmark (issue 9 item 5): a long call through the real
//! pipeline with tiny.en live and Whisper base as the second pass, then the
//! brief, as `callcoach run` does at call end. Reports the share of the
//! call's speech the second pass had covered when the call ended, the time
//! from the call's end to brief.json on disk, the live final-transcript
//! latency beside it, and RSS (models loaded, peak).
//!
//! The call: train calls (tests/fixtures/calls/labelled and train, never
//! held-out) rendered with espeak-ng and joined end to end into one stereo
//! call of CALLCOACH_BENCH_MINUTES (default 60), cached as a WAV under
//! target/bench-cache.
//!
//! `cargo bench --bench second_pass` — env: CALLCOACH_BENCH_MINUTES,
//! CALLCOACH_BENCH_SPEED (1, a factor such as 3, or max; default 1),
//! CALLCOACH_BENCH_WITHIN_S (the second pass's time after the call, default
//! the config's 150), CALLCOACH_BENCH_SECOND_PASS=0 (live only, to compare),
//! CALLCOACH_MODEL (tiny.en), CALLCOACH_BASE_MODEL (base).
//!
//! `CALLCOACH_BENCH_WER=1 cargo bench --bench second_pass`: instead, the
//! word error rate of the live transcript and of the second pass's, on
//! CALLCOACH_BENCH_CALLS (default 4) train calls and on the real-speech
//! clips (src/real_speech.rs), each through the pipeline at full speed.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callcoach::audio::file::{load_call, CallAudio};
use callcoach::audio::replay::{self, Speed};
use callcoach::brief::{self, BriefPaths, CallRecord};
use callcoach::call::{Segment, Speaker};
use callcoach::config::DEFAULT_SECOND_PASS_WITHIN_S;
use callcoach::journal;
use callcoach::pipeline::{run_call, PipelineOptions};
use callcoach::transcribe::second_pass::SecondPass;
use callcoach::transcribe::{TranscribeOptions, WhisperModel};
use callcoach::wer::{edit_distance, normalise_words};

mod support;
use support::{percentile, status_mb};

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(default))
}

fn main() {
    let tiny = env_path("CALLCOACH_MODEL", "models/ggml-tiny.en-q8_0.bin");
    let base = env_path("CALLCOACH_BASE_MODEL", "models/ggml-base-q8_0.bin");
    let rss_start = status_mb("VmRSS:");
    let live_model = WhisperModel::load(&tiny, TranscribeOptions::default()).expect("tiny.en");
    let rss_tiny = status_mb("VmRSS:");
    let second_model = WhisperModel::load(&base, TranscribeOptions::default()).expect("base");
    let rss_models = status_mb("VmRSS:");
    println!("models: tiny.en +{:.0} MB, base +{:.0} MB RSS (loaded once)", rss_tiny - rss_start, rss_models - rss_tiny);
    if std::env::var("CALLCOACH_BENCH_WER").is_ok_and(|w| w == "1") {
        word_error_rates(&live_model, &second_model);
    } else {
        long_call(&live_model, &second_model);
    }
}

/// One long call end to end: pipeline + second pass, then the brief.
fn long_call(live_model: &WhisperModel, second_model: &WhisperModel) {
    let minutes: f64 = std::env::var("CALLCOACH_BENCH_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(60.0);
    let speed: Speed = std::env::var("CALLCOACH_BENCH_SPEED").ok().and_then(|s| s.parse().ok()).unwrap_or(Speed::Factor(1.0));
    let within_s: f64 = std::env::var("CALLCOACH_BENCH_WITHIN_S").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SECOND_PASS_WITHIN_S);
    let with_second_pass = !std::env::var("CALLCOACH_BENCH_SECOND_PASS").is_ok_and(|s| s == "0");
    let audio = long_call_audio(minutes);
    let audio_mb = (audio.rep.len() + audio.prospect.as_ref().map_or(0, Vec::len)) as f64 * 4.0 / 1e6;
    let call_s = audio.rep.len() as f64 / 16_000.0;

    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let mut options = PipelineOptions::new("bench-second-pass", "bench");
    options.realtime = speed.is_realtime();
    options.journal_paths = vec![journal_path.clone()];
    let second = with_second_pass.then(|| {
        let second = SecondPass::start(second_model.engine().expect("base state"), &options.journal_paths, "base", Duration::from_secs_f64(within_s)).expect("second pass");
        options.second_pass = Some(second.feed());
        second
    });
    let rss_before_call = status_mb("VmRSS:");
    let (tx, rx) = crossbeam_channel::bounded(256);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let source = replay::start(audio, speed, tx, stop.clone());
    // The call ends when the source has sent its last chunk.
    let audio_ended = std::thread::spawn(move || {
        let _ = source.join();
        Instant::now()
    });
    let outcome = run_call(rx, live_model.engine().expect("tiny.en state"), options, Vec::new(), stop).expect("pipeline");
    let call_ended = audio_ended.join().unwrap();
    let pipeline_done_s = call_ended.elapsed().as_secs_f64();
    let ended = second.map(|s| s.finish().expect("second pass end"));
    let record = CallRecord::from_journal(journal::read(&journal_path).expect("journal"));
    let paths = BriefPaths { briefs_dir: dir.path().join("briefs"), prep_dir: None, history_db: None, team: None };
    let output = brief::after_call(&record, &paths, chrono::Utc::now()).expect("brief");
    let brief_on_disk_s = call_ended.elapsed().as_secs_f64();
    assert!(output.folder.join("brief.json").is_file());
    let wall_s = started.elapsed().as_secs_f64();

    let mut latencies = outcome.final_latencies_s.clone();
    latencies.sort_by(f64::total_cmp);
    println!(
        "second pass: {:.1} min call at speed {:?}, second pass {}, {:.0} s allowed after the call",
        call_s / 60.0,
        speed,
        if with_second_pass { "base" } else { "off" },
        within_s
    );
    println!("  wall time {:.0} s ({:.3} of call time); {} utterances, {} live segments", wall_s, wall_s / call_s, outcome.utterances.len(), outcome.segments.len());
    println!(
        "  live: end of speech -> final text p50 {:.0} ms, p95 {:.0} ms; dropped jobs {}, max backlog {}",
        percentile(&latencies, 0.5) * 1e3,
        percentile(&latencies, 0.95) * 1e3,
        outcome.dropped_jobs,
        outcome.max_backlog_seen
    );
    if let Some(ended) = &ended {
        println!(
            "  second pass: covered {:.1}% of the speech by call end ({:.0} of {:.0} s, {} pieces), {:.1}% in all ({}/{} pieces); stopped {:.1} s after the call{}",
            100.0 * ended.transcribed_by_call_end_s / ended.offered_s.max(1e-9),
            ended.transcribed_by_call_end_s,
            ended.offered_s,
            ended.pieces,
            100.0 * ended.transcribed_s / ended.offered_s.max(1e-9),
            ended.transcribed,
            ended.pieces,
            ended.after_call_end_s,
            ended.unfinished.as_deref().map(|why| format!(" ({why})")).unwrap_or_default()
        );
    }
    if let Some(source) = &output.brief.transcript_source {
        println!("  brief: transcript_source covered_share {:.3}, fell back: {}", source.covered_share, source.fell_back_reason.as_deref().unwrap_or("no"));
    }
    println!("  call end -> pipeline drained {:.1} s -> brief.json on disk {:.1} s (budget 180 s)", pipeline_done_s, brief_on_disk_s);
    println!(
        "  RSS: before the call {:.0} MB (models and the benchmark's {:.0} MB of call audio), peak {:.0} MB",
        rss_before_call,
        audio_mb,
        status_mb("VmHWM:")
    );
}

/// Train calls rendered and joined into one call of at least `minutes`
/// (cached: rendering an hour of espeak-ng takes minutes).
fn long_call_audio(minutes: f64) -> CallAudio {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-cache/second-pass-{minutes}min.wav"));
    if let Ok(audio) = load_call(&cache, false) {
        return audio;
    }
    let target = (minutes * 60.0 * 16_000.0) as usize;
    let gap = vec![0.0f32; 2 * 16_000];
    let mut call = callcoach::synth::RenderedCall { rep: Vec::new(), prospect: Vec::new(), truth: Vec::new(), samples: 0 };
    for labelled in train_calls() {
        let rendered = brief::eval::render(&labelled).expect("espeak-ng renders the call");
        for (joined, part) in [(&mut call.rep, &rendered.rep), (&mut call.prospect, &rendered.prospect)] {
            joined.extend_from_slice(part);
            joined.resize(joined.len() + gap.len(), 0.0);
        }
        if call.rep.len() >= target {
            break;
        }
    }
    call.samples = call.rep.len();
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    call.write_wav(&cache).expect("caching the call");
    load_call(&cache, false).expect("the cached call")
}

fn train_calls() -> Vec<brief::eval::LabelledCall> {
    let dirs = brief::eval::set_dirs("train").expect("the train set");
    brief::eval::load_set("train", &dirs).expect("train calls")
}

/// Live and second-pass WER, each piece transcribed by both (one pipeline
/// run per call with a second pass allowed to finish).
fn word_error_rates(live_model: &WhisperModel, second_model: &WhisperModel) {
    let count: usize = std::env::var("CALLCOACH_BENCH_CALLS").ok().and_then(|c| c.parse().ok()).unwrap_or(4);
    let mut espeak = Tally::default();
    for call in train_calls().into_iter().step_by(17).take(count) {
        let rendered = brief::eval::render(&call).expect("espeak-ng");
        let audio = CallAudio { rep: rendered.rep.clone(), prospect: Some(rendered.prospect.clone()) };
        let (live, second) = both_transcripts(live_model, second_model, audio);
        let mut tally = Tally::default();
        for speaker in Speaker::BOTH {
            tally.add(&rendered.text_of(speaker), &text_of(&live, speaker), &text_of(&second, speaker));
        }
        println!("  {}: live {:.1}%, second pass {:.1}% ({} words)", call.name, tally.live_wer(), tally.second_wer(), tally.words);
        espeak.merge(&tally);
    }
    println!("espeak-ng train calls ({count}): live tiny.en {:.1}%, second pass base {:.1}% over {} words", espeak.live_wer(), espeak.second_wer(), espeak.words);
    let clips = callcoach::real_speech::load(&callcoach::real_speech::default_dir()).expect("real-speech clips");
    let mut real = Tally::default();
    for clip in &clips {
        let audio = CallAudio { rep: clip.audio.clone(), prospect: None };
        let (live, second) = both_transcripts(live_model, second_model, audio);
        let mut tally = Tally::default();
        tally.add(&clip.reference, &text_of(&live, Speaker::Rep), &text_of(&second, Speaker::Rep));
        println!("  {}: live {}/{} wrong, second pass {}/{}", clip.name, tally.live_errors, tally.words, tally.second_errors, tally.words);
        real.merge(&tally);
    }
    println!("real speech ({} clips): live tiny.en {:.1}%, second pass base {:.1}% over {} words", clips.len(), real.live_wer(), real.second_wer(), real.words);
}

/// The live segments and the brief's (second-pass) segments of one call at full speed.
fn both_transcripts(live_model: &WhisperModel, second_model: &WhisperModel, audio: CallAudio) -> (Vec<Segment>, Vec<Segment>) {
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let mut options = PipelineOptions::new("wer", "bench");
    options.realtime = false;
    options.journal_paths = vec![journal_path.clone()];
    let second = SecondPass::start(second_model.engine().unwrap(), &options.journal_paths, "base", Duration::from_secs(600)).unwrap();
    options.second_pass = Some(second.feed());
    let (tx, rx) = crossbeam_channel::bounded(256);
    let stop = Arc::new(AtomicBool::new(false));
    let source = replay::start(audio, Speed::Max, tx, stop.clone());
    run_call(rx, live_model.engine().unwrap(), options, Vec::new(), stop).expect("pipeline");
    let _ = source.join();
    let ended = second.finish().unwrap();
    assert!(ended.unfinished.is_none(), "{ended:?}");
    let journal = journal::read(&journal_path).unwrap();
    let live = journal.segments.clone();
    (live, CallRecord::from_journal(journal).journal.segments)
}

fn text_of(segments: &[Segment], speaker: Speaker) -> String {
    segments.iter().filter(|s| s.speaker == speaker).map(|s| s.text.trim()).collect::<Vec<_>>().join(" ")
}

#[derive(Default)]
struct Tally {
    words: usize,
    live_errors: usize,
    second_errors: usize,
}

impl Tally {
    fn add(&mut self, reference: &str, live: &str, second: &str) {
        let reference = normalise_words(reference);
        self.words += reference.len();
        self.live_errors += edit_distance(&reference, &normalise_words(live));
        self.second_errors += edit_distance(&reference, &normalise_words(second));
    }

    fn merge(&mut self, other: &Tally) {
        self.words += other.words;
        self.live_errors += other.live_errors;
        self.second_errors += other.second_errors;
    }

    fn live_wer(&self) -> f64 {
        100.0 * self.live_errors as f64 / self.words.max(1) as f64
    }

    fn second_wer(&self) -> f64 {
        100.0 * self.second_errors as f64 / self.words.max(1) as f64
    }
}
