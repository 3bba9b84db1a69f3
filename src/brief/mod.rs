//! The post-call stage: a finished call's record -> a recovery brief (pure), then
//! files in a folder, the account's prep file and the cross-call history.
//!
//! ```text
//! JournalRecord + CallPrep ─► CallRecord ─► analysis (turns, metrics, findings)
//!                                         ─► root causes ─► salvage ─► email / CRM note / prep update
//!                                         ─► coaching (history: 3+ flagged calls in 30 days)
//! Brief ─► writer (brief.md, brief.json, transcript.md, 0600, atomic)
//!       ─► prep_update (<prep_dir>/<account>.md gains a dated section)
//!       ─► history (SQLite: calls and root causes per rep and account)
//! ```
//!
//! `build` is pure and deterministic: the same record, history and `now` give the
//! same brief. It runs on whichever thread ends the call (the pipeline thread, or
//! the CLI for `callcoach brief --from-journal`); a 60-minute call takes
//! milliseconds (see `benches/brief.rs`).
//!
//! The method it implements is `shared/METHOD.md` (RESET): a good call — balanced
//! talk, objections handled, a dated next step — gets no invented failures; hard
//! questions and raised objections are not failures, fumbling them is.

pub mod analysis;
pub mod email;
pub mod eval;
pub mod prep_update;
pub mod salvage;
pub mod writer;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::coach::CoachVerdict;
use crate::language::objections::{ObjectionLibrary, ObjectionType};
use crate::prep::CallPrep;
use crate::history::{CrmFields, HistoryError, PastCall, SqliteHistory};
use crate::journal::{JournalError, JournalRecord};
pub use crate::transcribe::second_pass::TranscriptSource;

/// The version tag every `brief.json` carries. Bump on incompatible changes.
pub const SCHEMA: &str = "callcoach.brief/1";

/// Errors of the post-call stage's file-touching entry points.
#[derive(Debug, thiserror::Error)]
pub enum BriefError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// A finished call as the post-call stage sees it: the journal's content plus the prep.
#[derive(Debug, Clone, Default)]
pub struct CallRecord {
    pub journal: JournalRecord,
    pub prep: CallPrep,
}

impl CallRecord {
    /// Wraps a journal; its `call_started` prep (if any) becomes the call prep.
    /// The prep is read leniently (unknown keys ignored, `contact`/`role`/`rep`/`minutes`
    /// accepted as aliases) so an old or hand-written journal still yields a brief.
    pub fn from_journal(mut journal: JournalRecord) -> CallRecord {
        let prep = journal
            .prep
            .as_ref()
            .map(prep_from_json)
            .unwrap_or_default();
        // The brief's words: a bigger model's second pass wherever it got to
        // (transcript, quotes, email); the verdicts stay the live coach's.
        if let Some((segments, _)) = crate::transcribe::second_pass::merged_transcript(&journal) {
            journal.segments = segments;
        }
        CallRecord { journal, prep }
    }

    pub fn with_prep(mut self, prep: CallPrep) -> CallRecord {
        self.prep = prep;
        self
    }

    /// The live judge's verdicts on this call: the journal's own when the call
    /// ended cleanly with a judge that journals them, else the same judge run
    /// again over the journal's utterances and segments (`coach::offline`).
    pub fn verdicts(&self) -> Verdicts {
        let j = &self.journal;
        if j.judge.is_some() && j.ended_at_s.is_some() {
            let mut objections: Vec<crate::coach::ObjectionRecord> = Vec::new();
            let mut next_step = None;
            for v in &j.verdicts {
                match v {
                    CoachVerdict::Objection(o) => match objections.iter_mut().find(|x| x.id == o.id) {
                        Some(x) => *x = o.clone(),
                        None => objections.push(o.clone()),
                    },
                    CoachVerdict::NextStep(n) => {
                        next_step.get_or_insert_with(|| n.clone());
                    }
                }
            }
            // An early card its final words withdrew was never an objection of the call.
            objections.retain(|o| o.status != crate::coach::ObjectionStatus::Withdrawn);
            objections.sort_by_key(|o| o.id);
            return Verdicts { objections, next_step, live: true };
        }
        let record = crate::coach::offline::judge_call(
            crate::coach::CoachConfig::default(),
            self.prep.clone(),
            builtin_library(),
            &j.utterances,
            &j.segments,
            j.duration_s(),
        );
        Verdicts { objections: record.objections, next_step: record.next_step, live: false }
    }
}

