//! The one judge of an objection's reply: did the rep engage with the concern
//! (handled) or not (fumbled), and why. The live coach calls it when the rep's
//! reply is over and journals the verdict; the brief reads that verdict, so the
//! overlay and the brief always agree.
//!
//! Handled = the rep's following turn(s) engage with the concern: ask about it,
//! quantify, reframe, offer a concrete path. Fumbled = quiet, concede, discount
//! unprompted, accept a stall without a question, change the subject, or leave
//! it so that the prospect has to say it again. The phrase lists live in
//! `config/judge.toml`; the order of the tests is documented there.
//!
//! Pure and synchronous; callable from any thread.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::objections::ObjectionType;
use super::text::{self, Sentence};

/// Why an objection counts as fumbled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FumbleReason {
    /// The rep said nothing.
    Quiet,
    /// The rep conceded ("okay, I understand"), accepted a stall, or moved on to another topic.
    Conceded,
    /// The rep replied without acknowledging or addressing it.
    Ignored,
    /// The prospect had to raise it again.
    Repeated,
    /// The rep offered money off before understanding the concern.
    Discounted,
    /// The rep waved the concern away ("that's not really a problem", "the built-in
    /// stuff is useless").
    Dismissed,
}

/// A judged reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub handled: bool,
    pub fumble: Option<FumbleReason>,
    /// One phrase for the brief and the overlay: how the rep answered, or why it failed.
    pub assessment: String,
}

impl Judgement {
    fn handled(assessment: impl Into<String>) -> Judgement {
        Judgement { handled: true, fumble: None, assessment: assessment.into() }
    }

    fn fumbled(reason: FumbleReason, assessment: impl Into<String>) -> Judgement {
        Judgement { handled: false, fumble: Some(reason), assessment: assessment.into() }
    }
}

/// What the judge looks at.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub kind: ObjectionType,
    /// The prospect's words that raised it.
    pub objection: &'a str,
    /// The rep's words after it, up to the prospect's next real turn.
    pub reply: &'a str,
    /// The prospect raised the same type again after this reply.
    pub repeated: bool,
}

/// The judge's phrase lists (`config/judge.toml`), normalised once when read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lexicon {
    acknowledgements: Vec<String>,
    pivots: Vec<String>,
    discounts: Vec<String>,
    stall_acceptances: Vec<String>,
    rep_deferrals: Vec<String>,
    empty_questions: Vec<String>,
    meeting_proposals: Vec<String>,
    dismissals: Vec<String>,
    contrasts: Vec<String>,
    pitch_reframes: Vec<String>,
    pitch_questions: Vec<String>,
    hand_offs: Vec<String>,
    concrete_paths: Vec<String>,
    topics: Topics,
}

/// Stems that put a reply on each type's topic (matched by prefix, not normalised).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Topics {
    price: Vec<String>,
    timing: Vec<String>,
    authority: Vec<String>,
    need: Vec<String>,
    competitor: Vec<String>,
}

impl Topics {
    fn of(&self, kind: ObjectionType) -> &[String] {
        match kind {
            ObjectionType::Price => &self.price,
            ObjectionType::Timing => &self.timing,
            ObjectionType::Authority => &self.authority,
            ObjectionType::Need => &self.need,
            ObjectionType::Competitor => &self.competitor,
        }
    }
}

const LEXICON_TOML: &str = include_str!("../../config/judge.toml");

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut lex: Lexicon = toml::from_str(LEXICON_TOML).expect("config/judge.toml is valid (tested)");
        for list in [
            &mut lex.acknowledgements,
            &mut lex.pivots,
            &mut lex.discounts,
            &mut lex.stall_acceptances,
            &mut lex.rep_deferrals,
            &mut lex.empty_questions,
            &mut lex.meeting_proposals,
            &mut lex.dismissals,
            &mut lex.contrasts,
            &mut lex.pitch_reframes,
            &mut lex.pitch_questions,
            &mut lex.hand_offs,
            &mut lex.concrete_paths,
        ] {
            *list = list.iter().map(|p| text::normalize(p)).filter(|p| !p.is_empty()).collect();
        }
        lex
    })
}

fn first_of<'a>(words: &[String], patterns: &'a [String]) -> Option<&'a str> {
    patterns.iter().find(|p| text::find_seq(words, p).is_some()).map(String::as_str)
}

/// Words too common in objections to show that a reply addresses one.
const GENERIC_STEMS: &[&str] = &[
    "honest", "honestly", "year", "time", "team", "people", "realli", "actual", "actually", "just", "know", "want",
    "said", "like", "thing", "think", "look", "right", "now", "get", "go", "good",
];

