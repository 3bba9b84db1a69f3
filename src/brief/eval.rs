//! Evaluation of the judgement on labelled calls (`tests/fixtures/calls/FORMAT.md`):
//! the **train** set (`labelled/` + `train/`, tuned on) and the frozen **held-out** set
//! (`heldout/`, written by authors who never saw the rules; scored only), side by side.
//!
//! Each script is rendered with espeak-ng (`synth::render`), so the talk-ratio truth
//! is measured from real audio. A `transcribe` function then turns the rendered call
//! into a `CallRecord`:
//! - mode (a), [`text_record`]: straight from the rendered truth lines (who spoke
//!   when, the scripted words), judged by the live coach run offline;
//! - mode (b): from audio — the caller writes the WAV, replays it through the real
//!   pipeline (VAD + Whisper + live coach) into a journal and reads it back
//!   (`callcoach eval --mode audio`).
//!
//! The report gives per-field accuracy: outcome, primary root cause (within the
//! acceptable set), salvage action, objection precision and recall by type and time
//! (the quoted line's start to 10 s after its end), handled vs fumbled on those
//! matched, next step, talk ratio within 3 points. For the held-out set only
//! pass/fail per field is printed per call: reading why one failed would make it
//! train data.
//!
//! Also here: the stance model's training data and cross-validation
//! (`callcoach train-judge`).
//!
//! Thread: the caller's; rendering runs espeak-ng as child processes.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{build, Brief, CallRecord};
use crate::call::{Segment, Utterance};
use crate::language::objections::ObjectionType;
use crate::prep::CallPrep;
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

/// The truth a labelled call was written to have (format: `tests/fixtures/calls/FORMAT.md`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    /// "good" or "bad".
    pub outcome: String,
    /// Every root cause present (empty for a good call).
    #[serde(default)]
    pub failure_categories: Vec<String>,
    /// A category, or "none" for a good call.
    pub primary_root_cause: String,
    /// Other primaries a fair reviewer could pick.
    #[serde(default)]
    pub acceptable_root_causes: Vec<String>,
    pub salvage_action: String,
    pub next_step_secured: bool,
    #[serde(default)]
    pub objections: Vec<TruthObjection>,
    /// The rendering must give the rep at least this share of talk.
    #[serde(default)]
    pub talk_ratio_min: Option<f64>,
    /// Quotes of prospect lines that sound like objections and are not.
    #[serde(default)]
    pub not_objections: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TruthObjection {
    #[serde(rename = "type")]
    pub kind: ObjectionType,
    pub handled: bool,
    /// An exact substring of the prospect line that carries it; without it the
    /// objection matches on type alone.
    #[serde(default)]
    pub quote: Option<String>,
    /// Later prospect lines where the same objection is raised again (train labels;
    /// the evaluation counts the objection once).
    #[serde(default)]
    pub also: Vec<String>,
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
    /// discovery, demo, pricing, renewal, cold_call, follow_up.
    #[serde(default)]
    kind: Option<String>,
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
    /// For each truth objection, the index in `lines` of the line its quote is in.
    pub objection_lines: Vec<Option<usize>>,
    /// The set it belongs to ("train" or "heldout").
    pub set: String,
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
        for c in raw.truth.acceptable_root_causes.iter().chain(&raw.truth.failure_categories) {
            if super::Category::parse(c).is_none() {
                return Err(bad(format!("root cause '{c}' is not a category")));
            }
        }
        let prospect_line = |quote: &str| {
            lines.iter().position(|l| l.speaker == crate::call::Speaker::Prospect && l.text.contains(quote))
        };
        let mut objection_lines = Vec::new();
        for o in &raw.truth.objections {
            match &o.quote {
                Some(q) => match prospect_line(q) {
                    Some(i) => objection_lines.push(Some(i)),
                    None => return Err(bad(format!("objection quote '{q}' is in no prospect line"))),
                },
                None => objection_lines.push(None),
            }
        }
        for q in raw.truth.objections.iter().flat_map(|o| &o.also) {
            if prospect_line(q).is_none() {
                return Err(bad(format!("objection `also` quote '{q}' is in no prospect line")));
            }
        }
        for q in &raw.truth.not_objections {
            if prospect_line(q).is_none() {
                return Err(bad(format!("not_objections quote '{q}' is in no prospect line")));
            }
        }
        let _ = &raw.call.kind;
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
            objection_lines,
            set: String::new(),
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

/// Where a labelled call's lines land, without the audio (text mode), from the
/// project's line-timing cache (`models/cache/espeak-line-timings.tsv`).
pub fn render_timing(call: &LabelledCall) -> Result<RenderedCall, EvalError> {
    let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/cache/espeak-line-timings.tsv");
    synth::time_lines(&call.lines, &Voices::default(), Some(&cache)).map_err(|source| EvalError::Script {
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
        confidence: None,
    });
    }
    CallRecord {
        journal,
        prep: call.prep.clone(),
    }
}

