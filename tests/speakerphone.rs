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
use callcoach::synth::{EchoPath, RenderedCall};
use callcoach::transcribe::{TranscribeOptions, WhisperEngine};

use crate::util;

/// Two calls whose sides use different words, so a far-end word in the
/// rep's transcript can be told from the rep's own.
const CALL_A: &str = "\
prospect: Hello, this is Margaret from Harbor Logistics, thanks for calling back so quickly.
rep: Thanks for picking up. How are deliveries going this quarter?
prospect: Honestly we are struggling, our drivers waste hours every morning waiting at the warehouse dock.
prospect: Last month three trucks missed their windows and a grocery chain fined us twice.
rep: That sounds painful. What does one missed window cost you?
prospect: Roughly four thousand dollars each time, plus overtime for everybody involved.
rep: Could routing software fix that for your team?
prospect: Maybe, although our previous vendor promised similar miracles and disappeared after six months.
rep: Fair enough. Would a pilot on two routes help prove it?
prospect: Possibly, send me something written and I will forward it upstairs.
";

const CALL_B: &str = "\
prospect: Good afternoon, Victor here, purchasing director at Northwind Clinics.
rep: Great to meet you. Who else joins decisions like this one?
prospect: Our finance committee meets monthly, and nurses complain whenever screens change.
prospect: Frankly the budget already disappeared into elevator repairs this autumn.
rep: Understood. Is next spring realistic for starting?
prospect: Spring could work, provided installation happens during weekends without disrupting patients.
rep: We can schedule installs on weekends. Shall I draft a timeline?
prospect: Please do, and include references from hospitals similar in size to ours.
";

/// Real double-talk: the rep starts while the prospect is still talking.
const CALL_DOUBLE_TALK: &str = "\
prospect: Our warehouse managers keep complaining about paperwork, spreadsheets, duplicated invoices and missing signatures everywhere.
rep: Got it. What would fixing that mean for you?
prospect: Fewer angry phone calls from accounting, mostly, and maybe somebody finally stops printing everything twice on Fridays.
overlap: 2.5
rep: Sorry to jump in, can I ask who approves new tools?
prospect: That would be our operations director, Patricia, although she travels constantly.
rep: Could we book thirty minutes with her next week?
";

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
    ]
}

/// What one replay of a mix measured.
struct Measured {
    outcome: CallOutcome,
    talk_ratio_error_pts: f64,
    far_word_share: f64,
    rep_words: usize,
    erle_db: Option<f64>,
    converged: bool,
}

fn words(text: &str) -> Vec<String> {
    callcoach::wer::normalise_words(text)
}

fn bigrams(text: &str) -> HashSet<(String, String)> {
    let w = words(text);
    w.windows(2).map(|p| (p[0].clone(), p[1].clone())).collect()
}

/// Words of the rep's transcript that are the prospect's: each word in a
/// pair of neighbours that the prospect said and the rep did not (echo
/// transcribed as the rep comes as phrases; a lone misheard rep word such as
/// "our" for "are" is not the far end), and segments of one word that only
/// the prospect said.
fn far_end_words(call: &RenderedCall, segment_texts: &[&str]) -> usize {
    let (rep_text, far_text) = (call.text_of(Speaker::Rep), call.text_of(Speaker::Prospect));
    let (rep_pairs, far_pairs) = (bigrams(&rep_text), bigrams(&far_text));
    let rep_vocabulary: HashSet<String> = words(&rep_text).into_iter().collect();
    let far_vocabulary: HashSet<String> = words(&far_text).into_iter().collect();
    let mut far = 0;
    for text in segment_texts {
        let w = words(text);
        if let [only] = w.as_slice() {
            far += (far_vocabulary.contains(only) && !rep_vocabulary.contains(only)) as usize;
            continue;
        }
        let mut marked = vec![false; w.len()];
        for i in 1..w.len() {
            let pair = (w[i - 1].clone(), w[i].clone());
            if far_pairs.contains(&pair) && !rep_pairs.contains(&pair) {
                marked[i - 1] = true;
                marked[i] = true;
            }
        }
        far += marked.iter().filter(|&&m| m).count();
    }
    far
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

    let rep_texts: Vec<&str> =
        outcome.segments.iter().filter(|s| s.speaker == Speaker::Rep).map(|s| s.text.as_str()).collect();
    let heard: Vec<String> = rep_texts.iter().flat_map(|t| words(t)).collect();
    let far = far_end_words(call, &rep_texts);
    let (erle_db, converged) = health.lock().unwrap().unwrap_or((None, false));
    Measured {
        talk_ratio_error_pts: (outcome.talk_ratio_rep() - call.talk_ratio_rep()).abs() * 100.0,
        far_word_share: if heard.is_empty() { 0.0 } else { far as f64 / heard.len() as f64 },
        rep_words: heard.len(),
        erle_db,
        converged,
        outcome,
    }
}

fn report(name: &str, label: &str, m: &Measured) {
    eprintln!(
        "{name} [{label}]: talk-ratio error {:.1} pts, far-end words {:.1}% of {} rep words, ERLE {:?} dB, converged {}",
        m.talk_ratio_error_pts,
        m.far_word_share * 100.0,
        m.rep_words,
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
        m.talk_ratio_error_pts <= 3.0,
        "{name}: talk ratio {:.3} vs truth {:.3}",
        m.outcome.talk_ratio_rep(),
        call.talk_ratio_rep()
    );
    assert!(m.far_word_share <= 0.05, "{name}: far-end words {:.1}% of the rep's: {rep_text:?}", m.far_word_share * 100.0);
    assert!(m.rep_words >= words(&call.text_of(Speaker::Rep)).len() * 7 / 10, "{name}: the rep's own words were lost: {rep_text:?}");
    let erle = m.erle_db.expect("ERLE in health");
    assert!(erle >= 10.0 && m.converged, "{name}: ERLE {erle} dB, converged {}", m.converged);
}

/// Three speakerphone mixes (−6 dB / 120 ms, −12 dB / 40 ms, −20 dB / 20 ms,
/// all with RT60 0.4 s reverb): talk ratio within 3 pts of the clean
/// truth, far-end words ≤ 5% of the rep's transcript, the canceller
/// converged with its ERLE in `health`.
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
