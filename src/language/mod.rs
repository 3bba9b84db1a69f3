//! Language understanding shared by the live coach and the post-call brief: one
//! judge, so the overlay and the brief can never disagree on the same words.
//!
//! ```text
//! text        normalisation (contractions, numbers as digits, fillers), sentences and
//!             clauses, stems, negation, questions, next steps, deferrals, corrections
//!             (their word lists: config/language.toml)
//! objections  the objection library (config/objections.toml) and its phrase matcher
//! stance      objections in context: cue classes (config/stance.toml), the rep turn
//!             answered, library hits -> a trained linear model (config/stance_model.json)
//! judge       whether the rep's reply to an objection engaged with it (handled) or not
//!             (fumbled), and why
//! ```
//!
//! Everything here is pure and synchronous: no I/O, no clocks, callable from any thread.
//! The live coach (`coach`) calls it as lines arrive and journals its verdicts; the brief
//! reads those verdicts and only adds what needs the whole call.

pub mod judge;
pub mod objections;
pub mod stance;
pub mod text;

/// Version of the judge whose verdicts a journal carries (`journal::Entry::Verdict`).
pub const JUDGE_VERSION: u32 = 1;
