//! Post-call brief on a synthetic 60-minute call: how long from the journal on disk
//! to the brief's folder, prep update and history row (goal: ≤ 5 s).
//!
//! `cargo bench --bench brief` (release build). The journal holds ~720 utterances
//! and as many final segments: a discovery call where rep and prospect alternate,
//! with questions, objections, deferrals and a dated next step at the end.

use std::path::Path;
use std::time::Instant;

use callcoach::brief::{self, CallRecord};
use callcoach::call::{Segment, Speaker, Utterance};
use callcoach::journal::{self, Entry, Journal, JOURNAL_VERSION};

const REP_LINES: &[&str] = &[
    "How does your team handle scheduling today, and who owns it?",
    "That makes sense. What happens when a job runs late in the afternoon?",
    "Our scheduler rebalances the day automatically and texts the affected customers with a new arrival time.",
    "Good question. I'll check on that with our product team and come back to you.",
    "What would it be worth to you if the dispatchers got their Monday mornings back?",
    "Most teams your size start with the standard plan and see results in the first month.",
    "Who else would be involved in a decision like this?",
    "Let me show you how the dispatcher approves the suggested changes on the board.",
];

const PROSPECT_LINES: &[&str] = &[
    "Mostly spreadsheets, and the dispatchers rebuild the plan every Monday morning.",
    "Everything downstream slips and the customers call us angry.",
    "Honestly, that sounds expensive. It is probably way more than we budgeted.",
    "I'd have to run it by our VP of Operations before we commit to anything.",
    "Okay.",
    "We looked at Fieldly last year and the rescheduling was manual.",
    "That would save us hours every week, to be honest.",
    "Not this quarter, we are in the middle of a migration.",
    "Sure.",
];

/// Writes a 60-minute journal with `turns` alternating turns.
fn synthetic_journal(path: &Path, turns: usize) {
    let mut j = Journal::create(&[path.to_path_buf()]).expect("journal");
    let prep = serde_json::json!({
        "account": "Teamstart", "contact_name": "Tina Alvarez", "contact_role": "VP Operations", "rep_name": "Marcus Reed",
        "agenda": ["current scheduling", "rebalancing demo", "next steps"], "competitors": ["Fieldly"], "planned_minutes": 60
    });
    j.append(&Entry::CallStarted {
        version: JOURNAL_VERSION,
        call_id: "bench-60min".into(),
        started_at: "2026-11-23T10:00:00Z".into(),
        source: "bench".into(),
        prep: Some(prep),
        judge: None,
    })
    .unwrap();
    let step = 3600.0 / turns as f64;
    for i in 0..turns {
        let (speaker, text) = if i % 2 == 0 {
            (Speaker::Rep, REP_LINES[(i / 2) % REP_LINES.len()])
        } else {
            (
                Speaker::Prospect,
                PROSPECT_LINES[(i / 2) % PROSPECT_LINES.len()],
            )
        };
        let text = if i + 2 >= turns {
            if speaker == Speaker::Rep {
                "Could we meet again on Tuesday at two with your controller?"
            } else {
                "Yes, Tuesday at two works."
            }
        } else {
            text
        };
        let start_s = i as f64 * step;
        let end_s = start_s + step * 0.8;
        j.append(&Entry::Utterance(Utterance {
            speaker,
            start_s,
            end_s,
        }))
        .unwrap();
        j.append(&Entry::Segment(Segment {
            speaker,
            start_s,
            end_s,
            text: text.to_string(),
            confidence: None,
        }))
        .unwrap();
    }
    j.append(&Entry::CallEnded {
        t_s: 3600.0,
        reason: "end".into(),
    })
    .unwrap();
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal_path = dir.path().join("journal.jsonl");
    let turns = 720;
    synthetic_journal(&journal_path, turns);
    let record = CallRecord::from_journal(journal::read(&journal_path).unwrap());
    println!(
        "synthetic call: {} utterances, {} segments, {:.0} min",
        record.journal.utterances.len(),
        record.journal.segments.len(),
        record.journal.duration_s() / 60.0
    );

    let runs = 7;
    let mut build_ms = Vec::new();
    let mut end_to_end_ms = Vec::new();
    for run in 0..runs {
        let t = Instant::now();
        let b = brief::build(&record, &[], chrono::Utc::now());
        build_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(b.schema, brief::SCHEMA);

        let out_dir = dir.path().join(format!("run{run}"));
        let t = Instant::now();
        let out = brief::from_journal(
            &journal_path,
            Some(&out_dir.join("prep")),
            &out_dir.join("briefs"),
            Some(&out_dir.join("history.sqlite")),
        )
        .expect("brief from journal");
        end_to_end_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(out.files.len(), 3);
    }
    println!("| step | median | worst | runs |");
    println!("|---|---|---|---|");
    println!(
        "| brief::build (pure) | {:.1} ms | {:.1} ms | {runs} |",
        median(build_ms.clone()),
        build_ms.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "| brief::from_journal (read + build + 3 files + prep + SQLite) | {:.1} ms | {:.1} ms | {runs} |",
        median(end_to_end_ms.clone()),
        end_to_end_ms.iter().cloned().fold(0.0, f64::max)
    );
    let worst = end_to_end_ms.iter().cloned().fold(0.0, f64::max);
    println!(
        "goal ≤ 5000 ms after a 60-minute call: {}",
        if worst <= 5000.0 { "met" } else { "MISSED" }
    );
}
