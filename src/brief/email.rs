//! The salvage message: a three-part recovery email (acknowledge the specific gap,
//! restate the prospect's problem in their own words, one low-friction next step
//! with two concrete times), a break-up note when disqualifying, phone-call talking
//! points when trust was eroded, or a confirmation after a good call. Pure.
//!
//! Every draft stays under 150 words (the quote is shortened until it fits), names
//! the prospect, and never pushes: no discounts, deadlines or "just checking in".

use chrono::{DateTime, Datelike, Duration, FixedOffset, Weekday};

use super::analysis::{clip, Analysis};
use super::{Action, Category, EmailKind, Names, Outcome, RecoveryEmail, Salvage};

/// Longest draft allowed (METHOD.md: under 150 words).
pub const MAX_WORDS: usize = 149;

/// Phrases a break-up note (or any draft) must never contain.
pub const PUSHY_PHRASES: &[&str] = &[
    "limited time",
    "act now",
    "discount",
    "last chance",
    "just checking in",
    "don't miss",
    "expires",
    "only a few spots",
    "sign today",
    "before it's too late",
    "special offer",
    "promotion",
];

/// Two concrete follow-up times from the call date: the next business day at 10:00
/// and the business day after at 14:00, in the call's own time zone
/// ("Tuesday 24 November at 10:00").
pub fn time_options(call_time: DateTime<FixedOffset>) -> Vec<String> {
    let mut day = call_time.date_naive();
    let mut out = Vec::new();
    for hour in ["10:00", "14:00"] {
        loop {
            day += Duration::days(1);
            if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                break;
            }
        }
        out.push(format!("{} at {hour}", day.format("%A %-d %B")));
    }
    out
}

pub fn word_count(body: &str) -> usize {
    body.split_whitespace().count()
}

fn words_clip(s: &str, max_words: usize) -> String {
    let ws: Vec<&str> = s.split_whitespace().collect();
    if ws.len() <= max_words {
        return s.trim().to_string();
    }
    format!(
        "{}…",
        ws[..max_words].join(" ").trim_end_matches([',', '.', ';'])
    )
}

/// The prospect's words about their problem: the pain quote, else an objection,
/// else their longest statement — the first of these that the recogniser was
/// sure of. A rep would not send "the customers call the angry" back to the
/// prospect; with none trustworthy the draft restates the point plainly.
fn their_words(a: &Analysis) -> Option<String> {
    let longest = a
        .turns
        .iter()
        .filter(|t| t.speaker == crate::call::Speaker::Prospect)
        .max_by_key(|t| t.word_count())
        .filter(|t| t.word_count() >= 6)
        .map(|t| clip(&t.text, 160));
    [a.pain_quote.clone(), a.objections.first().map(|o| o.excerpt.clone()), longest]
        .into_iter()
        .flatten()
        .find(|quote| !a.unsure_texts.iter().any(|unsure| shares_words(quote, unsure)))
}

/// Whether `quote` carries a run of four words of `unsure` (or all of a shorter one).
fn shares_words(quote: &str, unsure: &str) -> bool {
    let norm = |t: &str| crate::language::text::words(t);
    let (q, u) = (norm(quote), norm(unsure));
    let n = 4.min(u.len());
    n > 0 && u.windows(n).any(|run| q.windows(n).any(|w| w == run))
}