/// An objection the brief reported.
#[derive(Debug, Clone, Serialize)]
pub struct FoundObjection {
    #[serde(rename = "type")]
    pub kind: ObjectionType,
    pub handled: bool,
    pub t_s: f64,
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
    pub objections: Vec<FoundObjection>,
    /// For each truth objection, the index in `objections` it matched.
    pub matches: Vec<Option<usize>>,
    pub talk_ratio_truth: f64,
    pub talk_ratio_brief: f64,
    pub brief: Brief,
}

/// A reported objection matches a truth objection of the same type raised in the
/// line the quote is in: its time lies between the line's start and 10 s after
/// its end (the judge stamps the end of the speech that carried it).
const MATCH_BEFORE_S: f64 = 1.0;
const MATCH_AFTER_S: f64 = 10.0;

fn match_objections(
    truth: &[TruthObjection],
    windows: &[Option<(f64, f64)>],
    found: &[FoundObjection],
) -> Vec<Option<usize>> {
    let mut taken = vec![false; found.len()];
    let mut out = vec![None; truth.len()];
    for (i, t) in truth.iter().enumerate() {
        let candidate = found.iter().enumerate().position(|(j, f)| {
            !taken[j]
                && f.kind == t.kind
                && windows[i].is_none_or(|(start, end)| {
                    f.t_s >= start - MATCH_BEFORE_S && f.t_s <= end + MATCH_AFTER_S
                })
        });
        if let Some(j) = candidate {
            taken[j] = true;
            out[i] = Some(j);
        }
    }
    out
}

impl CallResult {
    pub fn outcome_ok(&self) -> bool {
        self.outcome == self.truth.outcome
    }
    /// The primary root cause is the truth's or one of its acceptable alternatives.
    pub fn primary_ok(&self) -> bool {
        self.primary_root_cause == self.truth.primary_root_cause
            || self.truth.acceptable_root_causes.contains(&self.primary_root_cause)
    }
    pub fn action_ok(&self) -> bool {
        self.salvage_action == self.truth.salvage_action
    }
    pub fn next_step_ok(&self) -> bool {
        self.next_step_secured == self.truth.next_step_secured
    }
    /// Talk ratio within 3 points of the rendering's measured truth.
    pub fn talk_ratio_ok(&self) -> bool {
        (self.talk_ratio_brief - self.talk_ratio_truth).abs() <= 0.03
    }
    /// Every field right and every objection found, typed and judged right, none extra.
    pub fn all_ok(&self) -> bool {
        self.outcome_ok()
            && self.primary_ok()
            && self.action_ok()
            && self.next_step_ok()
            && self.talk_ratio_ok()
            && self.matches.iter().all(Option::is_some)
            && self.objections.len() == self.matches.len()
            && self.handled_ok() == self.matches.len()
    }
    fn handled_ok(&self) -> usize {
        self.truth
            .objections
            .iter()
            .zip(&self.matches)
            .filter(|(t, m)| m.is_some_and(|j| self.objections[j].handled == t.handled))
            .count()
    }
}

