//! Reads a finished call: turns, talk-time metrics (from the VAD utterances),
//! objections and whether each was handled, the next step, and every finding that
//! can point at one of the six root causes, each with a weight and a moment.
//!
//! Pure and synchronous. Text rules run on normalised words from `language::text`
//! (contractions expanded, numbers as digits), so they survive Whisper's spelling;
//! objections come from the live coach's `ObjectionMatcher` over its library
//! (`config/objections.toml`) and next steps from `language::text::detect_next_step`, so
//! the brief and the overlay agree on what the prospect raised and what was agreed.
//!
//! How each root cause is detected (weights are summed per category; a category
//! reaching `BriefConfig::min_root_cause_score` is a root cause):
//! - preparation: the prospect signals the rep should have known ("as I mentioned in
//!   my email", "it's on our website", "we already told your colleague", "you should
//!   know this") 1.5 each; the rep asks what research answers ("what does your company
//!   do?", "how many employees?") 0.5 each; a demo of the wrong thing ("we don't have
//!   stores", "I was hoping you would show…") 1.5.
//! - product_knowledge: deferrals ("I'll check on that") 1.0 each once there are
//!   `deferrals_for_gap` of them (0.5 each below); the prospect correcting a claim
//!   the rep just made 2.0 each.
//! - objection: an objection left unhandled 3.0 (+1.0 when the prospect had to repeat
//!   it, +1.0 for an inconsistent answer); the rep dismissing a concern 2.0.
//! - agenda: no agenda in the first 90 s 1.0; a prospect question deferred ("we'll
//!   get to that later") 1.5 each; running out of time 1.0; no dated next step 2.0.
//! - talk_ratio: rep share ≥ 65%: 2.0 + 20 × (share − 0.65); a monologue over
//!   `monologue_long_s` 1.0 (+0.5 over 90 s); the prospect's answers shrinking to a
//!   word or two 1.5.
//! - icp_fit: team at most `icp_max_team` people, a budget under `icp_min_budget`, no
//!   pain ("it works fine for us"), a use that does not exist ("we don't manufacture
//!   anything") 1.5 each; +2.0 when there are two or more and the rep pitched on
//!   instead of disqualifying. A rep who disqualifies cleanly has no ICP failure.

use crate::call::{Segment, Speaker, Utterance};
use crate::language::judge::FumbleReason;
use crate::language::objections::ObjectionType;
use crate::language::text::{self, Sentence};

use super::{
    BriefConfig, BriefMetrics, CallRecord, Category, FailureMoment, FlagMetric, Names, NextStep,
    ObjectionRecord, Outcome, RootCause, Severity, Verdicts, PLACEHOLDER_ACCOUNT,
    PLACEHOLDER_PROSPECT, PLACEHOLDER_REP,
};

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

/// Something the rep did that may explain a bad call.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub t_s: f64,
    pub excerpt: String,
    pub metric: FlagMetric,
    pub severity: Severity,
    pub category: Category,
    /// Contribution to the category's score (0 = supporting moment only).
    pub weight: f64,
    pub detail: String,
}

/// Call-level facts the salvage decision and the email need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// The prospect caught a wrong claim (a correction of what the rep just said).
    pub trust_caught: bool,
    /// The rep dismissed a concern ("that's not really a problem").
    pub dismissed_concern: bool,
    /// The prospect closed the door ("we signed with…", "it's not going to happen").
    pub deal_end: Option<String>,
    /// The rep demoed something the prospect does not have or need.
    pub wrong_demo: bool,
    pub engagement_drop: bool,
    /// The rep's answer changed ("earlier you said ten thousand").
    pub inconsistent_answer: Option<String>,
    /// The rep said it is not a fit — a clean disqualification.
    pub rep_disqualified: bool,
    pub overrun: bool,
}

/// Everything the brief is built from.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub turns: Vec<Turn>,
    pub metrics: BriefMetrics,
    pub objections: Vec<ObjectionRecord>,
    pub next_step: NextStep,
    pub findings: Vec<Finding>,
    pub flags: Flags,
    /// Prospect questions the rep deferred with "I'll check on that".
    pub unanswered_questions: Vec<String>,
    /// Prospect questions the rep pushed aside ("we'll get to that later").
    pub deferred_questions: Vec<String>,
    /// (rep claim, prospect's correction).
    pub corrections: Vec<(String, String)>,
    /// The prospect's own words about their problem.
    pub pain_quote: Option<String>,
    /// Prep cues ("it's on our website") the prospect gave.
    pub prep_cues: Vec<String>,
    pub icp_cues: Vec<String>,
    /// Who decides, in the prospect's words ("our VP of Operations").
    pub decision_maker: Option<String>,
    /// A competitor the prospect named.
    pub competitor: Option<String>,
    /// The close as it was said, when no next step was secured.
    pub vague_close: Option<String>,
    /// A question the rep asked, worth asking again in a recovery email.
    pub open_question: Option<String>,
}

fn has(words: &[String], pattern: &str) -> bool {
    text::find_seq(words, pattern).is_some()
}

fn has_any<'a>(words: &[String], patterns: &[&'a str]) -> Option<&'a str> {
    patterns.iter().copied().find(|p| has(words, p))
}

/// `mm:ss` for people.
pub fn clock(t_s: f64) -> String {
    let t = t_s.max(0.0).round() as u64;
    format!("{:02}:{:02}", t / 60, t % 60)
}

