//! Evaluation of the brief against the labelled set
//! (`tests/fixtures/calls/labelled/NAME.txt` scripts + `NAME.toml` truth labels).
//!
//! Each script is rendered with espeak-ng (`synth::render`), so the talk-ratio truth
//! is measured from real audio. A `transcribe` function then turns the rendered call
//! into a `CallRecord`:
//! - mode (a), [`evaluate_text`]: straight from the rendered truth lines (who spoke
//!   when, the scripted words) — fast, for tuning the rules;
//! - mode (b): from audio — the caller writes the WAV, replays it through the real
//!   pipeline (VAD + Whisper) into a journal and reads it back
//!   (`callcoach eval --audio`).
//!
//! The report gives per-field accuracy: outcome, primary root cause, salvage action,
//! objection precision and recall (by type, per call), handled accuracy (on the
//! objections found), talk-ratio mean absolute error, next step.
//!
//! Thread: the caller's; rendering runs espeak-ng as child processes.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{build, Brief, CallRecord};
use crate::call::{Segment, Utterance};
use crate::coach::objections::ObjectionType;
use crate::coach::prep::CallPrep;
use crate::journal::JournalRecord;
use crate::synth::{self, RenderedCall, ScriptLine, SynthError, Voices};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: invalid labels: {message}", path.display())]
    Labels { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Script { path: PathBuf, source: SynthError },
    #[error("{name}: {message}")]
    Transcribe { name: String, message: String },
    #[error("{}: no labelled calls (NAME.txt + NAME.toml) found", path.display())]
    Empty { path: PathBuf },
}

/// The truth a labelled call was written to have.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    /// "good" or "bad".
    pub outcome: String,
    /// A category, or "none" for a good call.
    pub primary_root_cause: String,
    pub salvage_action: String,
    pub next_step_secured: bool,
    #[serde(default)]
    pub objections: Vec<TruthObjection>,
    /// The rendering must give the rep at least this share of talk.
    #[serde(default)]
    pub talk_ratio_min: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TruthObjection {
    #[serde(rename = "type")]
    pub kind: ObjectionType,
    pub handled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabels {
    call: RawCall,
    #[serde(default)]
    prep: RawPrep,
    truth: Truth,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    started_at: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrep {
    account: Option<String>,
    contact: Option<String>,
    role: Option<String>,
    rep: Option<String>,
    #[serde(default)]
    agenda: Vec<String>,
    #[serde(default)]
    competitors: Vec<String>,
    minutes: Option<f64>,
}

/// One labelled call.
#[derive(Debug, Clone)]
pub struct LabelledCall {
    pub name: String,
    pub script_path: PathBuf,
    pub lines: Vec<ScriptLine>,
    pub prep: CallPrep,
    /// RFC 3339 call start.
    pub started_at: String,
    pub truth: Truth,
}

/// Loads every `NAME.txt` with a `NAME.toml` in `dir`, sorted by name.
pub fn load_labelled(dir: &Path) -> Result<Vec<LabelledCall>, EvalError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalError::Io {
            path: path.clone(),
            source,
        }
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt") && p.with_extension("toml").is_file())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for script_path in names {
        let labels_path = script_path.with_extension("toml");
        let script = std::fs::read_to_string(&script_path).map_err(io(&script_path))?;
        let lines = synth::parse_script(&script).map_err(|source| EvalError::Script {
            path: script_path.clone(),
            source,
        })?;
        let labels_text = std::fs::read_to_string(&labels_path).map_err(io(&labels_path))?;
        let raw: RawLabels = toml::from_str(&labels_text).map_err(|e| EvalError::Labels {
            path: labels_path.clone(),
            message: e.to_string(),
        })?;
        let bad = |message: String| EvalError::Labels {
            path: labels_path.clone(),
            message,
        };
        if super::parse_time(&raw.call.started_at).is_none() {
            return Err(bad(format!(
                "call.started_at '{}' is not RFC 3339",
                raw.call.started_at
            )));
        }
        if super::Outcome::parse(&raw.truth.outcome).is_none() {
            return Err(bad(format!(
                "truth.outcome '{}' is not good or bad",
                raw.truth.outcome
            )));
        }
        if raw.truth.primary_root_cause != "none"
            && super::Category::parse(&raw.truth.primary_root_cause).is_none()
        {
            return Err(bad(format!(
                "truth.primary_root_cause '{}' is not a category or none",
                raw.truth.primary_root_cause
            )));
        }
        if super::Action::parse(&raw.truth.salvage_action).is_none() {
            return Err(bad(format!(
                "truth.salvage_action '{}' is not an action",
                raw.truth.salvage_action
            )));
        }
        let p = raw.prep;
        let prep = CallPrep {
            account: p.account,
            contact_name: p.contact,
            contact_role: p.role,
            rep_name: p.rep,
            agenda: p.agenda,
            competitors: p.competitors,
            planned_minutes: p.minutes,
        };
        let name = script_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(LabelledCall {
            name,
            script_path,
            lines,
            prep,
            started_at: raw.call.started_at,
            truth: raw.truth,
        });
    }
    if out.is_empty() {
        return Err(EvalError::Empty {
            path: dir.to_path_buf(),
        });
    }
    Ok(out)
}

