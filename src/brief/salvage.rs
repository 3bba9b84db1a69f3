//! The salvage decision (METHOD.md's table: one highest-impact action with its
//! salvageability) and the one-sentence CRM note. Pure.
//!
//! | scenario (first that applies)                       | salvageability | action |
//! |------------------------------------------------------|----------------|--------|
//! | good call                                            | high   | none (confirm what was agreed) |
//! | fundamental ICP mismatch (primary icp_fit)           | none   | disqualify |
//! | prospect not interested / chose a competitor         | low    | disqualify (break-up note, door open) |
//! | rep dismissed the prospect's concern                 | low    | follow_up_call if the account has history, else disqualify |
//! | wrong capability claim, prospect caught it           | medium | follow_up_call (correct it by phone) |
//! | authority objection fumbled (primary objection)      | medium | loop_in_stakeholder |
//! | objection fumbled / inconsistent answer              | medium | recovery_email addressing it directly |
//! | underprepared / wrong demo (primary preparation)     | high   | recovery_email (+ focused 15-minute re-demo) |
//! | rep talked 65%+ (primary talk_ratio)                 | high   | recovery_email with one question |
//! | prospect went quiet without a talk-ratio problem     | medium | recovery_email with one question |
//! | no next step / agenda lost (primary agenda)          | high   | recovery_email with two time options |
//! | product knowledge gaps (deferrals)                   | high   | recovery_email with the answers |

use crate::language::objections::ObjectionType;

use super::analysis::{clip, clock, Analysis};
use super::{Action, Category, Names, Outcome, RootCause, Salvage, Salvageability};