/// Shortens an excerpt to about `max` characters at a word boundary.
pub fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for w in s.split_whitespace() {
        if out.chars().count() + w.chars().count() + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.push('…');
    out
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

// ---------------------------------------------------------------------------
// Phrase lists. All are normalised word sequences (see `language::text::normalize`).
// ---------------------------------------------------------------------------

/// The prospect signals the rep should already know this.
const PREP_CUES: &[&str] = &[
    "as i mentioned in my email",
    "as i said in my email",
    "i mentioned in my email",
    "as i wrote",
    "in my email",
    "on our website",
    "on our site",
    "should know this",
    "should already know",
    "should have known",
    "already told",
    "told your colleague",
    "told your team",
    "in the form",
    "it was in the news",
    "we announced",
    "did you look at our",
    "did you read",
    "whole reason for this call",
    "did you get a chance to look",
    "i sent you",
];

/// The prospect points the rep to the rep's own material, after a question.
const OWN_MATERIAL: &[&str] = &[
    "your website says",
    "your site says",
    "your documentation says",
    "your own documentation",
    "your docs say",
    "your pricing page",
    "your case study",
];

/// The prospect says the rep's claim is wrong.
const EXPLICIT_CORRECTIONS: &[&str] = &[
    "that is not right",
    "that is not true",
    "that is not correct",
    "that is incorrect",
    "that is wrong",
    "that is not what your",
    "that is not what you",
    "that is not how it works",
    "you are wrong",
    "that is not accurate",
];

/// A demo of the wrong thing, in the prospect's reply.
const WRONG_DEMO: &[&str] = &[
    "i was hoping you would show",
    "i was hoping to see",
    "that is not what we need",
    "not relevant to us",
    "not what i asked",
];

/// Questions pre-call research answers.
const BASIC_QUESTIONS: &[&str] = &[
    "what does your company do",
    "what do you do exactly",
    "what does your business do",
    "what do you guys do",
    "what does the company do",
    "how many employees",
    "how many people work",
    "how big is your company",
    "how big is the company",
    "what industry",
    "where are you based",
    "where are you located",
    "what systems are you",
    "what do you sell",
    "tell me about your company",
    "tell me about your business",
    "what is your role",
];

/// The rep puts a prospect's question aside.
const QUESTION_DEFERRALS: &[&str] = &[
    "get to that later",
    "we will get to that",
    "come back to that",
    "hold that thought",
    "let me finish",
    "later in the call",
    "park that",
    "before we get to that",
    "we can cover that later",
    "let us come back",
];

/// Time ran out.
const OVERRUN: &[&str] = &[
    "out of time",
    "another meeting",
    "have to jump",
    "need to jump",
    "i have to run",
    "i need to run",
    "i have to go",
    "i need to go",
    "got to run",
    "over time",
    "running over",
    "we are over time",
    "hard stop",
    "i have to drop",
];

/// "I have to run it by…" is not running out of time.
fn is_overrun(words: &[String]) -> bool {
    has_any(words, OVERRUN).is_some()
        && has_any(
            words,
            &["run it", "run this", "run that", "go through", "go over"],
        )
        .is_none()
}

/// The prospect shows interest: a moment to ask for a dated next step.
const BUYING_SIGNALS: &[&str] = &[
    "that would help",
    "that is good to hear",
    "i love it",
    "exactly what we need",
    "that would save",
    "sounds great",
    "that sounds useful",
    "put that way",
    "that would be great",
    "that is really useful",
    "that is interesting",
    "i like that",
    "that makes sense",
];

/// A close that sets nothing concrete.
const VAGUE_CLOSE: &[&str] = &[
    "send you some",
    "send some info",
    "send over some",
    "send you something",
    "send me something",
    "be in touch",
    "circle back",
    "touch base",
    "keep in touch",
    "go from there",
    "send you our",
    "send over our",
    "get back to you",
    "come back to you",
    "let me know",
    "talk soon",
    "send me an email",
    "think about it",
    "i will send you",
    "send you some material",
    "you can share it",
];

/// The rep admits an error the prospect caught.
const ADMISSIONS: &[&str] = &[
    "my mistake",
    "i was wrong",
    "i stand corrected",
    "you are right i",
    "i may be wrong",
    "i might be wrong",
    "i misspoke",
    "sorry i was wrong",
];

/// The prospect says it no longer trusts the answers.
const DISTRUST: &[&str] = &[
    "not sure i can rely",
    "not sure i can trust",
    "how can you be sure",
    "not really an answer",
    "does not answer",
    "can not rely",
    "can not trust",
];

/// The rep waves a concern away.
const DISMISSALS: &[&str] = &[
    "that is not really a problem",
    "that is not a real problem",
    "nobody worries about that",
    "you do not need to worry",
    "do not worry about that",
    "that never happens",
    "trust me",
    "that will not be an issue",
    "that is not a real concern",
];

/// The prospect closes the door.
const DEAL_END: &[&str] = &[
    "decided to go with",
    "we went with",
    "going with another",
    "we chose",
    "we signed",
    "not going to happen",
    "not interested",
    "not looking to switch",
    "we will pass",
    "not moving forward",
    "no longer interested",
];

/// The rep disqualifies cleanly.
const DISQUALIFY: &[&str] = &[
    "not the right fit",
    "not a fit",
    "not a good fit",
    "not the best fit",
    "might not be the right",
    "probably not for you",
    "do not think we are the right",
    "do not think we are a",
    "not sure we are the right",
    "not sure we are a good",
    "we are not the right",
    "better served by",
    "not a match",
    "i would not recommend",
];

/// No pain: nothing to fix.
const NO_PAIN: &[&str] = &[
    "works fine for us",
    "it works fine",
    "works fine",
    "not a problem for us",
    "we do not have that problem",
    "we do not have a problem",
    "we do not really have a problem",
    "we are happy with how",
    "no real pain",
];

/// An impossible decision structure.
const DECISION_BLOCKS: &[&str] = &[
    "head office decides",
    "head office picks",
    "head office chooses",
    "corporate decides",
    "the board decides",
    "not allowed to buy",
    "we can not buy",
];

/// A close signal that a next step was refused.

/// Pain words: what makes a sentence the prospect's problem in their own words.
const PAIN_STEMS: &[&str] = &[
    "problem",
    "pain",
    "take",
    "hour",
    "day",
    "week",
    "slip",
    "late",
    "angry",
    "burn",
    "mess",
    "struggl",
    "biggest",
    "cost",
    "fee",
    "premium",
    "wreck",
    "break",
    "manual",
    "rebuild",
    "wast",
    "spend",
    "hard",
    "difficult",
    "lose",
    "cancel",
    "accident",
    "chase",
    "requir",
    "need",
    "half",
];

// ---------------------------------------------------------------------------
// The analysis
// ---------------------------------------------------------------------------

/// Runs every rule over the record.
pub fn analyse(record: &CallRecord, config: &BriefConfig) -> Analysis {
    let journal = &record.journal;
    let turns = turns(&journal.segments);
    let mut a = Analysis {
        turns,
        ..Default::default()
    };
    a.metrics = talk_metrics(
        &journal.utterances,
        &journal.segments,
        journal.duration_s(),
        config,
    );
    let sentences: Vec<Vec<Sentence>> = a.turns.iter().map(|t| text::sentences(&t.text)).collect();
    count_questions(&mut a, &sentences);
    let verdicts = record.verdicts();
    objections(&mut a, record, &verdicts);
    next_step(&mut a, &verdicts);
    agenda(&mut a, record, &sentences, config);
    knowledge(&mut a, &sentences, config);
    preparation(&mut a, &sentences);
    icp(&mut a, &sentences, config);
    talk(&mut a, &journal.utterances, config);
    a.pain_quote = pain_quote(&a, &sentences);
    a.open_question = open_question(&a, &sentences);
    a
}

fn talk_metrics(
    utterances: &[Utterance],
    segments: &[Segment],
    duration_s: f64,
    config: &BriefConfig,
) -> BriefMetrics {
    // Talk time comes from the VAD; a record without utterances (hand-made) falls
    // back to the segments' spans.
    let spans: Vec<(Speaker, f64, f64)> = if utterances.is_empty() {
        segments
            .iter()
            .map(|s| (s.speaker, s.start_s, s.end_s))
            .collect()
    } else {
        utterances
            .iter()
            .map(|u| (u.speaker, u.start_s, u.end_s))
            .collect()
    };
    let talk = |who: Speaker| {
        spans
            .iter()
            .filter(|s| s.0 == who)
            .map(|s| (s.2 - s.1).max(0.0))
            .sum::<f64>()
    };
    let (rep, prospect) = (talk(Speaker::Rep), talk(Speaker::Prospect));
    let mut sorted = spans.clone();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
    BriefMetrics {
        duration_s,
        talk_s_rep: rep,
        talk_s_prospect: prospect,
        talk_ratio_rep: if rep + prospect > 0.0 {
            rep / (rep + prospect)
        } else {
            0.0
        },
        longest_rep_monologue_s: longest_run(&sorted, Speaker::Rep).0,
        longest_prospect_stretch_s: longest_run(&sorted, Speaker::Prospect).0,
        peak_window_talk_ratio_rep: peak_window(&sorted, config.spike_window_s).0,
        ..Default::default()
    }
}

/// A run continues over pauses up to this long (as the live coach counts it).
const RUN_MAX_PAUSE_S: f64 = 4.0;
/// The other side's speech up to this long (a backchannel) does not end a run.
const RUN_BACKCHANNEL_S: f64 = 1.5;

/// Longest run of one speaker: their speech with pauses of at most 4 s, where the
/// other side says nothing longer than a 1.5 s backchannel (the live coach's
/// definition). Returns (seconds, start).
fn longest_run(sorted: &[(Speaker, f64, f64)], who: Speaker) -> (f64, f64) {
    let mut best = (0.0, 0.0);
    let mut run: Option<(f64, f64)> = None;
    for &(s, start, end) in sorted {
        if s == who {
            run = Some(match run {
                Some((rs, re)) if start - re <= RUN_MAX_PAUSE_S => (rs, re.max(end)),
                _ => (start, end),
            });
        } else if end - start > RUN_BACKCHANNEL_S {
            run = None;
        }
        if let Some((rs, re)) = run {
            if re - rs > best.0 {
                best = (re - rs, rs);
            }
        }
    }
    best
}

/// Highest rep share of speech in any window of `window_s` that holds at least
/// half a window of speech: (share, window start).
fn peak_window(sorted: &[(Speaker, f64, f64)], window_s: f64) -> (f64, f64) {
    let mut best = (0.0, 0.0);
    let mut lo = 0usize;
    for i in 0..sorted.len() {
        let end = sorted[i].2;
        let start = end - window_s;
        while lo < i && sorted[lo].2 <= start {
            lo += 1;
        }
        let (mut rep, mut all) = (0.0, 0.0);
        for s in &sorted[lo..=i] {
            let d = (s.2.min(end) - s.1.max(start)).max(0.0);
            all += d;
            if s.0 == Speaker::Rep {
                rep += d;
            }
        }
        if all >= window_s * 0.5 && rep / all > best.0 {
            best = (rep / all, start.max(0.0));
        }
    }
    best
}

fn count_questions(a: &mut Analysis, sentences: &[Vec<Sentence>]) {
    for (t, ss) in a.turns.iter().zip(sentences) {
        let q = ss.iter().filter(|s| text::sentence_is_question(s)).count();
        match t.speaker {
            Speaker::Rep => a.metrics.rep_questions += q,
            Speaker::Prospect => a.metrics.prospect_questions += q,
        }
    }
}

/// The objections as the live judge saw them (`CallRecord::verdicts`): the brief
/// never judges a reply itself, so it cannot disagree with the overlay. A chain of
/// raises of one type that the judge saw repeated becomes one objection with
/// `repeats`; each repeat is a failure moment of its own.
fn objections(a: &mut Analysis, record: &CallRecord, verdicts: &Verdicts) {
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
                weight: 3.0 + if repeats > 0 { 1.0 } else { 0.0 },
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

/// "I'd have to run it by our VP of Operations" -> "our VP of Operations".
/// Words that name who decides.
const ROLE_WORDS: &[&str] = &[
    "vp",
    "v",
    "cfo",
    "ceo",
    "coo",
    "cto",
    "cio",
    "boss",
    "manager",
    "director",
    "head",
    "owner",
    "board",
    "president",
    "chief",
    "partner",
    "founder",
    "controller",
    "finance",
    "procurement",
    "legal",
    "committee",
    "team",
    "wife",
    "husband",
];

fn decision_maker(sentence: &str) -> Option<String> {
    let lower = sentence.to_lowercase();
    for marker in [
        "run it by ",
        "run this by ",
        "check with ",
        "talk to ",
        "ask ",
    ] {
        if let Some(at) = lower.find(marker) {
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
                .any(|w| ROLE_WORDS.contains(&w.as_str()));
            if names_role && phrase.split_whitespace().count() <= 6 {
                return Some(phrase.to_string());
            }
        }
    }
    None
}

/// The coach's next-step reading, so the brief and the overlay agree.
fn find_next_step(line: &str) -> Option<text::NextStepMatch> {
    text::detect_next_step(line)
}

/// The next step as the live judge secured it; without one, the vague close and
/// the buying signals the rep let pass are the moments.
fn next_step(a: &mut Analysis, verdicts: &Verdicts) {
    let turns = &a.turns;
    let found = verdicts.next_step.as_ref().map(|n| NextStep {
        secured: true,
        phrase: Some(clip(&n.phrase, 160)),
        when: Some(n.when.clone()),
        t_s: Some(n.t_s),
    });
    a.next_step = match found {
        Some(n) => n,
        None => {
            // The vague close, searched from the end.
            let close = turns.iter().rev().take(4).find_map(|t| {
                text::sentences(&t.text)
                    .into_iter()
                    .find(|s| has_any(&s.words, VAGUE_CLOSE).is_some())
                    .map(|s| (t.time_of(&s.original), s.original, t.speaker))
            });
            a.vague_close = close.as_ref().map(|c| c.1.clone());
            let (t_s, excerpt) = match &close {
                Some((t, s, who)) => (*t, format!("{}: {}", who, clip(s, 160))),
                None => match turns.iter().rev().find(|t| t.speaker == Speaker::Rep) {
                    Some(t) => (t.start_s, format!("rep: {}", clip(&t.text, 160))),
                    None => (a.metrics.duration_s, "(no transcript)".into()),
                },
            };
            for (i, t) in turns
                .iter()
                .enumerate()
                .filter(|(_, t)| t.speaker == Speaker::Prospect)
            {
                let Some(s) = text::sentences(&t.text)
                    .into_iter()
                    .find(|s| has_any(&s.words, BUYING_SIGNALS).is_some())
                else {
                    continue;
                };
                let asked = turns[i + 1..]
                    .iter()
                    .take_while(|n| n.speaker == Speaker::Rep)
                    .any(|n| find_next_step(&n.text).is_some());
                if !asked {
                    a.findings.push(Finding {
                        t_s: t.time_of(&s.original),
                        excerpt: format!("prospect: {}", clip(&s.original, 160)),
                        metric: FlagMetric::VagueClose,
                        severity: Severity::Medium,
                        category: Category::Agenda,
                        weight: 0.0,
                        detail: "a buying signal, and the rep did not ask for a dated next step"
                            .into(),
                    });
                }
            }
            if !turns.is_empty() {
                a.findings.push(Finding {
                    t_s,
                    excerpt,
                    metric: FlagMetric::VagueClose,
                    severity: Severity::High,
                    category: Category::Agenda,
                    weight: 2.0,
                    detail: "the call ended without a dated next step".into(),
                });
            }
            NextStep {
                secured: false,
                phrase: close.map(|c| clip(&c.1, 160)),
                when: None,
                t_s: None,
            }
        }
    };
}

fn agenda(
    a: &mut Analysis,
    record: &CallRecord,
    sentences: &[Vec<Sentence>],
    config: &BriefConfig,
) {
    const OPENERS: &[&str] = &[
        "agenda",
        "my plan",
        "plan for today",
        "plan for the",
        "here is what",
        "here is my plan",
        "what i would like to",
        "i would like to",
        "i want to",
        "today i would like",
        "we will cover",
        "let us cover",
        "i would suggest",
        "goal for today",
        "goal today",
        "purpose of",
        "the plan is",
        "i would love to",
    ];
    const STRUCTURE: &[&str] = &[
        "then",
        "first",
        "next step",
        "next steps",
        "finally",
        "at the end",
        "and",
    ];
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
                || STRUCTURE.iter().filter(|p| has(&s.words, p)).count() >= 2;
            if has_any(&s.words, OPENERS).is_some() && structured {
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
                if let Some(p) = has_any(head, QUESTION_DEFERRALS) {
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

fn knowledge(a: &mut Analysis, sentences: &[Vec<Sentence>], config: &BriefConfig) {
    let mut deferrals: Vec<(f64, String)> = Vec::new();
    for (i, t) in a.turns.iter().enumerate() {
        let prev = i
            .checked_sub(1)
            .map(|p| &a.turns[p])
            .filter(|p| p.speaker != t.speaker);
        match t.speaker {
            Speaker::Rep => {
                let ss = &sentences[i];
                if let Some(s) = ss.iter().find(|s| text::is_deferral(&s.original)) {
                    deferrals.push((t.time_of(&s.original), s.original.clone()));
                    if let Some(p) = prev {
                        let pss = &sentences[i - 1];
                        let q = pss
                            .iter()
                            .rev()
                            .find(|s| text::sentence_is_question(s))
                            .or(pss.last());
                        if let Some(q) = q {
                            a.unanswered_questions.push(q.original.clone());
                        }
                        let _ = p;
                    }
                }
                if let Some(s) = ss.iter().find(|s| has_any(&s.words, DISMISSALS).is_some()) {
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
                if ss.iter().any(|s| has_any(&s.words, DISQUALIFY).is_some()) {
                    a.flags.rep_disqualified = true;
                }
            }
            Speaker::Prospect => {
                let Some(p) = prev else { continue };
                let pss = &sentences[i - 1];
                let claim = pss
                    .iter()
                    .rev()
                    .find(|s| !text::sentence_is_question(s) && s.words.len() >= 4);
                let rep_asked = pss.last().is_some_and(text::sentence_is_question);
                let ss = &sentences[i];
                // An inconsistent answer ("earlier you said ten thousand, now it's twelve").
                if let Some(s) = ss.iter().find(|s| {
                    has_any(
                        &s.words,
                        &[
                            "earlier you said",
                            "you said earlier",
                            "you just said",
                            "before you said",
                        ],
                    )
                    .is_some()
                }) {
                    a.flags.inconsistent_answer = Some(s.original.clone());
                    let unresolved = a
                        .objections
                        .iter()
                        .any(|o| !o.handled && o.t_s <= t.start_s);
                    a.findings.push(Finding {
                        t_s: t.time_of(&s.original),
                        excerpt: format!("prospect: {}", clip(&s.original, 160)),
                        metric: FlagMetric::ProspectCorrection,
                        severity: Severity::High,
                        category: if unresolved {
                            Category::Objection
                        } else {
                            Category::ProductKnowledge
                        },
                        weight: if unresolved { 1.0 } else { 2.0 },
                        detail: "the rep's answer changed and the prospect noticed".into(),
                    });
                    continue;
                }
                // A correction of the claim: an explicit one ("that's not right", "your
                // documentation says…"), or the coach's correction form about the same thing.
                let claim_stems: Vec<String> = claim
                    .map(|c| text::content_stems(&c.original))
                    .unwrap_or_default();
                let corrected = ss.iter().position(|s| {
                    has_any(&s.words, EXPLICIT_CORRECTIONS).is_some()
                        || has_any(&s.words, OWN_MATERIAL).is_some()
                        || (text::is_correction(&s.original)
                            && text::content_stems(&s.original)
                                .iter()
                                .any(|w| claim_stems.contains(w)))
                });
                if let (Some(k), Some(c)) = (corrected, claim.filter(|_| !rep_asked)) {
                    let s = &ss[k];
                    // "Actually, that's not right." says little alone: keep the reason after it.
                    let mut correction = s.original.clone();
                    if s.words.len() < 6 {
                        if let Some(next) = ss.get(k + 1) {
                            correction = format!("{correction} {}", next.original);
                        }
                    }
                    a.flags.trust_caught = true;
                    a.corrections.push((c.original.clone(), correction));
                    a.findings.push(Finding {
                        t_s: t.time_of(&s.original),
                        excerpt: format!(
                            "rep: {} / prospect: {}",
                            clip(&c.original, 80),
                            clip(&s.original, 100)
                        ),
                        metric: FlagMetric::ProspectCorrection,
                        severity: Severity::High,
                        category: Category::ProductKnowledge,
                        weight: 2.0,
                        detail: "the prospect corrected a claim the rep had just made".into(),
                    });
                }
                let _ = p;
            }
        }
    }
    a.metrics.deferrals = deferrals.len();
    a.metrics.prospect_corrections = a.corrections.len();
    let gap = deferrals.len() >= config.deferrals_for_gap;
    for (k, (t_s, s)) in deferrals.iter().enumerate() {
        a.findings.push(Finding {
            t_s: *t_s,
            excerpt: format!("rep: {}", clip(s, 160)),
            metric: FlagMetric::RepeatedDeferral,
            severity: if gap && deferrals.len() >= 3 {
                Severity::High
            } else {
                Severity::Medium
            },
            category: Category::ProductKnowledge,
            weight: if gap { 1.0 } else { 0.5 },
            detail: format!(
                "deferral {} of {}: the rep could not answer",
                k + 1,
                deferrals.len()
            ),
        });
    }
    // Admissions and open distrust make a caught error a trust problem.
    for (t, ss) in a.turns.iter().zip(sentences) {
        let list = if t.speaker == Speaker::Rep {
            ADMISSIONS
        } else {
            DISTRUST
        };
        if ss.iter().any(|s| has_any(&s.words, list).is_some()) && !a.corrections.is_empty() {
            a.flags.trust_caught = true;
        }
    }
    // Deal end: the prospect closed the door.
    for (t, ss) in a.turns.iter().zip(sentences) {
        if t.speaker == Speaker::Prospect {
            if let Some(s) = ss
                .iter()
                .find(|s| has_any(&s.words, DEAL_END).is_some() && !text::sentence_is_question(s))
            {
                a.flags.deal_end.get_or_insert(s.original.clone());
            }
        }
    }
}

fn preparation(a: &mut Analysis, sentences: &[Vec<Sentence>]) {
    for (i, t) in a.turns.iter().enumerate() {
        let ss = &sentences[i];
        match t.speaker {
            Speaker::Rep => {
                for s in ss.iter().filter(|s| text::sentence_is_question(s)) {
                    if let Some(p) = has_any(&s.words, BASIC_QUESTIONS) {
                        a.findings.push(Finding {
                            t_s: t.time_of(&s.original),
                            excerpt: format!("rep: {}", clip(&s.original, 160)),
                            metric: FlagMetric::PreparationGap,
                            severity: Severity::Medium,
                            category: Category::Preparation,
                            weight: 0.5,
                            detail: format!("asked what research would have answered (\"{p}\")"),
                        });
                    }
                }
            }
            Speaker::Prospect => {
                let prev_rep = i
                    .checked_sub(1)
                    .map(|p| &a.turns[p])
                    .filter(|p| p.speaker == Speaker::Rep);
                let rep_asked = prev_rep.is_some()
                    && sentences[i - 1]
                        .last()
                        .is_some_and(text::sentence_is_question);
                for s in ss {
                    let cue = has_any(&s.words, PREP_CUES)
                        .or_else(|| has_any(&s.words, OWN_MATERIAL).filter(|_| rep_asked));
                    if let Some(c) = cue {
                        a.prep_cues.push(s.original.clone());
                        a.findings.push(Finding {
                            t_s: t.time_of(&s.original),
                            excerpt: format!("prospect: {}", clip(&s.original, 160)),
                            metric: FlagMetric::PreparationGap,
                            severity: Severity::High,
                            category: Category::Preparation,
                            weight: 1.5,
                            detail: format!("the prospect expected the rep to know this (\"{c}\")"),
                        });
                    }
                }
                // A demo of the wrong thing: "we don't have X" / "I was hoping you would
                // show…" right after the rep showed something.
                let rep_demoed = prev_rep.is_some_and(|p| {
                    let w = text::words(&p.text);
                    has_any(
                        &w,
                        &[
                            "let me show",
                            "i will show",
                            "here is",
                            "this is our",
                            "let me walk you",
                        ],
                    )
                    .is_some()
                });
                let first = ss.first().map(|s| &s.words[..]).unwrap_or(&[]);
                let says_no_such = first.len() <= 8
                    && (has(first, "we do not have")
                        || (has(first, "we do not") && has(first, "anything")));
                let wrong = ss
                    .iter()
                    .find(|s| has_any(&s.words, WRONG_DEMO).is_some())
                    .map(|s| s.original.clone());
                if let Some(w) =
                    wrong.or_else(|| (rep_demoed && says_no_such).then(|| ss[0].original.clone()))
                {
                    if !a.flags.wrong_demo {
                        a.flags.wrong_demo = true;
                        a.findings.push(Finding {
                            t_s: t.time_of(&w),
                            excerpt: format!("prospect: {}", clip(&w, 160)),
                            metric: FlagMetric::PreparationGap,
                            severity: Severity::High,
                            category: Category::Preparation,
                            weight: 1.5,
                            detail: "the rep demoed features the prospect does not need".into(),
                        });
                    }
                }
            }
        }
    }
}

fn icp(a: &mut Analysis, sentences: &[Vec<Sentence>], config: &BriefConfig) {
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
                if before("team of")
                    || before("only") && (after("of") || after("people"))
                    || (before("we are") && (after("people") || after("employees")))
                    || (after("employees") && !before("of"))
                {
                    why = Some(format!("a team of {n}"));
                }
            }
            if has(w, "just me and") || has(w, "it is just me") {
                why = Some("a one- or two-person team".into());
            }
            // A budget far below the product.
            let budget_context = has_any(
                w,
                &[
                    "budget",
                    "spend",
                    "afford",
                    "total",
                    "for software",
                    "we have maybe",
                    "we have about",
                ],
            )
            .is_some();
            if budget_context
                && has_any(
                    w,
                    &["dollar", "dollars", "bucks", "a year", "per year", "total"],
                )
                .is_some()
            {
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
            if let Some(p) = has_any(w, NO_PAIN) {
                why = Some(format!("no pain (\"{p}\")"));
            }
            if let Some(p) = has_any(w, DECISION_BLOCKS) {
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
    let monthly = has_any(words, &["a month", "per month", "monthly", "every month"]).is_some();
    let money = has_any(words, &["dollar", "dollars", "bucks", "a month", "per month", "a year", "per year", "grand", "budget", "price", "cost"]).is_some();
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
    let mut quote: Option<f64> = None;
    for (t, ss) in turns.iter().zip(sentences) {
        for s in ss {
            let w = &s.words;
            match t.speaker {
                Speaker::Rep => {
                    if has_any(w, &["cost", "costs", "price", "pricing", "comes to", "starts at", "would be", "plan is", "is about"]).is_some() {
                        if let Some(q) = yearly_amounts(w).into_iter().fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))) {
                            quote = Some(quote.map_or(q, |old| old.max(q)));
                        }
                    }
                }
                Speaker::Prospect => {
                    let budget_words = has_any(w, &["budget", "we spend", "set aside", "we have about", "we have maybe", "for software", "whole", "total", "all we have", "we pay"]).is_some();
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

fn talk(a: &mut Analysis, utterances: &[Utterance], config: &BriefConfig) {
    let m = a.metrics.clone();
    let mut spans: Vec<(Speaker, f64, f64)> = utterances
        .iter()
        .map(|u| (u.speaker, u.start_s, u.end_s))
        .collect();
    if spans.is_empty() {
        spans = a
            .turns
            .iter()
            .map(|t| (t.speaker, t.start_s, t.end_s))
            .collect();
    }
    spans.sort_by(|x, y| x.1.total_cmp(&y.1));
    let rep_turn_at = |t: f64| {
        a.turns
            .iter()
            .filter(|x| x.speaker == Speaker::Rep)
            .min_by(|x, y| (x.start_s - t).abs().total_cmp(&(y.start_s - t).abs()))
            .map(|x| format!("rep: {}", clip(&x.text, 160)))
            .unwrap_or_default()
    };
    let (peak, peak_at) = peak_window(&spans, config.spike_window_s);
    if m.talk_ratio_rep >= config.talk_ratio_high {
        a.findings.push(Finding {
            t_s: peak_at,
            excerpt: rep_turn_at(peak_at),
            metric: FlagMetric::TalkRatioSpike,
            severity: if m.talk_ratio_rep >= 0.75 {
                Severity::High
            } else {
                Severity::Medium
            },
            category: Category::TalkRatio,
            weight: 2.0 + 20.0 * (m.talk_ratio_rep - config.talk_ratio_high),
            detail: format!(
                "the rep talked {:.0}% of the call ({:.0}% from {})",
                m.talk_ratio_rep * 100.0,
                peak * 100.0,
                clock(peak_at)
            ),
        });
    } else if peak >= config.spike_ratio {
        a.findings.push(Finding {
            t_s: peak_at,
            excerpt: rep_turn_at(peak_at),
            metric: FlagMetric::TalkRatioSpike,
            severity: Severity::Low,
            category: Category::TalkRatio,
            weight: 0.0,
            detail: format!(
                "the rep talked {:.0}% of the {} s from {}",
                peak * 100.0,
                config.spike_window_s as u64,
                clock(peak_at)
            ),
        });
    }
    let (mono, mono_at) = longest_run(&spans, Speaker::Rep);
    if mono >= config.monologue_long_s {
        a.findings.push(Finding {
            t_s: mono_at,
            excerpt: rep_turn_at(mono_at),
            metric: FlagMetric::Monologue,
            severity: if mono >= 90.0 {
                Severity::High
            } else {
                Severity::Medium
            },
            category: Category::TalkRatio,
            weight: 1.0 + if mono >= 90.0 { 0.5 } else { 0.0 },
            detail: format!("a {:.0} s rep monologue", mono),
        });
    } else if mono >= config.monologue_long_s / 2.0 && m.talk_ratio_rep >= config.talk_ratio_high {
        a.findings.push(Finding {
            t_s: mono_at,
            excerpt: rep_turn_at(mono_at),
            metric: FlagMetric::Monologue,
            severity: Severity::Medium,
            category: Category::TalkRatio,
            weight: 0.0,
            detail: format!("a {:.0} s rep monologue in a call the rep dominated", mono),
        });
    }
    // Engagement: the prospect's answers, first half of the call against the second.
    let half = m.duration_s / 2.0;
    let answers: Vec<&Turn> = a
        .turns
        .iter()
        .filter(|t| t.speaker == Speaker::Prospect)
        .collect();
    let avg = |xs: &[&Turn]| {
        if xs.is_empty() {
            0.0
        } else {
            xs.iter().map(|t| t.word_count() as f64).sum::<f64>() / xs.len() as f64
        }
    };
    let first: Vec<&Turn> = answers
        .iter()
        .copied()
        .filter(|t| t.start_s < half)
        .collect();
    let second: Vec<&Turn> = answers
        .iter()
        .copied()
        .filter(|t| t.start_s >= half)
        .collect();
    a.metrics.prospect_answer_words_first_half = avg(&first);
    a.metrics.prospect_answer_words_second_half = avg(&second);
    let short: Vec<&&Turn> = second
        .iter()
        .filter(|t| t.word_count() <= config.short_answer_words)
        .collect();
    let dropped = !first.is_empty()
        && second.len() >= 2
        && avg(&second) <= 0.5 * avg(&first)
        && short.len() >= 2
        && short.len() * 2 >= second.len();
    if dropped {
        a.flags.engagement_drop = true;
        let at = short[0];
        a.findings.push(Finding {
            t_s: at.start_s,
            excerpt: format!("prospect: {}", clip(&at.text, 80)),
            metric: FlagMetric::EngagementDrop,
            severity: Severity::Medium,
            category: Category::TalkRatio,
            weight: 1.5,
            detail: format!(
                "the prospect's answers shrank from {:.0} to {:.0} words on average; {} of {} were a word or two",
                avg(&first),
                avg(&second),
                short.len(),
                second.len()
            ),
        });
    }
}

/// The prospect's most specific sentence about their problem.
fn pain_quote(a: &Analysis, sentences: &[Vec<Sentence>]) -> Option<String> {
    let mut best: Option<(f64, String)> = None;
    let objection_sentences: Vec<&str> = a.objections.iter().map(|o| o.excerpt.as_str()).collect();
    for (t, ss) in a.turns.iter().zip(sentences) {
        if t.speaker != Speaker::Prospect {
            continue;
        }
        for s in ss {
            let n = s.words.len();
            if !(5..=30).contains(&n) || text::sentence_is_question(s) {
                continue;
            }
            if objection_sentences
                .iter()
                .any(|o| o.starts_with(s.original.trim_end_matches('.')))
                || has_any(&s.words, PREP_CUES).is_some()
                || is_overrun(&s.words)
                || has_any(&s.words, DEAL_END).is_some()
                || has_any(&s.words, OWN_MATERIAL).is_some()
                || has(&s.words, "case study")
                || text::is_correction(&s.original)
            {
                continue;
            }
            let stems: Vec<String> = s.words.iter().map(|w| text::stem(w)).collect();
            let pain = stems
                .iter()
                .filter(|st| PAIN_STEMS.iter().any(|p| st.starts_with(p)))
                .count() as f64;
            let numbers = s
                .words
                .iter()
                .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
                .count() as f64;
            let score = pain * 2.0 + numbers.min(2.0) + (n as f64 / 10.0).min(1.5);
            if pain > 0.0 && best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, s.original.clone()));
            }
        }
    }
    best.map(|b| clip(&strip_discourse(&b.1), 160))
}

/// "Sure, we're trying to…" -> "We're trying to…": a quote starts at its content.
fn strip_discourse(s: &str) -> String {
    const OPENERS: &[&str] = &[
        "sure", "okay", "ok", "honestly", "well", "so", "yes", "yeah", "right", "oh", "and", "but",
        "um", "uh",
    ];
    let mut rest = s.trim();
    loop {
        let Some((head, tail)) = rest.split_once([',', ' ']) else {
            break;
        };
        if !OPENERS.contains(&head.to_lowercase().as_str())
            || tail.trim().split_whitespace().count() < 5
        {
            break;
        }
        rest = tail.trim_start_matches([',', ' ']);
    }
    let mut c = rest.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A good open question the rep asked (or should ask again).
fn open_question(a: &Analysis, sentences: &[Vec<Sentence>]) -> Option<String> {
    a.turns
        .iter()
        .zip(sentences)
        .filter(|(t, _)| t.speaker == Speaker::Rep)
        .flat_map(|(_, ss)| ss.iter())
        .filter(|s| text::sentence_is_question(s) && s.words.len() >= 5)
        .filter(|s| {
            s.words
                .first()
                .is_some_and(|w| matches!(w.as_str(), "what" | "how" | "why" | "who"))
        })
        .filter(|s| has_any(&s.words, BASIC_QUESTIONS).is_none())
        .map(|s| clip(&s.original, 120))
        .next()
}

// ---------------------------------------------------------------------------
// Classification and moment selection
// ---------------------------------------------------------------------------

/// Root causes (primary first) and the outcome: bad when any category reaches the
/// threshold. Evidence is the category's findings, strongest first.
pub fn classify(a: &Analysis, config: &BriefConfig) -> (Outcome, Vec<RootCause>) {
    let mut causes: Vec<RootCause> = Vec::new();
    for category in Category::ALL {
        let mut fs: Vec<&Finding> = a
            .findings
            .iter()
            .filter(|f| f.category == category && f.weight > 0.0)
            .collect();
        let score: f64 = fs.iter().map(|f| f.weight).sum();
        if score + 1e-9 < config.min_root_cause_score {
            continue;
        }
        fs.sort_by(|x, y| y.weight.total_cmp(&x.weight).then(x.t_s.total_cmp(&y.t_s)));
        let evidence = fs
            .iter()
            .take(5)
            .map(|f| format!("[{}] {}: {}", clock(f.t_s), f.detail, f.excerpt))
            .collect();
        causes.push(RootCause {
            category,
            evidence,
            score: (score * 100.0).round() / 100.0,
            corrective_action: category.corrective_action().to_string(),
        });
    }
    causes.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then(x.category.depth().cmp(&y.category.depth()))
    });
    let outcome = if causes.is_empty() {
        Outcome::Good
    } else {
        Outcome::Bad
    };
    (outcome, causes)
}

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

// ---------------------------------------------------------------------------
// Names and summary
// ---------------------------------------------------------------------------

const NOT_NAMES: &[&str] = &[
    "there",
    "everyone",
    "all",
    "team",
    "thanks",
    "thank",
    "so",
    "again",
    "guys",
    "folks",
    "good",
    "sure",
    "yes",
    "okay",
    "great",
    "this",
    "it",
    "i",
    "we",
    "you",
    "the",
    "and",
    "from",
    "hi",
    "hello",
    "hey",
    "let's",
    "lets",
    "welcome",
    "nice",
    "how",
    "what",
    "well",
    "everybody",
    "again",
    "ok",
];

fn is_name(token: &str) -> bool {
    let mut chars = token.chars();
    // "Jordan's team": a possessive names someone else's thing, not the speaker.
    let possessive = token.ends_with("'s") || token.ends_with("’s");
    !possessive
        && chars.next().is_some_and(char::is_uppercase)
        && chars.all(|c| c.is_alphabetic() || c == '\'' || c == '-')
        && !NOT_NAMES.contains(&token.to_lowercase().as_str())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalRecord;

    /// A record from `(speaker, text)` lines at ~2.5 words a second with 0.6 s gaps.
    pub(crate) fn record(lines: &[(Speaker, &str)]) -> CallRecord {
        let mut t = 0.5;
        let mut j = JournalRecord {
            call_id: "t".into(),
            started_at: "2026-11-23T10:00:00Z".into(),
            ..Default::default()
        };
        for (who, line) in lines {
            let d = (text::word_count(line) as f64 / 2.75).max(0.4);
            j.utterances.push(Utterance {
                speaker: *who,
                start_s: t,
                end_s: t + d,
            });
            j.segments.push(Segment {
                speaker: *who,
                start_s: t,
                end_s: t + d,
                text: line.to_string(),
            });
            t += d + 0.6;
        }
        j.ended_at_s = Some(t + 1.0);
        CallRecord {
            journal: j,
            prep: Default::default(),
        }
    }

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
    fn next_step_needs_agreement_on_a_date() {
        let yes = record(&[
            (R, "Could we meet again on Tuesday at two?"),
            (P, "Yes, Tuesday at two works."),
        ]);
        assert!(analyse(&yes, &BriefConfig::default()).next_step.secured);
        let vague = record(&[
            (R, "Great. I'll send you some info and we'll be in touch."),
            (P, "Sounds good."),
        ]);
        let a = analyse(&vague, &BriefConfig::default());
        assert!(!a.next_step.secured);
        assert!(a.vague_close.as_deref().unwrap().contains("in touch"));
        assert!(a
            .findings
            .iter()
            .any(|f| f.metric == FlagMetric::VagueClose && f.weight >= 2.0));
    }

    #[test]
    fn next_steps_whisper_writes_loosely_are_still_found() {
        let r = record(&[
            (R, "Could we book thirty minutes with your CFO? I could do Thursday at 11 or Friday at 9"),
            (P, "Thursday, 11, I will forward the invite."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert!(a.next_step.secured, "{:?}", a.next_step);
        let r = record(&[
            (R, "Great, I'll bring the numbers."),
            (P, "Okay, talk Thursday."),
        ]);
        assert!(analyse(&r, &BriefConfig::default()).next_step.secured);
        for no in [
            "We talked last Thursday.",
            "We meet every Tuesday.",
            "Thursday doesn't work for me.",
        ] {
            assert!(find_next_step(no).is_none(), "{no}");
            let r = record(&[(R, "Great."), (P, no)]);
            assert!(
                !analyse(&r, &BriefConfig::default()).next_step.secured,
                "{no}"
            );
        }
    }

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
    fn preparation_cues_and_basic_questions() {
        let r = record(&[
            (R, "So what does your company do exactly?"),
            (P, "We run eleven clinics. It's on our website."),
            (R, "And how many employees do you have?"),
            (P, "As I mentioned in my email, about four thousand."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        let prep: f64 = a
            .findings
            .iter()
            .filter(|f| f.category == Category::Preparation)
            .map(|f| f.weight)
            .sum();
        assert!(prep >= 4.0, "{prep}: {:#?}", a.findings);
    }

    #[test]
    fn corrections_of_a_claim_are_caught_but_answers_to_questions_are_not() {
        let r = record(&[
            (R, "We integrate natively with SAP Business One, it works out of the box."),
            (P, "Actually, that's not right. Your own documentation says the connector is built by a partner."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert_eq!(a.corrections.len(), 1);
        assert!(a.flags.trust_caught);
        let r = record(&[
            (R, "What kind of data would you want?"),
            (
                P,
                "Your website says you have a certified connector. You should know this already.",
            ),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        assert!(a.corrections.is_empty());
        assert!(!a.prep_cues.is_empty());
    }

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

    #[test]
    fn monologue_and_peak_window_from_utterances() {
        // A 1 s backchannel does not end the run; a 2 s answer or a 5 s pause does.
        let s = vec![
            (R, 0.0, 50.0),
            (R, 50.5, 100.0),
            (P, 101.0, 102.0),
            (R, 103.0, 110.0),
            (P, 111.0, 113.0),
            (R, 114.0, 120.0),
        ];
        assert_eq!(longest_run(&s, Speaker::Rep), (110.0, 0.0));
        let s = vec![(R, 0.0, 10.0), (R, 15.0, 20.0)];
        assert_eq!(longest_run(&s, Speaker::Rep), (10.0, 0.0));
        let s = vec![
            (R, 0.0, 50.0),
            (R, 50.5, 100.0),
            (P, 101.0, 102.0),
            (R, 103.0, 110.0),
        ];
        let (peak, _) = peak_window(&s, 120.0);
        assert!(peak > 0.95, "{peak}");
    }

    #[test]
    fn running_it_by_someone_is_not_running_out_of_time() {
        assert!(!is_overrun(&text::words("I'd have to run it by our VP.")));
        assert!(is_overrun(&text::words(
            "Sorry, I'm out of time, I have another meeting."
        )));
    }

    #[test]
    fn a_good_call_has_no_findings_with_weight() {
        let r = record(&[
            (R, "Hi Dana, Marcus here. Here is my plan: learn how you report today, show one feature, then agree on next steps. Does that work?"),
            (P, "Sure, that works. We rebuild the board report by hand every week and it takes two days."),
            (R, "What breaks first when it is late?"),
            (P, "The board meeting slips, and our CFO is not happy about that at all."),
            (R, "Honestly, what would it be worth to get those two days back every week?"),
            (P, "A lot, to be honest. That is more or less one analyst."),
            (R, "Could we meet on Thursday at ten with your CFO to look at the numbers?"),
            (P, "Yes, Thursday at ten works. I will invite her."),
        ]);
        let a = analyse(&r, &BriefConfig::default());
        let (outcome, causes) = classify(&a, &BriefConfig::default());
        assert_eq!(outcome, Outcome::Good, "{causes:#?}\n{:#?}", a.findings);
        assert!(select_moments(&a, &causes, outcome, &BriefConfig::default()).is_empty());
    }

    #[test]
    fn quotes_start_at_their_content_and_decision_makers_name_a_role() {
        assert_eq!(
            strip_discourse("Sure, we're trying to figure out why reps sell so little."),
            "We're trying to figure out why reps sell so little."
        );
        assert_eq!(
            strip_discourse("Honestly, but it's the dispatchers who burn out."),
            "It's the dispatchers who burn out."
        );
        assert_eq!(strip_discourse("Okay."), "Okay.");
        assert_eq!(
            decision_maker("I'd have to run it by our VP of Operations.").as_deref(),
            Some("our VP of Operations")
        );
        assert_eq!(
            decision_maker("I have to run it by our meeting of operations."),
            None
        );
    }

    #[test]
    fn clip_and_clock() {
        assert_eq!(clock(125.4), "02:05");
        assert_eq!(clip("one two three four", 9), "one two…");
        assert_eq!(clip("short", 9), "short");
    }
}