/// Precision and recall of one objection type.
#[derive(Debug, Clone, Serialize)]
pub struct TypeScore {
    #[serde(rename = "type")]
    pub kind: ObjectionType,
    pub truth: usize,
    pub found: usize,
    pub matched: usize,
}

/// Per-field accuracy over a set.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    pub calls: usize,
    pub outcome_accuracy: f64,
    pub primary_root_cause_accuracy: f64,
    pub salvage_action_accuracy: f64,
    pub objection_precision: f64,
    pub objection_recall: f64,
    /// On the objections matched.
    pub handled_accuracy: f64,
    pub talk_ratio_mae: f64,
    /// Calls whose talk ratio is within 3 points.
    pub talk_ratio_within_3pts: f64,
    pub next_step_accuracy: f64,
    pub objections_truth: usize,
    pub objections_found: usize,
    pub objections_matched: usize,
    pub handled_correct: usize,
    pub by_type: Vec<TypeScore>,
    /// Calls right on every field.
    pub calls_all_ok: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub mode: String,
    /// "train" or "heldout".
    pub set: String,
    pub results: Vec<CallResult>,
    pub summary: EvalSummary,
}

/// The frozen held-out sets, oldest first: name and the file prefixes of its calls
/// (each set was written by its own authors and frozen in its own commit; README).
/// The newest one's figures are the evidence; `heldout` is all of them.
pub const HELDOUT_SETS: [(&str, &[&str]); 4] =
    [("heldout1", &["ha_", "hb_"]), ("heldout2", &["hc_", "hd_"]), ("heldout3", &["he_", "hf_"]), ("heldout4", &["hg_", "hh_", "hi_"])];

/// Where a set's calls live. Train is tuned on; held-out is frozen and only scored.
pub fn set_dirs(set: &str) -> Option<Vec<PathBuf>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calls");
    match set {
        "train" => Some(vec![root.join("labelled"), root.join("train")]),
        "heldout" => Some(vec![root.join("heldout")]),
        _ if HELDOUT_SETS.iter().any(|(name, _)| *name == set) => Some(vec![root.join("heldout")]),
        _ => None,
    }
}

/// Whether a call (by name) belongs to `set`: a held-out subset keeps its own prefixes.
fn in_set(set: &str, call_name: &str) -> bool {
    HELDOUT_SETS
        .iter()
        .find(|(name, _)| *name == set)
        .is_none_or(|(_, prefixes)| prefixes.iter().any(|p| call_name.starts_with(p)))
}