/// Applies the salvage table. `has_relationship`: earlier calls with this account exist.
pub fn decide(
    outcome: Outcome,
    causes: &[RootCause],
    a: &Analysis,
    names: &Names,
    has_relationship: bool,
) -> Salvage {
    let salvage = |salvageability, action, scenario: &str, reason: String, gap: String| Salvage {
        salvageability,
        action,
        scenario: scenario.to_string(),
        reason,
        gap,
    };
    let Some(primary) = causes
        .first()
        .map(|c| c.category)
        .filter(|_| outcome == Outcome::Bad)
    else {
        let reason = match &a.next_step.when {
            Some(when) => format!("good call: confirm the agreed next step ({when}) in writing"),
            None => "good call: nothing to salvage".to_string(),
        };
        return salvage(
            Salvageability::High,
            Action::None,
            "good call",
            reason,
            String::new(),
        );
    };
    let unhandled = |k: ObjectionType| a.objections.iter().any(|o| o.kind == k && !o.handled);
    let first_unhandled = a.objections.iter().find(|o| !o.handled);
    if primary == Category::IcpFit {
        return salvage(
            Salvageability::None,
            Action::Disqualify,
            "fundamental ICP mismatch",
            "the account is outside the ideal customer profile: disqualify cleanly with a respectful note and document the lesson".into(),
            "we are not the right fit for you right now".into(),
        );
    }
    if let Some(end) = &a.flags.deal_end {
        return salvage(
            Salvageability::Low,
            Action::Disqualify,
            "prospect not interested / chose a competitor",
            format!("the prospect closed the door (\"{end}\"): send a respectful break-up note and leave the door open"),
            "it is not the right time for you".into(),
        );
    }
    if a.flags.dismissed_concern {
        return if has_relationship {
            salvage(
                Salvageability::Low,
                Action::FollowUpCall,
                "rep dismissed the prospect's concern",
                format!("there is a relationship with {}: a personal call to take the concern seriously", names.account),
                "I brushed off your concern".into(),
            )
        } else {
            salvage(
                Salvageability::Low,
                Action::Disqualify,
                "rep dismissed the prospect's concern",
                "no relationship to call on: a respectful break-up note that acknowledges the concern".into(),
                "I brushed off your concern".into(),
            )
        };
    }
    if a.flags.trust_caught && primary == Category::ProductKnowledge {
        return salvage(
            Salvageability::Medium,
            Action::FollowUpCall,
            "wrong capability claim, prospect caught it",
            format!("{} correction(s) of the rep's claims: correct the record by phone right away, not by email", a.corrections.len()),
            "I gave you wrong information".into(),
        );
    }
    // The decision maker is the gap when the authority objection is the main thing
    // left unhandled, not one fumble among several others.
    let unhandled_authority = a.objections.iter().filter(|o| !o.handled && o.kind == ObjectionType::Authority).count();
    let unhandled_other = a.objections.iter().filter(|o| !o.handled && o.kind != ObjectionType::Authority).count();
    if primary == Category::Objection {
        if unhandled(ObjectionType::Authority) && unhandled_authority >= unhandled_other {
            let who = a
                .decision_maker
                .clone()
                .unwrap_or_else(|| "the decision maker".into());
            return salvage(
                Salvageability::Medium,
                Action::LoopInStakeholder,
                "authority objection fumbled",
                format!("the decision sits with {who} and the rep never asked to involve them: offer a short call with both"),
                format!("I should have asked how to involve {}", as_yours(&who)),
            );
        }
        let kind = first_unhandled.map(|o| o.kind);
        let gap = match (kind, &a.flags.inconsistent_answer) {
            (Some(ObjectionType::Price), Some(_)) => {
                "I gave you inconsistent numbers on price".to_string()
            }
            (Some(ObjectionType::Price), None) => {
                "I didn't give you a clear answer on price".to_string()
            }
            (Some(ObjectionType::Timing), _) => {
                "I didn't take your timing concern seriously enough".to_string()
            }
            (Some(ObjectionType::Need), _) => {
                "I moved past your question about whether you need this".to_string()
            }
            (Some(ObjectionType::Competitor), _) => {
                format!(
                    "I didn't address how we compare with {}",
                    a.competitor
                        .clone()
                        .unwrap_or_else(|| "your current vendor".into())
                )
            }
            _ => "I didn't answer your concern properly".to_string(),
        };
        return salvage(
            Salvageability::Medium,
            Action::RecoveryEmail,
            "fumbled objection, inconsistent answer",
            format!(
                "{} objection left unresolved{}: a recovery email that addresses it directly",
                kind.map(|k| k.as_str()).unwrap_or("an"),
                if a.flags.inconsistent_answer.is_some() {
                    " and answered inconsistently"
                } else {
                    ""
                }
            ),
            gap,
        );
    }
    match primary {
        Category::Preparation => {
            let (scenario, reason) = if a.flags.wrong_demo {
                ("demo covered the wrong features", "recovery email offering a focused 15-minute re-demo; full prep before any follow-up")
            } else {
                ("underprepared, couldn't answer basic questions", "recovery email now; full prep before any follow-up")
            };
            salvage(Salvageability::High, Action::RecoveryEmail, scenario, reason.into(), "I came to our call without doing my homework on your setup".into())
        }
        Category::TalkRatio if a.metrics.talk_ratio_rep < 0.65 && a.flags.engagement_drop => salvage(
            Salvageability::Medium,
            Action::RecoveryEmail,
            "prospect went quiet, one-word answers",
            "recovery email with a single question; a break-up note if there is no reply in 5 days".into(),
            "I didn't leave you room to talk".into(),
        ),
        Category::TalkRatio => salvage(
            Salvageability::High,
            Action::RecoveryEmail,
            "rep talked 70%+, prospect disengaged",
            format!("the rep talked {:.0}% of the call: recovery email with one specific question, not a pitch", a.metrics.talk_ratio_rep * 100.0),
            "I did most of the talking".into(),
        ),
        Category::Agenda => {
            let deferred = a.deferred_questions.first().cloned();
            let gap = match &deferred {
                Some(q) => format!("I never answered your question \"{}\"", clip(q, 90)),
                None => "we ended without a clear next step".into(),
            };
            salvage(
                Salvageability::High,
                Action::RecoveryEmail,
                "no next step, call ended vaguely",
                "recovery email with two specific time options".into(),
                gap,
            )
        }
        // A call on the specific questions, with the answers confirmed and an expert on
        // it: what a knowledge gap needs (METHOD: "follow-up call on a specific
        // concern"; train authors chose it for 23 of 24 such calls).
        Category::ProductKnowledge => salvage(
            Salvageability::High,
            Action::FollowUpCall,
            "product knowledge gaps",
            format!("{} question(s) deferred: a short follow-up call with confirmed answers and an expert on it", a.metrics.deferrals),
            format!("I owed you answers on {} questions", a.unanswered_questions.len().max(a.metrics.deferrals)),
        ),
        Category::Objection | Category::IcpFit => unreachable!("handled above"),
    }
}

