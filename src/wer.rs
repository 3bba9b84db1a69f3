//! Word error rate: the tolerance metric accuracy tests and benchmarks report.
//!
//! Text is normalised first (lower case, punctuation dropped, digits kept) so
//! that "$40,000." and "40,000" or "Okay" and "okay," don't count as errors.

/// Lower-cases, drops punctuation (keeping apostrophes inside words), splits
/// on whitespace and hyphens ("cold-hearted" is "cold hearted": readers and
/// Whisper hyphenate differently) and spells out the titles Whisper
/// abbreviates ("Mr." is "mister"), as Whisper's own scoring normaliser does.
pub fn normalise_words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            let word = w
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
                .trim_matches('\'')
                .to_string();
            match word.as_str() {
                "mr" => "mister".to_string(),
                "mrs" => "missus".to_string(),
                "dr" => "doctor".to_string(),
                _ => word,
            }
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word-level Levenshtein distance between reference and hypothesis, divided
/// by the reference length. An empty reference gives 0 for an empty
/// hypothesis and 1 otherwise.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let reference = normalise_words(reference);
    let hypothesis = normalise_words(hypothesis);
    if reference.is_empty() {
        return if hypothesis.is_empty() { 0.0 } else { 1.0 };
    }
    edit_distance(&reference, &hypothesis) as f64 / reference.len() as f64
}

/// Minimum number of substitutions, insertions and deletions turning `a` into `b`.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, item_a) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, item_b) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(item_a != item_b);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_text_after_normalisation_is_zero() {
        assert_eq!(word_error_rate("Okay, that's $40,000.", "okay that's 40000"), 0.0);
        assert_eq!(word_error_rate("and mister Smith, cold hearted", "And Mr. Smith, cold-hearted."), 0.0);
    }

    #[test]
    fn counts_substitutions_insertions_and_deletions() {
        // substitution (boss -> mask) and deletion (the): 2 of 4
        let wer = word_error_rate("ask the boss today", "ask mask today");
        assert!((wer - 0.5).abs() < 1e-9, "{wer}");
        // insertion (really): 1 of 2
        let wer = word_error_rate("ask today", "ask really today");
        assert!((wer - 0.5).abs() < 1e-9, "{wer}");
    }

    #[test]
    fn empty_reference() {
        assert_eq!(word_error_rate("", ""), 0.0);
        assert_eq!(word_error_rate("", "hello"), 1.0);
    }
}
