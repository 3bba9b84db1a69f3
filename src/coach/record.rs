//! What the coach knows about a call: live metrics, the snapshot a late-joining overlay
//! gets, and the full record the post-call brief is built from. All serde, times in
//! call-time seconds.

use serde::{Deserialize, Serialize};

use crate::language::objections::ObjectionType;
use super::prompt::Prompt;
use crate::call::Speaker;

/// Live figures, sent to the overlay at least twice a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The call time these figures are for.
    pub t_s: f64,
    /// Rep speech so far (s).
    pub rep_talk_s: f64,
    /// Prospect speech so far (s).
    pub prospect_talk_s: f64,
    /// Rep share of all speech so far, 0..1 (0 before anyone spoke).
    pub talk_ratio_rep: f64,
    /// Length of the recent window (s).
    pub window_s: f64,
    /// Rep share of speech in the recent window, 0..1.
    pub window_talk_ratio_rep: f64,
    /// Speech (both sides) in the recent window (s).
    pub window_speech_s: f64,
    /// The rep's monologue in progress (s; 0 when none).
    pub current_rep_monologue_s: f64,
    /// The rep's longest monologue so far (s).
    pub longest_rep_monologue_s: f64,
    /// The prospect's longest stretch so far (s).
    pub longest_prospect_stretch_s: f64,
    /// Questions the rep asked (a line with several stacked questions counts once).
    pub rep_questions: usize,
    /// Of those, how many the rep waited after.
    pub rep_questions_waited: usize,
    /// Of those, how many the rep talked over within the wait time.
    pub rep_questions_not_waited: usize,
    /// Word counts of the prospect's last few answers, oldest first.
    pub recent_answer_words: Vec<usize>,
    /// Objections raised so far.
    pub objections_raised: usize,
    /// Objections handled.
    pub objections_handled: usize,
    /// Objections still waiting for the rep's reply to be judged.
    pub objections_open: usize,
    /// Agenda items covered / in the prep.
    pub agenda_covered: usize,
    pub agenda_total: usize,
    /// Whether a concrete next step has been agreed.
    pub next_step_secured: bool,
    /// Times the rep deferred an answer ("I'll check on that").
    pub deferrals: usize,
    /// Times the prospect corrected the rep.
    pub corrections: usize,
}

/// Where an objection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectionStatus {
    /// Raised; the rep's reply is not judged yet.
    Open,
    /// The rep acknowledged it and answered with substance or a question.
    Handled,
    /// Not handled; see the reason.
    Fumbled,
    /// Raised early from the partial words of an utterance still being
    /// spoken, and taken back when its final transcript no longer carried
    /// it: not an objection of the call (the brief leaves it out).
    Withdrawn,
}

pub use crate::language::judge::FumbleReason;

/// One objection the prospect raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectionRecord {
    /// Index within the call, from 0.
    pub id: usize,
    #[serde(rename = "type")]
    pub kind: ObjectionType,
    /// Call time when the objection's speech ended (s).
    pub t_s: f64,
    /// The prospect's words.
    pub excerpt: String,
    /// The library phrase (or competitor name) that matched.
    pub phrase: String,
    /// Match quality 0..1.
    pub score: f32,
    pub status: ObjectionStatus,
    /// True only when handled (false while open).
    pub handled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fumble: Option<FumbleReason>,
    /// The rep's reply, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    /// The library's prepared response shown to the rep.
    pub prepared_response: String,
    /// Call time when the reply was judged (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_resolved_s: Option<f64>,
    /// The judge's reason: how the rep answered, or why it counts as fumbled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<String>,
    /// Raised from the stable prefix of a partial transcript, before the
    /// utterance's final one (the prompt went out early).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub early: bool,
    /// Raised early and not yet confirmed by the final transcript: the
    /// excerpt is partial words. The final confirms it (this record again,
    /// with the final's words) or withdraws it (status `withdrawn`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

/// A verdict of the live coach, journaled as it is reached (`journal::Entry::Verdict`).
/// The brief reads these instead of judging again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum CoachVerdict {
    /// An objection raised (status open) or judged (handled / fumbled); the latest
    /// line for an `id` is its verdict.
    Objection(ObjectionRecord),
    /// The next step was secured.
    NextStep(NextStepRecord),
}

/// One question the rep asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRecord {
    /// Call time when the question's speech ended (s).
    pub t_s: f64,
    /// The question sentence(s).
    pub text: String,
    /// Whether the rep left room for the answer (None until known).
    pub waited: Option<bool>,
    /// Whether the prospect spoke before the rep did again (None until known).
    pub answered: Option<bool>,
}

/// The agreed next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextStepRecord {
    pub secured: bool,
    /// The sentence with the date/time and action.
    pub phrase: String,
    /// The time expression ("tuesday at 2").
    pub when: String,
    /// Call time when it was agreed (s).
    pub t_s: f64,
    /// Who stated the concrete step.
    pub speaker: Speaker,
}

/// Coverage of one prep agenda item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaItemStatus {
    pub item: String,
    pub covered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_t_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_t_s: Option<f64>,
}

/// One prospect answer (a turn after the rep spoke), for the engagement trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub start_s: f64,
    /// Call time when the answer ended (s).
    pub t_s: f64,
    pub words: usize,
    /// Whether it followed a rep question.
    pub after_question: bool,
}

/// A moment found in the text (a deferral, a correction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextMoment {
    /// Call time when the line ended (s).
    pub t_s: f64,
    pub speaker: Speaker,
    pub excerpt: String,
}

/// A long stretch of one speaker (a monologue for the rep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonologueRecord {
    pub speaker: Speaker,
    pub start_s: f64,
    pub end_s: f64,
}

impl MonologueRecord {
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// What a late-joining overlay needs to draw the current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoachSnapshot {
    pub metrics: Metrics,
    /// Prompts produced recently, oldest first.
    pub active_prompts: Vec<Prompt>,
    pub objections: Vec<ObjectionRecord>,
    pub next_step: Option<NextStepRecord>,
    pub agenda: Vec<AgendaItemStatus>,
}

/// Everything the coach observed, for the post-call brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoachRecord {
    pub metrics: Metrics,
    /// Every prompt produced, in order.
    pub prompts: Vec<Prompt>,
    pub objections: Vec<ObjectionRecord>,
    pub questions: Vec<QuestionRecord>,
    pub next_step: Option<NextStepRecord>,
    pub agenda: Vec<AgendaItemStatus>,
    /// The prospect's answers in order: the engagement trend.
    pub engagement: Vec<AnswerRecord>,
    /// The rep's "I'll check on that" moments.
    pub deferrals: Vec<TextMoment>,
    /// The prospect correcting the rep.
    pub corrections: Vec<TextMoment>,
    /// Stretches of either speaker of at least `monologue_record_min_s`.
    pub monologues: Vec<MonologueRecord>,
}
