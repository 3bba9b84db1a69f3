//! The failure moments of a bad call, chosen from the findings.

use crate::brief::{BriefConfig, Category, FailureMoment, Outcome, RootCause};

use super::{Analysis, Finding};

/// 3–5 failure moments for a bad call, none for a good one: the strongest findings of
/// the root causes (the primary's strongest first, at most two per metric), topped up
/// from the other findings when fewer than three; in call order.
pub fn select_moments(
    a: &Analysis,
    causes: &[RootCause],
    outcome: Outcome,
    config: &BriefConfig,
) -> Vec<FailureMoment> {
    if outcome == Outcome::Good {
        return Vec::new();
    }
    let rank = |c: Category| {
        causes
            .iter()
            .position(|r| r.category == c)
            .unwrap_or(usize::MAX)
    };
    let mut pool: Vec<&Finding> = a.findings.iter().collect();
    pool.sort_by(|x, y| {
        let in_x = rank(x.category) != usize::MAX;
        let in_y = rank(y.category) != usize::MAX;
        in_y.cmp(&in_x)
            .then(y.severity.cmp(&x.severity))
            .then(y.weight.total_cmp(&x.weight))
            .then(rank(x.category).cmp(&rank(y.category)))
            .then(x.t_s.total_cmp(&y.t_s))
    });
    let mut chosen: Vec<&Finding> = Vec::new();
    // The primary cause's strongest finding always leads.
    if let Some(primary) = causes.first() {
        if let Some(f) = pool.iter().find(|f| f.category == primary.category) {
            chosen.push(f);
        }
    }
    for pass in 0..2 {
        for f in &pool {
            if chosen.len() >= config.max_failure_moments {
                break;
            }
            let in_causes = rank(f.category) != usize::MAX;
            if (pass == 0 && !in_causes) || (pass == 1 && chosen.len() >= 3) {
                continue;
            }
            let same_metric = chosen.iter().filter(|c| c.metric == f.metric).count();
            let limit = if causes.first().is_some_and(|p| p.category == f.category) {
                3
            } else {
                2
            };
            if chosen.iter().any(|c| std::ptr::eq(*c, *f)) || same_metric >= limit {
                continue;
            }
            chosen.push(f);
        }
    }
    let mut moments: Vec<FailureMoment> = chosen
        .into_iter()
        .map(|f| FailureMoment {
            t_s: (f.t_s * 10.0).round() / 10.0,
            excerpt: f.excerpt.clone(),
            metric: f.metric,
            severity: f.severity,
            root_cause: f.category,
            detail: f.detail.clone(),
        })
        .collect();
    moments.sort_by(|x, y| x.t_s.total_cmp(&y.t_s));
    moments
}
