//! Issue 9 item 5, the post-call second pass, through the real binary
//! (`callcoach replay --speed max`) with real models: tiny.en live, Whisper
//! base (the one `scripts/setup.sh` builds offline) transcribing the call
//! again for the brief. With time to finish, the brief's transcript is the
//! second pass's and brief.json/brief.md say so; with no time after the call
//! (`second_pass_within_s = 0`), the pieces it did not reach keep their live
//! words and the brief says that it fell back. Either way the objections are
//! the live coach's verdicts, as the overlay showed them.

use std::path::PathBuf;

use callcoach::call::Segment;
use callcoach::journal::{self, JournalRecord};

use crate::util::{self, callcoach, model_path, stderr, temp_dir, write_call};

/// About 30 s: a price objection the rep answers, and a dated next step.
const SCRIPT: &str = "\
rep: Thanks for joining today, Dana. What made you look at scheduling tools now?
prospect: Our spreadsheets broke last month and two crews went to the same job.
rep: That sounds painful. How many people plan the week today?
prospect: Honestly, the price worries me. It is more than we planned to spend.
rep: I understand. Most teams save that in overtime within three months, and I can show you the numbers.
prospect: Fine. Let us meet next Tuesday at ten with our operations manager.
";

struct Replayed {
    _dir: tempfile::TempDir,
    out: PathBuf,
    journal: JournalRecord,
    brief: serde_json::Value,
    brief_md: String,
    transcript_md: String,
}

/// Replays the script with a base second pass allowed `within_s` after the call.
fn replay_with_second_pass(within_s: f64) -> Replayed {
    let dir = temp_dir();
    let (wav, _) = write_call(dir.path(), "call.wav", SCRIPT);
    let config = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "[model]\nsecond_pass = \"base\"\nsecond_pass_path = \"{}\"\nsecond_pass_within_s = {within_s}\n[paths]\ndata_dir = \"{}\"\n",
            util::base_model_path().display(),
            data.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = callcoach()
        .env("CALLCOACH_MODEL", model_path())
        .arg("--config")
        .arg(&config)
        .arg("replay")
        .arg(&wav)
        .args(["--speed", "max", "--out"])
        .arg(&out)
        .output()
        .expect("running callcoach replay");
    assert!(output.status.success(), "replay failed: {}", stderr(&output));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    Replayed {
        journal: journal::read(&out.join("journal.jsonl")).expect("the journal"),
        brief: serde_json::from_str(&read("brief.json")).expect("brief.json"),
        brief_md: read("brief.md"),
        transcript_md: read("transcript.md"),
        out,
        _dir: dir,
    }
}

/// How transcript.md writes a piece's words.
fn line(segment: &Segment) -> String {
    format!(":** {}  \n", segment.text.trim())
}

fn same_piece(a: &Segment, b: &Segment) -> bool {
    a.speaker == b.speaker && (a.start_s - b.start_s).abs() < 1e-3 && (a.end_s - b.end_s).abs() < 1e-3
}

/// The brief's objections are the journaled live verdicts, one for one.
fn assert_objections_are_the_live_verdicts(replayed: &Replayed) {
    let live: Vec<usize> = replayed
        .journal
        .verdicts
        .iter()
        .filter_map(|v| match v {
            callcoach::coach::CoachVerdict::Objection(o) => Some(o.id),
            _ => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let briefed: Vec<usize> = replayed.brief["objections"].as_array().unwrap().iter().filter_map(|o| o["id"].as_u64().map(|i| i as usize)).collect();
    assert!(!live.is_empty(), "the live coach saw no objection in a call with a price objection");
    for id in &briefed {
        assert!(live.contains(id), "objection {id} in the brief is not a live verdict ({live:?})");
    }
}

#[test]
fn the_brief_uses_the_second_pass_transcript_and_says_so() {
    let replayed = replay_with_second_pass(60.0);
    let journal = &replayed.journal;
    let ended = journal.second_pass_ended.as_ref().expect("second_pass_ended journaled");
    eprintln!("{ended:?}");
    assert_eq!(ended.model, "base");
    assert!(ended.pieces >= 4 && ended.transcribed == ended.pieces, "{ended:?}");
    assert!(ended.unfinished.is_none(), "{ended:?}");
    // Every live piece was transcribed again.
    for live in &journal.segments {
        assert!(journal.second_pass.iter().any(|better| same_piece(live, better)), "no second pass for {live:?}");
    }
    let source = &replayed.brief["transcript_source"];
    assert_eq!(source["second_pass_model"], "base", "{source}");
    assert_eq!(source["covered_share"].as_f64(), Some(1.0), "{source}");
    assert!(source.get("fell_back_reason").is_none(), "{source}");
    assert!(replayed.brief_md.contains("Transcript: Whisper base (second pass) for 100% of the speech."), "{}", replayed.brief_md);
    // The transcript is base's words, piece by piece, wherever they differ from tiny.en's.
    let mut differing = 0;
    for better in journal.second_pass.iter().filter(|s| !s.text.is_empty()) {
        assert!(replayed.transcript_md.contains(&line(better)), "transcript.md lacks the second pass's {:?}", better.text);
        let live = journal.segments.iter().find(|l| same_piece(l, better)).expect("a live piece");
        if live.text != better.text {
            differing += 1;
            eprintln!("live:   {}\nsecond: {}", live.text, better.text);
            assert!(!replayed.transcript_md.contains(&line(live)), "transcript.md still has the live {:?}", live.text);
        }
    }
    eprintln!("{differing} of {} pieces differ between tiny.en and base", journal.second_pass.len());
    assert_objections_are_the_live_verdicts(&replayed);
    assert!(replayed.out.join("brief.json").is_file());
}

#[test]
fn a_second_pass_with_no_time_after_the_call_falls_back_to_the_live_transcript_and_says_so() {
    let replayed = replay_with_second_pass(0.0);
    let journal = &replayed.journal;
    let ended = journal.second_pass_ended.as_ref().expect("second_pass_ended journaled");
    eprintln!("{ended:?}");
    assert!(ended.transcribed < ended.pieces, "{ended:?}");
    assert!(ended.unfinished.as_deref().is_some_and(|why| why.contains("ran out")), "{ended:?}");
    let source = &replayed.brief["transcript_source"];
    let share = source["covered_share"].as_f64().unwrap();
    assert!(share < 1.0, "{source}");
    let reason = source["fell_back_reason"].as_str().expect("a reason");
    assert!(reason.contains("ran out") && reason.contains("live transcript"), "{reason}");
    assert!(replayed.brief_md.contains("the live transcript elsewhere") && replayed.brief_md.contains(reason), "{}", replayed.brief_md);
    // The pieces it did not reach keep their live words.
    let mut live_pieces = 0;
    for live in journal.segments.iter().filter(|l| !journal.second_pass.iter().any(|b| same_piece(l, b))) {
        live_pieces += 1;
        assert!(replayed.transcript_md.contains(&line(live)), "transcript.md lacks the live {:?}", live.text);
    }
    assert!(live_pieces > 0, "every piece had a second pass");
    assert_objections_are_the_live_verdicts(&replayed);
}
