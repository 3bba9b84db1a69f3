//! The vocabulary every stage shares: who spoke, when, and what was said.
//!
//! Times are "call time": seconds since the call's audio started, on the
//! sample clock of the capture (or replay), never the wall clock.

use serde::{Deserialize, Serialize};

/// One side of the call. Capture channel 0 is the rep, channel 1 the prospect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Rep,
    Prospect,
}

impl Speaker {
    pub const BOTH: [Speaker; 2] = [Speaker::Rep, Speaker::Prospect];

    /// Index of this speaker's capture channel.
    pub fn channel(self) -> usize {
        match self {
            Speaker::Rep => 0,
            Speaker::Prospect => 1,
        }
    }

    pub fn from_channel(channel: usize) -> Speaker {
        if channel == 0 {
            Speaker::Rep
        } else {
            Speaker::Prospect
        }
    }

    pub fn other(self) -> Speaker {
        match self {
            Speaker::Rep => Speaker::Prospect,
            Speaker::Prospect => Speaker::Rep,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Rep => "rep",
            Speaker::Prospect => "prospect",
        }
    }
}

impl std::fmt::Display for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stretch of speech found by voice-activity detection on one channel.
/// Talk time comes from these, not from transcripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    pub speaker: Speaker,
    pub start_s: f64,
    pub end_s: f64,
}

impl Utterance {
    pub fn duration_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// Transcribed text for (part of) an utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub speaker: Speaker,
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// How sure the recogniser was of these words; `None` for text that did not
    /// come from it (scripts, old journals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// Whisper's probabilities of the text tokens it chose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    pub mean: f32,
    /// The least likely token: one garbled word shows here, not in the mean.
    pub min: f32,
}

impl Confidence {
    /// Below these the words are not quoted back to the prospect (brief email).
    /// Measured on two train calls replayed as audio (tc_04, td_16; 94 segments, 30
    /// of them more than 20% wrong): these thresholds keep 46 segments, 4 of them
    /// garbled; no threshold keeps 94 with 30 (README, "Quoting the prospect").
    pub const QUOTABLE_MEAN: f32 = 0.7;
    pub const QUOTABLE_MIN: f32 = 0.2;

    pub fn quotable(&self) -> bool {
        self.mean >= Self::QUOTABLE_MEAN && self.min >= Self::QUOTABLE_MIN
    }
}
