//! Agenda: no agenda stated in the first `agenda_window_s` (90 s) 1.0; a prospect
//! question put off ("we'll get to that later") 1.5 each; running out of time 1.0
//! (said by the prospect, or the call overrunning its planned length).

use crate::brief::{BriefConfig, CallRecord, Category, FlagMetric, Severity};
use crate::call::Speaker;
use crate::language::text::{self, Sentence};

use super::{clip, clock, has, has_any, Analysis, Finding, PhraseList, LEXICON};

lexicon_table!(
    openers: PhraseList, structure: PhraseList, question_deferrals: PhraseList,
    overrun: PhraseList, not_overrun: PhraseList
);

/// The agenda findings (see the module documentation).
pub(super) fn findings(
    a: &mut Analysis,
    record: &CallRecord,
    sentences: &[Vec<Sentence>],
    config: &BriefConfig,
) {
    let lex = &LEXICON.agenda;
    let mut stated = false;
    let mut early_rep_stems: Vec<String> = Vec::new();
    for (t, ss) in a.turns.iter().zip(sentences) {
        if t.speaker != Speaker::Rep || t.start_s > config.agenda_window_s {
            continue;
        }
        for s in ss {
            early_rep_stems.extend(
                s.words
                    .iter()
                    .filter(|w| !text::is_stopword(w))
                    .map(|w| text::stem(w)),
            );
            let structured = s.clause_starts.len() >= 2
                || lex.structure.iter().filter(|p| has(&s.words, p)).count() >= 2;
            if has_any(&s.words, &lex.openers).is_some() && structured {
                stated = true;
            }
        }
    }
    // Or the prep's agenda items, two or more of them named early.
    let named = record
        .prep
        .agenda
        .iter()
        .filter(|item| {
            let stems = text::content_stems(item);
            !stems.is_empty()
                && stems
                    .iter()
                    .any(|s| early_rep_stems.contains(s) && s.len() > 3)
        })
        .count();
    if named >= 2 {
        stated = true;
    }
    a.metrics.agenda_stated = stated;
    if !stated && !a.turns.is_empty() {
        let first = a.turns.iter().find(|t| t.speaker == Speaker::Rep);
        a.findings.push(Finding {
            t_s: first.map(|t| t.start_s).unwrap_or(0.0),
            excerpt: first
                .map(|t| format!("rep: {}", clip(&t.text, 160)))
                .unwrap_or_default(),
            metric: FlagMetric::NoAgenda,
            severity: Severity::Medium,
            category: Category::Agenda,
            weight: 1.0,
            detail: format!(
                "no agenda stated in the first {} seconds",
                config.agenda_window_s as u64
            ),
        });
    }
    // Prospect questions pushed aside, and the clock running out.
    for (i, t) in a.turns.iter().enumerate() {
        if t.speaker != Speaker::Prospect {
            continue;
        }
        let ss = &sentences[i];
        let question = ss
            .iter()
            .rev()
            .find(|s| text::sentence_is_question(s) || has(&s.words, "can i ask"));
        if let Some(q) = question {
            if let Some(next) = a.turns.get(i + 1).filter(|n| n.speaker == Speaker::Rep) {
                let rw = text::words(&next.text);
                let head = &rw[..rw.len().min(16)];
                if let Some(p) = has_any(head, &lex.question_deferrals) {
                    a.deferred_questions.push(q.original.clone());
                    a.findings.push(Finding {
                        t_s: next.start_s,
                        excerpt: format!(
                            "prospect: {} / rep: {}",
                            clip(&q.original, 80),
                            clip(&next.text, 80)
                        ),
                        metric: FlagMetric::DeferredQuestion,
                        severity: Severity::Medium,
                        category: Category::Agenda,
                        weight: 1.5,
                        detail: format!("the prospect's question was put off (\"{p}\")"),
                    });
                }
            }
        }
        if let Some(s) = ss.iter().find(|s| is_overrun(&s.words)) {
            if !a.flags.overrun {
                a.flags.overrun = true;
                a.findings.push(Finding {
                    t_s: t.time_of(&s.original),
                    excerpt: format!("prospect: {}", clip(&s.original, 160)),
                    metric: FlagMetric::TimeOverrun,
                    severity: Severity::Medium,
                    category: Category::Agenda,
                    weight: 1.0,
                    detail: "the prospect ran out of time before the call reached a close".into(),
                });
            }
        }
    }
    if let Some(planned) = record.prep.planned_minutes {
        let planned_s = planned * 60.0;
        if !a.flags.overrun && a.metrics.duration_s > planned_s * config.overrun_factor {
            a.flags.overrun = true;
            a.findings.push(Finding {
                t_s: planned_s,
                excerpt: format!(
                    "call ran {} against {} planned",
                    clock(a.metrics.duration_s),
                    clock(planned_s)
                ),
                metric: FlagMetric::TimeOverrun,
                severity: Severity::Medium,
                category: Category::Agenda,
                weight: 1.0,
                detail: "the call overran its planned length".into(),
            });
        }
    }
}

/// "I have to run it by…" is not running out of time.
pub(super) fn is_overrun(words: &[String]) -> bool {
    has_any(words, &LEXICON.agenda.overrun).is_some()
        && has_any(words, &LEXICON.agenda.not_overrun)
        .is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brief::analysis::{analyse, tests::record};
    use crate::brief::BriefConfig;
    use Speaker::{Prospect as P, Rep as R};

    #[test]
    fn agenda_statement_is_recognised_in_the_first_ninety_seconds() {
        let r = record(&[(R, "Hi Dana. Here is what I'd like to cover: how you plan today, one feature, then next steps. Does that work?"), (P, "Sure.")]);
        assert!(analyse(&r, &BriefConfig::default()).metrics.agenda_stated);
        let r = record(&[
            (
                R,
                "Hi Dana. Let me just share my screen. This is the dashboard.",
            ),
            (P, "Okay."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert!(!a.metrics.agenda_stated);
        assert!(a.findings.iter().any(|f| f.metric == FlagMetric::NoAgenda));
    }

    #[test]
    fn deferred_prospect_questions_are_agenda_findings() {
        let r = record(&[
            (P, "Does it handle onboarding for seasonal hires?"),
            (R, "We'll get to that later. Let me show you payroll."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert_eq!(a.deferred_questions.len(), 1);
    }

    #[test]
    fn running_it_by_someone_is_not_running_out_of_time() {
        assert!(!is_overrun(&text::words("I'd have to run it by our VP.")));
        assert!(is_overrun(&text::words(
            "Sorry, I'm out of time, I have another meeting."
        )));
    }
}