/// Judges one reply. See the module documentation.
pub fn judge(reply: Reply<'_>) -> Judgement {
    let lex = lexicon();
    if reply.repeated {
        return Judgement::fumbled(FumbleReason::Repeated, "not resolved: the prospect had to raise it again");
    }
    let said = reply.reply.trim();
    if said.is_empty() {
        return Judgement::fumbled(FumbleReason::Quiet, "left unanswered: the rep went quiet");
    }
    let sentences = text::sentences(said);
    let words: Vec<String> = sentences.iter().flat_map(|s| s.words.iter().cloned()).collect();
    let first_question = sentences.iter().position(|s| engaging_question(s, lex));
    // What the rep said before asking anything decides a concession.
    let before_question: Vec<String> =
        sentences[..first_question.unwrap_or(sentences.len())].iter().flat_map(|s| s.words.iter().cloned()).collect();
    // Money off before understanding the concern: a price objection, or a competitor's
    // cheaper offer matched ("I could do three months free too").
    if let Some(p) = first_of(&before_question, &lex.discounts) {
        return Judgement::fumbled(FumbleReason::Discounted, format!("conceded: offered a discount (\"{p}\")"));
    }
    if reply.kind == ObjectionType::Price {
        if let Some(p) = first_of(&before_question, &lex.rep_deferrals) {
            return Judgement::fumbled(FumbleReason::Conceded, format!("deferred the price question (\"{p}\")"));
        }
    }
    // Letting the stall stand before asking anything about it ("no problem, I'll reach
    // out in January. Can I send you some information?").
    let addresses = on_topic(&reply, &sentences, lex);
    if let Some(p) = first_of(&before_question, &lex.stall_acceptances) {
        if reply.kind != ObjectionType::Price || !addresses {
            return Judgement::fumbled(FumbleReason::Conceded, format!("accepted the stall without a question (\"{p}\")"));
        }
    }
    // Asking the prospect to carry it to whoever decides leaves the concern with them.
    if let Some(q) = first_question {
        let asked = &sentences[q].words;
        if let Some(p) = first_of(asked, &lex.hand_offs).filter(|_| first_of(&words, &lex.concrete_paths).is_none()) {
            return Judgement::fumbled(FumbleReason::Conceded, format!("left it to the prospect to carry (\"{p}\")"));
        }
    }
    if let Some(p) = first_of(&before_question, &lex.dismissals) {
        return Judgement::fumbled(FumbleReason::Dismissed, format!("dismissed the concern (\"{p}\")"));
    }
    // A change of topic counts where it opens a statement before any question: "want to
    // see" inside "what will she want to see?" and a trailing "anyway" are no pivots.
    let pivot = sentences[..first_question.unwrap_or(sentences.len())]
        .iter()
        .filter(|s| !text::sentence_is_question(s))
        .find_map(|s| {
            // Clause starts and the sentence's opening ("Let me, uh, show you…" spans a comma).
            s.clause_ranges().map(|r| r.start).find_map(|start| {
                let opening = &s.words[start..(start + 6).min(s.words.len())];
                first_of(opening, &lex.pivots).filter(|p| {
                    text::find_seq(opening, p).is_some_and(|i| {
                        // "let's look at it the way he would" turns to the concern, not away.
                        let next = s.words.get(start + i + p.split(' ').count()).map(String::as_str);
                        i <= 2 && !matches!(next, Some("it" | "that" | "this" | "those" | "the way"))
                    })
                })
            })
        });
    if let Some(p) = pivot {
        return Judgement::fumbled(FumbleReason::Conceded, format!("conceded and moved on (\"{p}\")"));
    }
    if let Some(opening) = brush_off(&reply, &sentences, first_question, lex) {
        return Judgement::fumbled(FumbleReason::Dismissed, format!("brushed it off with a \"yes, but\" (\"{}\")", clip(&opening, 60)));
    }
    if first_question.is_some_and(|i| question_engages(&reply, &sentences, i, lex)) {
        return Judgement::handled("acknowledged it and asked about it");
    }
    if let Some(p) = first_of(&words, &lex.concrete_paths) {
        return Judgement::handled(format!("acknowledged it and offered a concrete path (\"{p}\")"));
    }
    let content = substance(&sentences, lex);
    // Topic words inside a bid for the next meeting ("fifteen minutes next week?") do
    // not answer a timing concern.
    // (For an authority concern a meeting with whoever decides is the answer.)
    let answering: Vec<Sentence> =
        sentences.iter().filter(|s| reply.kind == ObjectionType::Authority || !proposes_meeting(s, lex)).cloned().collect();
    if on_topic(&reply, &answering, lex) && content >= 8 {
        return Judgement::handled("acknowledged it and answered with substance");
    }
    let first = sentences.first().map(|s| s.original.clone()).unwrap_or_default();
    if first_of(&words, &lex.acknowledgements).is_some() {
        return Judgement::fumbled(FumbleReason::Conceded, format!("conceded without an answer (\"{}\")", clip(&first, 60)));
    }
    Judgement::fumbled(FumbleReason::Ignored, format!("replied without addressing it (\"{}\")", clip(&first, 60)))
}

