//! The bar from audio: for a good call and each of the six root causes, one
//! labelled call is rendered with espeak-ng into a stereo WAV and replayed through the
//! real binary (`callcoach replay WAV --speed max --out DIR`: VAD, Whisper, coach,
//! journal, brief). The brief it leaves must carry the labelled outcome, primary root
//! cause and salvage action; its files must be private and hold the JSON contract;
//! a bad call's recovery email must be short and name the prospect; and the brief
//! must follow the call's end within seconds (the bound end to end is 3 min).
//!
//! One test runs the calls one after another (whisper on 2 cores: parallel replays
//! would only slow each other down) and reports every mismatch before failing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use callcoach::brief::eval::{self, LabelledCall};

use crate::util::{callcoach, model_path, stderr, temp_dir};

/// How a call's prep reaches the binary: both ways are exercised.
#[derive(Clone, Copy, Debug)]
enum PrepVia {
    Flags,
    File,
}

/// One labelled call per root cause, plus a good call.
const CALLS: &[(&str, PrepVia)] = &[
    ("good_discovery", PrepVia::Flags),
    ("preparation", PrepVia::File),
    ("objection_price", PrepVia::Flags),
    ("agenda_loss", PrepVia::File),
    ("product_knowledge", PrepVia::Flags),
    ("talk_ratio", PrepVia::File),
    ("icp_fit", PrepVia::Flags),
];

/// The end-to-end bound: the brief within 3 minutes, in every case.
const END_TO_END_LIMIT: Duration = Duration::from_secs(180);
/// From the call's end (the journal's last write) to `brief.json` on disk. The
/// issue asks ≤ 5 s for a 60-minute call; these calls are 2–3 minutes long.
const BRIEF_AFTER_CALL_END_LIMIT: Duration = Duration::from_secs(5);

const CATEGORIES: &[&str] = &[
    "preparation",
    "objection",
    "agenda",
    "product_knowledge",
    "talk_ratio",
    "icp_fit",
];
const OBJECTION_TYPES: &[&str] = &["price", "timing", "authority", "need", "competitor"];
const ACTIONS: &[&str] = &[
    "recovery_email",
    "follow_up_call",
    "loop_in_stakeholder",
    "disqualify",
    "none",
];

/// What one replay produced, for the report.
struct Row {
    name: String,
    expected: (String, String, String),
    got: (String, String, String),
    wall: Duration,
    brief_after_end: Option<Duration>,
}

#[test]
fn brief_from_audio_for_a_good_call_and_each_root_cause() {
    let labelled = eval::load_labelled(&eval::labelled_dir()).expect("the labelled set loads");
    let model = model_path();
    // Every root cause and the good outcome are covered by the chosen calls.
    for category in CATEGORIES {
        assert!(
            CALLS
                .iter()
                .any(|(name, _)| truth_of(&labelled, name).truth.primary_root_cause == *category),
            "no call for {category}"
        );
    }
    assert!(CALLS
        .iter()
        .any(|(name, _)| truth_of(&labelled, name).truth.outcome == "good"));

    let mut rows = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (name, via) in CALLS {
        let call = truth_of(&labelled, name);
        let (row, mut found) = replay_one(call, *via, &model);
        problems.append(&mut found);
        rows.push(row);
    }

    println!("| call | expected (outcome / primary / action) | got | replay + brief | brief after call end |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        let fmt = |(a, b, c): &(String, String, String)| format!("{a} / {b} / {c}");
        println!(
            "| {} | {} | {}{} | {:.1} s | {} |",
            r.name,
            fmt(&r.expected),
            fmt(&r.got),
            if r.expected == r.got { "" } else { " ✗" },
            r.wall.as_secs_f64(),
            r.brief_after_end
                .map_or("?".to_string(), |d| format!("{:.2} s", d.as_secs_f64())),
        );
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn truth_of<'a>(labelled: &'a [LabelledCall], name: &str) -> &'a LabelledCall {
    labelled
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no labelled call {name}"))
}

