//! Speaker turns, and the names of the rep, the prospect and the rep's company as
//! the opening lines say them.

use crate::brief::{CallRecord, Names, PLACEHOLDER_ACCOUNT, PLACEHOLDER_PROSPECT, PLACEHOLDER_REP};
use crate::call::{Segment, Speaker};
use crate::language::text;

use super::LEXICON;

lexicon_table!(not_names: Vec<String>);

/// Consecutive segments of one speaker.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub speaker: Speaker,
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// (start, text) of each segment, to time a sentence inside the turn.
    pub pieces: Vec<(f64, String)>,
}

impl Turn {
    /// Call time of the segment holding `sentence` (the turn's start if not found).
    pub fn time_of(&self, sentence: &str) -> f64 {
        let probe: String = sentence.chars().take(24).collect();
        self.pieces
            .iter()
            .find(|(_, t)| t.contains(probe.trim()))
            .map(|(s, _)| *s)
            .unwrap_or(self.start_s)
    }

    pub fn word_count(&self) -> usize {
        text::word_count(&self.text)
    }
}

/// Merges segments (sorted by start) into speaker turns.
pub fn turns(segments: &[Segment]) -> Vec<Turn> {
    let mut sorted: Vec<&Segment> = segments
        .iter()
        .filter(|s| !s.text.trim().is_empty())
        .collect();
    sorted.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let mut out: Vec<Turn> = Vec::new();
    for s in sorted {
        let text = s.text.trim();
        match out.last_mut() {
            Some(t) if t.speaker == s.speaker => {
                t.end_s = t.end_s.max(s.end_s);
                t.text.push(' ');
                t.text.push_str(text);
                t.pieces.push((s.start_s, text.to_string()));
            }
            _ => out.push(Turn {
                speaker: s.speaker,
                start_s: s.start_s,
                end_s: s.end_s,
                text: text.to_string(),
                pieces: vec![(s.start_s, text.to_string())],
            }),
        }
    }
    out
}

fn is_name(token: &str) -> bool {
    let mut chars = token.chars();
    // "Jordan's team": a possessive names someone else's thing, not the speaker.
    let possessive = token.ends_with("'s") || token.ends_with("’s");
    !possessive
        && chars.next().is_some_and(char::is_uppercase)
        && chars.all(|c| c.is_alphabetic() || c == '\'' || c == '-')
        && !LEXICON.names.not_names.contains(&token.to_lowercase())
}

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!' | '?' | ';' | ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Names from the opening lines: "Hi Tina, this is Marcus from Brightline",
/// "Hi Tina, Marcus from Teamstart", "my name is…"; the prospect's "Hi Marcus"
/// confirms the rep.
pub fn names_from_transcript(turns: &[Turn]) -> (Option<String>, Option<String>, Option<String>) {
    let (mut prospect, mut rep, mut company) = (None, None, None);
    for t in turns.iter().take(6) {
        let tk = tokens(&t.text);
        for (i, w) in tk.iter().enumerate() {
            let lw = w.to_lowercase();
            let next = tk.get(i + 1).filter(|n| is_name(n)).cloned();
            if matches!(lw.as_str(), "hi" | "hello" | "hey")
                || (lw == "morning" || lw == "afternoon") && i > 0
            {
                if let Some(n) = next.clone() {
                    match t.speaker {
                        Speaker::Rep => {
                            prospect.get_or_insert(n);
                        }
                        Speaker::Prospect => {
                            rep.get_or_insert(n);
                        }
                    }
                }
            }
            if t.speaker == Speaker::Rep {
                let intro = (lw == "is"
                    && i > 0
                    && matches!(tk[i - 1].to_lowercase().as_str(), "this" | "name"))
                    || lw == "it's"
                    || lw == "i'm";
                if intro {
                    if let Some(n) = next.clone() {
                        rep = Some(n);
                    }
                }
                if lw == "from" && i > 0 && is_name(&tk[i - 1]) {
                    rep.get_or_insert(tk[i - 1].clone());
                    let co: Vec<String> = tk[i + 1..]
                        .iter()
                        .take_while(|x| is_name(x))
                        .take(3)
                        .cloned()
                        .collect();
                    if !co.is_empty() {
                        company.get_or_insert(co.join(" "));
                    }
                }
            }
        }
    }
    (prospect, rep, company)
}

/// The call's names: prep first, then the transcript, then placeholders.
pub fn names(record: &CallRecord, turns: &[Turn]) -> Names {
    let (t_prospect, t_rep, t_company) = names_from_transcript(turns);
    let pick = |prep: &Option<String>, heard: Option<String>, placeholder: &str| match (prep, heard)
    {
        (Some(p), _) => (p.clone(), "prep"),
        (None, Some(h)) => (h, "transcript"),
        (None, None) => (placeholder.to_string(), "placeholder"),
    };
    let (rep, rep_source) = pick(&record.prep.rep_name, t_rep, PLACEHOLDER_REP);
    let (prospect, prospect_source) =
        pick(&record.prep.contact_name, t_prospect, PLACEHOLDER_PROSPECT);
    let (account, account_source) = pick(&record.prep.account, None, PLACEHOLDER_ACCOUNT);
    Names {
        rep,
        prospect,
        role: record.prep.contact_role.clone(),
        account,
        rep_company: t_company,
        rep_source: rep_source.into(),
        prospect_source: prospect_source.into(),
        account_source: account_source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brief::analysis::tests::record;
    use Speaker::{Prospect as P, Rep as R};

    #[test]
    fn turns_merge_consecutive_segments() {
        let r = record(&[(R, "Hi."), (R, "How are you?"), (P, "Fine.")]);
        let t = turns(&r.journal.segments);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].text, "Hi. How are you?");
        assert_eq!(t[0].pieces.len(), 2);
    }

    #[test]
    fn names_come_from_the_opening_lines() {
        let r = record(&[
            (
                R,
                "Hi Tina, this is Marcus from Brightline. Thanks for the time.",
            ),
            (P, "Hi Marcus."),
        ]);
        let t = turns(&r.journal.segments);
        let (p, rep, co) = names_from_transcript(&t);
        assert_eq!(p.as_deref(), Some("Tina"));
        assert_eq!(rep.as_deref(), Some("Marcus"));
        assert_eq!(co.as_deref(), Some("Brightline"));
        let r = record(&[(R, "Hi Tina, Marcus from Teamstart."), (P, "Hello.")]);
        let n = names(&r, &turns(&r.journal.segments));
        assert_eq!((n.prospect.as_str(), n.rep.as_str()), ("Tina", "Marcus"));
        assert_eq!(n.prospect_source, "transcript");
        assert_eq!(n.account, PLACEHOLDER_ACCOUNT);
        let r = record(&[(R, "Good morning. Let's get started."), (P, "Okay.")]);
        let n = names(&r, &turns(&r.journal.segments));
        assert_eq!(n.prospect, PLACEHOLDER_PROSPECT);
        assert_eq!(n.rep, PLACEHOLDER_REP);
    }
}

