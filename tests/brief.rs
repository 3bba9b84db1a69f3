//! The post-call brief: the labelled set evaluated from the scripts' text (mode a),
//! the files a brief leaves (0600, atomic, the JSON contract), the prep update, the
//! history and the 30-day pattern rule with dated calls, names without prep, and
//! crash recovery from a cut-off journal. Speech is real espeak-ng rendering.

use std::path::Path;
use std::sync::OnceLock;

use callcoach::brief::eval::{self, EvalReport};
use callcoach::brief::{
    self, Action, BriefPaths, CallRecord, Category, EmailKind, Outcome, PLACEHOLDER_ACCOUNT,
};
use callcoach::call::{Segment, Speaker, Utterance};
use callcoach::prep::CallPrep;
use callcoach::history::{self, HistoryStore, PastCall, SqliteHistory};
use callcoach::journal::{self, Entry, Journal, JournalRecord, JOURNAL_VERSION};
use chrono::{DateTime, Duration, Utc};

use crate::util::temp_dir;

/// The labelled set evaluated once (rendering 12 calls with espeak-ng takes seconds).
fn report() -> &'static EvalReport {
    static REPORT: OnceLock<EvalReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        eval::evaluate_text(&eval::labelled_dir()).expect("the labelled set evaluates")
    })
}

#[test]
fn labelled_set_covers_a_good_call_and_every_root_cause() {
    let calls = eval::load_labelled(&eval::labelled_dir()).unwrap();
    assert!(calls.len() >= 10, "{} labelled calls", calls.len());
    let good = calls.iter().filter(|c| c.truth.outcome == "good").count();
    assert!(good >= 2, "{good} good calls");
    for category in Category::ALL {
        assert!(
            calls
                .iter()
                .any(|c| c.truth.primary_root_cause == category.as_str()),
            "no labelled call for {category}"
        );
    }
    // Speech length and talk ratio are measured from the rendering, not the text.
    for r in &report().results {
        let b = &r.brief;
        let speech = b.metrics.talk_s_rep + b.metrics.talk_s_prospect;
        assert!(
            (80.0..=240.0).contains(&speech),
            "{}: {speech:.0} s of speech",
            r.name
        );
        if let Some(min) = r.truth.talk_ratio_min {
            assert!(
                r.talk_ratio_truth >= min,
                "{}: rendered rep share {:.2} < {min}",
                r.name,
                r.talk_ratio_truth
            );
        }
    }
}

/// Mode (a): per-field accuracy on the labelled set, printed, with honest floors
/// (the set is also the tuning set; see the README for the audio figures).
#[test]
fn evaluation_from_script_text() {
    let report = report();
    println!("{}", report.to_markdown());
    let s = &report.summary;
    assert!(s.calls >= 10);
    assert!(
        s.outcome_accuracy >= 0.9,
        "outcome {:.2}",
        s.outcome_accuracy
    );
    assert!(
        s.primary_root_cause_accuracy >= 0.8,
        "primary root cause {:.2}",
        s.primary_root_cause_accuracy
    );
    assert!(
        s.salvage_action_accuracy >= 0.8,
        "salvage action {:.2}",
        s.salvage_action_accuracy
    );
    // The stance model's threshold is chosen by leave-one-author-out cross-validation
    // over all train calls (F1), not fitted to these twelve; it favours recall, and
    // two of these calls restate an objection in a second sentence.
    assert!(
        s.objection_precision >= 0.65,
        "objection precision {:.2}",
        s.objection_precision
    );
    assert!(
        s.objection_recall >= 0.75,
        "objection recall {:.2}",
        s.objection_recall
    );
    assert!(
        s.handled_accuracy >= 0.8,
        "handled {:.2}",
        s.handled_accuracy
    );
    assert!(
        s.talk_ratio_mae <= 0.03,
        "talk ratio MAE {:.3}",
        s.talk_ratio_mae
    );
    assert!(
        s.next_step_accuracy >= 0.9,
        "next step {:.2}",
        s.next_step_accuracy
    );
    // Good calls are recognised as good: no invented failures.
    for r in report.results.iter().filter(|r| r.truth.outcome == "good") {
        assert_eq!(r.brief.outcome, Outcome::Good, "{}", r.name);
        assert!(
            r.brief.failure_moments.is_empty(),
            "{}: {:?}",
            r.name,
            r.brief.failure_moments
        );
        assert!(r.brief.root_causes.is_empty(), "{}", r.name);
        assert_eq!(r.brief.salvage.action, Action::None, "{}", r.name);
    }
}

