//! Early objection cards through the real product: a ~25 s espeak-ng call
//! replayed by `callcoach replay --speed 1` (VAD, Whisper tiny.en partials
//! and finals, the stable prefix, the coach, journal, events, brief).

use std::collections::BTreeMap;

use callcoach::call::Speaker;
use callcoach::coach::{CoachVerdict, ObjectionStatus};

/// The prospect's objection comes early in a long line, so its words are
/// agreed on by successive partials while the prospect is still talking.
const SCRIPT: &str = "\
rep: Thanks for the time today. On pricing, the plan for a team your size is forty thousand dollars a year.
prospect: Honestly, that is way more than we budgeted for this year, and our finance team already cut the tools budget twice since the spring.
rep: I understand, it is a real investment. What budget range did you have in mind for the first year?
prospect: Probably around twenty thousand for the first site.
";

/// The overlay's final state as `events.jsonl` (the very lines the WebSocket
/// carries, in order) leaves it: objection cards by objection id, after each
/// revision replaced its card and each withdrawal took one down.
fn standing_cards(events: &[serde_json::Value]) -> BTreeMap<u64, String> {
    let mut cards: BTreeMap<u64, (u64, String)> = BTreeMap::new(); // prompt id → (objection id, type)
    for prompt in events.iter().filter(|e| e["type"] == "prompt") {
        let id = prompt["id"].as_u64().expect("prompt id");
        let objection = || (prompt["objection_id"].as_u64().expect("objection id"), prompt["objection"].as_str().unwrap_or_default().to_string());
        match prompt["kind"].as_str() {
            Some("objection_detected") => {
                if let Some(replaced) = prompt["revises"].as_u64() {
                    assert!(cards.remove(&replaced).is_some(), "a revision of a card the overlay does not show: {prompt}");
                }
                cards.insert(id, objection());
            }
            Some("objection_withdrawn") => {
                let replaced = prompt["revises"].as_u64().expect("a withdrawal names its card");
                assert!(cards.remove(&replaced).is_some(), "a withdrawal of a card the overlay does not show: {prompt}");
            }
            _ => {}
        }
    }
    cards.into_values().collect()
}

/// Issue 9: the objection card goes out before the final transcript of the
/// utterance carrying it, and the journal, the brief and the overlay's final
/// state agree on every objection (same ids, same types, withdrawn cards in none).
#[test]
fn an_objection_card_arrives_before_the_final_transcript_and_journal_brief_and_overlay_agree() {
    let dir = crate::util::temp_dir();
    let (wav, call) = crate::util::write_call(dir.path(), "call.wav", SCRIPT);
    let out = dir.path().join("out");
    let output = crate::util::callcoach()
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("CALLCOACH_MODEL", crate::util::model_path())
        .arg("replay")
        .arg(&wav)
        .args(["--speed", "1", "--out"])
        .arg(&out)
        .output()
        .expect("running callcoach replay");
    assert!(output.status.success(), "{}", crate::util::stderr(&output));

    let events: Vec<serde_json::Value> = std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = &call.truth[1];
    assert_eq!(line.speaker, Speaker::Prospect);
    let position = |found: &dyn Fn(&serde_json::Value) -> bool| events.iter().position(found);
    let card = position(&|e| e["type"] == "prompt" && e["kind"] == "objection_detected" && e["objection"] == "price")
        .unwrap_or_else(|| panic!("no price card: {:?}", events.iter().filter(|e| e["type"] == "prompt").collect::<Vec<_>>()));
    let final_words = position(&|e| {
        e["type"] == "segment"
            && e["final"] == true
            && e["speaker"] == "prospect"
            && e["end_s"].as_f64().unwrap() > line.start_s
            && e["start_s"].as_f64().unwrap() < line.end_s
    })
    .expect("the objection line's final transcript");
    let early = &events[card];
    let heard: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "segment" && e["speaker"] == "prospect")
        .map(|e| format!("{:.2}–{:.2} final={}: {}", e["start_s"].as_f64().unwrap(), e["end_s"].as_f64().unwrap(), e["final"], e["text"]))
        .collect();
    assert_eq!(early["early"], true, "{early}\nthe prospect's partials and finals, in order:\n{}", heard.join("\n"));
    assert!(card < final_words, "the card ({early}) came after the final transcript ({})", events[final_words]);

    // The overlay's final state, the journal's last verdict per id, and the brief.
    let overlay = standing_cards(&events);
    assert_eq!(overlay.get(&early["objection_id"].as_u64().unwrap()).map(String::as_str), Some("price"), "{overlay:?}");
    let journal = callcoach::journal::read(&out.join("journal.jsonl")).unwrap();
    let mut journaled: BTreeMap<u64, (String, ObjectionStatus, bool)> = BTreeMap::new();
    for verdict in &journal.verdicts {
        if let CoachVerdict::Objection(o) = verdict {
            let kind = serde_json::to_value(o.kind).unwrap().as_str().unwrap().to_string();
            journaled.insert(o.id as u64, (kind, o.status, o.provisional));
        }
    }
    assert!(journaled.values().all(|(_, _, provisional)| !provisional), "a card left provisional: {journaled:?}");
    let journaled: BTreeMap<u64, String> =
        journaled.into_iter().filter(|(_, (_, status, _))| *status != ObjectionStatus::Withdrawn).map(|(id, (kind, _, _))| (id, kind)).collect();
    let brief: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("brief.json")).unwrap()).unwrap();
    let briefed: BTreeMap<u64, String> = brief["objections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_u64().expect("the live id"), o["type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(overlay, journaled, "overlay vs journal");
    assert_eq!(briefed, journaled, "brief vs journal");
}