/// Renders a labelled call with the default voices (espeak-ng).
pub fn render(call: &LabelledCall) -> Result<RenderedCall, EvalError> {
    synth::render(&call.lines, &Voices::default()).map_err(|source| EvalError::Script {
        path: call.script_path.clone(),
        source,
    })
}

/// Mode (a): a record straight from the rendering's truth lines — one utterance and
/// one segment per scripted line, at the times it was rendered.
pub fn record_from_rendered(call: &LabelledCall, rendered: &RenderedCall) -> CallRecord {
    let mut journal = JournalRecord {
        call_id: call.name.clone(),
        started_at: call.started_at.clone(),
        source: format!("script {}", call.script_path.display()),
        prep: serde_json::to_value(&call.prep).ok(),
        ended_at_s: Some(rendered.duration_s()),
        ..Default::default()
    };
    for line in &rendered.truth {
        journal.utterances.push(Utterance {
            speaker: line.speaker,
            start_s: line.start_s,
            end_s: line.end_s,
        });
        journal.segments.push(Segment {
            speaker: line.speaker,
            start_s: line.start_s,
            end_s: line.end_s,
            text: line.text.clone(),
        });
    }
    CallRecord {
        journal,
        prep: call.prep.clone(),
    }
}

/// What the brief said against the truth, for one call.
#[derive(Debug, Clone, Serialize)]
pub struct CallResult {
    pub name: String,
    pub truth: Truth,
    pub outcome: String,
    pub primary_root_cause: String,
    pub salvage_action: String,
    pub next_step_secured: bool,
    pub objections: Vec<(ObjectionType, bool)>,
    pub talk_ratio_truth: f64,
    pub talk_ratio_brief: f64,
    #[serde(skip)]
    pub brief: Brief,
}

impl CallResult {
    pub fn outcome_ok(&self) -> bool {
        self.outcome == self.truth.outcome
    }
    pub fn primary_ok(&self) -> bool {
        self.primary_root_cause == self.truth.primary_root_cause
    }
    pub fn action_ok(&self) -> bool {
        self.salvage_action == self.truth.salvage_action
    }
    pub fn next_step_ok(&self) -> bool {
        self.next_step_secured == self.truth.next_step_secured
    }
}

/// Per-field accuracy over the set.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    pub calls: usize,
    pub outcome_accuracy: f64,
    pub primary_root_cause_accuracy: f64,
    pub salvage_action_accuracy: f64,
    pub objection_precision: f64,
    pub objection_recall: f64,
    /// On objections whose type was found.
    pub handled_accuracy: f64,
    pub talk_ratio_mae: f64,
    pub next_step_accuracy: f64,
    pub objections_truth: usize,
    pub objections_found: usize,
    pub objections_matched: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub mode: String,
    pub results: Vec<CallResult>,
    pub summary: EvalSummary,
}