#[test]
fn each_root_cause_is_primary_on_its_call() {
    for r in &report().results {
        if r.truth.primary_root_cause != "none" {
            assert_eq!(
                r.primary_root_cause, r.truth.primary_root_cause,
                "{}",
                r.name
            );
            assert_eq!(r.salvage_action, r.truth.salvage_action, "{}", r.name);
        }
    }
}

#[test]
fn bad_calls_have_three_to_five_failure_moments_with_evidence() {
    for r in report()
        .results
        .iter()
        .filter(|r| r.brief.outcome == Outcome::Bad)
    {
        let b = &r.brief;
        let n = b.failure_moments.len();
        assert!(
            (3..=5).contains(&n),
            "{}: {n} failure moments: {:#?}",
            r.name,
            b.failure_moments
        );
        assert!(
            b.failure_moments.windows(2).all(|w| w[0].t_s <= w[1].t_s),
            "{}: moments in call order",
            r.name
        );
        for m in &b.failure_moments {
            assert!(
                !m.excerpt.is_empty() && m.t_s >= 0.0 && m.t_s <= b.metrics.duration_s + 1.0,
                "{}: {m:?}",
                r.name
            );
        }
        assert!(
            !b.root_causes.is_empty() && b.root_causes.iter().all(|c| !c.evidence.is_empty()),
            "{}",
            r.name
        );
        assert!(
            b.root_causes.windows(2).all(|w| w[0].score >= w[1].score),
            "{}: primary first",
            r.name
        );
    }
}

const PUSHY: &[&str] = &[
    "limited time",
    "act now",
    "discount",
    "last chance",
    "just checking in",
];

#[test]
fn emails_are_short_personal_and_never_push() {
    for r in &report().results {
        let b = &r.brief;
        let e = &b.recovery_email;
        let words = e.body.split_whitespace().count();
        assert!(words < 150, "{}: {words} words", r.name);
        assert_eq!(words, e.word_count, "{}", r.name);
        let first = b.names.prospect.split_whitespace().next().unwrap();
        assert!(
            e.body.contains(first),
            "{}: no prospect name in {}",
            r.name,
            e.body
        );
        let lower = e.body.to_lowercase();
        for p in PUSHY {
            assert!(
                !lower.contains(p),
                "{}: pushy phrase {p:?} in {}",
                r.name,
                e.body
            );
        }
        match e.kind {
            EmailKind::Recovery => {
                assert_eq!(e.time_options.len(), 2, "{}", r.name);
                for t in &e.time_options {
                    assert!(
                        e.body.contains(t.as_str()),
                        "{}: time option {t} missing",
                        r.name
                    );
                }
                assert!(
                    !b.salvage.gap.is_empty() && lower.contains(&b.salvage.gap.to_lowercase()),
                    "{}: gap {:?} not in {}",
                    r.name,
                    b.salvage.gap,
                    e.body
                );
                let role = b.names.role.as_deref().unwrap();
                assert!(e.body.contains(role), "{}: role missing", r.name);
                assert!(
                    e.body.contains('"'),
                    "{}: no words of the prospect quoted",
                    r.name
                );
            }
            EmailKind::BreakUp => {
                assert_eq!(b.salvage.action, Action::Disqualify, "{}", r.name);
                assert!(
                    lower.contains("won't chase") && lower.contains("reconnect"),
                    "{}: door not left open: {}",
                    r.name,
                    e.body
                );
                assert!(
                    e.time_options.is_empty(),
                    "{}: a break-up note proposes no meeting",
                    r.name
                );
            }
            EmailKind::PhoneTalkingPoints => {
                assert_eq!(b.salvage.action, Action::FollowUpCall, "{}", r.name);
                assert!(lower.contains("by phone"), "{}", r.name);
            }
            EmailKind::Confirmation => assert_eq!(b.outcome, Outcome::Good, "{}", r.name),
        }
        let note = &b.crm_note;
        assert_eq!(
            note.matches(['.', '!', '?']).count(),
            1,
            "{}: CRM note is not one sentence: {note}",
            r.name
        );
        assert!(note.ends_with('.'), "{}", r.name);
    }
    // The specific expectations of each salvage kind are met somewhere in the set.
    let kinds: Vec<EmailKind> = report()
        .results
        .iter()
        .map(|r| r.brief.recovery_email.kind)
        .collect();
    for k in [
        EmailKind::Recovery,
        EmailKind::BreakUp,
        EmailKind::PhoneTalkingPoints,
        EmailKind::Confirmation,
    ] {
        assert!(kinds.contains(&k), "no {k:?} in the set");
    }
}

