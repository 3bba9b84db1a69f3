//! Product knowledge: deferrals ("I'll check on that") 1.0 each once there are
//! `deferrals_for_gap` of them (0.5 each below); the prospect correcting a claim the
//! rep just made 2.0 each; the prospect noticing the rep's answer changed 2.0 (1.0 to
//! objection while an objection is unresolved). A correction with an admission or
//! open distrust is a trust problem (`Flags::trust_caught`).

use crate::brief::{BriefConfig, Category, FlagMetric, Severity};
use crate::call::Speaker;
use crate::language::text::{self, Sentence};

use super::{clip, has_any, Analysis, Finding, PhraseList, LEXICON};

lexicon_table!(
    explicit_corrections: PhraseList, answer_changed: PhraseList, agreeing_citations: PhraseList,
    admissions: PhraseList, distrust: PhraseList
);

/// The product_knowledge findings (see the module documentation).
pub(super) fn findings(a: &mut Analysis, sentences: &[Vec<Sentence>], config: &BriefConfig) {
    let lex = &LEXICON.knowledge;
    let mut deferrals: Vec<(f64, String)> = Vec::new();
    for (i, t) in a.turns.iter().enumerate() {
        let prev = i
            .checked_sub(1)
            .map(|p| &a.turns[p])
            .filter(|p| p.speaker != t.speaker);
        match t.speaker {
            Speaker::Rep => {
                let ss = &sentences[i];
                if let Some(s) = ss.iter().find(|s| text::is_deferral(&s.original)) {
                    deferrals.push((t.time_of(&s.original), s.original.clone()));
                    if prev.is_some() {
                        let pss = &sentences[i - 1];
                        let q = pss
                            .iter()
                            .rev()
                            .find(|s| text::sentence_is_question(s))
                            .or(pss.last());
                        if let Some(q) = q {
                            a.unanswered_questions.push(q.original.clone());
                        }
                    }
                }
            }
            Speaker::Prospect => {
                if prev.is_none() {
                    continue;
                }
                let pss = &sentences[i - 1];
                // A claim is about the product or the facts, not the rep's own plan ("I'll
                // send the invite to this number": "actually, use the main one" corrects
                // no knowledge).
                let claim = pss
                    .iter()
                    .rev()
                    .find(|s| {
                        let plan = matches!(s.words.get(..2), Some([a, b]) if (a == "i" && b == "will") || (a == "let" && b == "me"));
                        !text::sentence_is_question(s) && s.words.len() >= 4 && !plan
                    });
                let rep_asked = pss.last().is_some_and(text::sentence_is_question);
                let ss = &sentences[i];
                // An inconsistent answer ("earlier you said ten thousand, now it's twelve").
                if let Some(s) = ss.iter().find(|s| {
                    has_any(&s.words, &lex.answer_changed).is_some() && has_any(&s.words, &lex.agreeing_citations).is_none()
                }) {
                    a.flags.inconsistent_answer = Some(s.original.clone());
                    let unresolved = a
                        .objections
                        .iter()
                        .any(|o| !o.handled && o.t_s <= t.start_s);
                    a.findings.push(Finding {
                        t_s: t.time_of(&s.original),
                        excerpt: format!("prospect: {}", clip(&s.original, 160)),
                        metric: FlagMetric::ProspectCorrection,
                        severity: Severity::High,
                        category: if unresolved {
                            Category::Objection
                        } else {
                            Category::ProductKnowledge
                        },
                        weight: if unresolved { 1.0 } else { 2.0 },
                        detail: "the rep's answer changed and the prospect noticed".into(),
                    });
                    continue;
                }
                // A correction of the claim: an explicit one ("that's not right", "your
                // documentation says…"), or the coach's correction form about the same thing.
                let claim_stems: Vec<String> = claim
                    .map(|c| text::content_stems(&c.original))
                    .unwrap_or_default();
                let corrected = ss.iter().position(|s| {
                    has_any(&s.words, &lex.explicit_corrections).is_some()
                        || has_any(&s.words, &LEXICON.preparation.own_material).is_some()
                        || (text::is_correction(&s.original)
                            && text::content_stems(&s.original)
                                .iter()
                                .any(|w| claim_stems.contains(w)))
                });
                if let (Some(k), Some(c)) = (corrected, claim.filter(|_| !rep_asked)) {
                    let s = &ss[k];
                    // "Actually, that's not right." says little alone: keep the reason after it.
                    let mut correction = s.original.clone();
                    if s.words.len() < 6 {
                        if let Some(next) = ss.get(k + 1) {
                            correction = format!("{correction} {}", next.original);
                        }
                    }
                    a.flags.trust_caught = true;
                    a.corrections.push((c.original.clone(), correction));
                    a.findings.push(Finding {
                        t_s: t.time_of(&s.original),
                        excerpt: format!(
                            "rep: {} / prospect: {}",
                            clip(&c.original, 80),
                            clip(&s.original, 100)
                        ),
                        metric: FlagMetric::ProspectCorrection,
                        severity: Severity::High,
                        category: Category::ProductKnowledge,
                        weight: 2.0,
                        detail: "the prospect corrected a claim the rep had just made".into(),
                    });
                }
            }
        }
    }
    a.metrics.deferrals = deferrals.len();
    a.metrics.prospect_corrections = a.corrections.len();
    let gap = deferrals.len() >= config.deferrals_for_gap;
    for (k, (t_s, s)) in deferrals.iter().enumerate() {
        a.findings.push(Finding {
            t_s: *t_s,
            excerpt: format!("rep: {}", clip(s, 160)),
            metric: FlagMetric::RepeatedDeferral,
            severity: if gap && deferrals.len() >= 3 {
                Severity::High
            } else {
                Severity::Medium
            },
            category: Category::ProductKnowledge,
            weight: if gap { 1.0 } else { 0.5 },
            detail: format!(
                "deferral {} of {}: the rep could not answer",
                k + 1,
                deferrals.len()
            ),
        });
    }
    // Admissions and open distrust make a caught error a trust problem.
    for (t, ss) in a.turns.iter().zip(sentences) {
        let list = if t.speaker == Speaker::Rep {
            &lex.admissions
        } else {
            &lex.distrust
        };
        if ss.iter().any(|s| has_any(&s.words, list).is_some()) && !a.corrections.is_empty() {
            a.flags.trust_caught = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brief::analysis::{analyse, tests::record};
    use Speaker::{Prospect as P, Rep as R};

    #[test]
    fn corrections_of_a_claim_are_caught_but_answers_to_questions_are_not() {
        let r = record(&[
            (R, "We integrate natively with SAP Business One, it works out of the box."),
            (P, "Actually, that's not right. Your own documentation says the connector is built by a partner."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert_eq!(a.corrections.len(), 1);
        assert!(a.flags.trust_caught);
        let r = record(&[
            (R, "What kind of data would you want?"),
            (
                P,
                "Your website says you have a certified connector. You should know this already.",
            ),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert!(a.corrections.is_empty());
        assert!(!a.prep_cues.is_empty());
    }
}