/// Evaluates every labelled call in `dir`: renders it, turns it into a record with
/// `transcribe`, builds the brief (no history, `now` = the call's start) and compares.
pub fn evaluate(
    dir: &Path,
    mode: &str,
    transcribe: &mut dyn FnMut(&LabelledCall, &RenderedCall) -> Result<CallRecord, String>,
) -> Result<EvalReport, EvalError> {
    let calls = load_labelled(dir)?;
    let mut results = Vec::with_capacity(calls.len());
    for call in &calls {
        let rendered = render(call)?;
        let mut record = transcribe(call, &rendered).map_err(|message| EvalError::Transcribe {
            name: call.name.clone(),
            message,
        })?;
        if record.prep == CallPrep::default() {
            record.prep = call.prep.clone();
        }
        if record.journal.started_at.is_empty() {
            record.journal.started_at = call.started_at.clone();
        }
        let now: DateTime<Utc> = super::parse_time(&call.started_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let brief = build(&record, &[], now);
        results.push(CallResult {
            name: call.name.clone(),
            truth: call.truth.clone(),
            outcome: brief.outcome.as_str().to_string(),
            primary_root_cause: brief
                .primary_root_cause()
                .map(|c| c.as_str().to_string())
                .unwrap_or_else(|| "none".into()),
            salvage_action: brief.salvage.action.as_str().to_string(),
            next_step_secured: brief.next_step.secured,
            objections: brief
                .objections
                .iter()
                .map(|o| (o.kind, o.handled))
                .collect(),
            talk_ratio_truth: rendered.talk_ratio_rep(),
            talk_ratio_brief: brief.metrics.talk_ratio_rep,
            brief,
        });
    }
    let summary = summarise(&results);
    Ok(EvalReport {
        mode: mode.to_string(),
        results,
        summary,
    })
}

/// Mode (a): evaluation from the scripts' text (no audio, no Whisper).
pub fn evaluate_text(dir: &Path) -> Result<EvalReport, EvalError> {
    evaluate(dir, "text (mode a)", &mut |call, rendered| {
        Ok(record_from_rendered(call, rendered))
    })
}

fn summarise(results: &[CallResult]) -> EvalSummary {
    let n = results.len().max(1) as f64;
    let frac = |f: &dyn Fn(&CallResult) -> bool| results.iter().filter(|r| f(r)).count() as f64 / n;
    let (mut truth, mut found, mut matched, mut handled_ok) = (0usize, 0usize, 0usize, 0usize);
    for r in results {
        truth += r.truth.objections.len();
        found += r.objections.len();
        for t in &r.truth.objections {
            if let Some((_, h)) = r.objections.iter().find(|(k, _)| *k == t.kind) {
                matched += 1;
                if *h == t.handled {
                    handled_ok += 1;
                }
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    EvalSummary {
        calls: results.len(),
        outcome_accuracy: frac(&|r| r.outcome_ok()),
        primary_root_cause_accuracy: frac(&|r| r.primary_ok()),
        salvage_action_accuracy: frac(&|r| r.action_ok()),
        objection_precision: ratio(matched, found),
        objection_recall: ratio(matched, truth),
        handled_accuracy: ratio(handled_ok, matched),
        talk_ratio_mae: results
            .iter()
            .map(|r| (r.talk_ratio_brief - r.talk_ratio_truth).abs())
            .sum::<f64>()
            / n,
        next_step_accuracy: frac(&|r| r.next_step_ok()),
        objections_truth: truth,
        objections_found: found,
        objections_matched: matched,
    }
}

impl EvalReport {
    /// The per-field table and the per-call table, in Markdown.
    pub fn to_markdown(&self) -> String {
        let s = &self.summary;
        let pct = |x: f64| format!("{:.0}%", x * 100.0);
        let mut out = format!(
            "### Brief evaluation — {} — {} labelled calls\n\n",
            self.mode, s.calls
        );
        out.push_str("| field | score |\n|---|---|\n");
        out.push_str(&format!(
            "| outcome accuracy | {} |\n",
            pct(s.outcome_accuracy)
        ));
        out.push_str(&format!(
            "| primary root cause accuracy | {} |\n",
            pct(s.primary_root_cause_accuracy)
        ));
        out.push_str(&format!(
            "| salvage action accuracy | {} |\n",
            pct(s.salvage_action_accuracy)
        ));
        out.push_str(&format!(
            "| objection precision | {} ({}/{}) |\n",
            pct(s.objection_precision),
            s.objections_matched,
            s.objections_found
        ));
        out.push_str(&format!(
            "| objection recall | {} ({}/{}) |\n",
            pct(s.objection_recall),
            s.objections_matched,
            s.objections_truth
        ));
        out.push_str(&format!(
            "| handled accuracy (found objections) | {} |\n",
            pct(s.handled_accuracy)
        ));
        out.push_str(&format!(
            "| talk-ratio mean abs error | {:.3} |\n",
            s.talk_ratio_mae
        ));
        out.push_str(&format!(
            "| next step accuracy | {} |\n",
            pct(s.next_step_accuracy)
        ));
        out.push_str("\n| call | outcome | primary root cause | salvage action | next step | objections (type:handled) | rep talk truth / brief |\n|---|---|---|---|---|---|---|\n");
        let mark = |ok: bool| if ok { "" } else { " ✗" };
        for r in &self.results {
            let objs = |list: Vec<(ObjectionType, bool)>| {
                if list.is_empty() {
                    "—".to_string()
                } else {
                    list.iter()
                        .map(|(k, h)| format!("{}:{}", k, if *h { "y" } else { "n" }))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            };
            let truth_objs = objs(
                r.truth
                    .objections
                    .iter()
                    .map(|o| (o.kind, o.handled))
                    .collect(),
            );
            out.push_str(&format!(
                "| {} | {}{} | {}{} | {}{} | {}{} | {} / truth {} | {:.2} / {:.2} |\n",
                r.name,
                r.outcome,
                mark(r.outcome_ok()),
                r.primary_root_cause,
                mark(r.primary_ok()),
                r.salvage_action,
                mark(r.action_ok()),
                r.next_step_secured,
                mark(r.next_step_ok()),
                objs(r.objections.clone()),
                truth_objs,
                r.talk_ratio_truth,
                r.talk_ratio_brief
            ));
        }
        out
    }
}

/// The labelled set shipped with the repository.
pub fn labelled_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calls/labelled")
}
