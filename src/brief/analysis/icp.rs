//! ICP fit: a team of at most `icp_max_team` people, a budget under `icp_min_budget`
//! or far below the price quoted, no pain ("it works fine for us"), a decision
//! structure that cannot buy, a use that does not exist ("we don't manufacture
//! anything") 1.5 each; +2.0 when there are two or more and the rep pitched on
//! instead of disqualifying. A rep who disqualifies cleanly has no ICP failure.

use crate::brief::{BriefConfig, Category, FlagMetric, Severity};
use crate::call::Speaker;
use crate::language::text::{self, Sentence};

use super::{clip, has, has_any, Analysis, Finding, PhraseList, Turn, LEXICON};

lexicon_table!(
    disqualify: PhraseList, no_pain: PhraseList, decision_blocks: PhraseList,
    solo_team: PhraseList, budget_context: PhraseList, budget_units: PhraseList,
    monthly: PhraseList, money: PhraseList, price_quote: PhraseList, budget_statement: PhraseList,
    own_economics: PhraseList
);

/// The icp_fit findings (see the module documentation).
pub(super) fn findings(a: &mut Analysis, sentences: &[Vec<Sentence>], config: &BriefConfig) {
    let lex = &LEXICON.icp;
    a.flags.rep_disqualified = a.turns.iter().zip(sentences).any(|(t, ss)| {
        t.speaker == Speaker::Rep && ss.iter().any(|s| has_any(&s.words, &lex.disqualify).is_some())
    });
    let mut cues: Vec<(f64, String, String)> = Vec::new();
    for (t, ss) in a.turns.iter().zip(sentences) {
        if t.speaker != Speaker::Prospect {
            continue;
        }
        for s in ss {
            let w = &s.words;
            let mut why: Option<String> = None;
            // A tiny team: "team of 3", "only 3 of us", "we are 3 people", "just me and".
            for (k, word) in w.iter().enumerate() {
                let Ok(n) = word.parse::<u32>() else { continue };
                if n == 0 || n > config.icp_max_team {
                    continue;
                }
                let before = |p: &str| {
                    k >= p.split(' ').count() && w[k - p.split(' ').count()..k].join(" ") == p
                };
                let after = |p: &str| w.get(k + 1).is_some_and(|x| x == p);
                let of_us = after("of") && w.get(k + 2).is_some_and(|x| x == "us");
                let headcount = after("people") || after("employees") || after("staff") || of_us;
                if before("team of")
                    || before("only") && (after("of") || after("people"))
                    || ((before("we are") || before("there are") || before("it is") || before("just")) && headcount)
                    || (after("employees") && !before("of"))
                {
                    why = Some(format!("a team of {n}"));
                }
            }
            if has_any(w, &lex.solo_team).is_some() {
                why = Some("a one- or two-person team".into());
            }
            // A budget far below the product.
            let budget_context = has_any(w, &lex.budget_context).is_some();
            if budget_context && has_any(w, &lex.budget_units).is_some() {
                if let Some(n) = w
                    .iter()
                    .filter_map(|x| x.parse::<f64>().ok())
                    .find(|n| *n >= 10.0)
                {
                    if n < config.icp_min_budget {
                        why = Some(format!("a budget of about {n}"));
                    }
                }
            }
            // The price set against the business's own economics ("that's more than my van
            // payment", "the goats don't make that"): a business too small to carry it.
            if let Some(p) = has_any(w, &lex.own_economics) {
                why = Some(format!("the price is beyond the business's own means (\"{p}\")"));
            }
            if let Some(p) = has_any(w, &lex.no_pain) {
                why = Some(format!("no pain (\"{p}\")"));
            }
            if let Some(p) = has_any(w, &lex.decision_blocks) {
                why = Some(format!("a decision structure that cannot buy (\"{p}\")"));
            }
            if w.len() <= 8 && has(w, "we do not") && has(w, "anything") || has(w, "we only have 1")
            {
                why = Some("the product's use case does not exist there".into());
            }
            if let Some(why) = why {
                cues.push((t.time_of(&s.original), s.original.clone(), why));
            }
        }
    }
    // A budget far below the price the rep quoted, stated as a plain fact.
    let gap = budget_gap(&a.turns, sentences);
    if let Some((t_s, s, why)) = &gap {
        if !cues.iter().any(|c| c.1 == *s) {
            cues.insert(0, (*t_s, s.clone(), why.clone()));
        }
    }
    if cues.is_empty() {
        return;
    }
    let failed_to_disqualify = !a.flags.rep_disqualified;
    // A fundamental mismatch: the fumbled price and need objections are its symptoms,
    // and the lesson is qualification (disqualify), not objection handling.
    if failed_to_disqualify && (gap.is_some() || cues.len() >= 2) {
        for f in &mut a.findings {
            let symptom = f.category == Category::Objection
                && f.metric == FlagMetric::UnresolvedObjection
                && (f.detail.starts_with("price") || f.detail.starts_with("need"));
            if symptom {
                f.category = Category::IcpFit;
            }
        }
    }
    let weight = if failed_to_disqualify { 1.5 } else { 0.0 };
    for (t_s, s, why) in cues.iter().take(4) {
        a.icp_cues.push(s.clone());
        a.findings.push(Finding {
            t_s: *t_s,
            excerpt: format!("prospect: {}", clip(s, 160)),
            metric: FlagMetric::IcpMismatch,
            severity: if failed_to_disqualify {
                Severity::High
            } else {
                Severity::Low
            },
            category: Category::IcpFit,
            weight,
            detail: format!("outside the ideal customer profile: {why}"),
        });
    }
    if cues.len() >= 2 && failed_to_disqualify {
        let last = a.turns.iter().rev().find(|t| t.speaker == Speaker::Rep);
        a.findings.push(Finding {
            t_s: last.map(|t| t.start_s).unwrap_or(0.0),
            excerpt: last
                .map(|t| format!("rep: {}", clip(&t.text, 160)))
                .unwrap_or_default(),
            metric: FlagMetric::IcpMismatch,
            severity: Severity::High,
            category: Category::IcpFit,
            weight: 2.0,
            detail: format!(
                "{} signs of a poor fit, and the rep pitched on instead of disqualifying",
                cues.len()
            ),
        });
    }
}