/// The verdicts a brief is built on (see [`CallRecord::verdicts`]).
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// Every raise, in order, with the judge's verdict.
    pub objections: Vec<crate::coach::ObjectionRecord>,
    pub next_step: Option<crate::coach::NextStepRecord>,
    /// True when read from the journal as the live coach reached them.
    pub live: bool,
}

/// The built-in objection library, compiled once per process.
fn builtin_library() -> std::sync::Arc<ObjectionLibrary> {
    static LIBRARY: std::sync::OnceLock<std::sync::Arc<ObjectionLibrary>> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(|| std::sync::Arc::new(ObjectionLibrary::builtin())).clone()
}

/// Reads a prep object as written in a journal, tolerating aliases and extra keys.
pub fn prep_from_json(value: &serde_json::Value) -> CallPrep {
    if let Ok(prep) = serde_json::from_value::<CallPrep>(value.clone()) {
        return prep;
    }
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| value.get(*k).and_then(|v| v.as_str()))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let list = |key: &str| -> Vec<String> {
        match value.get(key) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Some(serde_json::Value::String(s)) => s
                .split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    };
    CallPrep {
        account: text(&["account", "company"]),
        contact_name: text(&["contact_name", "contact", "prospect"]),
        contact_role: text(&["contact_role", "role"]),
        rep_name: text(&["rep_name", "rep"]),
        agenda: list("agenda"),
        competitors: list("competitors"),
        planned_minutes: ["planned_minutes", "minutes"]
            .iter()
            .find_map(|k| value.get(*k).and_then(|v| v.as_f64())),
    }
}

/// Thresholds of the brief's rules. The defaults follow METHOD.md and were tuned on
/// the labelled set (`tests/fixtures/calls/labelled`, see `eval`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BriefConfig {
    /// Rep share of talk that counts as too high (METHOD: above 65% loses deals).
    pub talk_ratio_high: f64,
    /// From this talk ratio on, talk alone is a root cause (above `talk_ratio_high` it needs company).
    pub talk_ratio_alone: f64,
    /// A rep monologue this long is a failure moment.
    pub monologue_long_s: f64,
    /// The agenda must be stated within this much call time.
    pub agenda_window_s: f64,
    /// Deferrals ("I'll check on that") from this count on point at a knowledge gap.
    pub deferrals_for_gap: usize,
    /// A prospect answer of at most this many words is "short".
    pub short_answer_words: usize,
    /// Window for talk-ratio spikes, seconds.
    pub spike_window_s: f64,
    /// Rep share within a window that is a spike.
    pub spike_ratio: f64,
    /// A call running this factor over its planned length has overrun.
    pub overrun_factor: f64,
    /// A stated budget below this (in dollars) is far too small for the product.
    pub icp_min_budget: f64,
    /// A team this small or smaller is outside the ideal customer profile.
    pub icp_max_team: u32,
    /// A category with at least this score is a root cause; a call with one is bad.
    pub min_root_cause_score: f64,
    /// Failure moments in a bad call's log.
    pub max_failure_moments: usize,
    /// Pattern rule: this many flagged calls with one root cause…
    pub pattern_min_calls: usize,
    /// …within this many days gives a coaching recommendation.
    pub pattern_window_days: i64,
}

