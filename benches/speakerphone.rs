//! Speakerphone matrix: the far end mixed into the rep's mic at bleeds of
//! −3 to −30 dB and delays of 0–250 ms, with RT60 0.4 s room reverb
//! (`synth::EchoPath`), on the three speakerphone test calls (two calls whose
//! sides use different words, one with 2.5 s of real double-talk). Each cell
//! prints the worst of the three calls, scored by `callcoach::speakerphone`.
//!
//! `cargo bench --bench speakerphone`. Two parts:
//! 1. the segmenter alone (canceller + gate + VAD, no Whisper): talk-ratio
//!    error and the rep's utterance time where only the prospect spoke, with
//!    the gate following the room's reverb (shipped) and without (the direct
//!    path only, as before);
//! 2. the real pipeline and model at full speed (`CALLCOACH_BENCH_PIPELINE=0`
//!    skips it): talk-ratio error, prospect-only share of the rep's
//!    transcript time, far-end words in the rep's transcript.
//!
//! `CALLCOACH_BENCH_BLEEDS` and `CALLCOACH_BENCH_DELAYS` (comma-separated dB
//! and ms) pick a subset of the matrix.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use callcoach::audio::file::CallAudio;
use callcoach::audio::replay::{self, Speed};
use callcoach::call::{Segment, Speaker};
use callcoach::pipeline::{self, PipelineOptions};
use callcoach::segment::echo::{CallSegmenter, EchoGateConfig};
use callcoach::segment::{SegmenterConfig, SegmenterEvent};
use callcoach::speakerphone::SpeakerphoneScore;
use callcoach::synth::{self, EchoPath, RenderedCall, Voices};
use callcoach::transcribe::{TranscribeOptions, WhisperEngine};

const CALLS: [&str; 3] = [
    include_str!("../tests/fixtures/speakerphone/harbor_logistics.txt"),
    include_str!("../tests/fixtures/speakerphone/northwind_clinics.txt"),
    include_str!("../tests/fixtures/speakerphone/double_talk.txt"),
];

fn list(var: &str, default: &[f64]) -> Vec<f64> {
    match std::env::var(var) {
        Ok(v) => v.split(',').map(|x| x.trim().parse().unwrap_or_else(|_| panic!("{var}: {x:?} is not a number"))).collect(),
        Err(_) => default.to_vec(),
    }
}

/// The segmenter alone over a mix, its utterances standing in for segments (no words).
fn segment(call: &RenderedCall, gate: EchoGateConfig) -> SpeakerphoneScore {
    let mut segmenter = CallSegmenter::with_echo_gate(SegmenterConfig::default(), Some(gate), true);
    let mut events = Vec::new();
    for (mic, far) in call.rep.chunks(320).zip(call.prospect.chunks(320)) {
        segmenter.push(Speaker::Rep, mic, &mut events);
        segmenter.push(Speaker::Prospect, far, &mut events);
    }
    segmenter.finish(&mut events);
    let utterances: Vec<Segment> = events
        .iter()
        .filter_map(|e| match e {
            SegmenterEvent::Final { utterance: u, .. } => {
                Some(Segment { speaker: u.speaker, start_s: u.start_s, end_s: u.end_s, text: String::new(), confidence: None })
            }
            _ => None,
        })
        .collect();
    let (rep, prospect) = (segmenter.segmenter(Speaker::Rep).talk_time_s(), segmenter.segmenter(Speaker::Prospect).talk_time_s());
    SpeakerphoneScore::new(call, rep / (rep + prospect), &utterances)
}

fn pipeline(call: &RenderedCall, model: &std::path::Path) -> SpeakerphoneScore {
    let engine = WhisperEngine::load(model, TranscribeOptions::default()).expect("model loads");
    let mut options = PipelineOptions::new("speakerphone-bench", "bench");
    options.realtime = false;
    let (tx, rx) = crossbeam_channel::bounded(256);
    let stop = Arc::new(AtomicBool::new(false));
    let audio = CallAudio { rep: call.rep.clone(), prospect: Some(call.prospect.clone()) };
    let source = replay::start(audio, Speed::Max, tx, stop.clone());
    let outcome = pipeline::run_call(rx, engine, options, Vec::new(), stop).expect("pipeline");
    source.join().expect("replay thread");
    SpeakerphoneScore::new(call, outcome.talk_ratio_rep(), &outcome.segments)
}

/// The worst of the calls' figures: talk-ratio error, prospect-only share, far-end word share.
fn worst(scores: &[SpeakerphoneScore]) -> (f64, f64, f64) {
    scores.iter().fold((0.0f64, 0.0f64, 0.0f64), |(e, p, w), s| {
        (e.max(s.talk_ratio_error_pts()), p.max(s.prospect_only_share() * 100.0), w.max(s.far_word_share() * 100.0))
    })
}

fn main() {
    let bleeds = list("CALLCOACH_BENCH_BLEEDS", &[-3.0, -6.0, -12.0, -20.0, -30.0]);
    let delays = list("CALLCOACH_BENCH_DELAYS", &[0.0, 20.0, 40.0, 120.0, 250.0]);
    let clean: Vec<RenderedCall> =
        CALLS.iter().map(|s| synth::render(&synth::parse_script(s).expect("script"), &Voices::default()).expect("espeak-ng")).collect();
    let mixes = |bleed_db: f64, delay_ms: f64| -> Vec<RenderedCall> {
        clean.iter().enumerate().map(|(i, c)| EchoPath { bleed_db, delay_ms, rt60_s: 0.4, seed: i as u64 + 1 }.apply(c)).collect()
    };
    let header = |what: &str| {
        println!("\n{what}\n");
        println!("| bleed | {} |", delays.iter().map(|d| format!("{d} ms")).collect::<Vec<_>>().join(" | "));
        println!("|---|{}", "---|".repeat(delays.len()));
    };

    header("Segmenter alone, worst of 3 calls: talk-ratio error (pts) / rep utterance time where only the prospect spoke, gate without → with the reverb tail");
    let direct_only = EchoGateConfig { reverb_tail_ms: 0.0, ..EchoGateConfig::default() };
    for &bleed in &bleeds {
        let cells: Vec<String> = delays
            .iter()
            .map(|&delay| {
                let calls = mixes(bleed, delay);
                let before = worst(&calls.iter().map(|c| segment(c, direct_only.clone())).collect::<Vec<_>>());
                let after = worst(&calls.iter().map(|c| segment(c, EchoGateConfig::default())).collect::<Vec<_>>());
                format!("{:.1} / {:.0}% → {:.1} / {:.0}%", before.0, before.1, after.0, after.1)
            })
            .collect();
        println!("| {bleed} dB | {} |", cells.join(" | "));
    }

    if std::env::var("CALLCOACH_BENCH_PIPELINE").is_ok_and(|v| v == "0") {
        return;
    }
    let model = std::env::var_os("CALLCOACH_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/models/ggml-tiny.en-q8_0.bin").into());
    header("Real pipeline and model, worst of 3 calls: talk-ratio error (pts) / rep transcript time where only the prospect spoke / far-end words in the rep's transcript");
    for &bleed in &bleeds {
        let cells: Vec<String> = delays
            .iter()
            .map(|&delay| {
                let (e, p, w) = worst(&mixes(bleed, delay).iter().map(|c| pipeline(c, &model)).collect::<Vec<_>>());
                format!("{e:.1} / {p:.0}% / {w:.0}%")
            })
            .collect();
        println!("| {bleed} dB | {} |", cells.join(" | "));
    }
}
