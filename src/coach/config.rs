//! Thresholds of the coaching rules, with defaults from the method (`../shared/METHOD.md`).
//! Read from the `[coach]` table of the config; every key is optional.

use serde::{Deserialize, Serialize};

/// Every threshold the coach uses. Times are seconds of call time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoachConfig {
    /// Length of the recent window for the windowed talk ratio (s).
    pub talk_window_s: f64,
    /// Rep share of speech in the window above which the rep is talking too much
    /// (top performers talk ~43%; above 65% correlates with lost deals).
    pub talk_ratio_high: f64,
    /// The share must fall below this before a new talk-ratio episode can start
    /// (hysteresis, so a ratio hovering at the threshold does not flap).
    pub talk_ratio_rearm: f64,
    /// Speech (both sides) needed in the window before the ratio is judged (s).
    pub talk_ratio_min_speech_s: f64,
    /// Minimum time between two talk-ratio prompts (s).
    pub talk_ratio_cooldown_s: f64,
    /// While the ratio stays high, remind once per cooldown; when false, one prompt per episode.
    pub talk_ratio_remind: bool,
    /// A rep monologue longer than this raises a prompt (s).
    pub monologue_long_s: f64,
    /// A rep pause longer than this, with nobody else speaking, ends a monologue (s).
    pub monologue_max_pause_s: f64,
    /// Speech by the other side shorter than this is a backchannel ("mm-hm") and does not
    /// end a monologue; a stretch this long or longer does (s).
    pub backchannel_max_s: f64,
    /// Minimum time between two monologue prompts (s).
    pub monologue_cooldown_s: f64,
    /// Monologues (either side) at least this long are kept in the call record (s).
    pub monologue_record_min_s: f64,
    /// After asking, the rep should stay silent this long unless the prospect answers (s).
    pub ask_wait_s: f64,
    /// Minimum time between two ask-and-wait prompts (s).
    pub ask_wait_cooldown_s: f64,
    /// Words spoken after a question in the same breath that count as "did not wait".
    pub ask_wait_trailing_words: usize,
    /// A prospect answer of at most this many words is "short".
    pub engagement_short_words: usize,
    /// How many consecutive short answers signal disengagement.
    pub engagement_turns: usize,
    /// The answers before the short run must have averaged at least this many words,
    /// so a prospect who was terse from the start is not "dropping".
    pub engagement_baseline_words: f64,
    /// The prospect's share of speech must have fallen by at least this much (0..1)...
    pub engagement_share_drop: f64,
    /// ...or be below this share (0..1).
    pub engagement_share_floor: f64,
    /// Minimum time between two engagement-drop prompts (s).
    pub engagement_cooldown_s: f64,
    /// Off every agenda item for this long raises agenda drift (s).
    pub agenda_drift_s: f64,
    /// Minimum time between two agenda-drift prompts (s).
    pub agenda_drift_cooldown_s: f64,
    /// Planned length for calls whose prep gives none (minutes); 0 turns the
    /// no-next-step rule off for such calls.
    pub default_planned_minutes: f64,
    /// Warn when this little of the planned length is left and no next step is agreed (s).
    pub no_next_step_lead_s: f64,
    /// An objection with no reply from the rep for this long (the prospect silent too)
    /// is fumbled: the rep went quiet (s).
    pub objection_quiet_s: f64,
    /// The rep's reply to an objection is judged once the rep has been silent this long (s).
    pub objection_judge_pause_s: f64,
    /// A reply without a question needs at least this many words to count as substance.
    pub objection_min_response_words: usize,
    /// A proposed next step ("does Tuesday at 2 work?") waits this long for agreement (s).
    pub next_step_confirm_s: f64,
    /// Prompts emitted within this long are "active" in a snapshot for late joiners (s).
    pub active_prompt_s: f64,
    /// Voice intervals of one speaker closer than this are merged (s).
    pub voice_merge_gap_s: f64,
    /// Raise objection cards from the stable prefix of partial transcripts,
    /// before the utterance's final transcript (which then confirms or
    /// withdraws them); false waits for the final.
    pub early_objections: bool,
}

