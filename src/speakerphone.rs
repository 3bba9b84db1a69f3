//! Scoring a speakerphone call against its clean truth: how much of the far
//! end ended up on the rep's side. Used by the speakerphone tests, by
//! `callcoach eval --mode audio --bleed-db DB` and by `benches/speakerphone.rs`,
//! so the three report the same figures. Pure functions, any thread.
//!
//! Three figures, each against the rendered call's truth lines:
//! - the **talk-ratio error**: the replay's rep talk share (from the
//!   segmenter's VAD) against the truth's, in percentage points;
//! - the **prospect-only share** of the rep's transcript time: the seconds of
//!   the rep's segments during which only the prospect was speaking, over
//!   all the seconds of the rep's segments (time, so it needs no words);
//! - the **far-end word share**: words of the rep's transcript that are the
//!   prospect's (see [`far_end_words`]), over all its words.

use std::collections::HashSet;

use crate::call::{Segment, Speaker};
use crate::synth::{RenderedCall, TruthLine};

/// The prospect-only share is measured on this grid (s).
const STEP_S: f64 = 0.01;

/// One replayed speakerphone call, scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerphoneScore {
    /// The rep's talk share in the clean truth and in the replay (0..1).
    pub talk_ratio_truth: f64,
    pub talk_ratio: f64,
    /// Seconds of the rep's segments, and of those the ones where only the prospect spoke.
    pub rep_transcript_s: f64,
    pub prospect_only_s: f64,
    /// Words in the rep's transcript, and of those the prospect's.
    pub rep_words: usize,
    pub far_end_words: usize,
}

impl SpeakerphoneScore {
    /// Scores a replay of `call` whose rep talk share was `talk_ratio` and
    /// whose final segments are `segments`.
    pub fn new(call: &RenderedCall, talk_ratio: f64, segments: &[Segment]) -> Self {
        let rep_segments: Vec<&Segment> = segments.iter().filter(|s| s.speaker == Speaker::Rep).collect();
        let rep_texts: Vec<&str> = rep_segments.iter().map(|s| s.text.as_str()).collect();
        SpeakerphoneScore {
            talk_ratio_truth: call.talk_ratio_rep(),
            talk_ratio,
            rep_transcript_s: rep_segments.iter().map(|s| (s.end_s - s.start_s).max(0.0)).sum(),
            prospect_only_s: rep_segments.iter().map(|s| prospect_only_s(&call.truth, s.start_s, s.end_s)).sum(),
            rep_words: rep_texts.iter().map(|t| words(t).len()).sum(),
            far_end_words: far_end_words(call, &rep_texts),
        }
    }

    pub fn talk_ratio_error_pts(&self) -> f64 {
        (self.talk_ratio - self.talk_ratio_truth).abs() * 100.0
    }

    /// Share (0..1) of the rep's transcript time where only the prospect spoke.
    pub fn prospect_only_share(&self) -> f64 {
        if self.rep_transcript_s > 0.0 {
            self.prospect_only_s / self.rep_transcript_s
        } else {
            0.0
        }
    }

    /// Share (0..1) of the rep's transcript words that are the prospect's.
    pub fn far_word_share(&self) -> f64 {
        if self.rep_words > 0 {
            self.far_end_words as f64 / self.rep_words as f64
        } else {
            0.0
        }
    }
}

/// Seconds within `from..to` where a prospect line and no rep line is under way.
pub fn prospect_only_s(truth: &[TruthLine], from: f64, to: f64) -> f64 {
    let speaking = |speaker: Speaker, t: f64| truth.iter().any(|l| l.speaker == speaker && l.start_s <= t && t < l.end_s);
    let steps = ((to - from) / STEP_S).round().max(0.0) as usize;
    let only = (0..steps)
        .map(|k| from + (k as f64 + 0.5) * STEP_S)
        .filter(|&t| speaking(Speaker::Prospect, t) && !speaking(Speaker::Rep, t))
        .count();
    only as f64 * STEP_S
}

fn words(text: &str) -> Vec<String> {
    crate::wer::normalise_words(text)
}

fn bigrams(text: &str) -> HashSet<(String, String)> {
    let w = words(text);
    w.windows(2).map(|p| (p[0].clone(), p[1].clone())).collect()
}

/// Words of the rep's transcript that are the prospect's: each word in a
/// pair of neighbours that the prospect said and the rep did not (echo
/// transcribed as the rep comes as phrases; a lone misheard rep word such as
/// "our" for "are" is not the far end), and segments of one word that only
/// the prospect said.
pub fn far_end_words(call: &RenderedCall, segment_texts: &[&str]) -> usize {
    let (rep_text, far_text) = (call.text_of(Speaker::Rep), call.text_of(Speaker::Prospect));
    let (rep_pairs, far_pairs) = (bigrams(&rep_text), bigrams(&far_text));
    let rep_vocabulary: HashSet<String> = words(&rep_text).into_iter().collect();
    let far_vocabulary: HashSet<String> = words(&far_text).into_iter().collect();
    let mut far = 0;
    for text in segment_texts {
        let w = words(text);
        if let [only] = w.as_slice() {
            far += (far_vocabulary.contains(only) && !rep_vocabulary.contains(only)) as usize;
            continue;
        }
        let mut marked = vec![false; w.len()];
        for i in 1..w.len() {
            let pair = (w[i - 1].clone(), w[i].clone());
            if far_pairs.contains(&pair) && !rep_pairs.contains(&pair) {
                marked[i - 1] = true;
                marked[i] = true;
            }
        }
        far += marked.iter().filter(|&&m| m).count();
    }
    far
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(speaker: Speaker, text: &str, start_s: f64, end_s: f64) -> TruthLine {
        TruthLine { speaker, text: text.into(), start_s, end_s, speech_s: end_s - start_s }
    }

    fn segment(speaker: Speaker, text: &str, start_s: f64, end_s: f64) -> Segment {
        Segment { speaker, start_s, end_s, text: text.into(), confidence: None }
    }

    /// A rep segment that runs over the prospect's line is charged for the
    /// prospect-only seconds, not for double-talk or the rep's own time, and
    /// the prospect's phrase in it counts as far-end words.
    #[test]
    fn scores_echo_in_the_reps_transcript_by_time_and_by_words() {
        let truth = vec![
            line(Speaker::Prospect, "our drivers waste hours every morning", 0.0, 4.0),
            line(Speaker::Rep, "how much does that cost you", 3.0, 6.0),
        ];
        let call = RenderedCall { rep: Vec::new(), prospect: Vec::new(), truth, samples: 0 };
        let segments = vec![
            segment(Speaker::Rep, "waste hours every", 1.0, 2.0),
            segment(Speaker::Rep, "how much does that cost you", 2.5, 6.0),
            segment(Speaker::Prospect, "our drivers waste hours every morning", 0.0, 4.0),
        ];
        let score = SpeakerphoneScore::new(&call, 0.5, &segments);
        assert!((score.rep_transcript_s - 4.5).abs() < 1e-9, "{score:?}");
        // 1.0..2.0 and 2.5..3.0 are the prospect's alone; 3.0..4.0 is double-talk.
        assert!((score.prospect_only_s - 1.5).abs() < 0.011, "{score:?}");
        assert_eq!((score.far_end_words, score.rep_words), (3, 9));
        assert!((score.talk_ratio_truth - call.talk_ratio_rep()).abs() < 1e-12);
    }
}
