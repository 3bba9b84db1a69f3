//! Transcription benchmark: model load time, per-utterance latency, real-time
//! factor and peak RSS over a multi-minute two-speaker call rendered with
//! espeak-ng, then word error rate and latency on real human speech
//! (`real_speech`: jfk, pyannote's phone call, LibriVox; 174 words).
//! Run: `cargo bench --bench transcribe` (needs the fetched model and
//! `scripts/setup.sh`'s real-speech clips).
//! Env: CALLCOACH_BENCH_MINUTES (default 3), CALLCOACH_BENCH_THREADS (default 2).

use std::path::PathBuf;
use std::time::Instant;

use callcoach::call::Speaker;
use callcoach::segment::join::join_offline;
use callcoach::segment::{segment_offline, SegmenterConfig};
use callcoach::synth::{self, ScriptLine, Voices};
use callcoach::transcribe::{SpeechToText, TranscribeOptions, WhisperEngine};
use callcoach::wer::word_error_rate;

mod support;
use support::{percentile, status_mb};

const REP_LINES: &[&str] = &[
    "Thanks for taking the time today. How does your team plan the week right now?",
    "What happens when a technician runs late on a job?",
    "How many dispatchers do you have across your sites?",
    "Our scheduler rebalances the whole day automatically when something slips.",
    "What would it mean for your customers if arrival windows were accurate?",
    "Could we set up a thirty minute session with your operations lead next Tuesday?",
];
const PROSPECT_LINES: &[&str] = &[
    "Mostly spreadsheets, and our dispatchers rebuild the plan every Monday morning.",
    "Everything downstream slips and customers call us angry.",
    "We have four dispatchers for about sixty technicians.",
    "Honestly that sounds expensive. It is more than we budgeted this year.",
    "I would have to run it by our vice president before we commit to anything.",
    "Tuesday afternoon could work if we keep it short.",
];

fn main() {
    let minutes: f64 = std::env::var("CALLCOACH_BENCH_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(3.0);
    let threads: usize = std::env::var("CALLCOACH_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let model = std::env::var_os("CALLCOACH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/ggml-tiny.en-q8_0.bin"));

    // Render alternating lines until the call is long enough.
    let mut lines = Vec::new();
    let mut rendered_s = 0.0;
    let mut i = 0;
    while rendered_s < minutes * 60.0 {
        for (speaker, pool) in [(Speaker::Rep, REP_LINES), (Speaker::Prospect, PROSPECT_LINES)] {
            let text = pool[i % pool.len()].to_string();
            rendered_s += 0.6 + text.split_whitespace().count() as f64 * 0.36;
            lines.push(ScriptLine { speaker, text, gap_before_s: 0.6 });
        }
        i += 1;
    }
    let call = synth::render(&lines, &Voices::default()).expect("espeak-ng");
    let audio_s = call.duration_s();

    let load_started = Instant::now();
    let options = TranscribeOptions { threads, ..TranscribeOptions::default() };
    let mut engine = WhisperEngine::load(&model, options.clone()).expect("model");
    let load_ms = load_started.elapsed().as_secs_f64() * 1e3;

    let segmenter = SegmenterConfig::default();
    let mut latencies = Vec::new();
    let mut speech_s = 0.0;
    let mut errors = 0.0;
    let mut reference_words = 0.0;
    let started = Instant::now();
    for (speaker, samples) in [(Speaker::Rep, &call.rep), (Speaker::Prospect, &call.prospect)] {
        for (utterance, audio) in join_offline(segment_offline(samples, speaker, &segmenter), &segmenter) {
            let t = Instant::now();
            let text = engine.transcribe(&audio).expect("inference");
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
            speech_s += utterance.duration_s();
            let mid = (utterance.start_s + utterance.end_s) / 2.0;
            if let Some(truth) = call.truth.iter().find(|l| l.speaker == speaker && mid >= l.start_s - 0.3 && mid <= l.end_s + 0.3) {
                let words = truth.text.split_whitespace().count() as f64;
                errors += word_error_rate(&truth.text, &callcoach::transcribe::clean_text(&text)) * words;
                reference_words += words;
            }
        }
    }
    let total_s = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!("callcoach transcription benchmark ({} threads, {})", threads, model.display());
    println!("  call audio            {:.1} min, two speakers, {:.1} s of speech, {} utterances", audio_s / 60.0, speech_s, latencies.len());
    println!("  model load            {:.0} ms", load_ms);
    println!("  per-utterance latency p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms", percentile(&latencies, 0.5), percentile(&latencies, 0.95), percentile(&latencies, 1.0));
    println!("  real-time factor      {:.3} (inference time / call audio), {:.3} per second of speech", total_s / audio_s, total_s / speech_s.max(1e-9));
    println!("  word error rate       {:.1}%", 100.0 * errors / reference_words.max(1.0));
    println!("  peak RSS              {:.0} MB", status_mb("VmHWM:"));

    let clips = callcoach::real_speech::load(&callcoach::real_speech::default_dir()).expect("real-speech clips");
    let audio_s: f64 = clips.iter().map(|c| c.audio.len() as f64 / 16_000.0).sum();
    let started = Instant::now();
    // `callcoach transcribe`'s path: the live pipeline at full speed, one engine load per clip.
    let mut product = callcoach::pipeline::PipelineOptions::new("bench", "real-speech clips");
    product.realtime = false;
    let score = callcoach::real_speech::score(|| WhisperEngine::load(&model, options.clone()), &clips, &product).expect("inference");
    let total_s = started.elapsed().as_secs_f64();
    println!("real speech through `callcoach transcribe`'s pipeline ({} clips, {:.1} s of audio, {} words)", clips.len(), audio_s, score.words());
    for clip in &score.clips {
        println!("  {:44} {:2}/{:2} words wrong, {} pieces", clip.name, clip.errors, clip.reference_words, clip.pieces);
    }
    println!("  word error rate       {:.1}%", 100.0 * score.word_error_rate());
    println!("  real-time factor      {:.3} (model loads included)", total_s / audio_s);
}
