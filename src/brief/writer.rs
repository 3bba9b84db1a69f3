//! Writes a call's folder: `brief.md` (for the rep, any editor), `brief.json` (the
//! versioned schema `callcoach.brief/1`, see the README) and `transcript.md`.
//! Each file is written atomically (temp + rename) with mode 0600 in a 0700 folder.
//! Runs on the caller's thread.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::analysis::clock;
use super::{Brief, BriefError, CallRecord, EmailKind, Outcome};
use crate::call::Speaker;
use crate::private_file::{create_private_dir, write_atomic as write_private_atomic};

/// The call's folder name under the briefs directory: the call id, made file-safe.
pub fn folder_name(brief: &Brief) -> String {
    let safe: String = brief
        .call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let safe = safe.trim_matches('.').to_string();
    if safe.is_empty() {
        "call".to_string()
    } else {
        safe
    }
}

/// Writes `brief.md`, `brief.json` and `transcript.md` into `dir` (created 0700).
pub fn write_folder(
    brief: &Brief,
    record: &CallRecord,
    dir: &Path,
) -> Result<Vec<PathBuf>, BriefError> {
    create_private_dir(dir).map_err(|source| BriefError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = [
        ("brief.json", to_json(brief)),
        ("brief.md", to_markdown(brief)),
        ("transcript.md", transcript_markdown(brief, record)),
    ];
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        write_private_atomic(&path, content.as_bytes()).map_err(|source| BriefError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

pub fn to_json(brief: &Brief) -> String {
    let mut s = serde_json::to_string_pretty(brief).expect("a brief always serialises");
    s.push('\n');
    s
}

/// The brief for people.
pub fn to_markdown(b: &Brief) -> String {
    let n = &b.names;
    let m = &b.metrics;
    let mut s = String::new();
    let role = n
        .role
        .as_ref()
        .map(|r| format!(", {r}"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "# Recovery brief — {} ({}{role}), {}",
        n.account,
        n.prospect,
        b.started_at.get(..10).unwrap_or(&b.started_at)
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Rep: {} · call `{}` · outcome: **{}**",
        n.rep,
        b.call_id,
        b.outcome.as_str().to_uppercase()
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", b.summary);
    if let Some(source) = &b.transcript_source {
        let _ = writeln!(
            s,
            "\nTranscript: Whisper {} (second pass) for {:.0}% of the speech{}.",
            source.second_pass_model,
            source.covered_share * 100.0,
            if source.fell_back_reason.is_some() { ", the live transcript elsewhere" } else { "" }
        );
    }
    for c in &b.caveats {
        let _ = writeln!(s, "\n> Note: {c}");
    }
    let _ = writeln!(s, "\n## Metrics\n");
    let _ = writeln!(s, "| metric | value |\n|---|---|");
    let _ = writeln!(s, "| call length | {} |", clock(m.duration_s));
    let _ = writeln!(
        s,
        "| rep talk share | {:.0}% (peak {:.0}% in a window) |",
        m.talk_ratio_rep * 100.0,
        m.peak_window_talk_ratio_rep * 100.0
    );
    let _ = writeln!(
        s,
        "| longest rep monologue | {:.0} s |",
        m.longest_rep_monologue_s
    );
    let _ = writeln!(s, "| rep questions | {} |", m.rep_questions);
    let _ = writeln!(
        s,
        "| prospect answer length, 1st → 2nd half | {:.0} → {:.0} words |",
        m.prospect_answer_words_first_half, m.prospect_answer_words_second_half
    );
    let _ = writeln!(
        s,
        "| agenda stated early | {} |",
        if m.agenda_stated { "yes" } else { "no" }
    );
    let _ = writeln!(
        s,
        "| deferrals (\"I'll check on that\") | {} |",
        m.deferrals
    );
    let _ = writeln!(s, "| prospect corrections | {} |", m.prospect_corrections);
    let _ = writeln!(s, "\n## Failure moments\n");
    if b.failure_moments.is_empty() {
        let _ = writeln!(
            s,
            "None — {}.",
            if b.outcome == Outcome::Good {
                "a good call gets no invented failures"
            } else {
                "no single moment stood out"
            }
        );
    } else {
        let _ = writeln!(
            s,
            "| time | metric | severity | root cause | excerpt |\n|---|---|---|---|---|"
        );
        for f in &b.failure_moments {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} — {} |",
                clock(f.t_s),
                f.metric.as_str(),
                f.severity.as_str(),
                f.root_cause,
                cell(&f.excerpt),
                cell(&f.detail)
            );
        }
    }
    let _ = writeln!(s, "\n## Root causes\n");
    if b.root_causes.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for (i, r) in b.root_causes.iter().enumerate() {
        let _ = writeln!(
            s,
            "{}. **{}** ({}){} — fix: {}",
            i + 1,
            r.category,
            r.category.label(),
            if i == 0 { ", primary" } else { "" },
            r.corrective_action
        );
        for e in &r.evidence {
            let _ = writeln!(s, "   - {e}");
        }
    }
    let _ = writeln!(s, "\n## Objections\n");
    if b.objections.is_empty() {
        let _ = writeln!(s, "None raised.");
    }
    for o in &b.objections {
        let _ = writeln!(
            s,
            "- **{}** at {} — \"{}\" — {} ({})",
            o.kind,
            clock(o.t_s),
            o.excerpt,
            if o.handled { "handled" } else { "NOT handled" },
            o.assessment
        );
    }
    let _ = writeln!(s, "\n## Next step\n");
    let _ = writeln!(
        s,
        "{}{}",
        if b.next_step.secured {
            "Secured"
        } else {
            "Not secured"
        },
        b.next_step
            .phrase
            .as_ref()
            .map(|p| format!(": \"{p}\""))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "\n## Salvage\n");
    let _ = writeln!(
        s,
        "Salvageability **{}**, action **{}** ({}): {}",
        b.salvage.salvageability.as_str(),
        b.salvage.action.as_str(),
        b.salvage.scenario,
        b.salvage.reason
    );
    let heading = match b.recovery_email.kind {
        EmailKind::Recovery => "Recovery email (draft)",
        EmailKind::BreakUp => "Break-up note (draft)",
        EmailKind::PhoneTalkingPoints => "Phone call talking points",
        EmailKind::Confirmation => "Confirmation email (draft)",
    };
    let _ = writeln!(s, "\n## {heading}\n");
    let _ = writeln!(s, "Subject: {}\n", b.recovery_email.subject);
    let _ = writeln!(s, "```text\n{}\n```", b.recovery_email.body);
    let _ = writeln!(s, "({} words)", b.recovery_email.word_count);
    let _ = writeln!(s, "\n## CRM note\n\n{}", b.crm_note);
    let _ = writeln!(s, "\n## Next-call prep update\n");
    let u = &b.prep_update;
    let _ = writeln!(
        s,
        "- Objections raised: {}",
        if u.objections_raised.is_empty() {
            "none".into()
        } else {
            u.objections_raised.join("; ")
        }
    );
    let _ = writeln!(
        s,
        "- Questions not answered: {}",
        if u.unanswered_questions.is_empty() {
            "none".into()
        } else {
            u.unanswered_questions.join("; ")
        }
    );
    let _ = writeln!(s, "- Engagement: {}", u.engagement_pattern);
    let _ = writeln!(
        s,
        "- Gaps to prepare: {}",
        if u.gaps_to_prepare.is_empty() {
            "none".into()
        } else {
            u.gaps_to_prepare.join("; ")
        }
    );
    let _ = writeln!(s, "- Next step: {}", u.next_step);
    let _ = writeln!(s, "\n## Coaching\n");
    if b.coaching.is_empty() {
        let _ = writeln!(s, "No recurring pattern in the last 30 days.");
    }
    for c in &b.coaching {
        let _ = writeln!(
            s,
            "- **{}** ({} flagged calls in {} days): {}",
            c.category, c.flagged_calls, c.window_days, c.recommendation
        );
    }
    s
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The transcript, one final segment per line with call time and speaker.
pub fn transcript_markdown(b: &Brief, record: &CallRecord) -> String {
    let mut s = format!(
        "# Transcript — {} with {} ({}), call `{}`\n\n",
        b.names.rep, b.names.prospect, b.names.account, b.call_id
    );
    let mut segments: Vec<_> = record.journal.segments.iter().collect();
    segments.sort_by(|x, y| x.start_s.total_cmp(&y.start_s));
    if segments.is_empty() {
        s.push_str("(no transcript was recorded)\n");
    }
    for seg in segments {
        let who = match seg.speaker {
            Speaker::Rep => format!("Rep ({})", b.names.rep),
            Speaker::Prospect => format!("Prospect ({})", b.names.prospect),
        };
        let _ = writeln!(
            s,
            "**[{}] {who}:** {}  ",
            clock(seg.start_s),
            seg.text.trim()
        );
    }
    s
}