impl Default for BriefConfig {
    fn default() -> Self {
        BriefConfig {
            talk_ratio_high: 0.65,
            talk_ratio_alone: 0.73,
            monologue_long_s: 60.0,
            agenda_window_s: 90.0,
            deferrals_for_gap: 2,
            short_answer_words: 3,
            spike_window_s: 120.0,
            spike_ratio: 0.85,
            overrun_factor: 1.15,
            icp_min_budget: 5_000.0,
            icp_max_team: 5,
            min_root_cause_score: 2.0,
            max_failure_moments: 5,
            pattern_min_calls: 3,
            pattern_window_days: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Good,
    Bad,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Good => "good",
            Outcome::Bad => "bad",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "good" => Some(Outcome::Good),
            "bad" => Some(Outcome::Bad),
            _ => None,
        }
    }
}

/// The six root causes of METHOD.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Preparation,
    Objection,
    Agenda,
    ProductKnowledge,
    TalkRatio,
    IcpFit,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Preparation,
        Category::Objection,
        Category::Agenda,
        Category::ProductKnowledge,
        Category::TalkRatio,
        Category::IcpFit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Preparation => "preparation",
            Category::Objection => "objection",
            Category::Agenda => "agenda",
            Category::ProductKnowledge => "product_knowledge",
            Category::TalkRatio => "talk_ratio",
            Category::IcpFit => "icp_fit",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What the category means, for people.
    pub fn label(self) -> &'static str {
        match self {
            Category::Preparation => "insufficient pre-call research",
            Category::Objection => "no prepared objection responses",
            Category::Agenda => "no agenda, no control of time",
            Category::ProductKnowledge => "product knowledge gaps",
            Category::TalkRatio => "rep talked too much",
            Category::IcpFit => "wrong ideal-customer targeting",
        }
    }

    /// The corrective action METHOD.md prescribes.
    pub fn corrective_action(self) -> &'static str {
        match self {
            Category::Preparation => {
                "do 15 minutes of pre-call research (role, company size, tech stack, recent news, known competition) before every call"
            }
            Category::Objection => "write responses to the common objections and review them before calls where they are likely",
            Category::Agenda => "state the agenda aloud in the first 90 seconds, get agreement, and close on a dated next step",
            Category::ProductKnowledge => "log every question not answered confidently and review the knowledge log weekly",
            Category::TalkRatio => "ask and wait: after every question, count to three silently before speaking",
            Category::IcpFit => "qualify budget, team size, pain and decision process before accepting the meeting",
        }
    }

    /// Tie-break order: the deeper cause first (an ICP mismatch or missing research
    /// explains the symptoms of the others).
    fn depth(self) -> u8 {
        match self {
            Category::IcpFit => 0,
            Category::Preparation => 1,
            Category::ProductKnowledge => 2,
            Category::Objection => 3,
            Category::TalkRatio => 4,
            Category::Agenda => 5,
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What flagged a failure moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagMetric {
    TalkRatioSpike,
    Monologue,
    UnresolvedObjection,
    EngagementDrop,
    RepeatedDeferral,
    ProspectCorrection,
    NoAgenda,
    VagueClose,
    DeferredQuestion,
    TimeOverrun,
    PreparationGap,
    IcpMismatch,
    DismissedConcern,
}

impl FlagMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagMetric::TalkRatioSpike => "talk_ratio_spike",
            FlagMetric::Monologue => "monologue",
            FlagMetric::UnresolvedObjection => "unresolved_objection",
            FlagMetric::EngagementDrop => "engagement_drop",
            FlagMetric::RepeatedDeferral => "repeated_deferral",
            FlagMetric::ProspectCorrection => "prospect_correction",
            FlagMetric::NoAgenda => "no_agenda",
            FlagMetric::VagueClose => "vague_close",
            FlagMetric::DeferredQuestion => "deferred_question",
            FlagMetric::TimeOverrun => "time_overrun",
            FlagMetric::PreparationGap => "preparation_gap",
            FlagMetric::IcpMismatch => "icp_mismatch",
            FlagMetric::DismissedConcern => "dismissed_concern",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One specific moment where the rep hurt the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureMoment {
    /// Call time, seconds.
    pub t_s: f64,
    /// What was said, as transcribed ("rep: …" / "prospect: …").
    pub excerpt: String,
    pub metric: FlagMetric,
    pub severity: Severity,
    pub root_cause: Category,
    /// Why this moment was flagged.
    pub detail: String,
}

/// A root cause with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    pub category: Category,
    pub evidence: Vec<String>,
    /// Weighted evidence; the primary cause has the highest.
    pub score: f64,
    pub corrective_action: String,
}

/// An objection the prospect raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectionRecord {
    #[serde(rename = "type")]
    pub kind: ObjectionType,
    pub t_s: f64,
    pub excerpt: String,
    pub handled: bool,
    /// How the rep answered, or why it counts as fumbled.
    pub assessment: String,
    /// The rep's reply, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Times the prospect raised the same type again later.
    pub repeats: usize,
    /// Why it counts as fumbled (the live judge's reason), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fumble: Option<crate::language::judge::FumbleReason>,
    /// The live coach's objection id (the `objection` prompts' evidence), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct NextStep {
    /// A concrete date, time or action agreed by both sides.
    pub secured: bool,
    /// The words that set it (or the vague close that did not).
    pub phrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Salvageability {
    High,
    Medium,
    Low,
    None,
}

impl Salvageability {
    pub fn as_str(self) -> &'static str {
        match self {
            Salvageability::High => "high",
            Salvageability::Medium => "medium",
            Salvageability::Low => "low",
            Salvageability::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    RecoveryEmail,
    FollowUpCall,
    LoopInStakeholder,
    Disqualify,
    None,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::RecoveryEmail,
        Action::FollowUpCall,
        Action::LoopInStakeholder,
        Action::Disqualify,
        Action::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::RecoveryEmail => "recovery_email",
            Action::FollowUpCall => "follow_up_call",
            Action::LoopInStakeholder => "loop_in_stakeholder",
            Action::Disqualify => "disqualify",
            Action::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The one highest-impact salvage action, per METHOD.md's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Salvage {
    pub salvageability: Salvageability,
    pub action: Action,
    /// The row of the salvage table that applied.
    pub scenario: String,
    pub reason: String,
    /// The specific gap the salvage addresses, in a phrase the email uses verbatim.
    pub gap: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// Three parts: acknowledgment, their words, two time options.
    Recovery,
    /// Disqualifying: brief, specific, non-pressuring, door left open.
    BreakUp,
    /// Eroded trust: talking points for a phone call, not an email.
    PhoneTalkingPoints,
    /// A good call: confirm what was agreed.
    Confirmation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryEmail {
    pub kind: EmailKind,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub word_count: usize,
    /// The concrete follow-up times offered (two), computed from the call date.
    pub time_options: Vec<String>,
}

/// Call-level figures. Talk time comes from the VAD utterances, never from text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BriefMetrics {
    pub duration_s: f64,
    pub talk_s_rep: f64,
    pub talk_s_prospect: f64,
    /// Rep share of all speech, 0–1.
    pub talk_ratio_rep: f64,
    pub longest_rep_monologue_s: f64,
    pub longest_prospect_stretch_s: f64,
    /// Questions the rep asked (judged from the wording, not only "?").
    pub rep_questions: usize,
    pub prospect_questions: usize,
    /// Average words per prospect answer, first and second half of the call.
    pub prospect_answer_words_first_half: f64,
    pub prospect_answer_words_second_half: f64,
    pub deferrals: usize,
    pub prospect_corrections: usize,
    pub agenda_stated: bool,
    /// Highest rep share within any spike window.
    pub peak_window_talk_ratio_rep: f64,
}

/// Who the call was with; from the prep, else the transcript, else placeholders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Names {
    pub rep: String,
    pub prospect: String,
    pub role: Option<String>,
    pub account: String,
    pub rep_company: Option<String>,
    /// Where each came from: "prep", "transcript" or "placeholder".
    pub rep_source: String,
    pub prospect_source: String,
    pub account_source: String,
}

pub const PLACEHOLDER_PROSPECT: &str = "[prospect name]";
pub const PLACEHOLDER_REP: &str = "[rep name]";
pub const PLACEHOLDER_ACCOUNT: &str = "[account]";

impl Names {
    pub fn prospect_first(&self) -> &str {
        first_name(&self.prospect)
    }

    pub fn rep_first(&self) -> &str {
        first_name(&self.rep)
    }

    pub fn account_known(&self) -> bool {
        self.account_source != "placeholder"
    }
}

fn first_name(full: &str) -> &str {
    if full.starts_with('[') {
        return full;
    }
    full.split_whitespace().next().unwrap_or(full)
}

/// What the account's prep file gains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PrepUpdate {
    pub date: String,
    pub objections_raised: Vec<String>,
    pub unanswered_questions: Vec<String>,
    pub engagement_pattern: String,
    pub gaps_to_prepare: Vec<String>,
    pub next_step: String,
}

