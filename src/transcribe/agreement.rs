//! The stable prefix of an utterance still being spoken: LocalAgreement-2
//! over its successive partial transcripts.
//!
//! Every partial re-transcribes the utterance from its start, and Whisper
//! revises the last few words as more audio arrives ("the price is to" →
//! "the price is too high"). The stable prefix is the longest common word
//! prefix of the last two hypotheses of the same utterance (the policy of
//! ufal/whisper_streaming's hypothesis buffer; here without word timestamps,
//! words aligned by position, as both hypotheses start at the utterance's
//! start). It only grows, with one exception ufal's buffer cannot meet:
//! since we re-transcribe from the start, two successive hypotheses may
//! agree on a different beginning than an earlier pair did (tiny.en hears
//! "Ah, this" in the first half second, then "Honestly, that's it" for the
//! rest of the sentence); the newer agreement replaces the older. A prefix
//! the newer pair agrees on only in part (a shorter common prefix) changes
//! nothing. The utterance's final transcript replaces them all.
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
    /// The stable prefix so far.
    stable: Vec<String>,
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
    /// partial, the agreed words as text, as this hypothesis wrote them) when
    /// it grew or was replaced; `None` when it did not change.
    pub fn on_partial(&mut self, partial: &Segment) -> Option<Segment> {
        let words: Vec<String> = partial.text.split_whitespace().map(str::to_string).collect();
        let slot = &mut self.speakers[partial.speaker.channel()];
        let same_utterance = slot.as_ref().is_some_and(|h| (h.start_s - partial.start_s).abs() < SAME_UTTERANCE_S);
        if !same_utterance {
            *slot = Some(Hypotheses { start_s: partial.start_s, latest: words, stable: Vec::new() });
            return None;
        }
        let hypotheses = slot.as_mut().expect("checked above");
        let agreed = hypotheses.latest.iter().zip(&words).take_while(|(a, b)| same_word(a, b)).count();
        let changed = agreed > 0 && !starts_with(&hypotheses.stable, &words[..agreed]);
        if changed {
            hypotheses.stable = words[..agreed].to_vec();
        }
        hypotheses.latest = words;
        changed.then(|| Segment {
            speaker: partial.speaker,
            start_s: partial.start_s,
            end_s: partial.end_s,
            text: hypotheses.stable.join(" "),
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
    fn a_newer_agreement_on_another_beginning_replaces_the_prefix() {
        let mut stable = StablePrefix::new();
        stable.on_partial(&partial(1.0, 1.5, "Ah, this thing."));
        assert_eq!(stable.on_partial(&partial(1.0, 1.8, "Ah, this sleep.")).unwrap().text, "Ah, this");
        // A pair agreeing on less of it changes nothing.
        assert_eq!(stable.on_partial(&partial(1.0, 2.0, "Ah, Nisli.")), None);
        assert_eq!(stable.on_partial(&partial(1.0, 2.3, "Honestly, that's it, we're...")), None);
        assert_eq!(stable.on_partial(&partial(1.0, 2.6, "Honestly, that's it way more.")).unwrap().text, "Honestly, that's it");
        assert_eq!(stable.on_partial(&partial(1.0, 2.9, "Honestly, that's it way more than we budget.")).unwrap().text, "Honestly, that's it way more");
    }

    #[test]
    fn speakers_and_utterances_keep_their_own_hypotheses() {
        let mut stable = StablePrefix::new();
        stable.on_partial(&partial(1.0, 2.0, "we already use"));
        assert_eq!(stable.on_partial(&partial(1.0, 2.5, "we already use another")).unwrap().text, "we already use");
        // The other speaker's partials are theirs.
        assert_eq!(stable.on_partial(&Segment { speaker: Speaker::Rep, ..partial(1.0, 2.0, "we already use") }), None);
        assert_eq!(stable.on_partial(&partial(1.0, 3.0, "we already use another tool")).unwrap().text, "we already use another");
        // A new utterance of the same speaker: nothing carries over.
        assert_eq!(stable.on_partial(&partial(6.0, 7.0, "we already use another")), None);
        stable.on_final(Speaker::Prospect, 6.0, 8.0);
        assert_eq!(stable.on_partial(&partial(6.0, 7.5, "we already use another")), None, "the final ended that utterance");
    }
}