/// "I hear you, but a lot of businesses grow into it": the reply opens by
/// acknowledging the concern and at once sets the product against it, and
/// nothing in it engages the concern itself — no number, no concrete path
/// (a pilot, the math, the person who decides), no question on its topic.
/// The rep talks over the concern while sounding agreeable. Returns the
/// opening sentence.
fn brush_off(reply: &Reply<'_>, sentences: &[Sentence], first_question: Option<usize>, lex: &Lexicon) -> Option<String> {
    let opening = sentences.first()?;
    let acknowledged = first_of(&opening.words, &lex.acknowledgements).is_some_and(|p| text::find_seq(&opening.words, p).is_some_and(|i| i <= 3));
    if !acknowledged {
        return None;
    }
    // The contrast follows the acknowledgement in the opening sentence, or opens the next one.
    let contrast_in_opening = opening.words.iter().skip(1).any(|w| lex.contrasts.iter().any(|c| c == w));
    let contrast_next = sentences.get(1).and_then(|s| s.words.first()).is_some_and(|w| lex.contrasts.iter().any(|c| c == w));
    let reframed = sentences.iter().take(2).any(|s| first_of(&s.words, &lex.pitch_reframes).is_some());
    if !(contrast_in_opening || contrast_next || reframed) {
        return None;
    }
    let words: Vec<String> = sentences.iter().flat_map(|s| s.words.iter().cloned()).collect();
    let quantified = words.iter().any(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()));
    let concrete = first_of(&words, &lex.concrete_paths).is_some();
    let question_on_topic = first_question.is_some_and(|i| {
        let asked = std::slice::from_ref(&sentences[i]);
        (reply.kind == ObjectionType::Authority || !proposes_meeting(&sentences[i], lex)) && on_topic(reply, asked, lex)
    });
    if quantified || concrete || question_on_topic {
        return None;
    }
    Some(opening.original.clone())
}

/// A question with some content that is not a tag ("does that make sense?").
fn engaging_question(s: &Sentence, lex: &Lexicon) -> bool {
    if !text::sentence_is_question(s) || s.words.len() < 3 {
        return false;
    }
    let joined = s.words.join(" ");
    !lex.empty_questions.iter().any(|q| joined == *q || (s.words.len() <= q.split(' ').count() + 2 && joined.contains(q.as_str())))
}

/// Whether the rep's first real question asks about the concern: one put at once
/// (after no more than an acknowledgement and a short remark), or one on its topic.
/// A question that comes after a pitch ("that's exactly why this matters. Can we
/// get you fifteen minutes next week?") talks past the concern, and so does one
/// that only proposes the next meeting — except for an authority concern, where
/// bringing in the person who decides is the answer.
fn question_engages(reply: &Reply<'_>, sentences: &[Sentence], i: usize, lex: &Lexicon) -> bool {
    /// Content words a rep may say before the question and still be asking "at once".
    const AT_ONCE_WORDS: usize = 10;
    /// Past this much pitch, even a question on the concern's topic comes too late.
    const PITCHED_WORDS: usize = 30;
    let question = &sentences[i];
    if reply.kind != ObjectionType::Authority && proposes_meeting(question, lex) {
        return false;
    }
    let opening = &question.words[..question.words.len().min(4)];
    if first_of(opening, &lex.pitch_questions).is_some() {
        return false;
    }
    let before = substance(&sentences[..i], lex);
    before <= AT_ONCE_WORDS || (before <= PITCHED_WORDS && on_topic(reply, std::slice::from_ref(question), lex))
}

/// A sentence that bids for the next meeting or a demo.
fn proposes_meeting(s: &Sentence, lex: &Lexicon) -> bool {
    text::detect_next_step(&s.original).is_some() || first_of(&s.words, &lex.meeting_proposals).is_some()
}

/// Content words outside bare acknowledgements.
fn substance(sentences: &[Sentence], lex: &Lexicon) -> usize {
    sentences
        .iter()
        .filter(|s| !(s.words.len() <= 6 && first_of(&s.words, &lex.acknowledgements).is_some()))
        .flat_map(|s| s.words.iter())
        .filter(|w| !text::is_stopword(w))
        .count()
}

