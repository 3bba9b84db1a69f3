//! Preparation: the prospect signals the rep should have known ("as I mentioned in
//! my email", "it's on our website", "we already told your colleague", "you should
//! know this") 1.5 each; the rep asks what research answers ("what does your company
//! do?", "how many employees?") 0.5 each; a demo of the wrong thing ("we don't have
//! stores", "I was hoping you would show…") 1.5.

use crate::brief::{Category, FlagMetric, Severity};
use crate::call::Speaker;
use crate::language::text::{self, Sentence};

use super::{clip, has, has_any, Analysis, Finding, PhraseList, LEXICON};

lexicon_table!(
    cues: PhraseList, own_material: PhraseList, basic_questions: PhraseList,
    wrong_demo: PhraseList, demo_openers: PhraseList
);

/// The preparation findings (see the module documentation).
pub(super) fn findings(a: &mut Analysis, sentences: &[Vec<Sentence>]) {
    let lex = &LEXICON.preparation;
    for (i, t) in a.turns.iter().enumerate() {
        let ss = &sentences[i];
        match t.speaker {
            Speaker::Rep => {
                for s in ss.iter().filter(|s| text::sentence_is_question(s)) {
                    if let Some(p) = has_any(&s.words, &lex.basic_questions) {
                        a.findings.push(Finding {
                            t_s: t.time_of(&s.original),
                            excerpt: format!("rep: {}", clip(&s.original, 160)),
                            metric: FlagMetric::PreparationGap,
                            severity: Severity::Medium,
                            category: Category::Preparation,
                            weight: 0.5,
                            detail: format!("asked what research would have answered (\"{p}\")"),
                        });
                    }
                }
            }
            Speaker::Prospect => {
                let prev_rep = i
                    .checked_sub(1)
                    .map(|p| &a.turns[p])
                    .filter(|p| p.speaker == Speaker::Rep);
                let rep_asked = prev_rep.is_some()
                    && sentences[i - 1]
                        .last()
                        .is_some_and(text::sentence_is_question);
                for s in ss {
                    let cue = has_any(&s.words, &lex.cues)
                        .or_else(|| has_any(&s.words, &lex.own_material).filter(|_| rep_asked));
                    if let Some(c) = cue {
                        a.prep_cues.push(s.original.clone());
                        a.findings.push(Finding {
                            t_s: t.time_of(&s.original),
                            excerpt: format!("prospect: {}", clip(&s.original, 160)),
                            metric: FlagMetric::PreparationGap,
                            severity: Severity::High,
                            category: Category::Preparation,
                            weight: 1.5,
                            detail: format!("the prospect expected the rep to know this (\"{c}\")"),
                        });
                    }
                }
                // A demo of the wrong thing: "we don't have X" / "I was hoping you would
                // show…" right after the rep showed something.
                let rep_demoed = prev_rep.is_some_and(|p| {
                    let w = text::words(&p.text);
                    has_any(&w, &lex.demo_openers)
                    .is_some()
                });
                let first = ss.first().map(|s| &s.words[..]).unwrap_or(&[]);
                let says_no_such = first.len() <= 8
                    && (has(first, "we do not have")
                        || (has(first, "we do not") && has(first, "anything")));
                let wrong = ss
                    .iter()
                    .find(|s| has_any(&s.words, &lex.wrong_demo).is_some())
                    .map(|s| s.original.clone());
                if let Some(w) =
                    wrong.or_else(|| (rep_demoed && says_no_such).then(|| ss[0].original.clone()))
                {
                    if !a.flags.wrong_demo {
                        a.flags.wrong_demo = true;
                        a.findings.push(Finding {
                            t_s: t.time_of(&w),
                            excerpt: format!("prospect: {}", clip(&w, 160)),
                            metric: FlagMetric::PreparationGap,
                            severity: Severity::High,
                            category: Category::Preparation,
                            weight: 1.5,
                            detail: "the rep demoed features the prospect does not need".into(),
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brief::analysis::{analyse, tests::record};
    use crate::brief::BriefConfig;
    use Speaker::{Prospect as P, Rep as R};

    #[test]
    fn preparation_cues_and_basic_questions() {
        let r = record(&[
            (R, "So what does your company do exactly?"),
            (P, "We run eleven clinics. It's on our website."),
            (R, "And how many employees do you have?"),
            (P, "As I mentioned in my email, about four thousand."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        let prep: f64 = a
            .findings
            .iter()
            .filter(|f| f.category == Category::Preparation)
            .map(|f| f.weight)
            .sum();
        assert!(prep >= 4.0, "{prep}: {:#?}", a.findings);
    }
}