/// A coaching recommendation from the 30-day pattern rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coaching {
    pub category: Category,
    /// Flagged calls with this root cause in the window, this call included.
    pub flagged_calls: usize,
    pub window_days: i64,
    pub recommendation: String,
}

/// The recovery brief for one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    pub schema: String,
    pub call_id: String,
    pub started_at: String,
    pub generated_at: String,
    pub names: Names,
    pub outcome: Outcome,
    /// One paragraph for the rep.
    pub summary: String,
    pub metrics: BriefMetrics,
    pub objections: Vec<ObjectionRecord>,
    pub next_step: NextStep,
    pub failure_moments: Vec<FailureMoment>,
    /// Primary first; empty for a good call.
    pub root_causes: Vec<RootCause>,
    pub salvage: Salvage,
    pub recovery_email: RecoveryEmail,
    pub crm_note: String,
    pub prep_update: PrepUpdate,
    pub coaching: Vec<Coaching>,
    /// Things the brief could not know (no transcript, call cut off…).
    pub caveats: Vec<String>,
    /// Which model's words the brief stands on, when a second pass ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_source: Option<TranscriptSource>,
}

impl Brief {
    pub fn primary_root_cause(&self) -> Option<Category> {
        self.root_causes.first().map(|r| r.category)
    }

