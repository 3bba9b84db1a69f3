//! The stable prefix of an utterance still being spoken: LocalAgreement-2
//! over its successive partial transcripts.
//!
//! Every partial re-transcribes the utterance from its start, and Whisper
//! revises the last few words as more audio arrives ("the price is to" →
//! "the price is too high"). A word is *committed* once two successive
//! hypotheses of the same utterance agree on it and on everything before it
//! (the policy of ufal/whisper_streaming's hypothesis buffer, here without
//! word timestamps: our hypotheses all start at the utterance's start, so
//! words are aligned by position). Committed words are never taken back,
//! as there; the utterance's final transcript is what replaces them.
//!
//! Thread: the pipeline thread (pure state, no I/O).

use crate::call::{Segment, Speaker};

/// Partials of one utterance share its start; anything further apart is another utterance.
const SAME_UTTERANCE_S: f64 = 0.01;

/// One speaker's utterance in progress.
#[derive(Debug, Clone, Default)]
struct Hypotheses {
    start_s: f64,
    /// The latest hypothesis, word by word as Whisper wrote them.
    latest: Vec<String>,
    /// The leading words committed so far, as first agreed.
    committed: Vec<String>,
}

/// LocalAgreement-2 per speaker (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct StablePrefix {
    speakers: [Option<Hypotheses>; 2],
}

impl StablePrefix {
    pub fn new() -> StablePrefix {
        StablePrefix::default()
    }

    /// Takes the next partial transcript of `partial.speaker`'s open utterance
    /// and returns the utterance's stable prefix (same start and end as the
    /// partial, committed words as text) when this hypothesis committed more
    /// words; `None` when nothing new became stable.
    pub fn on_partial(&mut self, partial: &Segment) -> Option<Segment> {
        let words: Vec<String> = partial.text.split_whitespace().map(str::to_string).collect();
        let slot = &mut self.speakers[partial.speaker.channel()];
        let same_utterance = slot.as_ref().is_some_and(|h| (h.start_s - partial.start_s).abs() < SAME_UTTERANCE_S);
        if !same_utterance {
            *slot = Some(Hypotheses { start_s: partial.start_s, latest: words, ..Default::default() });
            return None;
        }
        let hypotheses = slot.as_mut().expect("checked above");
        let before = hypotheses.committed.len();
        // Both hypotheses must still carry the committed words for their next
        // words to line up; a hypothesis that rewrote them commits nothing.
        let agreed = if starts_with(&hypotheses.latest, &hypotheses.committed) && starts_with(&words, &hypotheses.committed) {
            before + hypotheses.latest[before..].iter().zip(&words[before..]).take_while(|(a, b)| same_word(a, b)).count()
        } else {
            before
        };
        hypotheses.committed.extend_from_slice(&words[before..agreed]);
        hypotheses.latest = words;
        (agreed > before).then(|| Segment {
            speaker: partial.speaker,
            start_s: partial.start_s,
            end_s: partial.end_s,
            text: hypotheses.committed.join(" "),
            confidence: None,
        })
    }

    /// The speaker's final transcript covering `start_s..end_s` arrived: an
    /// utterance in progress that it covers is over.
    pub fn on_final(&mut self, speaker: Speaker, start_s: f64, end_s: f64) {
        let slot = &mut self.speakers[speaker.channel()];
        if slot.as_ref().is_some_and(|h| h.start_s >= start_s - SAME_UTTERANCE_S && h.start_s < end_s) {
            *slot = None;
        }
    }
}

fn starts_with(words: &[String], prefix: &[String]) -> bool {
    words.len() >= prefix.len() && words.iter().zip(prefix).all(|(a, b)| same_word(a, b))
}

/// Words compared as spoken: case and punctuation aside ("High." = "high").
fn same_word(a: &str, b: &str) -> bool {
    let letters = |w: &str| w.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    letters(a) == letters(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(start_s: f64, end_s: f64, text: &str) -> Segment {
        Segment { speaker: Speaker::Prospect, start_s, end_s, text: text.into(), confidence: None }
    }

    #[test]
    fn commits_the_words_two_successive_hypotheses_agree_on() {
        let mut stable = StablePrefix::new();
        assert_eq!(stable.on_partial(&partial(1.0, 2.0, "Honestly the")), None, "one hypothesis commits nothing");
        let s = stable.on_partial(&partial(1.0, 2.5, "Honestly, the price is to")).unwrap();
        assert_eq!((s.text.as_str(), s.end_s), ("Honestly, the", 2.5));
        assert_eq!(stable.on_partial(&partial(1.0, 3.0, "Honestly, the price is too high")).unwrap().text, "Honestly, the price is");
        assert_eq!(stable.on_partial(&partial(1.0, 3.5, "Honestly, the price is too much")).unwrap().text, "Honestly, the price is too");
        // Agreement on nothing new: no new prefix.
        assert_eq!(stable.on_partial(&partial(1.0, 3.8, "Honestly, the price is too high for us")), None);
        assert_eq!(stable.on_partial(&partial(1.0, 4.0, "Honestly, the price is too high for us.")).unwrap().text, "Honestly, the price is too high for us.");
    }

    #[test]
    fn committed_words_are_never_taken_back_and_a_new_utterance_starts_afresh() {
        let mut stable = StablePrefix::new();
        stable.on_partial(&partial(1.0, 2.0, "we already use"));
        assert_eq!(stable.on_partial(&partial(1.0, 2.5, "we already use another")).unwrap().text, "we already use");
        // Whisper rewrites a committed word: the commit stands, and nothing
        // new commits until two hypotheses carry it again.
        assert_eq!(stable.on_partial(&partial(1.0, 3.0, "we all ready use another tool")), None);
        assert_eq!(stable.on_partial(&partial(1.0, 3.5, "we already use another tool")), None);
        assert_eq!(stable.on_partial(&partial(1.0, 4.0, "We already use another tool.")).unwrap().text, "we already use another tool.");
        // The other speaker's partials are theirs.
        assert_eq!(stable.on_partial(&Segment { speaker: Speaker::Rep, ..partial(1.0, 2.0, "we already use") }), None);
        // A new utterance of the same speaker: nothing carries over.
        assert_eq!(stable.on_partial(&partial(6.0, 7.0, "we already use another")), None);
        stable.on_final(Speaker::Prospect, 6.0, 8.0);
        assert_eq!(stable.on_partial(&partial(6.0, 7.5, "we already use another")), None, "the final ended that utterance");
    }
}
