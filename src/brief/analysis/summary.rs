//! The brief's one paragraph for the rep.

use crate::brief::{Names, Outcome, RootCause};

use super::{clock, Analysis};

/// One paragraph for the rep.
pub fn summary(outcome: Outcome, causes: &[RootCause], a: &Analysis, names: &Names) -> String {
    let m = &a.metrics;
    let objections = if a.objections.is_empty() {
        "no objections raised".to_string()
    } else {
        let handled = a.objections.iter().filter(|o| o.handled).count();
        format!(
            "{} objection{} raised ({}), {} handled",
            a.objections.len(),
            if a.objections.len() == 1 { "" } else { "s" },
            a.objections
                .iter()
                .map(|o| o.kind.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            handled
        )
    };
    let next = if a.next_step.secured {
        format!(
            "next step secured ({})",
            a.next_step.when.clone().unwrap_or_default()
        )
    } else {
        "no dated next step".to_string()
    };
    let head = match outcome {
        Outcome::Good => format!("Good call with {}: nothing to salvage.", names.prospect),
        Outcome::Bad => format!(
            "Bad call with {}: primary root cause {} ({}).",
            names.prospect,
            causes[0].category,
            causes[0].category.label()
        ),
    };
    format!(
        "{head} The rep talked {:.0}% of {} (longest monologue {:.0} s), asked {} questions; {objections}; {next}.",
        m.talk_ratio_rep * 100.0,
        clock(m.duration_s),
        m.longest_rep_monologue_s,
        m.rep_questions
    )
}
