//! Transcription of a recorded two-speaker call with the real model.

use callcoach::call::Speaker;
use callcoach::recording;
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
    let options = callcoach::pipeline::PipelineOptions::new("test", "call.wav");
    let segments = recording::transcribe_file(&wav, false, engine, options).expect("transcription");

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

/// One audio route: `callcoach transcribe FILE --json` is the live pipeline
/// at full speed, so it gives exactly the segments `callcoach replay FILE
/// --speed max` journals for the same file. The call is a speakerphone mix
/// (far end on the mic at −12 dB, 40 ms late, reverb), so the two agree only
/// if `transcribe` runs the echo path too; and no far-end sentence may come
/// out as the rep's.
#[test]
fn transcribe_and_replay_at_max_speed_give_the_same_segments() {
    let dir = util::temp_dir();
    let call = util::render_script(
        "rep: Thanks for joining today. How does your team handle scheduling right now?\n\
         prospect: We use spreadsheets, and our drivers lose hours every single morning.\n\
         rep: What would it mean for your business if that time came back?\n\
         prospect: Honestly, the price worries me, our budget is small this year.\n",
    );
    let echo = callcoach::synth::EchoPath { bleed_db: -12.0, delay_ms: 40.0, rt60_s: 0.4, seed: 7 };
    let wav = dir.path().join("speakerphone.wav");
    echo.apply(&call).write_wav(&wav).expect("writing the mix");
    // Replay writes a call into the data directory: keep it in the test's own.
    let isolated = |command: &mut std::process::Command| {
        command
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("HOME", dir.path());
    };

    let mut transcribe = util::callcoach();
    transcribe.args(["transcribe", "--json", "--model"]).arg(util::model_path()).arg(&wav);
    isolated(&mut transcribe);
    let transcribed = util::run(&mut transcribe);
    assert!(transcribed.status.success(), "{}", util::stderr(&transcribed));
    let transcribed: Vec<callcoach::call::Segment> = serde_json::from_str(&util::stdout(&transcribed)).expect("a JSON array of segments");

    let out = dir.path().join("out");
    let mut replay = util::callcoach();
    replay.args(["replay", "--speed", "max", "--out"]).arg(&out).arg("--model").arg(util::model_path()).arg(&wav);
    isolated(&mut replay);
    let replayed = util::run(&mut replay);
    assert!(replayed.status.success(), "{}", util::stderr(&replayed));
    for file in ["brief.json", "events.jsonl", "journal.jsonl"] {
        assert!(out.join(file).is_file(), "replay --out left no {file}");
    }
    let mut journaled = callcoach::journal::read(&out.join("journal.jsonl")).expect("the journal reads back").segments;
    journaled.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));

    let shown = |segments: &[callcoach::call::Segment]| {
        segments.iter().map(|s| format!("{} {:.3}-{:.3} {}", s.speaker, s.start_s, s.end_s, s.text)).collect::<Vec<_>>().join("\n")
    };
    eprintln!("transcribe:\n{}\nreplay:\n{}", shown(&transcribed), shown(&journaled));
    assert_eq!(transcribed.len(), 4, "one segment per line:\n{}", shown(&transcribed));
    assert_eq!(shown(&transcribed), shown(&journaled), "transcribe and replay --speed max disagree");
    for segment in &transcribed {
        let line = call
            .truth
            .iter()
            .find(|l| (segment.start_s + segment.end_s) / 2.0 >= l.start_s - 0.3 && (segment.start_s + segment.end_s) / 2.0 <= l.end_s + 0.3)
            .unwrap_or_else(|| panic!("segment matches no scripted line: {segment:?}"));
        assert_eq!(line.speaker, segment.speaker, "{segment:?} is labelled wrong (echo on the mic transcribed as the rep?)");
        assert!(word_error_rate(&line.text, &segment.text) <= 0.35, "{segment:?} vs {line:?}");
    }
}
