//! The close: the next step as the live judge secured it; without one, the call
//! ending without a dated next step 2.0 to agenda, with the vague close and the
//! buying signals the rep let pass as its moments. And whether the prospect closed
//! the door (`Flags::deal_end`).

use crate::brief::{Category, FlagMetric, NextStep, Severity, Verdicts};
use crate::call::Speaker;
use crate::language::text::{self, Sentence};

use super::{clip, has_any, Analysis, Finding, PhraseList, LEXICON};

lexicon_table!(vague_close: PhraseList, buying_signals: PhraseList, deal_end: PhraseList);

/// The coach's next-step reading, so the brief and the overlay agree.
fn find_next_step(line: &str) -> Option<text::NextStepMatch> {
    text::detect_next_step(line)
}

/// The next step as the live judge secured it; without one, the vague close and
/// the buying signals the rep let pass are the moments.
pub(super) fn from_verdicts(a: &mut Analysis, verdicts: &Verdicts) {
    let turns = &a.turns;
    let found = verdicts.next_step.as_ref().map(|n| NextStep {
        secured: true,
        phrase: Some(clip(&n.phrase, 160)),
        when: Some(n.when.clone()),
        t_s: Some(n.t_s),
    });
    a.next_step = match found {
        Some(n) => n,
        None => {
            // The vague close, searched from the end.
            let close = turns.iter().rev().take(4).find_map(|t| {
                text::sentences(&t.text)
                    .into_iter()
                    .find(|s| has_any(&s.words, &LEXICON.next_step.vague_close).is_some())
                    .map(|s| (t.time_of(&s.original), s.original, t.speaker))
            });
            a.vague_close = close.as_ref().map(|c| c.1.clone());
            let (t_s, excerpt) = match &close {
                Some((t, s, who)) => (*t, format!("{}: {}", who, clip(s, 160))),
                None => match turns.iter().rev().find(|t| t.speaker == Speaker::Rep) {
                    Some(t) => (t.start_s, format!("rep: {}", clip(&t.text, 160))),
                    None => (a.metrics.duration_s, "(no transcript)".into()),
                },
            };
            for (i, t) in turns
                .iter()
                .enumerate()
                .filter(|(_, t)| t.speaker == Speaker::Prospect)
            {
                let Some(s) = text::sentences(&t.text)
                    .into_iter()
                    .find(|s| has_any(&s.words, &LEXICON.next_step.buying_signals).is_some())
                else {
                    continue;
                };
                let asked = turns[i + 1..]
                    .iter()
                    .take_while(|n| n.speaker == Speaker::Rep)
                    .any(|n| find_next_step(&n.text).is_some());
                if !asked {
                    a.findings.push(Finding {
                        t_s: t.time_of(&s.original),
                        excerpt: format!("prospect: {}", clip(&s.original, 160)),
                        metric: FlagMetric::VagueClose,
                        severity: Severity::Medium,
                        category: Category::Agenda,
                        weight: 0.0,
                        detail: "a buying signal, and the rep did not ask for a dated next step"
                            .into(),
                    });
                }
            }
            if !turns.is_empty() {
                a.findings.push(Finding {
                    t_s,
                    excerpt,
                    metric: FlagMetric::VagueClose,
                    severity: Severity::High,
                    category: Category::Agenda,
                    weight: super::VAGUE_CLOSE_WEIGHT,
                    detail: "the call ended without a dated next step".into(),
                });
            }
            NextStep {
                secured: false,
                phrase: close.map(|c| clip(&c.1, 160)),
                when: None,
                t_s: None,
            }
        }
    };
}

/// The first time the prospect closed the door ("we signed with…").
pub(super) fn deal_end(a: &mut Analysis, sentences: &[Vec<Sentence>]) {
    for (t, ss) in a.turns.iter().zip(sentences) {
        if t.speaker == Speaker::Prospect {
            if let Some(s) = ss
                .iter()
                .find(|s| has_any(&s.words, &LEXICON.next_step.deal_end).is_some() && !text::sentence_is_question(s))
            {
                a.flags.deal_end.get_or_insert(s.original.clone());
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
    fn next_step_needs_agreement_on_a_date() {
        let yes = record(&[
            (R, "Could we meet again on Tuesday at two?"),
            (P, "Yes, Tuesday at two works."),
        ]);
        assert!(analyse(&yes, &BriefConfig::default()).next_step.secured);
        let vague = record(&[
            (R, "Great. I'll send you some info and we'll be in touch."),
            (P, "Sounds good."),
        ]);
        let a = analyse(&vague, &BriefConfig::default());
        assert!(!a.next_step.secured);
        assert!(a.vague_close.as_deref().unwrap().contains("in touch"));
        assert!(a
            .findings
            .iter()
            .any(|f| f.metric == FlagMetric::VagueClose && f.weight >= 2.0));
    }

    #[test]
    fn next_steps_whisper_writes_loosely_are_still_found() {
        let r = record(&[
            (R, "Could we book thirty minutes with your CFO? I could do Thursday at 11 or Friday at 9"),
            (P, "Thursday, 11, I will forward the invite."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert!(a.next_step.secured, "{:?}", a.next_step);
        let r = record(&[
            (R, "Great, I'll bring the numbers."),
            (P, "Okay, talk Thursday."),
        ]);
        assert!(analyse(&r, &BriefConfig::default()).next_step.secured);
        for no in [
            "We talked last Thursday.",
            "We meet every Tuesday.",
            "Thursday doesn't work for me.",
        ] {
            assert!(find_next_step(no).is_none(), "{no}");
            let r = record(&[(R, "Great."), (P, no)]);
            assert!(
                !analyse(&r, &BriefConfig::default()).next_step.secured,
                "{no}"
            );
        }
    }
}