/// Loads every labelled call of the directories, tagged with `set`.
pub fn load_set(set: &str, dirs: &[PathBuf]) -> Result<Vec<LabelledCall>, EvalError> {
    let mut calls = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            continue;
        }
        match load_labelled(dir) {
            Ok(found) => calls.extend(found),
            Err(EvalError::Empty { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    calls.retain(|c| in_set(set, &c.name));
    if calls.is_empty() {
        return Err(EvalError::Empty { path: dirs.first().cloned().unwrap_or_default() });
    }
    for c in &mut calls {
        c.set = set.to_string();
    }
    Ok(calls)
}

/// A record maker: mode (a) from the rendering's truth, mode (b) through audio.
pub type Transcribe<'a> = dyn FnMut(&LabelledCall, &RenderedCall) -> Result<CallRecord, String> + 'a;

/// Evaluates one call: renders it, turns it into a record with `transcribe`,
/// builds the brief (no history, `now` = the call's start) and compares.
pub fn evaluate_call(call: &LabelledCall, transcribe: &mut Transcribe<'_>) -> Result<CallResult, EvalError> {
    evaluate_rendered(call, render(call)?, transcribe)
}

fn evaluate_rendered(call: &LabelledCall, rendered: RenderedCall, transcribe: &mut Transcribe<'_>) -> Result<CallResult, EvalError> {
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
    let objections: Vec<FoundObjection> = brief
        .objections
        .iter()
        .map(|o| FoundObjection { kind: o.kind, handled: o.handled, t_s: o.t_s })
        .collect();
    let windows: Vec<Option<(f64, f64)>> = call
        .objection_lines
        .iter()
        .map(|l| l.and_then(|i| rendered.truth.get(i)).map(|t| (t.start_s, t.end_s)))
        .collect();
    let matches = match_objections(&call.truth.objections, &windows, &objections);
    Ok(CallResult {
        name: call.name.clone(),
        truth: call.truth.clone(),
        outcome: brief.outcome.as_str().to_string(),
        primary_root_cause: brief
            .primary_root_cause()
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "none".into()),
        salvage_action: brief.salvage.action.as_str().to_string(),
        next_step_secured: brief.next_step.secured,
        objections,
        matches,
        talk_ratio_truth: rendered.talk_ratio_rep(),
        talk_ratio_brief: brief.metrics.talk_ratio_rep,
        brief,
    })
}

/// Evaluates every call of a set.
pub fn evaluate_set(
    set: &str,
    calls: &[LabelledCall],
    mode: &str,
    transcribe: &mut Transcribe<'_>,
) -> Result<EvalReport, EvalError> {
    let mut results = Vec::with_capacity(calls.len());
    for call in calls {
        results.push(evaluate_call(call, transcribe)?);
    }
    let summary = summarise(&results);
    Ok(EvalReport { mode: mode.to_string(), set: set.to_string(), results, summary })
}

/// Evaluates every labelled call in `dir` (one set).
pub fn evaluate(dir: &Path, mode: &str, transcribe: &mut Transcribe<'_>) -> Result<EvalReport, EvalError> {
    let calls = load_labelled(dir)?;
    evaluate_set("labelled", &calls, mode, transcribe)
}

/// Mode (a) over a set: from the scripts' words and the line timings alone (no
/// audio is kept), the calls shared among the machine's cores.
pub fn evaluate_text_set(set: &str, calls: &[LabelledCall]) -> Result<EvalReport, EvalError> {
    let results = crate::parallel::map_in_order(calls, |call| {
        render_timing(call).and_then(|rendered| evaluate_rendered(call, rendered, &mut text_record))
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let summary = summarise(&results);
    Ok(EvalReport { mode: "text (mode a)".to_string(), set: set.to_string(), results, summary })
}

/// Mode (a): a record straight from the scripts' text (no audio, no Whisper).
pub fn text_record(call: &LabelledCall, rendered: &RenderedCall) -> Result<CallRecord, String> {
    Ok(record_from_rendered(call, rendered))
}

/// Mode (a) over one directory.
pub fn evaluate_text(dir: &Path) -> Result<EvalReport, EvalError> {
    evaluate_text_set("labelled", &load_labelled(dir)?)
}

fn summarise(results: &[CallResult]) -> EvalSummary {
    let n = results.len().max(1) as f64;
    let frac = |f: &dyn Fn(&CallResult) -> bool| results.iter().filter(|r| f(r)).count() as f64 / n;
    let mut by_type: Vec<TypeScore> = ObjectionType::ALL
        .iter()
        .map(|&kind| TypeScore { kind, truth: 0, found: 0, matched: 0 })
        .collect();
    let (mut handled_ok, mut calls_all_ok) = (0usize, 0usize);
    for r in results {
        for t in &r.truth.objections {
            by_type.iter_mut().find(|b| b.kind == t.kind).expect("every type").truth += 1;
        }
        for f in &r.objections {
            by_type.iter_mut().find(|b| b.kind == f.kind).expect("every type").found += 1;
        }
        for (t, m) in r.truth.objections.iter().zip(&r.matches) {
            if m.is_some() {
                by_type.iter_mut().find(|b| b.kind == t.kind).expect("every type").matched += 1;
            }
        }
        handled_ok += r.handled_ok();
        calls_all_ok += r.all_ok() as usize;
    }
    let truth: usize = by_type.iter().map(|b| b.truth).sum();
    let found: usize = by_type.iter().map(|b| b.found).sum();
    let matched: usize = by_type.iter().map(|b| b.matched).sum();
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
        talk_ratio_within_3pts: frac(&|r| r.talk_ratio_ok()),
        next_step_accuracy: frac(&|r| r.next_step_ok()),
        objections_truth: truth,
        objections_found: found,
        objections_matched: matched,
        handled_correct: handled_ok,
        by_type,
        calls_all_ok,
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The per-field rows of a summary: (field, value).
fn summary_rows(s: &EvalSummary) -> Vec<(String, String)> {
    let mut rows = vec![
        ("calls".to_string(), s.calls.to_string()),
        ("outcome good/bad".into(), pct(s.outcome_accuracy)),
        ("primary root cause acceptable".into(), pct(s.primary_root_cause_accuracy)),
        ("salvage action".into(), pct(s.salvage_action_accuracy)),
        (
            "objection precision (type + time)".into(),
            format!("{} ({}/{})", pct(s.objection_precision), s.objections_matched, s.objections_found),
        ),
        (
            "objection recall (type + time)".into(),
            format!("{} ({}/{})", pct(s.objection_recall), s.objections_matched, s.objections_truth),
        ),
    ];
    for b in &s.by_type {
        rows.push((
            format!("— {} found / raised", b.kind),
            format!("{}/{} of {}", b.matched, b.found, b.truth),
        ));
    }
    rows.extend([
        (
            "handled vs fumbled (matched)".into(),
            format!("{} ({}/{})", pct(s.handled_accuracy), s.handled_correct, s.objections_matched),
        ),
        ("next step secured".into(), pct(s.next_step_accuracy)),
        ("talk ratio within 3 pts".into(), pct(s.talk_ratio_within_3pts)),
        ("talk-ratio mean abs error".into(), format!("{:.3}", s.talk_ratio_mae)),
        ("calls right on every field".into(), format!("{}/{}", s.calls_all_ok, s.calls)),
    ]);
    rows
}

/// Train and held-out side by side, then each call's line.
pub fn comparison_markdown(reports: &[EvalReport]) -> String {
    let Some(first) = reports.first() else {
        return String::new();
    };
    let mut out = format!("### Brief evaluation — {}\n\n", first.mode);
    let names: Vec<String> = reports
        .iter()
        .map(|r| if r.set == "train" { "train (tuned on)".to_string() } else { r.set.clone() })
        .collect();
    out.push_str(&format!("| field | {} |\n|---|{}\n", names.join(" | "), "---|".repeat(reports.len())));
    let rows: Vec<Vec<(String, String)>> = reports.iter().map(|r| summary_rows(&r.summary)).collect();
    for (i, (field, _)) in rows[0].iter().enumerate() {
        let cells: Vec<String> = rows.iter().map(|r| r.get(i).map(|c| c.1.clone()).unwrap_or_default()).collect();
        out.push_str(&format!("| {} | {} |\n", field, cells.join(" | ")));
    }
    for r in reports {
        out.push('\n');
        out.push_str(&r.calls_markdown());
    }
    out
}

impl EvalReport {
    /// The per-field table and the per-call table, in Markdown.
    pub fn to_markdown(&self) -> String {
        comparison_markdown(std::slice::from_ref(self))
    }

    /// One line per call. For the held-out set only pass/fail per field is shown:
    /// reading why a held-out call failed would make it train data.
    pub fn calls_markdown(&self) -> String {
        let mark = |ok: bool| if ok { "ok" } else { "✗" };
        let mut out = format!("#### {} — {} calls\n\n", self.set, self.results.len());
        if self.set == "heldout" {
            out.push_str("| call | outcome | primary | salvage | next step | objections found | handled | talk |\n|---|---|---|---|---|---|---|---|\n");
            for r in &self.results {
                let found = r.matches.iter().filter(|m| m.is_some()).count();
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {}/{} (+{} extra) | {}/{} | {} |\n",
                    r.name,
                    mark(r.outcome_ok()),
                    mark(r.primary_ok()),
                    mark(r.action_ok()),
                    mark(r.next_step_ok()),
                    found,
                    r.matches.len(),
                    r.objections.len() - found,
                    r.handled_ok(),
                    found,
                    mark(r.talk_ratio_ok()),
                ));
            }
            return out;
        }
        out.push_str("| call | outcome | primary root cause | salvage action | next step | objections found (type:handled@s) / truth | rep talk truth / brief |\n|---|---|---|---|---|---|---|\n");
        let m = |ok: bool| if ok { "" } else { " ✗" };
        for r in &self.results {
            let found = if r.objections.is_empty() {
                "—".to_string()
            } else {
                r.objections
                    .iter()
                    .map(|o| format!("{}:{}@{:.0}", o.kind, if o.handled { "y" } else { "n" }, o.t_s))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let truth = if r.truth.objections.is_empty() {
                "—".to_string()
            } else {
                r.truth
                    .objections
                    .iter()
                    .zip(&r.matches)
                    .map(|(o, mm)| format!("{}:{}{}", o.kind, if o.handled { "y" } else { "n" }, if mm.is_some() { "" } else { "(missed)" }))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            out.push_str(&format!(
                "| {} | {}{} | {}{} | {}{} | {}{} | {} / {} | {:.2} / {:.2}{} |\n",
                r.name,
                r.outcome,
                m(r.outcome_ok()),
                r.primary_root_cause,
                m(r.primary_ok()),
                r.salvage_action,
                m(r.action_ok()),
                r.next_step_secured,
                m(r.next_step_ok()),
                found,
                truth,
                r.talk_ratio_truth,
                r.talk_ratio_brief,
                m(r.talk_ratio_ok()),
            ));
        }
        out
    }
}

/// The labelled set shipped with the repository.
pub fn labelled_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calls/labelled")
}

// ---------------------------------------------------------------------------
// Training the stance model (`callcoach train-judge`)
// ---------------------------------------------------------------------------

use crate::language::objections::{ObjectionLibrary, ObjectionMatcher};
use crate::language::stance::{self, Detector, Example, StanceModel, TrainOptions};

/// One prospect line's sentences as training examples, with the line's truth.
#[derive(Debug, Clone)]
pub struct TrainingLine {
    /// Which call (for cross-validation by call).
    pub call: usize,
    /// Which author wrote the call (its file-name prefix): cross-validation holds out
    /// one author at a time, as the held-out set comes from authors never seen.
    pub author: usize,
    pub text: String,
    pub sentences: Vec<Example>,
    /// The line's objection type, if it carries one.
    pub truth: Option<ObjectionType>,
}

fn label_of(kind: ObjectionType) -> usize {
    ObjectionType::ALL.iter().position(|&k| k == kind).expect("every type") + 1
}

/// Whether a sentence is (part of) the quoted words.
fn overlaps(sentence: &str, quote: &str) -> bool {
    let s = crate::language::text::words(sentence);
    let q = crate::language::text::words(quote);
    if s.is_empty() || q.is_empty() {
        return false;
    }
    let sj = format!(" {} ", s.join(" "));
    let qj = format!(" {} ", q.join(" "));
    if qj.contains(&sj) && s.len() >= 2 || sj.contains(&qj) {
        return true;
    }
    q.windows(3.min(q.len())).any(|w| sj.contains(&format!(" {} ", w.join(" "))))
}

/// Every prospect line of the calls, featurised as the live detector sees it
/// (the rep turn before it as context).
pub fn training_lines(calls: &[LabelledCall], ngrams: bool) -> Vec<TrainingLine> {
    let detector = Detector::new(ObjectionMatcher::new(std::sync::Arc::new(ObjectionLibrary::builtin())), StanceModel::builtin());
    let mut out = Vec::new();
    let mut authors: Vec<String> = Vec::new();
    for (ci, call) in calls.iter().enumerate() {
        let prefix = match call.name.split_once('_') {
            Some((p, _)) if p.len() == 2 => p.to_string(),
            _ => "labelled".to_string(),
        };
        let author = authors.iter().position(|a| *a == prefix).unwrap_or_else(|| {
            authors.push(prefix.clone());
            authors.len() - 1
        });
        let mut rep_turn = String::new();
        let mut last_was_prospect = false;
        for (li, line) in call.lines.iter().enumerate() {
            if line.speaker == crate::call::Speaker::Rep {
                if last_was_prospect {
                    rep_turn.clear();
                }
                rep_turn.push_str(&line.text);
                rep_turn.push(' ');
                last_was_prospect = false;
                continue;
            }
            last_was_prospect = true;
            let truth_index = call.objection_lines.iter().position(|l| *l == Some(li));
            let repeat = call.truth.objections.iter().find(|o| o.also.iter().any(|q| line.text.contains(q.as_str())));
            let truth = truth_index.map(|i| &call.truth.objections[i]);
            let hard_negative = call.truth.not_objections.iter().any(|q| line.text.contains(q.as_str()));
            let sentences = detector
                .training_features(&line.text, &rep_turn, &call.prep, ngrams)
                .into_iter()
                .filter_map(|(sentence, features)| {
                    let (label, weight) = match (truth, repeat) {
                        (Some(t), _) => match &t.quote {
                            Some(q) if overlaps(&sentence, q) => (label_of(t.kind), 1.0),
                            // Other sentences of an objection's line: neither.
                            _ => return None,
                        },
                        (None, Some(r)) => match r.also.iter().find(|q| line.text.contains(q.as_str())) {
                            Some(q) if overlaps(&sentence, q) => (label_of(r.kind), 1.0),
                            _ => return None,
                        },
                        (None, None) if hard_negative => (0, 2.0),
                        (None, None) => (0, 1.0),
                    };
                    Some(Example { features, label, weight })
                })
                .collect();
            out.push(TrainingLine { call: ci, author, text: line.text.clone(), sentences, truth: truth.or(repeat).map(|t| t.kind) });
        }
    }
    out
}

/// Cross-validated line-level detection at one threshold.
#[derive(Debug, Clone, Serialize)]
pub struct StanceCv {
    pub threshold: f32,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Predicted type of a line: the best type over its sentences, if above `threshold`.
fn predict_line(model: &StanceModel, line: &TrainingLine, threshold: f32) -> Option<ObjectionType> {
    let mut best: Option<(usize, f32)> = None;
    for e in &line.sentences {
        let p = stance::combine(model.predict(&e.features), &e.features);
        for k in 1..stance::LABELS {
            if p[k] >= threshold && best.is_none_or(|b| p[k] > b.1) {
                best = Some((k, p[k]));
            }
        }
    }
    best.map(|(k, _)| ObjectionType::ALL[k - 1])
}

/// Cross-validated predictions that disagree with the truth at `threshold`:
/// (call, line index among the call's prospect lines, truth, predicted).
pub fn cross_validated_errors(
    lines: &[TrainingLine],
    calls: usize,
    folds: usize,
    options: TrainOptions,
    ngrams: bool,
    threshold: f32,
) -> Vec<(usize, usize, Option<ObjectionType>, Option<ObjectionType>)> {
    let mut out = Vec::new();
    for fold in 0..folds {
        let in_fold = |l: &TrainingLine| l.author == fold;
        let _ = calls;
        let train_examples: Vec<Example> = lines.iter().filter(|l| !in_fold(l)).flat_map(|l| l.sentences.iter().cloned()).collect();
        let model = stance::train(&train_examples, options, ngrams, 0.5, String::new());
        for (i, l) in lines.iter().enumerate().filter(|(_, l)| in_fold(l)) {
            let p = predict_line(&model, l, threshold);
            if p != l.truth {
                out.push((l.call, i, l.truth, p));
            }
        }
    }
    out
}

/// K-fold cross-validation by call over thresholds; returns the scores per threshold.
pub fn cross_validate(lines: &[TrainingLine], calls: usize, folds: usize, options: TrainOptions, ngrams: bool) -> Vec<StanceCv> {
    let thresholds = [0.3f32, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7];
    let mut counts = vec![(0usize, 0usize, 0usize); thresholds.len()]; // (found, matched, truth)
    for fold in 0..folds {
        let in_fold = |l: &TrainingLine| l.author == fold;
        let _ = calls;
        let train_examples: Vec<Example> = lines.iter().filter(|l| !in_fold(l)).flat_map(|l| l.sentences.iter().cloned()).collect();
        let model = stance::train(&train_examples, options, ngrams, 0.5, String::new());
        for l in lines.iter().filter(|l| in_fold(l)) {
            for (ti, &t) in thresholds.iter().enumerate() {
                let p = predict_line(&model, l, t);
                if p.is_some() {
                    counts[ti].0 += 1;
                }
                if l.truth.is_some() {
                    counts[ti].2 += 1;
                    if p == l.truth {
                        counts[ti].1 += 1;
                    }
                }
            }
        }
    }
    thresholds
        .iter()
        .zip(counts)
        .map(|(&threshold, (found, matched, truth))| {
            let precision = ratio(matched, found);
            let recall = ratio(matched, truth);
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            StanceCv { threshold, precision, recall, f1 }
        })
        .collect()
}

/// Trains a model on `calls` at a given threshold, without cross-validating one.
pub fn train_stance_at(calls: &[LabelledCall], options: TrainOptions, ngrams: bool, threshold: f32) -> StanceModel {
    let examples: Vec<Example> = training_lines(calls, ngrams).iter().flat_map(|l| l.sentences.iter().cloned()).collect();
    let trained = format!("callcoach train-judge --threshold {threshold} on {} calls ({} sentences)", calls.len(), examples.len());
    stance::train(&examples, options, ngrams, threshold, trained)
}

/// Trains the shipped model on the train set: cross-validates the threshold
/// (precision weighted a little above recall: a false alarm distracts the rep),
/// then fits on every train call.
pub fn train_stance(calls: &[LabelledCall], options: TrainOptions, ngrams: bool) -> (StanceModel, Vec<StanceCv>) {
    let lines = training_lines(calls, ngrams);
    let authors = lines.iter().map(|l| l.author + 1).max().unwrap_or(1);
    let cv = cross_validate(&lines, calls.len(), authors, options, ngrams);
    let score = |c: &StanceCv| {
        let b2 = 0.8f64; // F-beta with beta < 1 favours precision
        let (p, r) = (c.precision, c.recall);
        if p + r > 0.0 { (1.0 + b2 * b2) * p * r / (b2 * b2 * p + r) } else { 0.0 }
    };
    let best = cv.iter().cloned().max_by(|a, b| score(a).total_cmp(&score(b))).expect("thresholds");
    let examples: Vec<Example> = lines.iter().flat_map(|l| l.sentences.iter().cloned()).collect();
    let positives = examples.iter().filter(|e| e.label > 0).count();
    let trained = format!(
        "callcoach train-judge on {} train calls ({} sentences, {} objection sentences); l2 {}, {} iterations, lr {}, positive weight {}, n-grams {}; threshold {} by leave-one-author-out cross-validation (precision {:.2}, recall {:.2})",
        calls.len(),
        examples.len(),
        positives,
        options.l2,
        options.iterations,
        options.learning_rate,
        options.positive_weight,
        ngrams,
        best.threshold,
        best.precision,
        best.recall
    );
    (stance::train(&examples, options, ngrams, best.threshold, trained), cv)
}
