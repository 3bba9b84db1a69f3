//! Objection: an objection left unhandled 1.5–3.0 by how sure the judge was that it is
//! one (+1.0 when the prospect had to repeat it); the rep dismissing a concern 2.0. The objections themselves, and whether
//! each was handled, are the live judge's.

use crate::brief::{CallRecord, Category, FlagMetric, ObjectionRecord, Severity, Verdicts};
use crate::call::Speaker;
use crate::language::judge::FumbleReason;
use crate::language::objections::ObjectionType;
use crate::language::text::{self, Sentence};

use super::{clip, has_any, Analysis, Finding, PhraseList, LEXICON};

lexicon_table!(
    dismissals: PhraseList, role_words: PhraseList, decision_maker_markers: Vec<String>
);

/// The objections as the live judge saw them (`CallRecord::verdicts`): the brief
/// never judges a reply itself, so it cannot disagree with the overlay. A chain of
/// raises of one type that the judge saw repeated becomes one objection with
/// `repeats`; each repeat is a failure moment of its own.
pub(super) fn from_verdicts(a: &mut Analysis, record: &CallRecord, verdicts: &Verdicts) {
    let prep = &record.prep;
    let raised = &verdicts.objections;
    let mut used = vec![false; raised.len()];
    for (n, first) in raised.iter().enumerate() {
        if used[n] {
            continue;
        }
        used[n] = true;
        // Follow the chain: a raise judged `repeated` continues in the next raise of its type.
        let mut chain = vec![n];
        let mut last = n;
        while raised[last].fumble == Some(FumbleReason::Repeated) {
            match (last + 1..raised.len()).find(|&m| !used[m] && raised[m].kind == first.kind) {
                Some(m) => {
                    used[m] = true;
                    chain.push(m);
                    last = m;
                }
                None => break,
            }
        }
        let repeats = chain.len() - 1;
        let final_verdict = &raised[last];
        let handled = final_verdict.handled && repeats == 0;
        let assessment = if repeats > 0 {
            format!(
                "not resolved: the prospect had to raise it again ({} more time{})",
                repeats,
                if repeats == 1 { "" } else { "s" }
            )
        } else {
            final_verdict.assessment.clone().unwrap_or_else(|| "not judged".into())
        };
        if first.kind == ObjectionType::Competitor && a.competitor.is_none() {
            a.competitor = prep
                .competitors
                .iter()
                .find(|c| first.excerpt.to_lowercase().contains(&c.to_lowercase()))
                .cloned()
                .or_else(|| Some(first.phrase.clone()).filter(|p| p.chars().next().is_some_and(char::is_uppercase)));
        }
        if first.kind == ObjectionType::Authority && a.decision_maker.is_none() {
            a.decision_maker = decision_maker(&first.excerpt);
        }
        let reply = first.response_excerpt.clone();
        if !handled {
            a.findings.push(Finding {
                t_s: first.t_s,
                excerpt: format!("prospect: {}", clip(&first.excerpt, 160)),
                metric: FlagMetric::UnresolvedObjection,
                severity: Severity::High,
                category: Category::Objection,
                weight: unhandled_weight(first.score) + if repeats > 0 { 1.0 } else { 0.0 },
                detail: format!("{} objection {}", first.kind, assessment),
            });
            for &m in &chain[1..] {
                a.findings.push(Finding {
                    t_s: raised[m].t_s,
                    excerpt: format!("prospect: {}", clip(&raised[m].excerpt, 160)),
                    metric: FlagMetric::UnresolvedObjection,
                    severity: Severity::Medium,
                    category: Category::Objection,
                    weight: 0.0,
                    detail: format!("the prospect had to raise the {} objection again", first.kind),
                });
            }
        }
        a.objections.push(ObjectionRecord {
            kind: first.kind,
            t_s: first.t_s,
            excerpt: clip(&first.excerpt, 200),
            handled,
            assessment,
            reply: reply.map(|r| clip(&r, 200)),
            repeats,
            fumble: if handled { None } else { final_verdict.fumble.or(Some(FumbleReason::Repeated)) },
            id: Some(first.id),
        });
    }
}