/// "tuesday at 2" -> "Tuesday at 2": day and month names as written in a letter.
pub fn display_when(when: &str) -> String {
    const NAMES: &[&str] = &[
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    when.split(' ')
        .map(|w| {
            if NAMES.contains(&w) {
                capitalise(w)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Drafts the message the salvage decision calls for.
pub fn draft(
    salvage: &Salvage,
    outcome: Outcome,
    primary: Option<Category>,
    a: &Analysis,
    names: &Names,
    call_time: DateTime<FixedOffset>,
) -> RecoveryEmail {
    let options = time_options(call_time);
    let first = names.prospect_first().to_string();
    let rep = names.rep_first().to_string();
    let quote_full = their_words(a);
    // Shorten the quote until the whole draft fits.
    let mut last = None;
    for quote_words in [25usize, 16, 10, 6] {
        let quote = quote_full.as_ref().map(|q| words_clip(q, quote_words));
        let (kind, subject, body, times) = compose(
            salvage,
            outcome,
            primary,
            a,
            names,
            &first,
            &rep,
            quote.as_deref(),
            &options,
        );
        let n = word_count(&body);
        let email = RecoveryEmail {
            kind,
            to: names.prospect.clone(),
            subject,
            body,
            word_count: n,
            time_options: times,
        };
        if n <= MAX_WORDS {
            return email;
        }
        last = Some(email);
    }
    last.expect("at least one draft")
}

#[allow(clippy::too_many_arguments)]
fn compose(
    salvage: &Salvage,
    outcome: Outcome,
    primary: Option<Category>,
    a: &Analysis,
    names: &Names,
    first: &str,
    rep: &str,
    quote: Option<&str>,
    options: &[String],
) -> (EmailKind, String, String, Vec<String>) {
    let (o1, o2) = (&options[0], &options[1]);
    let as_role = match (&names.role, names.account_known()) {
        (Some(role), true) => format!("As {role} at {}, you told me", names.account),
        (Some(role), false) => format!("As {role}, you told me"),
        (None, _) => "You told me".to_string(),
    };
    let said = match quote {
        Some(q) => format!("{as_role}: \"{}\"", q.trim_end_matches('.')),
        None => format!("{as_role} what is not working today, and that is what I want to focus on"),
    };
    let gap = salvage.gap.as_str();
    if outcome == Outcome::Good || salvage.action == Action::None {
        let when = a.next_step.when.as_deref().map(display_when);
        let subject = match &when {
            Some(w) => format!("Confirming {w}"),
            None => "Thanks for today".to_string(),
        };
        let agreed = match &when {
            Some(w) => format!(
                "As agreed, we speak again {}{w}.",
                if w.starts_with("on ") || w.starts_with("next ") {
                    ""
                } else {
                    "on "
                }
            ),
            None => "As agreed, I will follow up with the next step.".to_string(),
        };
        let body = format!(
            "Hi {first},\n\nThanks for the time today. {said}, and that is what we will focus on.\n\n{agreed} I will send the invite with a short agenda today. If that time stops working, {o1} or {o2} work too.\n\n{rep}"
        );
        return (EmailKind::Confirmation, subject, body, options.to_vec());
    }
    match salvage.action {
        Action::Disqualify => {
            let why = match (primary, &a.flags.deal_end) {
                (Some(Category::IcpFit), _) => a.icp_cues.first().map(|c| {
                    format!(
                        "Based on what you shared (\"{}\"), ",
                        words_clip(c, 12).trim_end_matches('.')
                    )
                }),
                (_, Some(end)) => Some(format!(
                    "Thank you for being upfront (\"{}\"). ",
                    words_clip(end, 12).trim_end_matches('.')
                )),
                _ => None,
            }
            .unwrap_or_default();
            let middle = if a.flags.dismissed_concern
                && a.flags.deal_end.is_none()
                && primary != Some(Category::IcpFit)
            {
                format!("{}{gap} on our call, and that was wrong of me.", why)
            } else if why.starts_with("Based") {
                format!("{why}{gap}, and I would rather say so than take more of your time.")
            } else {
                format!("{why}{}, and I respect that.", capitalise(gap))
            };
            let subject = if names.account_known() {
                format!("{} — closing the loop", names.account)
            } else {
                "Closing the loop".to_string()
            };
            let opening = if middle.starts_with("Thank you") {
                ""
            } else {
                "Thanks for your time today. "
            };
            let body = format!(
                "Hi {first},\n\n{opening}{middle}\n\nIf things change, I am happy to reconnect, and I won't chase in the meantime.\n\nAll the best,\n{rep}"
            );
            (EmailKind::BreakUp, subject, body, Vec::new())
        }
        Action::FollowUpCall => {
            let mut points = vec![format!(
                "1. Open: \"{} on our call, and I want to correct it myself.\"",
                capitalise(gap)
            )];
            if a.corrections.is_empty() {
                points.push(
                    "2. Take the concern seriously: ask what worries them and listen to the end."
                        .to_string(),
                );
            } else {
                let fixes: Vec<String> = a
                    .corrections
                    .iter()
                    .take(2)
                    .map(|(claim, c)| {
                        format!(
                            "\"{}\" was wrong ({})",
                            words_clip(claim, 8),
                            words_clip(c, 14)
                        )
                    })
                    .collect();
                points.push(format!("2. Say they were right, point by point: {}. Bring the correct facts in writing.", fixes.join("; ")));
            }
            points.push(match quote {
                Some(q) => format!("3. Restate their need in their words: \"{q}\""),
                None => "3. Restate their need in their own words.".to_string(),
            });
            points.push(format!(
                "4. Offer a scoping session with someone who knows the product: {o1} or {o2}."
            ));
            points.push("5. Do not defend, minimise or pitch.".to_string());
            let role = names
                .role
                .as_ref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default();
            let body = format!(
                "Call {}{role} today, by phone rather than email.\n\n{}",
                names.prospect,
                points.join("\n")
            );
            (
                EmailKind::PhoneTalkingPoints,
                format!("Call {first} today: correct the record"),
                body,
                options.to_vec(),
            )
        }
        Action::LoopInStakeholder => {
            let who = a
                .decision_maker
                .clone()
                .map(|w| super::salvage::as_yours(&w))
                .unwrap_or_else(|| "the decision maker".into());
            let bring = if a.turns.iter().any(|t| {
                t.text.to_lowercase().contains("rollout")
                    || t.text.to_lowercase().contains("how long")
            }) {
                "the rollout timeline and costs"
            } else {
                "the numbers they will want to see"
            };
            let body = format!(
                "Hi {first},\n\nThanks for walking me through your team's day. You mentioned the decision is not yours alone, and {gap}.\n\n{said}. That is the case I would like to make to {who} with you.\n\nWould {o1} or {o2} work for 20 minutes with the two of you? I will bring {bring}. If easier, I can send a one-page summary you can forward.\n\n{rep}"
            );
            (
                EmailKind::Recovery,
                format!("Bringing {who} in"),
                body,
                options.to_vec(),
            )
        }
        Action::RecoveryEmail | Action::None => {
            let (subject, ack, ask) = match primary {
                Some(Category::Preparation) => (
                    "Following up properly".to_string(),
                    format!("{}; I am fixing that before we speak again.", capitalise(gap)),
                    if a.flags.wrong_demo {
                        format!("I would like to show you only what matters to you in a focused 15-minute session. Would {o1} or {o2} work? Or I can send a one-page summary first.")
                    } else {
                        format!("Would {o1} or {o2} work for 20 minutes, this time prepared? Or I can send a one-page summary first.")
                    },
                ),
                Some(Category::Objection) => (
                    "A straight answer".to_string(),
                    format!("{}, so I will put one clear written answer in your inbox.", capitalise(gap)),
                    format!("Would {o1} or {o2} work for 15 minutes to walk through it? If you prefer, the written answer alone is fine."),
                ),
                Some(Category::TalkRatio) => (
                    format!("One question, {first}"),
                    format!("{} on our call, and I would rather hear from you.", capitalise(gap)),
                    format!(
                        "One question, not a pitch: what would have to change for that to stop being a problem? Reply by email, or we could talk on {o1} or {o2}."
                    ),
                ),
                Some(Category::ProductKnowledge) => (
                    "Your open questions".to_string(),
                    format!("{}, and I am getting each one confirmed by our product team instead of guessing.", capitalise(gap)),
                    match &a.next_step.when {
                        Some(w) if a.next_step.secured => format!("You will have them before we speak {}; if that time moves, {o1} or {o2} also work.", display_when(w)),
                        _ => format!("Would {o1} or {o2} work to go through them with a solutions engineer? I can send them in writing first."),
                    },
                ),
                _ => (
                    if a.deferred_questions.is_empty() { "Picking a time".to_string() } else { "Your question".to_string() },
                    if a.deferred_questions.is_empty() {
                        format!("{}, so let me propose one.", capitalise(gap))
                    } else {
                        format!("{}, and it was the one that mattered.", capitalise(gap))
                    },
                    if a.deferred_questions.is_empty() {
                        format!("Would {o1} or {o2} work for 20 minutes to agree what happens next? If neither does, I can send a short written summary.")
                    } else {
                        format!("Would {o1} or {o2} work for 20 minutes on just that question? If neither does, I can send a short written answer.")
                    },
                ),
            };
            let body = format!("Hi {first},\n\n{ack}\n\n{said}.\n\n{ask}\n\n{rep}");
            (EmailKind::Recovery, subject, body, options.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_options_skip_the_weekend() {
        let friday = DateTime::parse_from_rfc3339("2026-11-27T11:00:00+01:00").unwrap();
        assert_eq!(
            time_options(friday),
            vec!["Monday 30 November at 10:00", "Tuesday 1 December at 14:00"]
        );
        let monday = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap();
        assert_eq!(
            time_options(monday),
            vec![
                "Tuesday 24 November at 10:00",
                "Wednesday 25 November at 14:00"
            ]
        );
    }

    use crate::brief::analysis::{Analysis, Flags};
    use crate::brief::{Salvageability, PLACEHOLDER_PROSPECT};

    fn names() -> Names {
        Names {
            rep: "Lisa Moreno".into(),
            prospect: "Joe Bennett".into(),
            role: Some("Owner".into()),
            account: "Bennett's Bikes".into(),
            account_source: "prep".into(),
            ..Default::default()
        }
    }

    fn salvage(action: Action, gap: &str) -> Salvage {
        Salvage {
            salvageability: Salvageability::High,
            action,
            scenario: String::new(),
            reason: String::new(),
            gap: gap.into(),
        }
    }

    fn call_time() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-12-03T09:30:00Z").unwrap()
    }

    #[test]
    fn recovery_email_has_three_parts_under_150_words() {
        let a = Analysis {
            pain_quote: Some("Bed capacity reporting takes my team three days every week.".into()),
            ..Default::default()
        };
        let gap = "I came to our call without doing my homework on your setup";
        let e = draft(
            &salvage(Action::RecoveryEmail, gap),
            Outcome::Bad,
            Some(Category::Preparation),
            &a,
            &names(),
            call_time(),
        );
        assert_eq!(e.kind, EmailKind::Recovery);
        assert!(e.word_count < 150, "{}", e.body);
        assert!(e.body.starts_with("Hi Joe,"));
        assert!(e.body.contains(gap), "{}", e.body);
        assert!(e.body.contains("As Owner at Bennett's Bikes, you told me: \"Bed capacity reporting takes my team three days every week\""), "{}", e.body);
        assert!(
            e.body.contains("Friday 4 December at 10:00")
                && e.body.contains("Monday 7 December at 14:00"),
            "{}",
            e.body
        );
        let parts: Vec<&str> = e.body.split("\n\n").collect();
        assert_eq!(
            parts.len(),
            5,
            "greeting, acknowledgment, their words, next step, signature: {parts:?}"
        );
    }

    #[test]
    fn words_the_recogniser_was_unsure_of_are_not_quoted() {
        let garbled = "the customers call the angry when the trucks are late";
        let a = Analysis {
            pain_quote: Some(garbled.into()),
            unsure_texts: vec![format!("Yeah, {garbled}.")],
            ..Default::default()
        };
        let e = draft(&salvage(Action::RecoveryEmail, "we ended without a clear next step"), Outcome::Bad, Some(Category::Agenda), &a, &names(), call_time());
        assert!(!e.body.contains("call the angry") && !e.body.contains("you told me:"), "{}", e.body);
        assert!(e.word_count < 150 && e.body.starts_with("Hi Joe,"), "{}", e.body);
        let sure = Analysis { unsure_texts: vec!["something else was said here".into()], ..a };
        let e = draft(&salvage(Action::RecoveryEmail, "we ended without a clear next step"), Outcome::Bad, Some(Category::Agenda), &sure, &names(), call_time());
        assert!(e.body.contains("call the angry"), "a quote the recogniser was sure of stays: {}", e.body);
    }

    #[test]
    fn long_quotes_are_cut_to_stay_under_150_words() {
        let long = "word ".repeat(200);
        let a = Analysis {
            pain_quote: Some(long),
            ..Default::default()
        };
        let e = draft(
            &salvage(Action::RecoveryEmail, "we ended without a clear next step"),
            Outcome::Bad,
            Some(Category::Agenda),
            &a,
            &names(),
            call_time(),
        );
        assert!(e.word_count < 150, "{}", e.word_count);
    }

    #[test]
    fn break_up_note_never_pushes_and_leaves_the_door_open() {
        let a = Analysis {
            icp_cues: vec!["We're a team of three, me, my wife and one mechanic.".into()],
            ..Default::default()
        };
        let e = draft(
            &salvage(
                Action::Disqualify,
                "we are not the right fit for you right now",
            ),
            Outcome::Bad,
            Some(Category::IcpFit),
            &a,
            &names(),
            call_time(),
        );
        assert_eq!(e.kind, EmailKind::BreakUp);
        let lower = e.body.to_lowercase();
        for p in PUSHY_PHRASES {
            assert!(!lower.contains(p), "{p}: {}", e.body);
        }
        assert!(
            lower.contains("won't chase")
                && lower.contains("reconnect")
                && lower.contains("team of three"),
            "{}",
            e.body
        );
        assert!(e.time_options.is_empty());
        let ended = Analysis {
            flags: Flags {
                deal_end: Some("We signed a three year deal.".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = draft(
            &salvage(Action::Disqualify, "it is not the right time for you"),
            Outcome::Bad,
            Some(Category::Objection),
            &ended,
            &names(),
            call_time(),
        );
        assert!(
            e.body.contains("three year deal") && !e.body.to_lowercase().contains("discount"),
            "{}",
            e.body
        );
    }

    #[test]
    fn eroded_trust_gives_phone_talking_points() {
        let a = Analysis {
            corrections: vec![(
                "We integrate natively with SAP.".into(),
                "Your documentation says the connector is built by a partner.".into(),
            )],
            flags: Flags {
                trust_caught: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let e = draft(
            &salvage(Action::FollowUpCall, "I gave you wrong information"),
            Outcome::Bad,
            Some(Category::ProductKnowledge),
            &a,
            &names(),
            call_time(),
        );
        assert_eq!(e.kind, EmailKind::PhoneTalkingPoints);
        assert!(
            e.body.contains("by phone")
                && e.body.contains("built by a partner")
                && e.body.contains("1. Open"),
            "{}",
            e.body
        );
        assert!(e.word_count < 150);
    }

    #[test]
    fn placeholders_when_no_name_is_known() {
        let n = Names {
            prospect: PLACEHOLDER_PROSPECT.into(),
            rep: "[rep name]".into(),
            account: "[account]".into(),
            account_source: "placeholder".into(),
            ..Default::default()
        };
        let e = draft(
            &salvage(Action::RecoveryEmail, "I did most of the talking"),
            Outcome::Bad,
            Some(Category::TalkRatio),
            &Analysis::default(),
            &n,
            call_time(),
        );
        assert!(
            e.body.starts_with("Hi [prospect name],") && e.body.ends_with("[rep name]"),
            "{}",
            e.body
        );
        assert!(!e.body.contains("[account]"), "{}", e.body);
    }

    #[test]
    fn words_clip_shortens_long_quotes() {
        assert_eq!(words_clip("a b c d", 2), "a b…");
        assert_eq!(words_clip("a b", 2), "a b");
    }
}
