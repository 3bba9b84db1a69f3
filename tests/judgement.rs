//! The judge on calls it was and was not tuned on: the frozen held-out set never
//! leaks into the phrase data or the train scripts, text-mode evaluation of both
//! sets holds its floors, and every brief tells one story (summary, failure
//! moments, salvage, email, CRM note and prep update agree with the verdicts).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use callcoach::brief::eval::{self, EvalReport, LabelledCall};
use callcoach::brief::{Action, Outcome};
use callcoach::call::Speaker;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn set(name: &str) -> Vec<LabelledCall> {
    eval::load_set(name, &eval::set_dirs(name).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn reports() -> &'static [EvalReport; 2] {
    static REPORTS: OnceLock<[EvalReport; 2]> = OnceLock::new();
    REPORTS.get_or_init(|| {
        let run = |name: &str| eval::evaluate_text_set(name, &set(name)).unwrap();
        [run("train"), run("heldout")]
    })
}

/// Lowercase words without punctuation, for verbatim comparisons.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('\'', ""))
        .collect()
}

fn runs_of_six(text: &str) -> HashSet<String> {
    let w = words(text);
    w.windows(6).map(|r| r.join(" ")).collect()
}

#[test]
fn no_heldout_sentence_or_six_word_run_is_in_the_phrase_data_or_train_scripts() {
    let heldout = set("heldout");
    assert!(heldout.len() >= 25, "{} held-out calls", heldout.len());
    let mut tuned_text = String::new();
    for entry in std::fs::read_dir(root().join("config")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml" || e == "json") {
            tuned_text.push_str(&std::fs::read_to_string(&path).unwrap());
            tuned_text.push('\n');
        }
    }
    let train = set("train");
    for call in &train {
        for line in &call.lines {
            tuned_text.push_str(&line.text);
            tuned_text.push('\n');
        }
    }
    let tuned_runs: HashSet<String> = tuned_text.lines().flat_map(runs_of_six).collect();
    let tuned_lines: HashSet<String> = tuned_text.lines().map(|l| words(l).join(" ")).filter(|l| l.split(' ').count() >= 4).collect();
    let mut leaks = Vec::new();
    for call in &heldout {
        for line in &call.lines {
            let joined = words(&line.text).join(" ");
            if tuned_lines.contains(&joined) {
                leaks.push(format!("{}: whole line \"{}\"", call.name, line.text));
            }
            for run in runs_of_six(&line.text) {
                if tuned_runs.contains(&run) {
                    leaks.push(format!("{}: \"{run}\"", call.name));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "held-out text found in config/ or train scripts:\n{}", leaks.join("\n"));
}

#[test]
fn the_corpus_is_large_and_varied_enough_to_show_generalisation() {
    let train = set("train");
    let heldout = set("heldout");
    let all: Vec<&LabelledCall> = train.iter().chain(&heldout).collect();
    // At least 60 new calls beyond the 12 original labelled ones.
    assert!(all.len() >= 72, "{} calls", all.len());
    let objections: usize = heldout.iter().map(|c| c.truth.objections.len()).sum();
    assert!(objections >= 14, "{objections} held-out objections");
    let good = heldout.iter().filter(|c| c.truth.outcome == "good").count();
    assert!(good >= 5, "{good} good held-out calls");
    // Length: a few calls of 30+ minutes at ~150 words a minute.
    let long = all.iter().filter(|c| c.lines.iter().map(|l| words(&l.text).len()).sum::<usize>() >= 4000).count();
    assert!(long >= 2, "{long} calls of 30+ minutes");
}

/// Text mode (a): both sets, side by side. The floors sit under the figures
/// measured when the judge was last tuned (README); held-out is never tuned on.
#[test]
fn evaluation_of_train_and_heldout_from_script_text() {
    let [train, heldout] = reports();
    println!("{}", eval::comparison_markdown(reports()));
    for (r, floor) in [(train, 0.85), (heldout, 0.75)] {
        let s = &r.summary;
        assert!(s.outcome_accuracy >= floor, "{}: outcome {:.2}", r.set, s.outcome_accuracy);
        assert!(s.talk_ratio_within_3pts >= 1.0, "{}: talk ratio {:.2}", r.set, s.talk_ratio_within_3pts);
        assert!(s.next_step_accuracy >= floor, "{}: next step {:.2}", r.set, s.next_step_accuracy);
    }
}

/// One set of verdicts per call: every part of the brief agrees with the others.
#[test]
fn every_part_of_each_brief_agrees_with_the_verdicts() {
    for report in reports() {
        for r in &report.results {
            let b = &r.brief;
            let ctx = format!("{}/{}", report.set, r.name);
            let email = b.recovery_email.body.to_lowercase();
            let summary = b.summary.to_lowercase();
            let crm = b.crm_note.to_lowercase();
            if b.next_step.secured {
                for (part, text) in [("email", &email), ("crm note", &crm), ("summary", &summary)] {
                    for denial in ["without a clear next step", "no next step", "without a next step", "no dated next step"] {
                        assert!(!text.contains(denial), "{ctx}: next step secured but the {part} says \"{denial}\": {text}");
                    }
                }
            } else {
                assert!(!summary.contains("next step secured"), "{ctx}: summary claims a next step: {summary}");
            }
            match b.outcome {
                Outcome::Good => {
                    assert!(b.failure_moments.is_empty(), "{ctx}: a good call with failure moments");
                    assert!(b.root_causes.is_empty(), "{ctx}: a good call with root causes");
                    assert_eq!(b.salvage.action, Action::None, "{ctx}");
                }
                Outcome::Bad => {
                    assert!(!b.root_causes.is_empty(), "{ctx}: a bad call without a root cause");
                    assert!(!b.failure_moments.is_empty(), "{ctx}: a bad call without failure moments");
                    assert!(b.crm_note.contains('.') && !b.crm_note.trim().is_empty(), "{ctx}: {}", b.crm_note);
                }
            }
            // An objection the brief calls handled is never a failure moment; one it calls
            // fumbled is.
            for o in &b.objections {
                let flagged = b.failure_moments.iter().any(|m| (m.t_s - o.t_s).abs() < 0.01 && m.metric.as_str() == "unresolved_objection");
                if o.handled {
                    assert!(!flagged, "{ctx}: handled {} objection flagged as a failure", o.kind);
                }
            }
            assert!(b.recovery_email.word_count < 150, "{ctx}: email of {} words", b.recovery_email.word_count);
            // Names never come out as possessives ("Jordan's").
            for name in [&b.names.rep, &b.names.prospect] {
                assert!(!name.ends_with("'s") && !name.ends_with("’s"), "{ctx}: name {name}");
            }
        }
    }
}

/// The prospect's greeting name is picked up when the prep does not give it.
#[test]
fn names_come_from_the_greeting_without_prep() {
    let train = set("train");
    let call = train.iter().find(|c| c.name == "good_skeptical").expect("good_skeptical is a train call");
    let mut call = call.clone();
    call.prep = Default::default();
    let rendered = eval::render(&call).unwrap();
    let record = eval::record_from_rendered(&call, &rendered);
    let brief = callcoach::brief::build(&record, &[], chrono::Utc::now());
    assert_eq!(brief.names.prospect, "Dan");
    assert_eq!(brief.names.rep, "Priya");
    assert!(call.lines.iter().any(|l| l.speaker == Speaker::Rep));
}

/// The overlay and the brief can never disagree on the same objection: held-out
/// calls replayed through the real binary (`replay --speed max`: VAD, Whisper, live
/// coach, journal, brief); every objection in `brief.json` has the live verdict
/// prompt for its id in `events.jsonl`, handled exactly when the prompt said so.
/// The four shortest held-out calls run here (CI time); `callcoach eval --mode audio
/// --set heldout` runs the same path on every held-out call.
#[test]
fn live_verdicts_in_events_equal_the_brief_on_heldout_calls() {
    let mut calls = set("heldout");
    calls.sort_by_key(|c| c.lines.iter().map(|l| words(&l.text).len()).sum::<usize>());
    let mut compared = 0;
    for call in calls.iter().take(4) {
        let dir = crate::util::temp_dir();
        let wav = dir.path().join(format!("{}.wav", call.name));
        eval::render(call).expect("espeak-ng renders the call").write_wav(&wav).unwrap();
        let out = dir.path().join("out");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let output = crate::util::callcoach()
            .env("XDG_DATA_HOME", &data)
            .env("CALLCOACH_MODEL", crate::util::model_path())
            .arg("replay")
            .arg(&wav)
            .args(["--speed", "max", "--out"])
            .arg(&out)
            .output()
            .expect("running callcoach replay");
        assert!(output.status.success(), "{}: {}", call.name, crate::util::stderr(&output));
        let brief: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("brief.json")).unwrap()).unwrap();
        let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
        let prompts: Vec<serde_json::Value> = events
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["type"] == "prompt")
            .collect();
        for o in brief["objections"].as_array().unwrap() {
            let id = o["id"].as_u64().unwrap_or_else(|| panic!("{}: objection without the live id: {o}", call.name));
            let verdict = prompts
                .iter()
                .find(|p| {
                    p["objection_id"].as_u64() == Some(id)
                        && (p["kind"] == "objection_handled" || p["kind"] == "objection_unanswered")
                })
                .unwrap_or_else(|| panic!("{}: no live verdict for objection {id}: {o}", call.name));
            assert_eq!(
                o["handled"].as_bool().unwrap(),
                verdict["kind"] == "objection_handled",
                "{}: brief {o} vs live {verdict}",
                call.name
            );
            assert_eq!(o["type"], verdict["objection"], "{}", call.name);
            compared += 1;
        }
    }
    println!("{compared} objections compared");
}

/// Anything learned is reproducible from the repository: training on the train
/// set with the shipped options gives the shipped model, weight for weight.
#[test]
fn the_shipped_stance_model_is_reproducible_from_the_train_calls() {
    use callcoach::language::stance::{StanceModel, TrainOptions};
    let (model, _) = eval::train_stance(&set("train"), TrainOptions::default(), true);
    let shipped = StanceModel::builtin();
    assert_eq!(model.threshold, shipped.threshold);
    assert_eq!(model.weights.len(), shipped.weights.len());
    for (name, w) in &model.weights {
        let s = shipped.weights.get(name).unwrap_or_else(|| panic!("feature {name} missing from the shipped model"));
        for k in 0..w.len() {
            assert!((w[k] - s[k]).abs() < 1e-3, "{name}: trained {w:?} shipped {s:?} (run `callcoach train-judge`)");
        }
    }
}