/// What one unhandled objection weighs: 3.0 when the judge was sure the prospect
/// objected, down to 1.5 for a reading just over the model's threshold. One
/// borderline reading left unanswered is not enough to call a call bad (the rep may
/// rightly have heard no objection in it); two are, and so is one the prospect had
/// to repeat. (Leave-one-author-out on train: most good calls judged bad had one
/// fumbled objection the model had barely read as one.)
fn unhandled_weight(detection_score: f32) -> f64 {
    const SURE: f64 = 0.7;
    let threshold = crate::language::stance::StanceModel::builtin().threshold as f64;
    let confidence = ((detection_score as f64 - threshold) / (SURE - threshold).max(1e-6)).clamp(0.0, 1.0);
    1.5 + 1.5 * confidence
}

/// "I'd have to run it by our VP of Operations" -> "our VP of Operations".
fn decision_maker(sentence: &str) -> Option<String> {
    let lex = &LEXICON.objections;
    let lower = sentence.to_lowercase();
    for marker in &lex.decision_maker_markers {
        let marker = format!("{marker} ");
        if let Some(at) = lower.find(&marker) {
            let rest = &sentence[at + marker.len()..];
            let phrase: String = rest
                .chars()
                .take_while(|c| !matches!(c, '.' | ',' | ';' | '!' | '?'))
                .collect();
            let phrase = phrase.trim();
            // Only a phrase that names a role: a garbled transcript ("our meeting of
            // operations") is better left as "the decision maker".
            let names_role = text::words(phrase)
                .iter()
                .any(|w| lex.role_words.contains(w));
            if names_role && phrase.split_whitespace().count() <= 6 {
                return Some(phrase.to_string());
            }
        }
    }
    None
}

/// The rep waving a concern away ("that's not really a problem").
pub(super) fn dismissals(a: &mut Analysis, sentences: &[Vec<Sentence>]) {
    for (t, ss) in a.turns.iter().zip(sentences) {
        if t.speaker != Speaker::Rep {
            continue;
        }
        if let Some(s) = ss.iter().find(|s| has_any(&s.words, &LEXICON.objections.dismissals).is_some()) {
            a.flags.dismissed_concern = true;
            a.findings.push(Finding {
                t_s: t.time_of(&s.original),
                excerpt: format!("rep: {}", clip(&s.original, 160)),
                metric: FlagMetric::DismissedConcern,
                severity: Severity::High,
                category: Category::Objection,
                weight: 2.0,
                detail: "the rep dismissed the prospect's concern".into(),
            });
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
    fn a_handled_price_objection_is_handled_and_a_conceded_one_is_not() {
        let good = record(&[
            (P, "Honestly that is way more than we budgeted."),
            (
                R,
                "That is fair. What budget did you set aside for this year?",
            ),
            (P, "About twenty thousand dollars."),
        ]);
        let a = analyse(&good, &BriefConfig::default());
        assert_eq!(a.objections.len(), 1, "{:?}", a.objections);
        assert!(a.objections[0].handled, "{:?}", a.objections[0]);
        let bad = record(&[
            (P, "Honestly that is way more than we budgeted."),
            (R, "Okay, I understand. Anyway, let me show you the app."),
            (P, "Sure."),
            (R, "Here are the reports."),
        ]);
        let a = analyse(&bad, &BriefConfig::default());
        assert!(!a.objections[0].handled);
        assert!(a
            .findings
            .iter()
            .any(|f| f.metric == FlagMetric::UnresolvedObjection));
    }

    #[test]
    fn a_repeated_objection_was_not_handled() {
        let r = record(&[
            (P, "Honestly that is way more than we budgeted."),
            (R, "Our plan includes onboarding and support for every user, and a dedicated success manager for the first year."),
            (P, "Okay."),
            (R, "And it integrates with your tools."),
            (P, "But again, it is way more than we budgeted."),
            (R, "I hear you."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert_eq!(a.objections.len(), 1);
        assert!(!a.objections[0].handled);
        assert_eq!(a.objections[0].repeats, 1);
    }

    #[test]
    fn decision_makers_name_a_role() {
        assert_eq!(
            decision_maker("I'd have to run it by our VP of Operations.").as_deref(),
            Some("our VP of Operations")
        );
        assert_eq!(
            decision_maker("I have to run it by our meeting of operations."),
            None
        );
    }
}