/// Renders, replays and checks one call; returns its row and what was wrong.
fn replay_one(call: &LabelledCall, via: PrepVia, model: &Path) -> (Row, Vec<String>) {
    let name = call.name.as_str();
    let mut problems = Vec::new();
    let mut problem = |p: String| problems.push(format!("{name}: {p}"));

    let dir = temp_dir();
    let wav = dir.path().join(format!("{name}.wav"));
    let rendered = eval::render(call).expect("espeak-ng renders the call");
    rendered.write_wav(&wav).expect("writing the call");
    let out = dir.path().join("out");
    let (data, config) = (dir.path().join("data"), dir.path().join("config"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&config).unwrap();

    let mut command = callcoach();
    command
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CONFIG_HOME", &config)
        .env("CALLCOACH_MODEL", model)
        .arg("replay")
        .arg(&wav)
        .args(["--speed", "max", "--out"])
        .arg(&out);
    add_prep(&mut command, call, via, dir.path());

    let started = Instant::now();
    let output = command.output().expect("running callcoach replay");
    let wall = started.elapsed();
    let expected = (
        call.truth.outcome.clone(),
        call.truth.primary_root_cause.clone(),
        call.truth.salvage_action.clone(),
    );
    let mut row = Row {
        name: name.to_string(),
        expected: expected.clone(),
        got: ("?".into(), "?".into(), "?".into()),
        wall,
        brief_after_end: None,
    };
    if !output.status.success() {
        problem(format!(
            "replay failed ({}): {}",
            output.status,
            stderr(&output)
        ));
        return (row, problems);
    }
    if wall > END_TO_END_LIMIT {
        problem(format!(
            "replay + brief took {:.1} s > {} s",
            wall.as_secs_f64(),
            END_TO_END_LIMIT.as_secs()
        ));
    }

    let brief_path = out.join("brief.json");
    let json: serde_json::Value = match std::fs::read_to_string(&brief_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(json) => json,
        Err(e) => {
            problem(format!("{}: {e}", brief_path.display()));
            return (row, problems);
        }
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    row.got = (
        text(&json["outcome"]),
        json["root_causes"]
            .as_array()
            .and_then(|c| c.first())
            .map_or("none".to_string(), |c| text(&c["category"])),
        text(&json["salvage"]["action"]),
    );
    if row.got != expected {
        problem(format!(
            "expected outcome/primary/action {expected:?}, got {:?}; root causes {}; moments {}",
            row.got, json["root_causes"], json["failure_moments"]
        ));
    }

    // Private files: the brief, the transcript, the journal and the events.
    for file in [
        "brief.json",
        "brief.md",
        "transcript.md",
        "journal.jsonl",
        "events.jsonl",
    ] {
        let path = out.join(file);
        match std::fs::metadata(&path) {
            Ok(m) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = m.permissions().mode() & 0o777;
                if mode != 0o600 {
                    problem(format!("{file} has mode {mode:o}, not 600"));
                }
            }
            Err(e) => problem(format!("{file}: {e}")),
        }
    }

    for p in contract_problems(&json) {
        problem(p);
    }

    // A bad call's recovery email: under 150 words, naming the prospect.
    if call.truth.outcome == "bad" {
        let body = json["recovery_email"]["body"].as_str().unwrap_or("");
        let words = body.split_whitespace().count();
        if words == 0 || words >= 150 {
            problem(format!("recovery email has {words} words"));
        }
        let first_name = call
            .prep
            .contact_name
            .as_deref()
            .and_then(|n| n.split_whitespace().next())
            .expect("labelled calls name the prospect");
        if !body.contains(first_name) {
            problem(format!("recovery email does not name {first_name}: {body}"));
        }
    }

    // The brief follows the call's end (the journal's last write) within seconds.
    let modified = |file: &str| {
        std::fs::metadata(out.join(file))
            .and_then(|m| m.modified())
            .ok()
    };
    match (modified("journal.jsonl"), modified("brief.json")) {
        (Some(ended), Some(written)) => {
            let after = written.duration_since(ended).unwrap_or(Duration::ZERO);
            row.brief_after_end = Some(after);
            if after > BRIEF_AFTER_CALL_END_LIMIT {
                problem(format!(
                    "brief.json written {:.2} s after the call ended",
                    after.as_secs_f64()
                ));
            }
            let age = SystemTime::now()
                .duration_since(written)
                .unwrap_or(Duration::ZERO);
            if age > wall {
                problem("brief.json is older than the replay".into());
            }
        }
        _ => problem("cannot read the journal's and brief's times".into()),
    }
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap_or_default();
    if !journal
        .lines()
        .last()
        .is_some_and(|l| l.contains("call_ended"))
    {
        problem("the journal does not end with the call's end".into());
    }
    (row, problems)
}

/// The call's prep as flags, or as a prep file written next to the WAV.
fn add_prep(command: &mut Command, call: &LabelledCall, via: PrepVia, dir: &Path) {
    let prep = &call.prep;
    match via {
        PrepVia::File => {
            let path = dir.join("prep.toml");
            std::fs::write(&path, toml::to_string(prep).expect("prep serialises")).unwrap();
            command.arg("--prep-file").arg(path);
        }
        PrepVia::Flags => {
            let mut flags: Vec<(&str, String)> = Vec::new();
            let optional = [
                ("--account", &prep.account),
                ("--contact", &prep.contact_name),
                ("--role", &prep.contact_role),
                ("--rep-name", &prep.rep_name),
            ];
            for (flag, value) in optional {
                if let Some(value) = value {
                    flags.push((flag, value.clone()));
                }
            }
            if let Some(minutes) = prep.planned_minutes {
                flags.push(("--minutes", minutes.to_string()));
            }
            if !prep.agenda.is_empty() {
                flags.push(("--agenda", prep.agenda.join(",")));
            }
            if !prep.competitors.is_empty() {
                flags.push(("--competitors", prep.competitors.join(",")));
            }
            for (flag, value) in flags {
                command.arg(flag).arg(value);
            }
        }
    }
}

/// What is missing or out of range in `brief.json` against the contract.
fn contract_problems(json: &serde_json::Value) -> Vec<String> {
    let mut p = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            p.push(format!("brief.json: {what}"));
        }
    };
    check(
        json["schema"]
            .as_str()
            .is_some_and(|s| s.starts_with("callcoach.brief/")),
        "schema",
    );
    check(
        json["outcome"]
            .as_str()
            .is_some_and(|o| o == "good" || o == "bad"),
        "outcome is good or bad",
    );
    let m = &json["metrics"];
    check(
        m["talk_ratio_rep"]
            .as_f64()
            .is_some_and(|r| (0.0..=1.0).contains(&r)),
        "metrics.talk_ratio_rep in 0..1",
    );
    check(
        m["longest_rep_monologue_s"]
            .as_f64()
            .is_some_and(|s| s > 0.0),
        "metrics.longest_rep_monologue_s",
    );
    check(
        m["rep_questions"].as_u64().is_some(),
        "metrics.rep_questions",
    );
    match json["objections"].as_array() {
        Some(list) => {
            for o in list {
                check(
                    o["type"]
                        .as_str()
                        .is_some_and(|t| OBJECTION_TYPES.contains(&t))
                        && o["t_s"].is_number()
                        && o["excerpt"].is_string()
                        && o["handled"].is_boolean(),
                    &format!("objection {o}"),
                );
            }
        }
        None => check(false, "objections[]"),
    }
    check(
        json["next_step"]["secured"].is_boolean() && json["next_step"].get("phrase").is_some(),
        "next_step {secured, phrase}",
    );
    match json["failure_moments"].as_array() {
        Some(list) => {
            for f in list {
                check(
                    f["t_s"].is_number()
                        && f["excerpt"].as_str().is_some_and(|e| !e.is_empty())
                        && f["metric"].is_string()
                        && f["root_cause"]
                            .as_str()
                            .is_some_and(|c| CATEGORIES.contains(&c)),
                    &format!("failure moment {f}"),
                );
            }
            let bad = json["outcome"] == "bad";
            check(
                !bad || (3..=5).contains(&list.len()),
                &format!("a bad call has 3–5 failure moments, not {}", list.len()),
            );
            check(bad || list.is_empty(), "a good call has no failure moments");
        }
        None => check(false, "failure_moments[]"),
    }
    match json["root_causes"].as_array() {
        Some(list) => {
            for c in list {
                check(
                    c["category"]
                        .as_str()
                        .is_some_and(|c| CATEGORIES.contains(&c))
                        && c["evidence"].as_array().is_some_and(|e| !e.is_empty()),
                    &format!("root cause {c}"),
                );
            }
        }
        None => check(false, "root_causes[]"),
    }
    check(
        json["salvage"]["salvageability"]
            .as_str()
            .is_some_and(|s| ["high", "medium", "low", "none"].contains(&s))
            && json["salvage"]["action"]
                .as_str()
                .is_some_and(|a| ACTIONS.contains(&a)),
        "salvage {salvageability, action}",
    );
    check(
        json["recovery_email"]["subject"].is_string() && json["recovery_email"]["body"].is_string(),
        "recovery_email {subject, body}",
    );
    check(
        json["crm_note"].as_str().is_some_and(|n| !n.is_empty()),
        "crm_note",
    );
    check(json["coaching"].is_array(), "coaching[]");
    p
}