// ---------------------------------------------------------------------------
// Files, history, prep
// ---------------------------------------------------------------------------

/// Writes a journal of `record` the way the pipeline does.
fn write_journal(path: &Path, record: &JournalRecord, end: bool) {
    let mut j = Journal::create(&[path.to_path_buf()]).unwrap();
    j.append(&Entry::CallStarted {
        version: JOURNAL_VERSION,
        call_id: record.call_id.clone(),
        started_at: record.started_at.clone(),
        source: "test".into(),
        prep: record.prep.clone(),
        judge: None,
    })
    .unwrap();
    let mut utterances = record.utterances.iter();
    for s in &record.segments {
        if let Some(u) = utterances.next() {
            j.append(&Entry::Utterance(u.clone())).unwrap();
        }
        j.append(&Entry::Segment(s.clone())).unwrap();
    }
    if end {
        j.append(&Entry::CallEnded {
            t_s: record.duration_s(),
            reason: "end".into(),
        })
        .unwrap();
    }
}

fn labelled_record(name: &str) -> CallRecord {
    let call = eval::load_labelled(&eval::labelled_dir())
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap();
    let rendered = eval::render(&call).unwrap();
    eval::record_from_rendered(&call, &rendered)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn from_journal_writes_private_files_with_the_json_contract() {
    let dir = temp_dir();
    let record = labelled_record("objection_price");
    let journal_path = dir.path().join("calls/objection_price/journal.jsonl");
    write_journal(&journal_path, &record.journal, true);
    let prep_dir = dir.path().join("prep");
    std::fs::create_dir_all(&prep_dir).unwrap();
    let existing = "# Ridgeway Logistics\n\nNotes the rep wrote by hand.\n";
    let prep_file = prep_dir.join("ridgeway-logistics.md");
    std::fs::write(&prep_file, existing).unwrap();
    let briefs = dir.path().join("briefs");
    let db = dir.path().join("history.sqlite");

    let out = brief::from_journal(&journal_path, Some(&prep_dir), &briefs, Some(&db)).unwrap();
    assert_eq!(out.folder, briefs.join("objection_price"));
    assert_eq!(mode(&out.folder), 0o700);
    let names: Vec<String> = out
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["brief.json", "brief.md", "transcript.md"]);
    for f in &out.files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out.folder)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // brief.json: the contract fields with allowed values.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.folder.join("brief.json")).unwrap())
            .unwrap();
    assert_eq!(json["schema"], "callcoach.brief/1");
    assert!(["good", "bad"].contains(&json["outcome"].as_str().unwrap()));
    assert_eq!(json["outcome"], "bad");
    let ratio = json["metrics"]["talk_ratio_rep"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    assert!(json["metrics"]["longest_rep_monologue_s"].as_f64().unwrap() > 0.0);
    assert!(json["metrics"]["rep_questions"].as_u64().unwrap() > 0);
    let types = ["price", "timing", "authority", "need", "competitor"];
    let objections = json["objections"].as_array().unwrap();
    assert!(!objections.is_empty());
    for o in objections {
        assert!(types.contains(&o["type"].as_str().unwrap()), "{o}");
        assert!(
            o["t_s"].is_number() && o["excerpt"].is_string() && o["handled"].is_boolean(),
            "{o}"
        );
    }
    assert!(json["next_step"]["secured"].is_boolean() && json["next_step"].get("phrase").is_some());
    let categories = [
        "preparation",
        "objection",
        "agenda",
        "product_knowledge",
        "talk_ratio",
        "icp_fit",
    ];
    for m in json["failure_moments"].as_array().unwrap() {
        assert!(
            m["t_s"].is_number() && m["excerpt"].is_string() && m["metric"].is_string(),
            "{m}"
        );
        assert!(
            categories.contains(&m["root_cause"].as_str().unwrap()),
            "{m}"
        );
    }
    let causes = json["root_causes"].as_array().unwrap();
    assert_eq!(causes[0]["category"], "objection", "primary first");
    for c in causes {
        assert!(
            categories.contains(&c["category"].as_str().unwrap())
                && !c["evidence"].as_array().unwrap().is_empty(),
            "{c}"
        );
    }
    assert!(["high", "medium", "low", "none"]
        .contains(&json["salvage"]["salvageability"].as_str().unwrap()));
    let actions = [
        "recovery_email",
        "follow_up_call",
        "loop_in_stakeholder",
        "disqualify",
        "none",
    ];
    assert!(actions.contains(&json["salvage"]["action"].as_str().unwrap()));
    assert!(
        json["recovery_email"]["subject"].is_string() && json["recovery_email"]["body"].is_string()
    );
    assert!(json["crm_note"].is_string() && json["coaching"].is_array());

    // brief.md reads as a brief; the transcript has every line.
    let md = std::fs::read_to_string(out.folder.join("brief.md")).unwrap();
    assert!(
        md.contains("# Recovery brief — Ridgeway Logistics")
            && md.contains("## Failure moments")
            && md.contains("## CRM note")
    );
    let transcript = std::fs::read_to_string(out.folder.join("transcript.md")).unwrap();
    assert_eq!(
        transcript.lines().filter(|l| l.starts_with("**[")).count(),
        record.journal.segments.len()
    );

    // The prep file kept its content and gained a dated section.
    let prep = std::fs::read_to_string(&prep_file).unwrap();
    assert!(
        prep.starts_with(existing),
        "existing content destroyed:\n{prep}"
    );
    assert!(
        prep.contains("## 2026-11-26 — call with Greg Novak")
            && prep.contains("**Objections raised**\n- price at"),
        "{prep}"
    );
    assert!(
        prep.contains("**Questions the rep could not answer**")
            && prep.contains("**Engagement pattern:**")
            && prep.contains("**Gaps to prepare**")
    );
    assert_eq!(out.prep_file.as_deref(), Some(prep_file.as_path()));

    // A crash-recovery rerun replaces the brief, keeps one prep section and one history row.
    let again = brief::from_journal(&journal_path, Some(&prep_dir), &briefs, Some(&db)).unwrap();
    assert_eq!(again.brief.outcome, out.brief.outcome);
    assert_eq!(std::fs::read_to_string(&prep_file).unwrap(), prep);
    let h = SqliteHistory::open(&db).unwrap();
    let calls = h.calls(None, None).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].rep, "Sofia Ramos");
    assert_eq!(calls[0].root_causes[0], Category::Objection);
}

