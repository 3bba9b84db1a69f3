//! Speakerphone calls through the real pipeline and the real model: the far
//! end reaches the rep's mic through a room (bleed, delay, reverb with RT60
//! 0.4 s; `synth::EchoPath`), and the echo canceller plus the echo gate keep
//! it out of the rep's talk time and transcript, while the rep's own words
//! over the prospect's (double-talk) still count for the rep.
//!
//! Set `CALLCOACH_AEC_BEFORE=1` to also run each mix without the canceller
//! (the gate alone, as before it) and print both figures; that run asserts
//! nothing about the "before" figures.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use callcoach::audio::file::CallAudio;
use callcoach::audio::replay::{self, Speed};
use callcoach::call::Speaker;
use callcoach::events::Event;
use callcoach::pipeline::{self, CallOutcome, EventSink, PipelineOptions};
use callcoach::speakerphone::SpeakerphoneScore;
use callcoach::synth::{EchoPath, RenderedCall};
use callcoach::transcribe::{TranscribeOptions, WhisperEngine};

use crate::util;

/// Two calls whose sides use different words, so a far-end word in the
/// rep's transcript can be told from the rep's own; and one with real
/// double-talk (the rep starts while the prospect is still talking).
const CALL_A: &str = include_str!("fixtures/speakerphone/harbor_logistics.txt");
const CALL_B: &str = include_str!("fixtures/speakerphone/northwind_clinics.txt");
const CALL_DOUBLE_TALK: &str = include_str!("fixtures/speakerphone/double_talk.txt");

struct Mix {
    name: &'static str,
    script: &'static str,
    path: EchoPath,
}

fn mixes() -> Vec<Mix> {
    let path = |bleed_db, delay_ms, seed| EchoPath { bleed_db, delay_ms, rt60_s: 0.4, seed };
    vec![
        Mix { name: "A -6 dB 120 ms", script: CALL_A, path: path(-6.0, 120.0, 1) },
        Mix { name: "B -12 dB 40 ms", script: CALL_B, path: path(-12.0, 40.0, 2) },
        Mix { name: "A -20 dB 20 ms", script: CALL_A, path: path(-20.0, 20.0, 3) },
        // The loudest bleed at the longest delay, the prospect talking first:
        // the echo comes before the canceller has converged.
        Mix { name: "B -3 dB 250 ms", script: CALL_B, path: path(-3.0, 250.0, 2) },
    ]
}

/// What one replay of a mix measured.
struct Measured {
    outcome: CallOutcome,
    score: SpeakerphoneScore,
    erle_db: Option<f64>,
    converged: bool,
}

fn words(text: &str) -> Vec<String> {
    callcoach::wer::normalise_words(text)
}

/// Replays the mix at full speed through the pipeline with the real model.
fn replay(call: &RenderedCall, echo_cancel: bool) -> Measured {
    let engine = WhisperEngine::load(&util::model_path(), TranscribeOptions::default()).expect("model loads");
    let mut options = PipelineOptions::new("speakerphone", "test");
    options.realtime = false;
    options.echo_cancel = echo_cancel;
    let health = Arc::new(Mutex::new(None));
    let last_health = health.clone();
    let sink = move |event: &Event, _: &str| {
        if let Event::Health(h) = event {
            *last_health.lock().unwrap() = Some((h.echo_erle_db, h.echo_converged));
        }
    };
    let (tx, rx) = crossbeam_channel::bounded(64);
    let stop = Arc::new(AtomicBool::new(false));
    let audio = CallAudio { rep: call.rep.clone(), prospect: Some(call.prospect.clone()) };
    let source = replay::start(audio, Speed::Max, tx, stop.clone());
    let sinks: Vec<Box<dyn EventSink>> = vec![Box::new(sink)];
    let outcome = pipeline::run_call(rx, engine, options, sinks, stop).expect("pipeline");
    source.join().unwrap();

    let (erle_db, converged) = health.lock().unwrap().unwrap_or((None, false));
    Measured { score: SpeakerphoneScore::new(call, outcome.talk_ratio_rep(), &outcome.segments), erle_db, converged, outcome }
}

fn report(name: &str, label: &str, m: &Measured) {
    eprintln!(
        "{name} [{label}]: talk-ratio error {:.1} pts, far-end words {:.1}% of {} rep words, prospect-only {:.1}% of the rep's transcript time, ERLE {:?} dB, converged {}",
        m.score.talk_ratio_error_pts(),
        m.score.far_word_share() * 100.0,
        m.score.rep_words,
        m.score.prospect_only_share() * 100.0,
        m.erle_db,
        m.converged
    );
}