    /// The history row this call becomes.
    pub fn to_past_call(&self) -> PastCall {
        PastCall {
            call_id: self.call_id.clone(),
            rep: self.names.rep.clone(),
            account: self.names.account.clone(),
            started_at: parse_time(&self.started_at)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| {
                    parse_time(&self.generated_at)
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
                }),
            outcome: self.outcome,
            talk_ratio_rep: self.metrics.talk_ratio_rep,
            duration_s: self.metrics.duration_s,
            root_causes: self.root_causes.iter().map(|r| r.category).collect(),
            salvage_action: Some(self.salvage.action),
            crm: CrmFields {
                contact: self.names.prospect.clone(),
                next_step: match (&self.next_step.when, &self.next_step.phrase) {
                    (Some(when), _) if self.next_step.secured => when.clone(),
                    (None, Some(phrase)) if self.next_step.secured => phrase.clone(),
                    _ if self.next_step.secured => "agreed".to_string(),
                    _ => "none secured".to_string(),
                },
                crm_note: self.crm_note.clone(),
            },
        }
    }
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).ok()
}

/// Builds the brief with the default thresholds. Pure: see [`build_with`].
pub fn build(record: &CallRecord, history: &[PastCall], now: DateTime<Utc>) -> Brief {
    build_with(record, history, now, &BriefConfig::default())
}

