//! Live prompts the coach pushes to the overlay: what kind, how urgent, what to do,
//! and the evidence, stamped with call time.

use serde::{Deserialize, Serialize};

use crate::language::objections::ObjectionType;

/// Which rule produced a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// The rep's share of speech over the recent window is too high.
    TalkRatioHigh,
    /// The rep has been talking without a real break for too long.
    MonologueLong,
    /// The rep asked a question and resumed within ~3 s, without the prospect answering.
    AskAndWait,
    /// The prospect raised an objection; the body holds the prepared response.
    ObjectionDetected,
    /// The rep moved on from an objection without handling it.
    ObjectionUnanswered,
    /// The prospect's answers shrank to a few words and their share of talk fell.
    EngagementDrop,
    /// The conversation has been off every prep agenda item for long.
    AgendaDrift,
    /// The call is near its planned end and no next step is agreed.
    NoNextStep,
    /// A concrete next step was agreed (positive).
    NextStepSecured,
    /// The rep acknowledged and answered an objection (positive).
    ObjectionHandled,
    /// An objection card raised early, from partial words, is taken back:
    /// the utterance's final transcript does not carry it. `revises` names
    /// the card; the overlay removes it.
    ObjectionWithdrawn,
}

impl PromptKind {
    /// Every kind, for per-kind tables.
    pub const ALL: [PromptKind; 11] = [
        PromptKind::TalkRatioHigh,
        PromptKind::MonologueLong,
        PromptKind::AskAndWait,
        PromptKind::ObjectionDetected,
        PromptKind::ObjectionUnanswered,
        PromptKind::EngagementDrop,
        PromptKind::AgendaDrift,
        PromptKind::NoNextStep,
        PromptKind::NextStepSecured,
        PromptKind::ObjectionHandled,
        PromptKind::ObjectionWithdrawn,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The severity this kind is shown with.
    pub fn severity(self) -> Severity {
        match self {
            PromptKind::TalkRatioHigh
            | PromptKind::MonologueLong
            | PromptKind::ObjectionDetected
            | PromptKind::EngagementDrop => Severity::Warn,
            PromptKind::AskAndWait | PromptKind::AgendaDrift | PromptKind::ObjectionWithdrawn => Severity::Info,
            PromptKind::ObjectionUnanswered | PromptKind::NoNextStep => Severity::Alert,
            PromptKind::NextStepSecured | PromptKind::ObjectionHandled => Severity::Positive,
        }
    }
}

/// How a prompt is shown: colour and urgency on the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Alert,
    Positive,
}

/// One live prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// Unique within the call, increasing.
    pub id: u64,
    pub kind: PromptKind,
    pub severity: Severity,
    /// Readable at a glance ("You're at 78% talk time").
    pub title: String,
    /// What to do now; for objections, the prepared response.
    pub body: String,
    /// Why: the words or figures that triggered it.
    pub evidence: String,
    /// Call time when the triggering speech ended (s).
    pub t_trigger_s: f64,
    /// Call time when the coach produced the prompt (s).
    pub t_emit_s: f64,
    /// The objection type, for objection prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection: Option<ObjectionType>,
    /// Which objection of the call (its `id` in the journal's verdicts and in
    /// `brief.json`), for objection prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection_id: Option<usize>,
    /// Raised from the stable prefix of a partial transcript, before the
    /// utterance ended or its final transcript arrived.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub early: bool,
    /// This prompt takes the place of the earlier prompt with this `id` (the
    /// final transcript confirming an early card, with its words as
    /// evidence; or `objection_withdrawn` taking it back): the overlay
    /// replaces that card instead of adding one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revises: Option<u64>,
}