#[test]
fn a_cut_off_journal_still_gives_a_brief() {
    let dir = temp_dir();
    let record = labelled_record("talk_ratio");
    let journal_path = dir.path().join("journal.jsonl");
    write_journal(&journal_path, &record.journal, false);
    // callcoach died mid-write: half a line at the end.
    let mut bytes = std::fs::read(&journal_path).unwrap();
    bytes.extend_from_slice(b"{\"type\":\"segment\",\"speaker\":\"rep\",\"sta");
    std::fs::write(&journal_path, bytes).unwrap();
    let out = brief::from_journal(&journal_path, None, &dir.path().join("briefs"), None).unwrap();
    assert_eq!(out.brief.outcome, Outcome::Bad);
    assert_eq!(out.brief.primary_root_cause(), Some(Category::TalkRatio));
    assert!(
        out.brief
            .caveats
            .iter()
            .any(|c| c.contains("did not end cleanly")),
        "{:?}",
        out.brief.caveats
    );
    assert!(out.prep_file.is_none());
    // A journal that is not one is a clear error.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "not json\n{}\n").unwrap();
    let err = brief::from_journal(&bad, None, &dir.path().join("briefs"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.jsonl") && err.contains("line 1"), "{err}");
}

/// A small call from `(speaker, text)` lines, ~2.75 words a second.
fn scripted(
    call_id: &str,
    started_at: &str,
    lines: &[(Speaker, &str)],
    prep: CallPrep,
) -> CallRecord {
    let mut j = JournalRecord {
        call_id: call_id.into(),
        started_at: started_at.into(),
        ..Default::default()
    };
    let mut t = 0.5;
    for (who, line) in lines {
        let d = (line.split_whitespace().count() as f64 / 2.75).max(0.5);
        j.utterances.push(Utterance {
            speaker: *who,
            start_s: t,
            end_s: t + d,
        });
        j.segments.push(Segment {
            speaker: *who,
            start_s: t,
            end_s: t + d,
            text: line.to_string(),
        confidence: None,
    });
        t += d + 0.6;
    }
    j.ended_at_s = Some(t + 1.0);
    CallRecord { journal: j, prep }
}

use Speaker::{Prospect as P, Rep as R};

const FUMBLED_PRICE: &[(Speaker, &str)] = &[
    (R, "Hi Tina, this is Marcus from Brightline. Here is my plan: learn how you schedule today, show you one feature, and agree on next steps. Okay?"),
    (P, "Sure. Our dispatchers rebuild the schedule every Monday and it takes them most of the morning, and by Tuesday afternoon it is already broken again."),
    (R, "Our scheduler rebalances the day automatically when a job runs long."),
    (P, "Honestly, that is way more than we budgeted. We set aside maybe half of that for the whole year, and our controller watches every line."),
    (R, "Okay, I understand. Anyway, let me show you the mobile app."),
    (P, "Sure, go ahead, I am curious how the technicians would use it."),
    (R, "Technicians see their next job and the customer gets a text."),
    (P, "Nice. But again, it is way more than we budgeted, and I cannot take that number to our controller as it is."),
    (R, "Right. I'll send you some info and we'll be in touch."),
    (P, "Okay, thanks Marcus."),
];

const GOOD: &[(Speaker, &str)] = &[
    (R, "Hi Tina, this is Marcus from Brightline. Here is my plan: I'd like to learn how you schedule today, show you one feature, and agree on next steps. Does that work?"),
    (P, "Sure. Our dispatchers rebuild the schedule every Monday and it takes them most of the morning."),
    (R, "What happens when a job runs late?"),
    (P, "Everything downstream slips, the technicians call the office, and the customers call us angry."),
    (R, "Our scheduler rebalances the day automatically when a job runs long."),
    (P, "Honestly, that is way more than we budgeted."),
    (R, "That is fair. What budget did you set aside for scheduling this year?"),
    (P, "About twenty thousand dollars."),
    (R, "Our starter plan fits inside that. Could we meet again on Tuesday at two with your controller?"),
    (P, "Yes, Tuesday at two works."),
];

fn at(days_before: i64) -> String {
    (base_time() - Duration::days(days_before)).to_rfc3339()
}

fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn past(id: &str, rep: &str, days_before: i64, outcome: Outcome, causes: &[Category]) -> PastCall {
    PastCall {
        call_id: id.into(),
        rep: rep.into(),
        account: format!("account {id}"),
        started_at: base_time() - Duration::days(days_before),
        outcome,
        talk_ratio_rep: 0.5,
        duration_s: 1800.0,
        root_causes: causes.to_vec(),
        salvage_action: None,
        crm: Default::default(),
    }
}

#[test]
fn pattern_rule_with_dated_history() {
    let prep = CallPrep {
        rep_name: Some("Marcus Reed".into()),
        contact_name: Some("Tina Alvarez".into()),
        account: Some("Teamstart".into()),
        ..Default::default()
    };
    let record = scripted("today", &at(0), FUMBLED_PRICE, prep.clone());
    let now = base_time() + Duration::hours(1);
    let bare = brief::build(&record, &[], now);
    assert_eq!(bare.outcome, Outcome::Bad);
    assert_eq!(bare.primary_root_cause(), Some(Category::Objection));
    assert!(bare.coaching.is_empty());

    // Two earlier flagged objection calls within 30 days: this is the third.
    let recent = [
        past("a", "Marcus Reed", 5, Outcome::Bad, &[Category::Objection]),
        past(
            "b",
            "Marcus Reed",
            29,
            Outcome::Bad,
            &[Category::Agenda, Category::Objection],
        ),
    ];
    let b = brief::build(&record, &recent, now);
    let c = b
        .coaching
        .iter()
        .find(|c| c.category == Category::Objection)
        .expect("coaching for objection handling");
    assert_eq!(c.flagged_calls, 3);
    assert!(
        c.recommendation.contains("objection"),
        "{}",
        c.recommendation
    );

    // Three flagged calls spread over 60 days: only one other within 30 days.
    let spread = [
        past("a", "Marcus Reed", 20, Outcome::Bad, &[Category::Objection]),
        past("b", "Marcus Reed", 45, Outcome::Bad, &[Category::Objection]),
    ];
    assert!(brief::build(&record, &spread, now)
        .coaching
        .iter()
        .all(|c| c.category != Category::Objection));

    // Good calls and other reps' calls do not count.
    let others = [
        past("a", "Marcus Reed", 3, Outcome::Good, &[]),
        past("b", "Marcus Reed", 4, Outcome::Good, &[]),
        past("c", "Priya Shah", 2, Outcome::Bad, &[Category::Objection]),
        past("d", "Priya Shah", 6, Outcome::Bad, &[Category::Objection]),
    ];
    assert!(brief::build(&record, &others, now).coaching.is_empty());

    // A good call never gets coaching, whatever the history.
    let good = scripted("good", &at(0), GOOD, prep);
    let g = brief::build(&good, &recent, now);
    assert_eq!(g.outcome, Outcome::Good, "{:#?}", g.root_causes);
    assert!(g.coaching.is_empty() && g.failure_moments.is_empty());
}

#[test]
fn history_drives_coaching_and_patterns_end_to_end() {
    let dir = temp_dir();
    let paths = BriefPaths {
        briefs_dir: dir.path().join("briefs"),
        prep_dir: Some(dir.path().join("prep")),
        history_db: Some(dir.path().join("history.sqlite")),
        team: None,
    };
    let prep = CallPrep {
        rep_name: Some("Marcus Reed".into()),
        contact_name: Some("Tina Alvarez".into()),
        account: Some("Teamstart".into()),
        ..Default::default()
    };
    let mut last = None;
    for (i, days_before) in [20, 10, 0].into_iter().enumerate() {
        let record = scripted(
            &format!("call-{i}"),
            &at(days_before),
            FUMBLED_PRICE,
            prep.clone(),
        );
        last = Some(brief::after_call(&record, &paths, base_time()).unwrap());
    }
    let last = last.unwrap();
    assert!(
        last.brief
            .coaching
            .iter()
            .any(|c| c.category == Category::Objection && c.flagged_calls == 3),
        "{:?}",
        last.brief.coaching
    );
    let prep_text = std::fs::read_to_string(dir.path().join("prep/teamstart.md")).unwrap();
    assert_eq!(prep_text.matches("## 2026-").count(), 3, "{prep_text}");

    let store = SqliteHistory::open(paths.history_db.as_ref().unwrap()).unwrap();
    let report = history::patterns(
        &store,
        None,
        base_time() - Duration::days(30),
        base_time() + Duration::days(1),
    )
    .unwrap();
    let marcus = report.reps.iter().find(|r| r.rep == "Marcus Reed").unwrap();
    assert_eq!(marcus.flagged_calls, 3);
    assert_eq!(marcus.dominant, Some(Category::Objection));
    assert_eq!(report.team.dominant, Some(Category::Objection));
    println!("{}", report.to_markdown());
}

#[test]
fn names_come_from_the_transcript_without_prep() {
    let record = scripted("np", &at(0), FUMBLED_PRICE, CallPrep::default());
    let b = brief::build(&record, &[], base_time());
    assert_eq!(b.names.prospect, "Tina");
    assert_eq!(b.names.rep, "Marcus");
    assert_eq!(b.names.prospect_source, "transcript");
    assert_eq!(b.names.account, PLACEHOLDER_ACCOUNT);
    assert!(
        b.recovery_email.body.starts_with("Hi Tina,"),
        "{}",
        b.recovery_email.body
    );
    assert!(
        b.recovery_email.body.trim_end().ends_with("Marcus"),
        "{}",
        b.recovery_email.body
    );
    // With nothing to go on, placeholders are obvious, and said so.
    let anonymous: Vec<(Speaker, &str)> = FUMBLED_PRICE.iter().skip(1).copied().collect();
    let record = scripted("anon", &at(0), &anonymous, CallPrep::default());
    let b = brief::build(&record, &[], base_time());
    assert_eq!(b.names.prospect, "[prospect name]");
    assert!(
        b.recovery_email.body.starts_with("Hi [prospect name],"),
        "{}",
        b.recovery_email.body
    );
    assert!(b.caveats.iter().any(|c| c.contains("[prospect name]")));
    // No account known: no prep file is written.
    let dir = temp_dir();
    let paths = BriefPaths {
        briefs_dir: dir.path().join("briefs"),
        prep_dir: Some(dir.path().join("prep")),
        history_db: None,
        team: None,
    };
    let out = brief::after_call(&record, &paths, base_time()).unwrap();
    assert!(out.prep_file.is_none() && !dir.path().join("prep").exists());
}

#[test]
fn a_journal_read_back_gives_the_same_brief() {
    let dir = temp_dir();
    let record = labelled_record("vague_close");
    let path = dir.path().join("j.jsonl");
    write_journal(&path, &record.journal, true);
    let read = CallRecord::from_journal(journal::read(&path).unwrap());
    assert_eq!(read.prep, record.prep, "prep travels in the journal");
    let now = base_time();
    let (a, b) = (
        brief::build(&read, &[], now),
        brief::build(&record, &[], now),
    );
    assert_eq!(
        brief::build(&read, &[], now),
        a,
        "build is pure and deterministic"
    );
    // The journal's JSON round trip may move the last bit of a float: compare the verdicts.
    assert!((a.metrics.talk_ratio_rep - b.metrics.talk_ratio_rep).abs() < 1e-9);
    assert_eq!(
        (
            a.outcome,
            &a.root_causes,
            &a.objections,
            &a.next_step,
            &a.salvage
        ),
        (
            b.outcome,
            &b.root_causes,
            &b.objections,
            &b.next_step,
            &b.salvage
        )
    );
    assert_eq!(
        (&a.failure_moments, &a.recovery_email, &a.crm_note, &a.names),
        (&b.failure_moments, &b.recovery_email, &b.crm_note, &b.names)
    );
}

/// `brief --from-journal` keeps the journal's account, contact and agenda when the
/// config names the rep (issue 10 #4), and the account's prep file is still written.
#[test]
fn from_journal_keeps_the_journal_prep_when_the_config_names_the_rep() {
    let dir = temp_dir();
    let record = labelled_record("objection_price");
    let journal_path = dir.path().join("journal.jsonl");
    write_journal(&journal_path, &record.journal, true);
    let (data, config_home) = (dir.path().join("data"), dir.path().join("config"));
    std::fs::create_dir_all(config_home.join("callcoach")).unwrap();
    std::fs::write(config_home.join("callcoach/config.toml"), "[rep]\nname = \"Config Rep\"\n").unwrap();
    let output = crate::util::callcoach()
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CONFIG_HOME", &config_home)
        .args(["brief", "--from-journal"])
        .arg(&journal_path)
        .output()
        .expect("running callcoach brief");
    assert!(output.status.success(), "{}", crate::util::stderr(&output));
    let folder = std::path::PathBuf::from(crate::util::stdout(&output).trim());
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(folder.join("brief.json")).unwrap()).unwrap();
    let journal_prep = record.journal.prep.clone().expect("the labelled record has a prep");
    assert_eq!(json["names"]["account"], journal_prep["account"], "{}", json["names"]);
    // The journal named the rep; the config fills only a gap.
    assert_eq!(json["names"]["rep"], "Sofia Ramos");
    let prep_files: Vec<_> = std::fs::read_dir(data.join("callcoach/prep")).map(|d| d.filter_map(|e| e.ok()).collect()).unwrap_or_default();
    assert_eq!(prep_files.len(), 1, "the account's prep file is written");
}