/// Builds the brief. `history` is the rep's past calls (any window; the pattern rule
/// picks the 30 days before this call); `now` stamps the brief and stands in for the
/// call date when the journal has none.
pub fn build_with(
    record: &CallRecord,
    history: &[PastCall],
    now: DateTime<Utc>,
    config: &BriefConfig,
) -> Brief {
    let call_time: DateTime<FixedOffset> =
        parse_time(&record.journal.started_at).unwrap_or_else(|| now.fixed_offset());
    let a = analysis::analyse(record, config);
    let names = analysis::names(record, &a.turns);
    let (outcome, root_causes) = analysis::classify(&a, config);
    let failure_moments = analysis::select_moments(&a, &root_causes, outcome, config);
    let has_relationship = history
        .iter()
        .any(|p| p.account == names.account && p.call_id != record.journal.call_id);
    let salvage = salvage::decide(outcome, &root_causes, &a, &names, has_relationship);
    let recovery_email = email::draft(
        &salvage,
        outcome,
        root_causes.first().map(|r| r.category),
        &a,
        &names,
        call_time,
    );
    let crm_note = salvage::crm_note(outcome, &root_causes, &a);
    let prep_update = prep_update::summarise(&a, &root_causes, &names, call_time);
    let coaching = coaching(
        &names.rep,
        &record.journal.call_id,
        outcome,
        &root_causes,
        history,
        call_time.with_timezone(&Utc),
        config,
    );
    let mut caveats = Vec::new();
    if record.journal.segments.is_empty() {
        caveats.push("no transcript: only talk-time rules could run".to_string());
    }
    if record.journal.truncated_tail || record.journal.ended_at_s.is_none() {
        caveats.push(
            "the call did not end cleanly (rebuilt from the journal); the close may be missing"
                .to_string(),
        );
    }
    if names.prospect_source == "placeholder" {
        caveats.push("prospect's name unknown: fill in [prospect name] before sending".to_string());
    }
    let transcript_source = crate::transcribe::second_pass::merged_transcript(&record.journal).map(|(_, source)| source);
    if let Some(reason) = transcript_source.as_ref().and_then(|s| s.fell_back_reason.clone()) {
        caveats.push(reason);
    }
    let summary = analysis::summary(outcome, &root_causes, &a, &names);
    Brief {
        schema: SCHEMA.to_string(),
        call_id: record.journal.call_id.clone(),
        started_at: if record.journal.started_at.is_empty() {
            call_time.to_rfc3339()
        } else {
            record.journal.started_at.clone()
        },
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        names,
        outcome,
        summary,
        metrics: a.metrics.clone(),
        objections: a.objections.clone(),
        next_step: a.next_step.clone(),
        failure_moments,
        root_causes,
        salvage,
        recovery_email,
        crm_note,
        prep_update,
        coaching,
        caveats,
        transcript_source,
    }
}

/// The pattern rule: a root cause in `pattern_min_calls`+ flagged (bad) calls of the
/// same rep within `pattern_window_days` before this call (this call included) gives a
/// coaching recommendation for that skill. Good calls never count.
pub fn coaching(
    rep: &str,
    call_id: &str,
    outcome: Outcome,
    root_causes: &[RootCause],
    history: &[PastCall],
    call_time: DateTime<Utc>,
    config: &BriefConfig,
) -> Vec<Coaching> {
    let since = call_time - chrono::Duration::days(config.pattern_window_days);
    let mut out = Vec::new();
    for category in Category::ALL {
        let past = history
            .iter()
            .filter(|p| p.rep == rep && p.call_id != call_id && p.outcome == Outcome::Bad)
            .filter(|p| p.started_at >= since && p.started_at <= call_time)
            .filter(|p| p.root_causes.contains(&category))
            .count();
        let this = usize::from(
            outcome == Outcome::Bad && root_causes.iter().any(|r| r.category == category),
        );
        let flagged = past + this;
        if this == 1 && flagged >= config.pattern_min_calls {
            out.push(Coaching {
                category,
                flagged_calls: flagged,
                window_days: config.pattern_window_days,
                recommendation: format!(
                    "{} of {rep}'s flagged calls in the last {} days trace back to {}: coach this skill — {}.",
                    flagged,
                    config.pattern_window_days,
                    category.label(),
                    category.corrective_action()
                ),
            });
        }
    }
    out
}