fn before_too() -> bool {
    std::env::var_os("CALLCOACH_AEC_BEFORE").is_some()
}

fn check(name: &str, call: &RenderedCall, m: &Measured) {
    let rep_text: Vec<&str> =
        m.outcome.segments.iter().filter(|s| s.speaker == Speaker::Rep).map(|s| s.text.as_str()).collect();
    assert!(
        m.score.talk_ratio_error_pts() <= 3.0,
        "{name}: talk ratio {:.3} vs truth {:.3}",
        m.outcome.talk_ratio_rep(),
        call.talk_ratio_rep()
    );
    assert!(m.score.far_word_share() <= 0.05, "{name}: far-end words {:.1}% of the rep's: {rep_text:?}", m.score.far_word_share() * 100.0);
    assert!(
        m.score.prospect_only_share() <= 0.05,
        "{name}: {:.1}% of the rep's transcript time is the prospect's alone",
        m.score.prospect_only_share() * 100.0
    );
    assert!(m.score.rep_words >= words(&call.text_of(Speaker::Rep)).len() * 7 / 10, "{name}: the rep's own words were lost: {rep_text:?}");
    let erle = m.erle_db.expect("ERLE in health");
    assert!(erle >= 10.0 && m.converged, "{name}: ERLE {erle} dB, converged {}", m.converged);
}

/// Four speakerphone mixes (−6 dB / 120 ms, −12 dB / 40 ms, −20 dB / 20 ms,
/// −3 dB / 250 ms, all with RT60 0.4 s reverb): talk ratio within 3 pts of
/// the clean truth, far-end words ≤ 5% of the rep's transcript and ≤ 5% of
/// its time where only the prospect spoke, the canceller converged with its
/// ERLE in `health`.
#[test]
fn speakerphone_echo_stays_out_of_the_reps_talk_and_words() {
    for mix in mixes() {
        let clean = util::render_script(mix.script);
        let call = mix.path.apply(&clean);
        if before_too() {
            report(mix.name, "gate only", &replay(&call, false));
        }
        let m = replay(&call, true);
        report(mix.name, "aec + gate", &m);
        check(mix.name, &call, &m);
    }
}

/// The rep talks over the prospect on a speakerphone (−12 dB, 40 ms, RT60
/// 0.4 s): the overlapping line is still the rep's, in talk time and words.
#[test]
fn speakerphone_double_talk_still_counts_for_the_rep() {
    let clean = util::render_script(CALL_DOUBLE_TALK);
    let call = EchoPath { bleed_db: -12.0, delay_ms: 40.0, rt60_s: 0.4, seed: 4 }.apply(&clean);
    let name = "double-talk -12 dB 40 ms";
    if before_too() {
        report(name, "gate only", &replay(&call, false));
    }
    let m = replay(&call, true);
    report(name, "aec + gate", &m);
    check(name, &call, &m);

    let line = call.truth.iter().find(|l| l.text.starts_with("Sorry to jump in")).expect("the double-talk line");
    let prospect_before = call.truth.iter().find(|l| l.text.starts_with("Fewer angry")).unwrap();
    assert!(line.start_s < prospect_before.end_s - 1.5, "the scene has real double-talk: {line:?} vs {prospect_before:?}");
    let overlap = |a: f64, b: f64| (b.min(line.end_s) - a.max(line.start_s)).max(0.0);
    let voiced: f64 = m
        .outcome
        .utterances
        .iter()
        .filter(|u| u.speaker == Speaker::Rep)
        .map(|u| overlap(u.start_s, u.end_s))
        .sum();
    assert!(voiced >= 0.8 * (line.end_s - line.start_s), "double-talk line voiced {voiced:.2} s of {:.2}..{:.2}", line.start_s, line.end_s);
    let heard: HashSet<String> = m
        .outcome
        .segments
        .iter()
        .filter(|s| s.speaker == Speaker::Rep && overlap(s.start_s, s.end_s) > 0.0)
        .flat_map(|s| words(&s.text))
        .collect();
    let said = words(&line.text);
    let found = said.iter().filter(|w| heard.contains(*w)).count();
    assert!(found * 10 >= said.len() * 6, "double-talk words heard {found}/{}: {heard:?}", said.len());
}
