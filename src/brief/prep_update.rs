//! The next-call prep update: the account's prep file (`<prep_dir>/<account-slug>.md`)
//! gains a dated section with the objections raised, the questions the rep could
//! not answer, the engagement pattern and the gaps to prepare.
//!
//! The file is rewritten atomically (temp + rename, 0600) with the old content kept
//! byte for byte in front of the new section; a section for a call already in the
//! file is not added twice (a crash-recovery rerun). Runs on the caller's thread.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use super::analysis::{clip, clock, Analysis};
use super::{Brief, BriefError, Category, Names, PrepUpdate, RootCause};
use crate::language::objections::ObjectionType;
use crate::private_file::write_atomic as write_private_atomic;

/// What the section says, from the analysis.
pub fn summarise(
    a: &Analysis,
    causes: &[RootCause],
    names: &Names,
    call_time: DateTime<FixedOffset>,
) -> PrepUpdate {
    let objections_raised = a
        .objections
        .iter()
        .map(|o| {
            format!(
                "{} at {}: \"{}\" — {}",
                o.kind,
                clock(o.t_s),
                clip(&o.excerpt, 120),
                if o.handled { "handled" } else { "NOT handled" }
            )
        })
        .collect();
    let mut unanswered: Vec<String> = a
        .unanswered_questions
        .iter()
        .chain(&a.deferred_questions)
        .map(|q| clip(q, 140))
        .collect();
    unanswered.dedup();
    let m = &a.metrics;
    let mut engagement = format!(
        "the prospect spoke {:.0}% of the time; answers averaged {:.0} words in the first half and {:.0} in the second; the rep asked {} questions; longest rep monologue {:.0} s",
        (1.0 - m.talk_ratio_rep) * 100.0,
        m.prospect_answer_words_first_half,
        m.prospect_answer_words_second_half,
        m.rep_questions,
        m.longest_rep_monologue_s
    );
    if a.flags.engagement_drop {
        engagement.push_str("; the prospect went quiet (one-word answers) in the second half");
    }
    if m.prospect_questions > 0 {
        engagement.push_str(&format!(
            "; the prospect asked {} question{}",
            m.prospect_questions,
            if m.prospect_questions == 1 { "" } else { "s" }
        ));
    }
    let mut gaps: Vec<String> = Vec::new();
    for cause in causes {
        let gap = match cause.category {
            Category::Preparation => {
                let cues: Vec<String> = a.prep_cues.iter().take(3).map(|c| format!("\"{}\"", clip(c, 80))).collect();
                let mut gap = format!("research {} before the call (role, size, stack, news)", names.account);
                if !cues.is_empty() {
                    gap.push_str(&format!("; the prospect expected us to know: {}", cues.join(", ")));
                }
                if a.flags.wrong_demo {
                    gap.push_str("; demo only what they said they need");
                }
                gap
            }
            Category::Objection => {
                let answers: Vec<String> = a
                    .objections
                    .iter()
                    .filter(|o| !o.handled)
                    .map(|o| match o.kind {
                        ObjectionType::Price => "a clear, consistent price with the value behind it".to_string(),
                        ObjectionType::Timing => "what waiting costs them, and a start date that fits their calendar".to_string(),
                        ObjectionType::Authority => format!("who signs off ({}) and how to involve them", a.decision_maker.as_deref().unwrap_or("ask")),
                        ObjectionType::Need => "the cost of the problem in their numbers".to_string(),
                        ObjectionType::Competitor => {
                            format!("how we compare with {}, and when their contract ends", a.competitor.as_deref().unwrap_or("their current vendor"))
                        }
                    })
                    .collect();
                if answers.is_empty() {
                    "acknowledge concerns instead of dismissing them".to_string()
                } else {
                    format!("prepared answers: {}", answers.join("; "))
                }
            }
            Category::ProductKnowledge if !a.corrections.is_empty() => {
                let fixes: Vec<String> = a.corrections.iter().take(3).map(|(_, c)| format!("\"{}\"", clip(c, 90))).collect();
                format!("get the facts right before the next call: {}", fixes.join(", "))
            }
            Category::ProductKnowledge => "confirmed answers to every open question above, and a product expert on the next call".to_string(),
            Category::Agenda => "open with an agenda the prospect agrees to; close on a dated next step".to_string(),
            Category::TalkRatio => "five open questions on their problem; ask and wait".to_string(),
            Category::IcpFit => {
                let cues: Vec<String> = a.icp_cues.iter().take(3).map(|c| format!("\"{}\"", clip(c, 80))).collect();
                format!("re-qualify before investing more time: {}", cues.join(", "))
            }
        };
        gaps.push(gap);
    }
    for o in a.objections.iter().filter(|o| o.handled) {
        gaps.push(format!(
            "{} came up and was handled; expect it again and bring the specifics",
            o.kind
        ));
    }
    let next_step = match (&a.next_step.secured, &a.next_step.phrase) {
        (true, Some(p)) => format!("secured: {p}"),
        (false, Some(p)) => format!("none secured (the call ended on \"{p}\")"),
        _ => "none secured".to_string(),
    };
    PrepUpdate {
        date: call_time.format("%Y-%m-%d").to_string(),
        objections_raised,
        unanswered_questions: unanswered,
        engagement_pattern: engagement,
        gaps_to_prepare: gaps,
        next_step,
    }
}