/// Amounts in a sentence with money words, per year ("400 a month" -> 4800).
fn yearly_amounts(words: &[String]) -> Vec<f64> {
    let lex = &LEXICON.icp;
    let monthly = has_any(words, &lex.monthly).is_some();
    let money = has_any(words, &lex.money).is_some();
    if !money {
        return Vec::new();
    }
    words
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let n: f64 = w.parse().ok()?;
            let n = if words.get(i + 1).is_some_and(|x| x == "grand" || x == "k") { n * 1000.0 } else { n };
            (n >= 10.0).then_some(if monthly { n * 12.0 } else { n })
        })
        .collect()
}

/// The prospect's whole budget (or what they spend) is under a fifth of the price the
/// rep quoted: (time, sentence, why).
fn budget_gap(turns: &[Turn], sentences: &[Vec<Sentence>]) -> Option<(f64, String, String)> {
    let lex = &LEXICON.icp;
    let mut quote: Option<f64> = None;
    for (t, ss) in turns.iter().zip(sentences) {
        for s in ss {
            let w = &s.words;
            match t.speaker {
                Speaker::Rep => {
                    if has_any(w, &lex.price_quote).is_some() {
                        if let Some(q) = yearly_amounts(w).into_iter().fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))) {
                            quote = Some(quote.map_or(q, |old| old.max(q)));
                        }
                    }
                }
                Speaker::Prospect => {
                    let budget_words = has_any(w, &lex.budget_statement).is_some();
                    if !budget_words || text::sentence_is_question(s) {
                        continue;
                    }
                    let Some(b) = yearly_amounts(w).into_iter().reduce(f64::min) else { continue };
                    if let Some(q) = quote.filter(|q| b * 5.0 <= *q) {
                        return Some((t.time_of(&s.original), s.original.clone(), format!("a budget of about {b:.0} a year against a price of {q:.0}")));
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brief::analysis::{analyse, tests::record};
    use crate::brief::BriefConfig;
    use Speaker::{Prospect as P, Rep as R};

    #[test]
    fn icp_cues_count_only_when_the_rep_does_not_disqualify() {
        let lines = [
            (P, "We're a team of three, me, my wife and one mechanic."),
            (
                P,
                "We have maybe two thousand dollars a year for software, total.",
            ),
            (P, "Honestly, it works fine for us."),
        ];
        let mut pitched = lines.to_vec();
        pitched.push((R, "Let me show you the manufacturing module."));
        let a = analyse(&record(&pitched), &BriefConfig::default());
        let icp: f64 = a
            .findings
            .iter()
            .filter(|f| f.category == Category::IcpFit)
            .map(|f| f.weight)
            .sum();
        assert!(icp >= 6.0, "{icp} {:#?}", a.findings);
        let mut honest = lines.to_vec();
        honest.push((
            R,
            "Honestly, I don't think we're the right fit for a shop your size.",
        ));
        let a = analyse(&record(&honest), &BriefConfig::default());
        let icp: f64 = a
            .findings
            .iter()
            .filter(|f| f.category == Category::IcpFit)
            .map(|f| f.weight)
            .sum();
        assert_eq!(icp, 0.0);
    }
}