impl Default for CoachConfig {
    fn default() -> Self {
        CoachConfig {
            talk_window_s: 180.0,
            talk_ratio_high: 0.65,
            talk_ratio_rearm: 0.60,
            talk_ratio_min_speech_s: 45.0,
            talk_ratio_cooldown_s: 180.0,
            talk_ratio_remind: true,
            monologue_long_s: 90.0,
            monologue_max_pause_s: 4.0,
            backchannel_max_s: 1.5,
            monologue_cooldown_s: 60.0,
            monologue_record_min_s: 30.0,
            ask_wait_s: 3.0,
            ask_wait_cooldown_s: 45.0,
            ask_wait_trailing_words: 4,
            engagement_short_words: 3,
            engagement_turns: 3,
            engagement_baseline_words: 6.0,
            engagement_share_drop: 0.10,
            engagement_share_floor: 0.25,
            engagement_cooldown_s: 180.0,
            agenda_drift_s: 300.0,
            agenda_drift_cooldown_s: 300.0,
            default_planned_minutes: 30.0,
            no_next_step_lead_s: 600.0,
            objection_quiet_s: 8.0,
            objection_judge_pause_s: 4.0,
            objection_min_response_words: 10,
            next_step_confirm_s: 60.0,
            active_prompt_s: 90.0,
            voice_merge_gap_s: 0.05,
            early_objections: true,
        }
    }
}

/// A threshold out of range; names the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid value for `coach.{key}`: {problem}")]
pub struct CoachConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl CoachConfig {
    /// Checks that every threshold is in range.
    pub fn validate(&self) -> Result<(), CoachConfigError> {
        let err = |key: &'static str, problem: &str| {
            Err(CoachConfigError {
                key,
                problem: problem.to_string(),
            })
        };
        let positive: [(&'static str, f64); 17] = [
            ("talk_window_s", self.talk_window_s),
            ("talk_ratio_cooldown_s", self.talk_ratio_cooldown_s),
            ("monologue_long_s", self.monologue_long_s),
            ("monologue_max_pause_s", self.monologue_max_pause_s),
            ("backchannel_max_s", self.backchannel_max_s),
            ("monologue_record_min_s", self.monologue_record_min_s),
            ("ask_wait_s", self.ask_wait_s),
            ("engagement_cooldown_s", self.engagement_cooldown_s),
            ("agenda_drift_s", self.agenda_drift_s),
            ("agenda_drift_cooldown_s", self.agenda_drift_cooldown_s),
            ("no_next_step_lead_s", self.no_next_step_lead_s),
            ("objection_quiet_s", self.objection_quiet_s),
            ("objection_judge_pause_s", self.objection_judge_pause_s),
            ("next_step_confirm_s", self.next_step_confirm_s),
            ("active_prompt_s", self.active_prompt_s),
            ("monologue_cooldown_s", self.monologue_cooldown_s),
            ("ask_wait_cooldown_s", self.ask_wait_cooldown_s),
        ];
        for (key, v) in positive {
            if !v.is_finite() || v <= 0.0 {
                return err(key, "must be a positive number of seconds");
            }
        }
        for (key, v) in [
            ("talk_ratio_min_speech_s", self.talk_ratio_min_speech_s),
            ("default_planned_minutes", self.default_planned_minutes),
            ("voice_merge_gap_s", self.voice_merge_gap_s),
            ("engagement_baseline_words", self.engagement_baseline_words),
        ] {
            if !v.is_finite() || v < 0.0 {
                return err(key, "must be zero or more");
            }
        }
        for (key, v) in [
            ("talk_ratio_high", self.talk_ratio_high),
            ("talk_ratio_rearm", self.talk_ratio_rearm),
            ("engagement_share_drop", self.engagement_share_drop),
            ("engagement_share_floor", self.engagement_share_floor),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return err(key, "must be a share between 0 and 1");
            }
        }
        if self.talk_ratio_rearm > self.talk_ratio_high {
            return err("talk_ratio_rearm", "must not exceed talk_ratio_high");
        }
        if self.talk_ratio_min_speech_s > self.talk_window_s {
            return err("talk_ratio_min_speech_s", "must not exceed talk_window_s");
        }
        if self.engagement_turns == 0 {
            return err("engagement_turns", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_partial_toml_fills_in() {
        CoachConfig::default().validate().unwrap();
        let c: CoachConfig = toml::from_str("talk_ratio_high = 0.7").unwrap();
        assert_eq!(c.talk_ratio_high, 0.7);
        assert_eq!(c.monologue_long_s, 90.0);
        assert!(toml::from_str::<CoachConfig>("talk_ratio_hgh = 0.7")
            .unwrap_err()
            .to_string()
            .contains("talk_ratio_hgh"));
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let c = CoachConfig {
            talk_ratio_rearm: 0.8,
            ..CoachConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "talk_ratio_rearm");
        let c = CoachConfig {
            ask_wait_s: 0.0,
            ..CoachConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "ask_wait_s");
        let c = CoachConfig {
            talk_ratio_high: 1.5,
            ..CoachConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "talk_ratio_high");
    }
}
