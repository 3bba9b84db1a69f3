//! What the salvage and the email quote: the prospect's problem in their own words,
//! and a good open question the rep asked.

use crate::call::Speaker;
use crate::language::text::{self, Sentence};

use super::agenda::is_overrun;
use super::{clip, has, has_any, Analysis, PhraseList, LEXICON};

lexicon_table!(
    pain_stems: Vec<String>, discourse_openers: Vec<String>, open_question_words: PhraseList
);

/// The prospect's most specific sentence about their problem.
pub(super) fn pain_quote(a: &Analysis, sentences: &[Vec<Sentence>]) -> Option<String> {
    let mut best: Option<(f64, String)> = None;
    let objection_sentences: Vec<&str> = a.objections.iter().map(|o| o.excerpt.as_str()).collect();
    for (t, ss) in a.turns.iter().zip(sentences) {
        if t.speaker != Speaker::Prospect {
            continue;
        }
        for s in ss {
            let n = s.words.len();
            if !(5..=30).contains(&n) || text::sentence_is_question(s) {
                continue;
            }
            if objection_sentences
                .iter()
                .any(|o| o.starts_with(s.original.trim_end_matches('.')))
                || has_any(&s.words, &LEXICON.preparation.cues).is_some()
                || is_overrun(&s.words)
                || has_any(&s.words, &LEXICON.next_step.deal_end).is_some()
                || has_any(&s.words, &LEXICON.preparation.own_material).is_some()
                || has(&s.words, "case study")
                || text::is_correction(&s.original)
            {
                continue;
            }
            let stems: Vec<String> = s.words.iter().map(|w| text::stem(w)).collect();
            let pain = stems
                .iter()
                .filter(|st| LEXICON.quotes.pain_stems.iter().any(|p| st.starts_with(p)))
                .count() as f64;
            let numbers = s
                .words
                .iter()
                .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
                .count() as f64;
            let score = pain * 2.0 + numbers.min(2.0) + (n as f64 / 10.0).min(1.5);
            if pain > 0.0 && best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, s.original.clone()));
            }
        }
    }
    best.map(|b| clip(&strip_discourse(&b.1), 160))
}

/// "Sure, we're trying to…" -> "We're trying to…": a quote starts at its content.
fn strip_discourse(s: &str) -> String {
    let mut rest = s.trim();
    loop {
        let Some((head, tail)) = rest.split_once([',', ' ']) else {
            break;
        };
        if !LEXICON.quotes.discourse_openers.contains(&head.to_lowercase())
            || tail.trim().split_whitespace().count() < 5
        {
            break;
        }
        rest = tail.trim_start_matches([',', ' ']);
    }
    let mut c = rest.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A good open question the rep asked (or should ask again).
pub(super) fn open_question(a: &Analysis, sentences: &[Vec<Sentence>]) -> Option<String> {
    a.turns
        .iter()
        .zip(sentences)
        .filter(|(t, _)| t.speaker == Speaker::Rep)
        .flat_map(|(_, ss)| ss.iter())
        .filter(|s| text::sentence_is_question(s) && s.words.len() >= 5)
        .filter(|s| {
            s.words
                .first()
                .is_some_and(|w| LEXICON.quotes.open_question_words.contains(w))
        })
        .filter(|s| has_any(&s.words, &LEXICON.preparation.basic_questions).is_none())
        .map(|s| clip(&s.original, 120))
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_start_at_their_content() {
        assert_eq!(
            strip_discourse("Sure, we're trying to figure out why reps sell so little."),
            "We're trying to figure out why reps sell so little."
        );
        assert_eq!(
            strip_discourse("Honestly, but it's the dispatchers who burn out."),
            "It's the dispatchers who burn out."
        );
        assert_eq!(strip_discourse("Okay."), "Okay.");
    }
}