/// Longest slug in bytes: with ".md" and a temp-file suffix it stays far below
/// the 255-byte file-name limit whatever the script ("ç" is 2 bytes, "日" 3).
pub const MAX_SLUG_BYTES: usize = 120;

/// "Bennett's Bikes" -> "bennetts-bikes", at most [`MAX_SLUG_BYTES`] bytes.
pub fn account_slug(account: &str) -> String {
    let mut slug = String::new();
    for c in account.chars() {
        if c.is_alphanumeric() {
            let lower: String = c.to_lowercase().collect();
            if slug.len() + lower.len() > MAX_SLUG_BYTES {
                break;
            }
            slug.push_str(&lower);
        } else if c == '\'' || c == '’' {
            continue;
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        "account".to_string()
    } else {
        slug
    }
}

/// The prep file of an account.
pub fn prep_file(prep_dir: &Path, account: &str) -> PathBuf {
    prep_dir.join(format!("{}.md", account_slug(account)))
}

fn marker(call_id: &str) -> String {
    format!("<!-- callcoach call_id={call_id} -->")
}

/// The dated Markdown section for one call.
pub fn section_markdown(brief: &Brief) -> String {
    let u = &brief.prep_update;
    let list = |items: &[String]| {
        if items.is_empty() {
            "- none\n".to_string()
        } else {
            items.iter().map(|i| format!("- {i}\n")).collect::<String>()
        }
    };
    format!(
        "{}\n## {} — call with {} (rep: {}), outcome: {}\n\n**Objections raised**\n{}\n**Questions the rep could not answer**\n{}\n**Engagement pattern:** {}\n\n**Gaps to prepare**\n{}\n**Next step:** {}\n",
        marker(&brief.call_id),
        u.date,
        brief.names.prospect,
        brief.names.rep,
        brief.outcome.as_str(),
        list(&u.objections_raised),
        list(&u.unanswered_questions),
        u.engagement_pattern,
        list(&u.gaps_to_prepare),
        u.next_step
    )
}

/// Appends the brief's section to the account's prep file, atomically, keeping
/// everything already there. Returns the file's path.
pub fn append(prep_dir: &Path, brief: &Brief) -> Result<PathBuf, BriefError> {
    let path = prep_file(prep_dir, &brief.names.account);
    let existing = match crate::private_file::read_to_string(&path) {
        Ok(text) => text.unwrap_or_default(),
        Err(source) => return Err(BriefError::Io { path, source }),
    };
    if existing.contains(&marker(&brief.call_id)) {
        return Ok(path);
    }
    let mut out = existing;
    if out.is_empty() {
        out.push_str(&format!("# {} — call prep\n", brief.names.account));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&section_markdown(brief));
    write_private_atomic(&path, out.as_bytes()).map_err(|source| BriefError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(account_slug("Bennett's Bikes"), "bennetts-bikes");
        assert_eq!(account_slug("  ACME, Inc. "), "acme-inc");
        assert_eq!(account_slug("../../etc"), "etc");
        assert_eq!(account_slug("!!!"), "account");
        // 200 non-ASCII characters (400 bytes) still make a valid file name.
        let long: String = "é".repeat(200);
        let slug = account_slug(&long);
        assert!(slug.len() <= MAX_SLUG_BYTES && !slug.is_empty(), "{} bytes", slug.len());
        assert!(slug.chars().all(|c| c == 'é'));
    }
}
