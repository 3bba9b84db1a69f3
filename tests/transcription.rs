//! Transcription of a recorded two-speaker call with the real model.

use callcoach::call::Speaker;
use callcoach::recording;
use callcoach::segment::SegmenterConfig;
use callcoach::transcribe::{TranscribeOptions, WhisperEngine};
use callcoach::wer::word_error_rate;

use crate::util;

/// Plain sales-call sentences. Whisper tiny.en's errors on espeak-ng's voices
/// are mostly the synthesiser's (measured per voice when choosing
/// `synth::Voices::default`); the bar is WER ≤ 15% per speaker.
const SALES_CALL: &str = "\
rep: Thanks for joining today. How does your team handle scheduling right now?
prospect: We use spreadsheets, and our people lose hours every single week.
rep: What would it mean for your business if that time came back?
prospect: Honestly, the price worries me. It is more than we planned to spend this year.
rep: That makes sense. Our basic plan costs less than one person working overtime.
prospect: I would have to run it by our vice president before we sign anything.
rep: Could we meet again next week to review the numbers with your manager?
prospect: Yes, next Tuesday afternoon works for both of us.
";

/// The registry's CTranslate2 weights, converted by our own converter, loaded
/// by whisper-rs, transcribe espeak-ng speech with WER ≤ 15% and the right speakers.
#[test]
fn converted_registry_model_transcribes_a_stereo_call() {
    let dir = util::temp_dir();
    let model = dir.path().join("tiny.en-q8_0.bin");
    callcoach::model::convert(&util::ct2_dir(), &model, callcoach::model::Quant::Q8_0).expect("conversion");
    let (wav, call) = util::write_call(dir.path(), "call.wav", SALES_CALL);

    let engine = WhisperEngine::load(&model, TranscribeOptions::default()).expect("whisper-rs loads the converted model");
    let segments = recording::transcribe_file(&wav, false, engine, &SegmenterConfig::default()).expect("transcription");

    // WER over the whole call (both speakers' words), plus a looser per-speaker
    // check so one channel can't hide behind the other.
    let mut errors = 0.0;
    let mut words = 0.0;
    for speaker in Speaker::BOTH {
        let reference = call.text_of(speaker);
        let hypothesis: Vec<&str> =
            segments.iter().filter(|s| s.speaker == speaker).map(|s| s.text.as_str()).collect();
        let hypothesis = hypothesis.join(" ");
        let wer = word_error_rate(&reference, &hypothesis);
        let n = reference.split_whitespace().count() as f64;
        errors += wer * n;
        words += n;
        eprintln!("{speaker}: WER {:.1}%\n  ref: {reference}\n  hyp: {hypothesis}", wer * 100.0);
        assert!(wer <= 0.25, "{speaker}: WER {:.1}% > 25%\nref: {reference}\nhyp: {hypothesis}", wer * 100.0);
    }
    let call_wer = errors / words;
    eprintln!("call WER {:.1}% over {words} words", call_wer * 100.0);
    assert!(call_wer <= 0.15, "call WER {:.1}% > 15%", call_wer * 100.0);
    // Every segment sits inside a scripted line of the same speaker: labels are right.
    for segment in &segments {
        let mid = (segment.start_s + segment.end_s) / 2.0;
        let line = call
            .truth
            .iter()
            .find(|l| mid >= l.start_s - 0.3 && mid <= l.end_s + 0.3)
            .unwrap_or_else(|| panic!("segment at {mid:.1}s matches no scripted line: {segment:?}"));
        assert_eq!(line.speaker, segment.speaker, "{segment:?} is labelled wrong");
    }
}

/// `--swap` flips the labels, and `--json` prints the documented array.
#[test]
fn cli_transcribes_with_json_and_swap() {
    let dir = util::temp_dir();
    let (wav, _) = util::write_call(
        dir.path(),
        "short.wav",
        "rep: How many people are on your team?\nprospect: We have about forty people in three offices.\n",
    );
    let output = util::run(util::callcoach().args(["transcribe", "--json", "--swap", "--model"]).arg(util::model_path()).arg(&wav));
    assert!(output.status.success(), "{}", util::stderr(&output));
    let segments: Vec<serde_json::Value> = serde_json::from_str(&util::stdout(&output)).expect("JSON array");
    assert_eq!(segments.len(), 2, "{segments:?}");
    // Swapped: the first line (left channel, the rep's voice) is now labelled prospect.
    assert_eq!(segments[0]["speaker"], "prospect");
    assert_eq!(segments[1]["speaker"], "rep");
    for segment in &segments {
        assert!(segment["start_s"].as_f64().unwrap() < segment["end_s"].as_f64().unwrap());
    }
    let heard = segments[1]["text"].as_str().unwrap();
    assert!(word_error_rate("We have about forty people in three offices.", heard) <= 0.3, "{heard}");

    let text = util::run(util::callcoach().args(["transcribe", "--model"]).arg(util::model_path()).arg(&wav));
    let printed = util::stdout(&text);
    assert!(printed.contains("rep:") && printed.contains("prospect:"), "{printed}");
}