/// Where `from_journal` and `after_call` put things.
#[derive(Debug, Clone)]
pub struct BriefPaths {
    /// Each call's folder is created under this.
    pub briefs_dir: PathBuf,
    /// Account prep files (`<account-slug>.md`); `None` skips the prep update.
    pub prep_dir: Option<PathBuf>,
    /// The SQLite history; `None` runs without history (no pattern rule).
    pub history_db: Option<PathBuf>,
    /// The team's shared history (with `history_db` as its outbox); `None` keeps history local.
    pub team: Option<crate::history::TeamUrl>,
}

/// What the post-call stage left behind.
#[derive(Debug, Clone)]
pub struct BriefOutput {
    pub brief: Brief,
    /// The call's folder.
    pub folder: PathBuf,
    /// Files written in it.
    pub files: Vec<PathBuf>,
    /// The account prep file that gained a section, if any.
    pub prep_file: Option<PathBuf>,
}

/// `callcoach brief --from-journal FILE`: rebuilds a brief from a journal (crash
/// recovery) and writes everything `after_call` writes.
pub fn from_journal(
    path: &Path,
    prep_dir: Option<&Path>,
    briefs_dir: &Path,
    history_db: Option<&Path>,
) -> Result<BriefOutput, BriefError> {
    let journal = crate::journal::read(path)?;
    let record = CallRecord::from_journal(journal);
    let paths = BriefPaths {
        briefs_dir: briefs_dir.to_path_buf(),
        prep_dir: prep_dir.map(Path::to_path_buf),
        history_db: history_db.map(Path::to_path_buf),
        team: None,
    };
    after_call(&record, &paths, Utc::now())
}

/// The automatic call-end path: build the brief (with the rep's history), write the
/// call's folder under `briefs_dir`, append to the account's prep file, record the
/// call in history. Running it twice for one call (a crash-recovery rerun) replaces
/// the folder's files and history row and does not duplicate the prep section.
pub fn after_call(
    record: &CallRecord,
    paths: &BriefPaths,
    now: DateTime<Utc>,
) -> Result<BriefOutput, BriefError> {
    let mut store = match &paths.history_db {
        Some(db) => Some(SqliteHistory::open(db)?),
        None => None,
    };
    // The team store is tried once per call end, within its connect timeout.
    let mut team = match (&store, &paths.team) {
        (Some(_), Some(url)) => Some(crate::history::Team::reach(url)),
        _ => None,
    };
    // Names decide whose history to read: compute them the way `build` will.
    let turns = analysis::turns(&record.journal.segments);
    let names = analysis::names(record, &turns);
    let history = match &store {
        Some(s) => crate::history::read_history(s, team.as_ref(), Some(&names.rep), None)?,
        None => Vec::new(),
    };
    let brief = build(record, &history, now);
    let folder = paths.briefs_dir.join(writer::folder_name(&brief));
    let files = writer::write_folder(&brief, record, &folder)?;
    let prep_file = match &paths.prep_dir {
        Some(dir) if brief.names.account_known() => Some(prep_update::append(dir, &brief)?),
        _ => None,
    };
    if let Some(s) = store.as_mut() {
        crate::history::record_after_call(s, team.as_mut(), &brief.to_past_call())?;
    }
    Ok(BriefOutput {
        brief,
        folder,
        files,
        prep_file,
    })
}