pub(crate) fn as_yours(who: &str) -> String {
    let w = who.trim();
    for p in ["our ", "my ", "the "] {
        if let Some(rest) = w.strip_prefix(p) {
            return format!("your {rest}");
        }
    }
    w.to_string()
}

/// One CRM sentence: the root cause and the corrective commitment.
pub fn crm_note(outcome: Outcome, causes: &[RootCause], a: &Analysis) -> String {
    let note = match (outcome, causes.first()) {
        (Outcome::Good, _) | (_, None) => {
            let next = a
                .next_step
                .when
                .as_deref()
                .map(|w| format!(", next step {}", super::email::display_when(w)))
                .unwrap_or_default();
            format!(
                "Good call (rep talked {:.0}%, {} objection(s) handled{next}) — keep the agenda-first structure and confirm the next step in writing today",
                a.metrics.talk_ratio_rep * 100.0,
                a.objections.iter().filter(|o| o.handled).count()
            )
        }
        (Outcome::Bad, Some(primary)) => {
            let what = match primary.category {
                Category::Objection => {
                    let o = a.objections.iter().find(|o| !o.handled);
                    match o {
                        Some(o) => format!("Fumbled {} objection at {}", o.kind, clock(o.t_s)),
                        None => "Dismissed the prospect's concern".to_string(),
                    }
                }
                Category::Preparation => format!(
                    "Underprepared ({} signs the prospect expected us to know their business)",
                    a.prep_cues.len().max(1)
                ),
                Category::ProductKnowledge if a.flags.trust_caught => {
                    format!("Product knowledge gap ({} wrong capability claim(s) caught by the prospect)", a.corrections.len())
                }
                Category::ProductKnowledge => format!(
                    "Product knowledge gap ({} questions deferred)",
                    a.metrics.deferrals
                ),
                Category::TalkRatio => format!(
                    "Rep talked {:.0}% of the call",
                    a.metrics.talk_ratio_rep * 100.0
                ),
                Category::Agenda if !a.deferred_questions.is_empty() => format!(
                    "Lost the agenda ({} prospect question{} deferred{})",
                    a.deferred_questions.len(),
                    if a.deferred_questions.len() == 1 { "" } else { "s" },
                    if a.next_step.secured { "" } else { ", no dated next step" }
                ),
                Category::Agenda if a.next_step.secured => {
                    "Lost control of the call's agenda and time".to_string()
                }
                Category::Agenda => "Call ended without a dated next step".to_string(),
                Category::IcpFit => {
                    "Pitched an account outside the ideal customer profile instead of disqualifying"
                        .to_string()
                }
            };
            let objection_kind = a.objections.iter().find(|o| !o.handled).map(|o| o.kind);
            let commitment = match primary.category {
                Category::Objection if objection_kind == Some(ObjectionType::Authority) => {
                    "ask who signs off and offer to bring them in, on every call where the contact is not the buyer"
                }
                Category::Objection => "write and rehearse a standard answer before the next call with a similar prospect",
                Category::Preparation => "do 15 minutes of research on the account before any follow-up",
                Category::ProductKnowledge => "log the open questions, get confirmed answers and review the knowledge log weekly",
                Category::TalkRatio => "ask, then wait three seconds before speaking on the next call",
                Category::Agenda => "state the agenda in the first 90 seconds and close on a dated next step",
                Category::IcpFit => "qualify budget, size and pain before accepting the next meeting",
            };
            format!("{what} — {commitment}")
        }
    };
    one_sentence(&note)
}