/// Whether the reply talks about the concern: a topic stem of its type, or a
/// distinctive word of the prospect's own ("spreadsheets", "contract").
fn on_topic(reply: &Reply<'_>, sentences: &[Sentence], lex: &Lexicon) -> bool {
    let topics = lex.topics.of(reply.kind);
    let objection_stems: Vec<String> = text::content_stems(reply.objection)
        .into_iter()
        .filter(|s| s.len() >= 4 && !GENERIC_STEMS.contains(&s.as_str()))
        .collect();
    sentences.iter().flat_map(|s| s.words.iter()).filter(|w| !text::is_stopword(w)).any(|w| {
        let stem = text::stem(w);
        topics.iter().any(|t| stem.starts_with(t.as_str()))
            || objection_stems.iter().any(|o| text::word_similarity(&stem, o) >= 0.8)
    })
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    if let Some(i) = out.rfind(' ') {
        out.truncate(i);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(kind: ObjectionType, objection: &str, reply: &str) -> Judgement {
        judge(Reply { kind, objection, reply, repeated: false })
    }

    #[test]
    fn the_lexicon_parses() {
        assert!(!lexicon().acknowledgements.is_empty());
        assert!(ObjectionType::ALL.iter().all(|&k| !lexicon().topics.of(k).is_empty()));
    }

    #[test]
    fn a_question_about_the_concern_handles_it() {
        let j = verdict(ObjectionType::Price, "That's more than we budgeted.", "Fair. What budget did you set aside this year?");
        assert!(j.handled, "{j:?}");
    }

    #[test]
    fn a_discount_before_any_question_is_a_fumble() {
        let j = verdict(ObjectionType::Price, "That's steep.", "Okay, I can knock ten percent off if you sign this month.");
        assert_eq!(j.fumble, Some(FumbleReason::Discounted), "{j:?}");
    }

    #[test]
    fn accepting_a_stall_without_a_question_is_a_fumble() {
        let j = verdict(ObjectionType::Timing, "Let's circle back after the new year.", "No problem, I'll follow up in January then.");
        assert_eq!(j.fumble, Some(FumbleReason::Conceded), "{j:?}");
    }

    #[test]
    fn a_bare_acknowledgement_concedes_and_silence_is_quiet() {
        assert_eq!(verdict(ObjectionType::Need, "The spreadsheet works for us.", "Okay, I understand.").fumble, Some(FumbleReason::Conceded));
        assert_eq!(verdict(ObjectionType::Need, "The spreadsheet works for us.", "  ").fumble, Some(FumbleReason::Quiet));
    }

    #[test]
    fn a_substantive_answer_on_topic_handles_it() {
        let j = verdict(
            ObjectionType::Competitor,
            "We're locked in with Fieldly until spring.",
            "That makes sense. A lot of our customers moved over when their Fieldly contract came up, and we handle the migration of the whole schedule for you at no cost.",
        );
        assert!(j.handled, "{j:?}");
    }

    #[test]
    fn yes_but_without_engaging_brushes_it_off() {
        let j = verdict(ObjectionType::Need, "I don't know if we need all of that.", "I hear you, but honestly a lot of growing teams say that and then grow into it.");
        assert_eq!(j.fumble, Some(FumbleReason::Dismissed), "{j:?}");
        let j = verdict(ObjectionType::Need, "I don't know if we need all of that.", "I hear you, but let's run the numbers on your last quarter before you decide.");
        assert!(j.handled, "a concrete path after the but is an answer: {j:?}");
        let j = verdict(ObjectionType::Price, "That's steep.", "Sure, but I could get that down to thirty if you sign now.");
        assert_eq!(j.fumble, Some(FumbleReason::Discounted), "{j:?}");
    }

    #[test]
    fn looking_at_the_concern_is_no_pivot() {
        let j = verdict(ObjectionType::Price, "My partner will choke at the fee.", "That's fair. Let's look at it the way she would: at two thousand returns it is six dollars a return. How many hours did scanning take last season?");
        assert!(j.handled, "{j:?}");
    }

    #[test]
    fn agreeing_and_pitching_talks_past_the_concern() {
        let j = verdict(ObjectionType::Timing, "I don't have time for anything new right now. It's furnace season.", "Totally, totally, and that's why we make the switch so easy. So what I'd love to do is get you fifteen minutes with one of our specialists, maybe next week?");
        assert!(!j.handled, "{j:?}");
        let j = verdict(ObjectionType::Need, "We manage fine with what we have.", "Gotcha. Hey, did you see we launched a mobile app?");
        assert!(!j.handled, "{j:?}");
        let j = verdict(ObjectionType::Authority, "That's the city's call, not mine.", "Okay, got it. So maybe you could pass it along to them?");
        assert!(!j.handled, "{j:?}");
        let j = verdict(ObjectionType::Timing, "We're slammed until March.", "Totally, and that's exactly why a two week pilot in April works: what does your March close look like?");
        assert!(j.handled, "a reframe with a concrete path answers it: {j:?}");
    }

    #[test]
    fn a_pivot_without_addressing_it_concedes() {
        let j = verdict(ObjectionType::Authority, "I'd have to run it by our VP.", "Sure. Anyway, let me show you the dashboard.");
        assert_eq!(j.fumble, Some(FumbleReason::Conceded), "{j:?}");
    }
}
