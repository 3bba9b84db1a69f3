//! The live coach run over a finished call: the same judge, fed the journal's
//! utterances and segments in call-time order as the pipeline would have fed
//! them. Used when a journal carries no verdicts of its own (an older journal,
//! a call that crashed, a text-mode evaluation), so every verdict in a brief
//! comes from the one judge the overlay uses.
//!
//! Pure and synchronous; runs on the caller's thread.

use std::sync::Arc;

use super::{CallPrep, Coach, CoachConfig, CoachRecord, ObjectionLibrary};
use crate::call::{Segment, Utterance};

/// Seconds after an utterance ends that its text reaches the coach: about what
/// Whisper takes live, so replies are judged on the same timing.
const TEXT_DELAY_S: f64 = 0.5;
/// Tick interval of call time (s), as the pipeline's.
const TICK_S: f64 = 0.1;

enum Input<'a> {
    /// Speech on a channel from .0 to .1, reported as it happens.
    Voice(crate::call::Speaker, f64, f64),
    UtteranceEnd(&'a Utterance),
    Text(&'a Segment),
}

/// Voice is reported in pieces this long (s), as the pipeline reports it per chunk,
/// so a long reply counts as the rep speaking while it is still going on.
const VOICE_PIECE_S: f64 = 0.25;

/// Runs the coach over a call and returns its final record.
pub fn judge_call(
    config: CoachConfig,
    prep: CallPrep,
    library: Arc<ObjectionLibrary>,
    utterances: &[Utterance],
    segments: &[Segment],
    end_s: f64,
) -> CoachRecord {
    let mut coach = Coach::new(config, prep, library);
    let mut inputs: Vec<(f64, Input)> = Vec::new();
    for u in utterances {
        let mut from = u.start_s;
        while from < u.end_s {
            let to = (from + VOICE_PIECE_S).min(u.end_s);
            inputs.push((to, Input::Voice(u.speaker, from, to)));
            from = to;
        }
        inputs.push((u.end_s, Input::UtteranceEnd(u)));
    }
    inputs.extend(segments.iter().map(|s| (s.end_s + TEXT_DELAY_S, Input::Text(s))));
    inputs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut now = 0.0_f64;
    for (t, input) in &inputs {
        while now + TICK_S < *t {
            now += TICK_S;
            coach.tick(now);
        }
        match input {
            Input::Voice(speaker, from, to) => coach.on_voice(*speaker, *from, *to),
            Input::UtteranceEnd(u) => coach.on_utterance_end(u),
            Input::Text(s) => {
                coach.tick(*t);
                coach.on_segment(s);
            }
        }
        coach.tick(*t);
        now = now.max(*t);
    }
    let end = end_s.max(now);
    while now + TICK_S < end {
        now += TICK_S;
        coach.tick(now);
    }
    coach.finish(end);
    coach.record()
}