/// Makes `s` a single sentence: internal sentence breaks become semicolons, and it
/// ends with exactly one full stop.
pub fn one_sentence(s: &str) -> String {
    let mut out = s
        .trim()
        .trim_end_matches(['.', '!', '?', ';'])
        .replace(". ", "; ")
        .replace("? ", "; ")
        .replace("! ", "; ");
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brief::analysis::{Analysis, Flags};
    use crate::brief::{BriefMetrics, NextStep, ObjectionRecord};

    fn cause(c: Category) -> Vec<RootCause> {
        vec![RootCause {
            category: c,
            evidence: vec![],
            score: 3.0,
            corrective_action: String::new(),
        }]
    }

    fn objection(kind: ObjectionType, handled: bool) -> ObjectionRecord {
        ObjectionRecord {
            kind,
            t_s: 61.0,
            excerpt: "x".into(),
            handled,
            assessment: String::new(),
            reply: None,
            repeats: 0,
            fumble: None,
            id: None,
        }
    }

    fn names() -> Names {
        Names {
            rep: "Marcus".into(),
            prospect: "Tina".into(),
            account: "Teamstart".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_table_maps_each_scenario() {
        let base = Analysis {
            metrics: BriefMetrics {
                talk_ratio_rep: 0.5,
                ..Default::default()
            },
            ..Default::default()
        };
        let n = names();
        let d = |o, c: Vec<RootCause>, a: &Analysis, rel| {
            let s = decide(o, &c, a, &n, rel);
            (s.salvageability, s.action)
        };
        assert_eq!(
            d(Outcome::Good, vec![], &base, false),
            (Salvageability::High, Action::None)
        );
        assert_eq!(
            d(Outcome::Bad, cause(Category::IcpFit), &base, false),
            (Salvageability::None, Action::Disqualify)
        );
        assert_eq!(
            d(Outcome::Bad, cause(Category::Preparation), &base, false),
            (Salvageability::High, Action::RecoveryEmail)
        );
        assert_eq!(
            d(Outcome::Bad, cause(Category::Agenda), &base, false),
            (Salvageability::High, Action::RecoveryEmail)
        );
        assert_eq!(
            d(
                Outcome::Bad,
                cause(Category::ProductKnowledge),
                &base,
                false
            ),
            (Salvageability::High, Action::FollowUpCall)
        );
        let talky = Analysis {
            metrics: BriefMetrics {
                talk_ratio_rep: 0.8,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            d(Outcome::Bad, cause(Category::TalkRatio), &talky, false),
            (Salvageability::High, Action::RecoveryEmail)
        );
        let quiet = Analysis {
            flags: Flags {
                engagement_drop: true,
                ..Default::default()
            },
            ..base.clone()
        };
        assert_eq!(
            d(Outcome::Bad, cause(Category::TalkRatio), &quiet, false),
            (Salvageability::Medium, Action::RecoveryEmail)
        );
        let price = Analysis {
            objections: vec![objection(ObjectionType::Price, false)],
            ..base.clone()
        };
        assert_eq!(
            d(Outcome::Bad, cause(Category::Objection), &price, false),
            (Salvageability::Medium, Action::RecoveryEmail)
        );
        let authority = Analysis {
            objections: vec![objection(ObjectionType::Authority, false)],
            ..base.clone()
        };
        assert_eq!(
            d(Outcome::Bad, cause(Category::Objection), &authority, false),
            (Salvageability::Medium, Action::LoopInStakeholder)
        );
        let caught = Analysis {
            flags: Flags {
                trust_caught: true,
                ..Default::default()
            },
            ..base.clone()
        };
        assert_eq!(
            d(
                Outcome::Bad,
                cause(Category::ProductKnowledge),
                &caught,
                false
            ),
            (Salvageability::Medium, Action::FollowUpCall)
        );
        let ended = Analysis {
            flags: Flags {
                deal_end: Some("We signed with Samsara.".into()),
                ..Default::default()
            },
            ..base.clone()
        };
        assert_eq!(
            d(Outcome::Bad, cause(Category::Objection), &ended, false),
            (Salvageability::Low, Action::Disqualify)
        );
        let dismissed = Analysis {
            flags: Flags {
                dismissed_concern: true,
                ..Default::default()
            },
            ..base.clone()
        };
        assert_eq!(
            d(Outcome::Bad, cause(Category::Objection), &dismissed, true),
            (Salvageability::Low, Action::FollowUpCall)
        );
        assert_eq!(
            d(Outcome::Bad, cause(Category::Objection), &dismissed, false),
            (Salvageability::Low, Action::Disqualify)
        );
    }

    #[test]
    fn crm_note_is_one_sentence_with_cause_and_commitment() {
        let a = Analysis {
            objections: vec![objection(ObjectionType::Price, false)],
            next_step: NextStep::default(),
            ..Default::default()
        };
        let note = crm_note(Outcome::Bad, &cause(Category::Objection), &a);
        assert!(
            note.starts_with("Fumbled price objection at 01:01"),
            "{note}"
        );
        assert!(note.contains("rehearse"), "{note}");
        assert_eq!(note.matches(['.', '!', '?']).count(), 1, "{note}");
        assert!(note.ends_with('.'));
        assert_eq!(one_sentence("One. Two!"), "One; Two.");
    }
}
