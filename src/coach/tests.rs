//! Scripted-call tests of the coach's rules. A script is a list of lines
//! (speaker, start, end, text) played the way the live pipeline feeds the coach: VAD
//! extents every 100 ms while a line is spoken, the utterance end, the text 0.8 s later,
//! and a tick every 100 ms.

use std::sync::{Arc, OnceLock};

use super::*;
use crate::call::{Segment, Speaker, Utterance};

/// Time between VAD reports and ticks (s).
const STEP: f64 = 0.1;
/// Delay from the end of an utterance to its text (s).
const TEXT_LATENCY: f64 = 0.8;

#[derive(Debug, Clone)]
struct Line {
    speaker: Speaker,
    start: f64,
    end: f64,
    text: String,
}

fn line(speaker: Speaker, start: f64, end: f64, text: &str) -> Line {
    Line {
        speaker,
        start,
        end,
        text: text.to_string(),
    }
}

fn rep(start: f64, end: f64, text: &str) -> Line {
    line(Speaker::Rep, start, end, text)
}

fn pro(start: f64, end: f64, text: &str) -> Line {
    line(Speaker::Prospect, start, end, text)
}

/// Builds a conversation turn by turn: each line starts a short gap after the previous
/// one and lasts 0.4 s per word.
struct Script {
    lines: Vec<Line>,
    cursor: f64,
}

impl Script {
    fn new() -> Script {
        Script {
            lines: Vec::new(),
            cursor: 0.5,
        }
    }

    fn say(mut self, speaker: Speaker, text: &str) -> Script {
        let words = text::word_count(text).max(1) as f64;
        let start = self.cursor + 0.6;
        let end = start + (0.4 * words).max(0.6);
        self.lines.push(line(speaker, start, end, text));
        self.cursor = end;
        self
    }

    fn rep(self, text: &str) -> Script {
        self.say(Speaker::Rep, text)
    }

    fn pro(self, text: &str) -> Script {
        self.say(Speaker::Prospect, text)
    }

    fn end(&self) -> f64 {
        self.cursor
    }
}

const REP_FILLER: &[&str] = &[
    "We work with a lot of operations teams that have grown quickly over the last few years.",
    "The platform pulls the numbers together so everyone sees the same view of the pipeline.",
    "Most customers start with one team and expand once it sticks.",
    "Onboarding usually takes a couple of weeks from kickoff to the first dashboard.",
    "The dashboards refresh every few minutes from the tools you already have.",
    "Managers tend to like the weekly summary email more than anything else.",
    "We also have a forecasting view that highlights deals that look stuck.",
    "Everything is permission based so each manager only sees their own region.",
];

const REP_QUESTIONS: &[&str] = &[
    "How does your team handle reporting today?",
    "What happens when the numbers are late?",
    "Who else cares about this besides you?",
    "What would a good outcome look like for you?",
    "How are your managers spending their week at the moment?",
    "Tell me about the last time a forecast went wrong.",
    "What did you try before, and what did you like about it?",
];

const PRO_FILLER: &[&str] = &[
    "We have about forty people across sales and operations, split over two offices.",
    "Most of the reporting happens by hand at the end of each month right now.",
    "The biggest headache is getting everyone to update their numbers on time.",
    "Our managers spend hours pulling data together for the leadership meeting.",
    "We tried a couple of tools a few years ago but nothing really stuck.",
    "Leadership wants a clearer picture of the pipeline before the board meeting.",
    "The team is growing and the old way of doing things is starting to creak.",
    "Honestly the data quality is the part that keeps me up at night.",
];

const SMALL_TALK: &[&str] = &[
    "The weather has been terrible here all week, we had snow again.",
    "My kids started soccer this season, so weekends are packed.",
    "I watched the game last night, what a finish that was.",
    "We just moved into a new office downtown with a great view.",
    "Our coffee machine broke and nobody knows how to fix it.",
    "I went hiking up the coast last weekend, it was beautiful.",
];

fn library() -> Arc<ObjectionLibrary> {
    static LIB: OnceLock<Arc<ObjectionLibrary>> = OnceLock::new();
    LIB.get_or_init(|| Arc::new(ObjectionLibrary::builtin()))
        .clone()
}

/// The coach after a script, and every prompt it produced.
struct Played {
    coach: Coach,
    prompts: Vec<Prompt>,
}

impl Played {
    fn of(&self, kind: PromptKind) -> Vec<&Prompt> {
        self.prompts.iter().filter(|p| p.kind == kind).collect()
    }

    fn count(&self, kind: PromptKind) -> usize {
        self.of(kind).len()
    }

    fn kinds(&self) -> Vec<PromptKind> {
        self.prompts.iter().map(|p| p.kind).collect()
    }

    fn record(&self) -> CoachRecord {
        self.coach.record()
    }
}

fn play(config: CoachConfig, prep: CallPrep, lines: &[Line], until: f64) -> Played {
    config.validate().expect("test config is valid");
    let mut coach = Coach::new(config, prep, library());
    let mut prompts = Vec::new();
    let steps = (until / STEP).ceil() as usize;
    for k in 1..=steps {
        // Both ends from the step index, so consecutive windows tile exactly.
        let t = k as f64 * STEP;
        let t0 = (k - 1) as f64 * STEP;
        for (n, l) in lines.iter().enumerate() {
            if l.start < t && l.end > t0 {
                // VADs report either the growing extent of the open utterance or the
                // latest chunk; alternate so both shapes are exercised.
                let start = if n % 2 == 0 { l.start } else { l.start.max(t0) };
                coach.on_voice(l.speaker, start, t.min(l.end));
            }
            if l.end > t0 && l.end <= t {
                coach.on_utterance_end(&Utterance {
                    speaker: l.speaker,
                    start_s: l.start,
                    end_s: l.end,
                });
            }
            let ready = l.end + TEXT_LATENCY;
            if ready > t0 && ready <= t && !l.text.is_empty() {
                coach.on_segment(&Segment {
                    speaker: l.speaker,
                    start_s: l.start,
                    end_s: l.end,
                    text: l.text.clone(),
        confidence: None,
    });
            }
        }
        coach.tick(t);
        prompts.extend(coach.drain_prompts());
    }
    Played { coach, prompts }
}

fn play_default(lines: &[Line], until: f64) -> Played {
    play(CoachConfig::default(), CallPrep::default(), lines, until)
}

/// A balanced discovery conversation: the rep comments briefly and asks, waits, and the
/// prospect answers at length. `cycles` rounds, from the script's cursor.
fn discovery(mut s: Script, cycles: usize, offset: usize) -> Script {
    for i in offset..offset + cycles {
        s = s
            .rep(REP_FILLER[i % REP_FILLER.len()])
            .rep(REP_QUESTIONS[i % REP_QUESTIONS.len()])
            .pro(PRO_FILLER[i % PRO_FILLER.len()])
            .pro(PRO_FILLER[(i + 3) % PRO_FILLER.len()]);
    }
    s
}

fn good_call_prep() -> CallPrep {
    CallPrep {
        account: Some("ACME".into()),
        contact_name: Some("Dana Lee".into()),
        contact_role: Some("VP Operations".into()),
        agenda: vec![
            "reporting process".into(),
            "forecasting".into(),
            "pilot scope".into(),
        ],
        planned_minutes: Some(4.0),
        ..CallPrep::default()
    }
}

fn good_call() -> (Script, f64) {
    let s = discovery(Script::new(), 4, 0)
        .rep("Does Tuesday at 2 work for a follow-up with your VP?")
        .pro("Yes, Tuesday at 2 works for me, I'll bring her along.");
    let s = discovery(s, 3, 4)
        .rep("Great, I'll send the invite today.")
        .pro("Thanks, talk then.");
    let end = s.end() + 3.0;
    (s, end)
}

// ---------------------------------------------------------------------------
// Whole calls
// ---------------------------------------------------------------------------

#[test]
fn a_good_call_gives_no_prompt_but_positive_ones() {
    let (s, end) = good_call();
    let played = play(CoachConfig::default(), good_call_prep(), &s.lines, end);
    let negative: Vec<&Prompt> = played
        .prompts
        .iter()
        .filter(|p| p.severity != Severity::Positive)
        .collect();
    assert!(negative.is_empty(), "a good call got {negative:#?}");
    assert_eq!(
        played.count(PromptKind::NextStepSecured),
        1,
        "{:?}",
        played.kinds()
    );
    // The call ran past the no-next-step threshold (half of 4 min), so that rule was live.
    assert!(
        end > 120.0,
        "script too short to exercise no-next-step: {end}"
    );
    let m = played.coach.metrics(end);
    assert!(
        (0.35..0.6).contains(&m.talk_ratio_rep),
        "talk ratio {}",
        m.talk_ratio_rep
    );
    assert_eq!(m.rep_questions, 8);
    assert_eq!(m.rep_questions_waited, 8);
    assert!(m.next_step_secured);
    assert_eq!(m.agenda_covered, 2, "{:?}", played.record().agenda);
}

#[test]
fn a_good_call_with_a_handled_objection_only_shows_the_card_and_positives() {
    let s = discovery(Script::new(), 2, 0)
        .pro("Honestly, that's way more than we budgeted for this year.")
        .rep("I understand, it's a real investment. What budget range did you have in mind, and who owns it?")
        .pro("Probably around twenty thousand for the first year, it comes out of my own budget.");
    let s = discovery(s, 2, 2)
        .rep("Does Tuesday at 2 work for a follow-up?")
        .pro("Yes, Tuesday at 2 works.");
    let end = s.end() + 6.0;
    let played = play_default(&s.lines, end);
    let others: Vec<&Prompt> = played
        .prompts
        .iter()
        .filter(|p| p.severity != Severity::Positive && p.kind != PromptKind::ObjectionDetected)
        .collect();
    assert!(others.is_empty(), "{others:#?}");
    assert_eq!(played.count(PromptKind::ObjectionDetected), 1);
    assert_eq!(played.count(PromptKind::ObjectionHandled), 1);
    let rec = played.record();
    assert_eq!(rec.objections.len(), 1);
    assert!(rec.objections[0].handled);
}

#[test]
fn the_same_script_gives_the_same_record() {
    let (s, end) = good_call();
    let a = play(CoachConfig::default(), good_call_prep(), &s.lines, end);
    let b = play(CoachConfig::default(), good_call_prep(), &s.lines, end);
    assert_eq!(
        serde_json::to_string(&a.record()).unwrap(),
        serde_json::to_string(&b.record()).unwrap()
    );
}

// ---------------------------------------------------------------------------
// Talk ratio
// ---------------------------------------------------------------------------

/// Voice only (no text): the rep talks 40 s, the prospect 10 s, repeatedly (80%).
fn sustained_80_percent(until: f64) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut t = 1.0;
    while t < until {
        for _ in 0..4 {
            lines.push(rep(t, t + 10.0, ""));
            t += 10.4;
        }
        lines.push(pro(t, t + 10.0, ""));
        t += 10.4;
    }
    lines
}

#[test]
fn talk_ratio_cooldown_holds_over_ten_minutes() {
    let cfg = CoachConfig::default();
    let played = play(
        cfg.clone(),
        CallPrep::default(),
        &sustained_80_percent(600.0),
        600.0,
    );
    let ratio = played.of(PromptKind::TalkRatioHigh);
    // One prompt per cooldown period while it stays high, not one per tick.
    assert!(!ratio.is_empty());
    let first = ratio[0].t_emit_s;
    let expected = 1 + ((600.0 - first) / cfg.talk_ratio_cooldown_s).floor() as usize;
    assert_eq!(
        ratio.len(),
        expected,
        "{:?}",
        ratio.iter().map(|p| p.t_emit_s).collect::<Vec<_>>()
    );
    assert!(ratio.len() >= 3);
    for pair in ratio.windows(2) {
        let gap = pair[1].t_emit_s - pair[0].t_emit_s;
        assert!(
            gap >= cfg.talk_ratio_cooldown_s && gap < cfg.talk_ratio_cooldown_s + 1.0,
            "gap {gap}"
        );
    }
    // Without reminders, one prompt for the whole episode.
    let once = CoachConfig {
        talk_ratio_remind: false,
        ..CoachConfig::default()
    };
    let played = play(
        once,
        CallPrep::default(),
        &sustained_80_percent(600.0),
        600.0,
    );
    assert_eq!(played.count(PromptKind::TalkRatioHigh), 1);
}

#[test]
fn talk_ratio_prompt_comes_from_voice_alone_within_a_tenth_of_a_second() {
    let played = play_default(&sustained_80_percent(120.0), 120.0);
    let p = played.of(PromptKind::TalkRatioHigh)[0];
    // No text was ever given; the prompt comes as soon as 45 s of speech is in the window:
    // 40 s of rep speech by 42.2 s, then the prospect's first 5 s.
    assert!(
        p.t_emit_s - p.t_trigger_s <= 0.3 && p.t_emit_s >= p.t_trigger_s,
        "{p:?}"
    );
    assert!((47.5..47.8).contains(&p.t_emit_s), "{p:?}");
    assert!(p.title.contains("89%"), "{}", p.title);
}

/// Periodic talk with a 10 s period: the rep `share` of each period, the prospect the rest.
fn periodic(lines: &mut Vec<Line>, from: f64, to: f64, share: f64) {
    let mut t = from;
    while t < to - 1e-9 {
        lines.push(rep(t, t + 10.0 * share, ""));
        lines.push(pro(t + 10.0 * share, t + 10.0, ""));
        t += 10.0;
    }
}

#[test]
fn talk_ratio_hysteresis_rearms_only_below_the_lower_threshold() {
    let mut lines = Vec::new();
    periodic(&mut lines, 0.0, 120.0, 0.85); // high: prompt
    periodic(&mut lines, 120.0, 300.0, 0.62); // between 60% and 65%: still the same episode
    periodic(&mut lines, 300.0, 420.0, 0.70); // back above 65%: no new prompt without re-arming
    periodic(&mut lines, 420.0, 540.0, 0.40); // below 60%: re-armed
    periodic(&mut lines, 540.0, 660.0, 0.85); // high again: prompt
    let cfg = CoachConfig {
        talk_window_s: 60.0,
        talk_ratio_min_speech_s: 20.0,
        talk_ratio_cooldown_s: 20.0,
        talk_ratio_remind: false,
        ..CoachConfig::default()
    };
    let played = play(cfg.clone(), CallPrep::default(), &lines, 660.0);
    let at: Vec<f64> = played
        .of(PromptKind::TalkRatioHigh)
        .iter()
        .map(|p| p.t_emit_s)
        .collect();
    assert_eq!(at.len(), 2, "{at:?}");
    assert!(at[0] < 120.0 && at[1] > 540.0, "{at:?}");
    // Without hysteresis (re-arm at the same 65%) the 62% stretch re-arms and the 70%
    // stretch prompts again: the rule above is what prevents it.
    let flappy = CoachConfig {
        talk_ratio_rearm: 0.65,
        ..cfg
    };
    let played = play(flappy, CallPrep::default(), &lines, 660.0);
    assert_eq!(played.count(PromptKind::TalkRatioHigh), 3);
}

#[test]
fn metrics_report_overall_and_window_ratio() {
    let lines = vec![rep(0.0, 30.0, ""), pro(30.0, 40.0, "")];
    let played = play_default(&lines, 41.0);
    let m = played.coach.metrics(41.0);
    assert!((m.rep_talk_s - 30.0).abs() < 1e-6, "{}", m.rep_talk_s);
    assert!((m.prospect_talk_s - 10.0).abs() < 1e-6);
    assert!((m.talk_ratio_rep - 0.75).abs() < 1e-6);
    let later = played.coach.metrics(201.0);
    // Only the last 180 s count in the window, [21, 201]: 9 s of rep speech, 10 s of prospect.
    assert!(
        (later.window_talk_ratio_rep - 9.0 / 19.0).abs() < 1e-6,
        "{}",
        later.window_talk_ratio_rep
    );
    assert!((later.talk_ratio_rep - 0.75).abs() < 1e-6);
}

// ---------------------------------------------------------------------------
// Monologue
// ---------------------------------------------------------------------------

fn rep_block(lines: &mut Vec<Line>, from: f64, to: f64) {
    let mut t = from;
    while t < to {
        lines.push(rep(t, (t + 10.0).min(to), ""));
        t += 10.4;
    }
}

#[test]
fn a_long_monologue_prompts_once_despite_backchannels() {
    let mut lines = Vec::new();
    rep_block(&mut lines, 1.0, 120.0);
    lines.push(pro(31.5, 32.3, "Mm-hm."));
    lines.push(pro(61.6, 62.4, "Right."));
    let played = play_default(&lines, 125.0);
    let mono = played.of(PromptKind::MonologueLong);
    assert_eq!(mono.len(), 1, "{mono:?}");
    assert!((91.0..92.0).contains(&mono[0].t_emit_s), "{:?}", mono[0]);
    let rec = played.record();
    assert!(
        rec.metrics.longest_rep_monologue_s > 115.0,
        "{}",
        rec.metrics.longest_rep_monologue_s
    );
    assert!(rec
        .monologues
        .iter()
        .any(|m| m.speaker == Speaker::Rep && m.duration_s() > 115.0));
}

#[test]
fn a_real_answer_breaks_the_monologue() {
    let mut lines = Vec::new();
    rep_block(&mut lines, 1.0, 50.0);
    lines.push(pro(
        50.5,
        54.0,
        "We mostly use spreadsheets for that today.",
    ));
    rep_block(&mut lines, 54.5, 120.0);
    let played = play_default(&lines, 125.0);
    assert_eq!(played.count(PromptKind::MonologueLong), 0);
    let m = played.coach.metrics(125.0);
    assert!(
        m.longest_rep_monologue_s < 70.0,
        "{}",
        m.longest_rep_monologue_s
    );
    assert!(
        (m.longest_prospect_stretch_s - 3.5).abs() < 0.01,
        "{}",
        m.longest_prospect_stretch_s
    );
}

// ---------------------------------------------------------------------------
// Ask and wait
// ---------------------------------------------------------------------------

#[test]
fn resuming_within_three_seconds_of_a_question_prompts() {
    let lines = vec![
        rep(
            1.0,
            4.0,
            "What does your reporting process look like today?",
        ),
        rep(
            5.0,
            12.0,
            "We see a lot of teams struggle with that because the data lives everywhere.",
        ),
    ];
    let played = play_default(&lines, 16.0);
    let p = played.of(PromptKind::AskAndWait);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].t_trigger_s, 4.0);
    // From voice: produced once the rep has resumed for 0.3 s, long before that line's text.
    assert!(p[0].t_emit_s <= 5.5, "{:?}", p[0]);
    let q = &played.record().questions[0];
    assert_eq!((q.waited, q.answered), (Some(false), Some(false)));
}

#[test]
fn waiting_three_seconds_or_getting_an_answer_does_not_prompt() {
    let waited = vec![
        rep(
            1.0,
            4.0,
            "What does your reporting process look like today?",
        ),
        rep(8.0, 12.0, "No rush, take your time with that one."),
    ];
    let played = play_default(&waited, 16.0);
    assert_eq!(played.count(PromptKind::AskAndWait), 0);
    let q = &played.record().questions[0];
    assert_eq!((q.waited, q.answered), (Some(true), Some(false)));

    let answered = vec![
        rep(
            1.0,
            4.0,
            "What does your reporting process look like today?",
        ),
        pro(4.8, 5.4, "Spreadsheets."),
        rep(6.0, 9.0, "Got it, thanks."),
    ];
    let played = play_default(&answered, 12.0);
    assert_eq!(played.count(PromptKind::AskAndWait), 0);
    let q = &played.record().questions[0];
    assert_eq!((q.waited, q.answered), (Some(true), Some(true)));
}

#[test]
fn asking_and_talking_on_in_the_same_breath_prompts() {
    let lines = vec![rep(
        1.0,
        8.0,
        "Do you use Salesforce? We integrate natively with it and most customers love the sync.",
    )];
    let played = play_default(&lines, 12.0);
    assert_eq!(played.count(PromptKind::AskAndWait), 1);
    assert_eq!(played.record().questions[0].waited, Some(false));
}

#[test]
fn ask_and_wait_has_a_cooldown() {
    let mut lines = Vec::new();
    for i in 0..4 {
        let t = 1.0 + i as f64 * 10.0;
        lines.push(rep(
            t,
            t + 3.0,
            "What does your reporting process look like today?",
        ));
        lines.push(rep(
            t + 4.0,
            t + 8.0,
            "We see that a lot with teams your size.",
        ));
    }
    let played = play_default(&lines, 45.0);
    assert_eq!(played.count(PromptKind::AskAndWait), 1);
    // Every one is still recorded for the brief.
    assert_eq!(played.record().metrics.rep_questions_not_waited, 4);
}

// ---------------------------------------------------------------------------
// Objections
// ---------------------------------------------------------------------------

fn objection_lines(prospect: &str) -> Vec<Line> {
    vec![pro(1.0, 4.0, prospect)]
}

#[test]
fn each_objection_type_is_detected_with_its_prepared_response() {
    let cases = [
        (
            "Honestly, that's way more than we budgeted.",
            ObjectionType::Price,
        ),
        ("It's just not this quarter for us.", ObjectionType::Timing),
        (
            "I'd have to run it by our VP first.",
            ObjectionType::Authority,
        ),
        (
            "To be honest we're fine with spreadsheets.",
            ObjectionType::Need,
        ),
        (
            "We're locked into a contract with Clari until spring.",
            ObjectionType::Competitor,
        ),
    ];
    for (text, kind) in cases {
        let played = play_default(&objection_lines(text), 6.0);
        let detected = played.of(PromptKind::ObjectionDetected);
        assert_eq!(detected.len(), 1, "{text}: {:?}", played.kinds());
        assert_eq!(detected[0].objection, Some(kind), "{text}");
        assert_eq!(detected[0].body, library().response(kind), "{text}");
        assert_eq!(detected[0].t_trigger_s, 4.0);
        assert!(detected[0].t_emit_s - detected[0].t_trigger_s <= TEXT_LATENCY + STEP + 1e-9);
    }
}

#[test]
fn whisper_misspellings_still_match() {
    for (text, kind) in [
        ("that's way more then we budgetted", ObjectionType::Price),
        ("i'd have to run it by our v p", ObjectionType::Authority),
        (
            "were locked into a contrct with them",
            ObjectionType::Competitor,
        ),
    ] {
        let played = play_default(&objection_lines(text), 6.0);
        assert_eq!(
            played
                .of(PromptKind::ObjectionDetected)
                .first()
                .and_then(|p| p.objection),
            Some(kind),
            "{text}"
        );
    }
}

#[test]
fn the_reps_own_words_raise_no_objection() {
    let prep = CallPrep {
        competitors: vec!["Gong".into()],
        ..CallPrep::default()
    };
    let lines = vec![
        rep(1.0, 6.0, "Is price a concern for you? Our competitor Gong is way more expensive."),
        rep(7.0, 12.0, "Some teams tell us it's more than they budgeted, and they'd have to run it by their VP."),
        pro(13.0, 17.0, "That's good to know, we're mostly looking at reporting."),
    ];
    let played = play(CoachConfig::default(), prep.clone(), &lines, 25.0);
    assert_eq!(
        played.count(PromptKind::ObjectionDetected),
        0,
        "{:?}",
        played.prompts
    );
    assert!(played.record().objections.is_empty());
    // The same competitor from the prospect does count, so the test above could fail.
    let played = play(
        CoachConfig::default(),
        prep,
        &[pro(1.0, 4.0, "We already use Gong for call recording.")],
        6.0,
    );
    assert_eq!(
        played.of(PromptKind::ObjectionDetected)[0].objection,
        Some(ObjectionType::Competitor)
    );
}

#[test]
fn negated_objections_do_not_fire() {
    let lines = vec![
        pro(1.0, 4.0, "Price isn't an issue for us."),
        pro(5.0, 8.0, "Budget is not a problem."),
        pro(9.0, 10.5, "Timing's fine."),
        pro(11.0, 14.0, "We're not locked into anything right now."),
    ];
    let played = play_default(&lines, 16.0);
    assert_eq!(
        played.count(PromptKind::ObjectionDetected),
        0,
        "{:?}",
        played.prompts
    );
}

#[test]
fn a_handled_objection_gets_a_positive_prompt() {
    let lines = vec![
        pro(1.0, 4.0, "Honestly, that's way more than we budgeted."),
        rep(
            4.8,
            12.0,
            "I understand, it's a real investment. What budget range did you have in mind?",
        ),
        pro(
            13.0,
            17.0,
            "Probably around twenty thousand for the first year.",
        ),
    ];
    let played = play_default(&lines, 20.0);
    assert_eq!(
        played.count(PromptKind::ObjectionHandled),
        1,
        "{:?}",
        played.kinds()
    );
    assert_eq!(played.count(PromptKind::ObjectionUnanswered), 0);
    let o = &played.record().objections[0];
    assert_eq!(o.status, ObjectionStatus::Handled);
    assert!(o
        .response_excerpt
        .as_deref()
        .unwrap()
        .contains("budget range"));
}

#[test]
fn a_substantive_answer_without_a_question_is_handled_too() {
    let lines = vec![
        pro(1.0, 4.0, "We're fine with spreadsheets."),
        rep(4.8, 14.0, "That makes sense. Most teams we meet start there, and the spreadsheets work until the team passes about twenty people."),
    ];
    let played = play_default(&lines, 22.0);
    assert_eq!(
        played.record().objections[0].status,
        ObjectionStatus::Handled
    );
}

#[test]
fn conceding_and_moving_on_is_fumbled() {
    let lines = vec![
        pro(1.0, 4.0, "Honestly, that's way more than we budgeted."),
        rep(
            4.8,
            9.0,
            "Okay, I understand. So let me show you the dashboard.",
        ),
    ];
    let played = play_default(&lines, 16.0);
    let p = played.of(PromptKind::ObjectionUnanswered);
    assert_eq!(p.len(), 1, "{:?}", played.kinds());
    assert_eq!(p[0].severity, Severity::Alert);
    assert!(p[0].body.contains(library().response(ObjectionType::Price)));
    let o = &played.record().objections[0];
    assert_eq!(
        (o.status, o.fumble),
        (ObjectionStatus::Fumbled, Some(FumbleReason::Conceded))
    );
}

#[test]
fn going_quiet_after_an_objection_is_fumbled() {
    let played = play_default(&objection_lines("It's just not this quarter for us."), 15.0);
    let p = played.of(PromptKind::ObjectionUnanswered);
    assert_eq!(p.len(), 1);
    assert!((12.0..12.5).contains(&p[0].t_emit_s), "{:?}", p[0]);
    assert_eq!(
        played.record().objections[0].fumble,
        Some(FumbleReason::Quiet)
    );
}

#[test]
fn a_reply_that_ignores_the_objection_is_fumbled() {
    let lines = vec![
        pro(1.0, 4.0, "I'd have to run it by our VP first."),
        rep(
            4.8,
            12.0,
            "Our dashboards refresh every few minutes and managers get a weekly summary email.",
        ),
    ];
    let played = play_default(&lines, 20.0);
    assert_eq!(
        played.record().objections[0].fumble,
        Some(FumbleReason::Ignored)
    );
}

#[test]
fn a_repeated_objection_marks_the_first_reply_fumbled() {
    let lines = vec![
        pro(1.0, 4.0, "Honestly, that's way more than we budgeted."),
        rep(4.8, 9.0, "Sure. The dashboards refresh every few minutes."),
        pro(9.8, 13.0, "Like I said, it's way more than we budgeted."),
        rep(13.8, 22.0, "You're right, I skipped past that. What range did you have in mind, and can we phase it?"),
        pro(23.0, 27.0, "Maybe half of that for the first year would work."),
    ];
    let played = play_default(&lines, 30.0);
    let rec = played.record();
    assert_eq!(rec.objections.len(), 2, "{:#?}", rec.objections);
    assert_eq!(rec.objections[0].fumble, Some(FumbleReason::Repeated));
    assert_eq!(rec.objections[1].status, ObjectionStatus::Handled);
    // The repeat is announced as unanswered, not as a second new objection.
    assert_eq!(played.count(PromptKind::ObjectionDetected), 1);
    assert_eq!(played.count(PromptKind::ObjectionUnanswered), 1);
    assert_eq!(played.count(PromptKind::ObjectionHandled), 1);
}

#[test]
fn a_reply_transcribed_before_the_objection_still_counts() {
    // The rep answers quickly and briefly; the rep's text arrives before the prospect's.
    let lines = vec![
        pro(
            1.0,
            6.0,
            "We're locked into a contract with another vendor until spring, so I don't know.",
        ),
        rep(6.2, 6.9, "Okay."),
        pro(7.5, 9.0, "Yeah."),
    ];
    let mut coach = Coach::new(CoachConfig::default(), CallPrep::default(), library());
    for l in &lines {
        coach.on_voice(l.speaker, l.start, l.end);
    }
    coach.on_segment(&Segment {
        speaker: Speaker::Rep,
        start_s: 6.2,
        end_s: 6.9,
        text: "Okay.".into(),
        confidence: None,
    });
    coach.on_segment(&Segment {
        speaker: Speaker::Prospect,
        start_s: 1.0,
        end_s: 6.0,
        text: lines[0].text.clone(),
        confidence: None,
    });
    coach.tick(20.0);
    let rec = coach.record();
    assert_eq!(rec.objections[0].response_excerpt.as_deref(), Some("Okay."));
    assert_eq!(rec.objections[0].fumble, Some(FumbleReason::Conceded));
}

// ---------------------------------------------------------------------------
// Engagement
// ---------------------------------------------------------------------------

fn engagement_script(short_answers: bool) -> Script {
    let mut s = Script::new();
    for i in 0..3 {
        s = s
            .rep(REP_QUESTIONS[i])
            .pro(PRO_FILLER[i])
            .pro(PRO_FILLER[i + 3]);
    }
    let shorts = ["Yeah.", "Sure.", "I guess so."];
    for (i, short) in shorts.iter().enumerate() {
        s = s
            .rep(REP_FILLER[i])
            .rep(REP_FILLER[i + 3])
            .rep(REP_QUESTIONS[i + 3]);
        s = if short_answers {
            s.pro(short)
        } else {
            s.pro(PRO_FILLER[(i + 5) % PRO_FILLER.len()])
                .pro(PRO_FILLER[i])
        };
    }
    s.rep(REP_FILLER[6])
}

#[test]
fn shrinking_answers_and_share_give_an_engagement_drop() {
    let s = engagement_script(true);
    let played = play_default(&s.lines, s.end() + 2.0);
    let p = played.of(PromptKind::EngagementDrop);
    assert_eq!(p.len(), 1, "{:?}", played.kinds());
    assert!(p[0].evidence.contains("I guess so."), "{}", p[0].evidence);
    let words: Vec<usize> = played.record().engagement.iter().map(|a| a.words).collect();
    assert_eq!(&words[words.len() - 3..], &[1, 1, 3]);
}

#[test]
fn steady_long_answers_give_no_engagement_drop() {
    let s = engagement_script(false);
    let played = play_default(&s.lines, s.end() + 2.0);
    assert_eq!(played.count(PromptKind::EngagementDrop), 0);
}

// ---------------------------------------------------------------------------
// Agenda
// ---------------------------------------------------------------------------

fn agenda_prep() -> CallPrep {
    CallPrep {
        agenda: vec![
            "reporting process".into(),
            "Salesforce integration".into(),
            "pricing".into(),
        ],
        planned_minutes: Some(60.0),
        ..CallPrep::default()
    }
}

fn small_talk(mut s: Script, until: f64) -> Script {
    let mut i = 0;
    while s.end() < until {
        let speaker = if i % 2 == 0 {
            Speaker::Rep
        } else {
            Speaker::Prospect
        };
        s = s.say(speaker, SMALL_TALK[i % SMALL_TALK.len()]);
        i += 1;
    }
    s
}

#[test]
fn five_minutes_off_the_agenda_is_drift() {
    let s = Script::new().rep("Let's start with your reporting process.");
    let on_agenda_until = s.end();
    let s = small_talk(s, 420.0);
    let played = play(CoachConfig::default(), agenda_prep(), &s.lines, 420.0);
    let p = played.of(PromptKind::AgendaDrift);
    assert_eq!(p.len(), 1, "{:?}", played.kinds());
    let expected = on_agenda_until + 300.0;
    assert!(
        p[0].t_emit_s >= expected && p[0].t_emit_s < expected + 2.0,
        "{:?} vs {expected}",
        p[0]
    );
    assert!(
        p[0].body.contains("Salesforce integration"),
        "{}",
        p[0].body
    );
    let agenda = played.record().agenda;
    assert!(agenda[0].covered && !agenda[1].covered && !agenda[2].covered);
}

#[test]
fn touching_the_agenda_every_few_minutes_is_not_drift() {
    let mut s = Script::new().rep("Let's start with your reporting process.");
    for mention in [
        "How does the Salesforce integration work for you today?",
        "Let me walk you through pricing.",
        "Back to the reporting process for a second.",
    ] {
        let until = s.end() + 150.0;
        s = small_talk(s, until).rep(mention);
    }
    let end = s.end() + 100.0;
    let s = small_talk(s, end);
    let played = play(CoachConfig::default(), agenda_prep(), &s.lines, end);
    assert_eq!(played.count(PromptKind::AgendaDrift), 0);
    assert_eq!(played.coach.metrics(end).agenda_covered, 3);
}

#[test]
fn no_agenda_means_no_drift() {
    let s = small_talk(Script::new(), 420.0);
    let played = play(
        CoachConfig::default(),
        CallPrep {
            planned_minutes: Some(60.0),
            ..CallPrep::default()
        },
        &s.lines,
        420.0,
    );
    assert_eq!(played.count(PromptKind::AgendaDrift), 0);
}

// ---------------------------------------------------------------------------
// Next step
// ---------------------------------------------------------------------------

fn twelve_minute_prep() -> CallPrep {
    CallPrep {
        planned_minutes: Some(12.0),
        ..CallPrep::default()
    }
}

#[test]
fn nearing_the_end_without_a_next_step_prompts_once() {
    let s = discovery(Script::new(), 6, 0)
        .rep("I'll send some info over.")
        .pro("Sounds good, we'll be in touch.");
    let s = discovery(s, 10, 6);
    let end = s.end().max(420.0);
    assert!(end > 380.0);
    let played = play(CoachConfig::default(), twelve_minute_prep(), &s.lines, end);
    let p = played.of(PromptKind::NoNextStep);
    assert_eq!(p.len(), 1, "{:?}", played.kinds());
    // 12 planned minutes, warned in the last 10 but not before half time: at 360 s.
    assert!((360.0..361.0).contains(&p[0].t_emit_s), "{:?}", p[0]);
    assert_eq!(p[0].severity, Severity::Alert);
    assert!(played.record().next_step.is_none());
}

#[test]
fn a_secured_next_step_is_positive_and_silences_the_warning() {
    let s = discovery(Script::new(), 6, 0)
        .rep("Does Tuesday at 2 work for a follow-up with your VP?")
        .pro("Yes, that works.");
    let s = discovery(s, 10, 6);
    let end = s.end().max(420.0);
    let played = play(CoachConfig::default(), twelve_minute_prep(), &s.lines, end);
    assert_eq!(played.count(PromptKind::NoNextStep), 0);
    let p = played.of(PromptKind::NextStepSecured);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].severity, Severity::Positive);
    let ns = played.record().next_step.unwrap();
    assert_eq!(ns.when, "tuesday at 2");
    assert_eq!(ns.speaker, Speaker::Rep);
}

#[test]
fn a_refused_proposal_is_not_a_next_step() {
    let lines = vec![
        rep(1.0, 4.0, "Does Tuesday at 2 work for a follow-up?"),
        pro(5.0, 8.0, "No, I'm out all of next week."),
    ];
    let played = play_default(&lines, 10.0);
    assert!(played.record().next_step.is_none());
    assert_eq!(played.count(PromptKind::NextStepSecured), 0);
}

// ---------------------------------------------------------------------------
// Record and snapshot
// ---------------------------------------------------------------------------

#[test]
fn deferrals_and_corrections_are_recorded() {
    let lines = vec![
        rep(
            1.0,
            5.0,
            "For a team of fifty, most customers start with the team plan.",
        ),
        pro(6.0, 9.0, "No, we have 200 people, not 50."),
        rep(
            10.0,
            14.0,
            "Good question on SSO, I'll check on that and get back to you.",
        ),
        pro(15.0, 18.0, "Sure, that would help."),
    ];
    let played = play_default(&lines, 20.0);
    let rec = played.record();
    assert_eq!(rec.corrections.len(), 1);
    assert_eq!(rec.corrections[0].t_s, 9.0);
    assert_eq!(rec.deferrals.len(), 1);
    assert_eq!(rec.deferrals[0].speaker, Speaker::Rep);
}

#[test]
fn a_late_joiner_gets_a_full_snapshot() {
    let mut lines = sustained_80_percent(60.0);
    lines.push(pro(
        62.0,
        65.0,
        "Honestly, that's way more than we budgeted.",
    ));
    let played = play_default(&lines, 66.0);
    let snap = played.coach.snapshot();
    assert!(snap
        .active_prompts
        .iter()
        .any(|p| p.kind == PromptKind::TalkRatioHigh));
    assert!(snap
        .active_prompts
        .iter()
        .any(|p| p.kind == PromptKind::ObjectionDetected));
    assert_eq!(snap.objections.len(), 1);
    assert_eq!(snap.objections[0].status, ObjectionStatus::Open);
    assert!(snap.metrics.window_talk_ratio_rep > 0.65);
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["objections"][0]["type"], "price");
    assert_eq!(json["active_prompts"][0]["kind"], "talk_ratio_high");
    assert_eq!(json["active_prompts"][0]["severity"], "warn");
    let back: CoachSnapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, snap);
}

#[test]
fn finish_settles_open_objections_and_questions() {
    let lines = vec![
        rep(1.0, 3.0, "How many reps do you have?"),
        pro(4.0, 7.0, "It's not this quarter, honestly."),
    ];
    let mut played = play_default(&lines, 8.5);
    assert_eq!(played.record().objections[0].status, ObjectionStatus::Open);
    played.coach.finish(9.0);
    let rec = played.coach.record();
    assert_eq!(rec.objections[0].fumble, Some(FumbleReason::Quiet));
    assert_eq!(rec.questions[0].waited, Some(true));
}

#[test]
fn bad_inputs_are_ignored() {
    let mut coach = Coach::new(CoachConfig::default(), CallPrep::default(), library());
    coach.on_voice(Speaker::Rep, 5.0, 4.0);
    coach.on_voice(Speaker::Rep, f64::NAN, 4.0);
    coach.on_segment(&Segment {
        speaker: Speaker::Prospect,
        start_s: 1.0,
        end_s: 2.0,
        text: "   ".into(),
        confidence: None,
    });
    coach.tick(f64::INFINITY);
    let m = coach.metrics(10.0);
    assert_eq!(m.rep_talk_s, 0.0);
    assert_eq!(coach.now(), 2.0);
}

/// Agreement in natural words: a time proposed as "how is…" or "could you do…",
/// the prospect's "let me check… yeah, Tuesday the tenth at two", availability
/// ("Thursday at nine is open"), a picked time ("The seventh at ten."), and a
/// sign-off that names the agreed date ("Talk on the fifteenth.").
#[test]
fn next_steps_agreed_in_natural_words_are_secured() {
    let cases: Vec<Vec<Line>> = vec![
        vec![rep(1.0, 4.0, "How is Tuesday the tenth at two, Eastern?"), pro(5.0, 12.0, "Let me check, uh, Gideon's usually free on Tuesday afternoons. Yeah. Tuesday the tenth at two. Send the invite, uh, to both of us.")],
        vec![rep(1.0, 4.0, "Would it help if I suggested two times you can offer her? Say Thursday the tenth at eleven your time, or Monday the fourteenth at one?"), pro(5.0, 12.0, "Hang on, I can see her calendar, we're all on the same system now. Thursday the tenth at eleven she's open. I'll send the invite from my side right now so it comes from me, and I'll add you.")],
        vec![pro(1.0, 4.0, "Let me look at his calendar, he shares it with me. Thursday at nine is open."), rep(5.0, 9.0, "Thursday the seventeenth at nine. And if Sal wants to join, he's welcome, but I'll plan for Gary.")],
        vec![rep(1.0, 4.0, "How about Thursday the twenty ninth at two?"), pro(5.0, 6.0, "That works."), rep(7.0, 9.0, "Perfect. I'll send the invite and a one page summary you can forward him today.")],
        vec![rep(1.0, 4.0, "Could you do Tuesday the fifth at two, or Thursday the seventh at ten?"), pro(5.0, 9.0, "The seventh at ten. Put the board chair on the invite too, his name's Phil, I'll send you his email.")],
        vec![pro(1.0, 4.0, "Let me check her calendar, I can see it. Wednesday the ninth at ten is open for her and for me."), rep(5.0, 9.0, "Great. Wednesday the ninth at ten. I'll send the, uh, invite to you and Gwen today.")],
        vec![rep(1.0, 4.0, "I'll take that. Talk on the fifteenth.")],
    ];
    for lines in cases {
        let played = play_default(&lines, 20.0);
        let said: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert!(played.record().next_step.is_some(), "no next step secured in {said:?}");
    }
    let dodged = vec![rep(1.0, 4.0, "How is Tuesday the tenth at two?"), pro(5.0, 8.0, "Let me look at my calendar and get back to you.")];
    assert!(play_default(&dodged, 10.0).record().next_step.is_none());
}

/// Closes as Whisper transcribed them on train calls (audio mode): a counter-proposal
/// ("Make it 5") confirmed by the rep, an acceptance that lost its "fine", a time
/// whose article and full stop are gone.
#[test]
fn next_steps_in_whispers_words_are_secured() {
    let cases: Vec<Vec<Line>> = vec![
        vec![
            rep(1.0, 3.0, "House Thursday for."),
            pro(4.0, 7.0, "Thursday at 4 I'm still on a job. Make it 5."),
            rep(8.0, 11.0, "Thursday at 5 perfect, I'll send you an invite, well, your email."),
            pro(12.0, 14.0, "It's Lewis at organ.reem.com. Dream like the color."),
        ],
        vec![
            rep(1.0, 4.0, "Then could we do 20 minutes right after? Tuesday, 27, 10. 10."),
            pro(5.0, 8.0, "Make it 11, mornings are bad, I'm doing punch, out till 10."),
            rep(9.0, 12.0, "Tuesday, 27, 11, works. I'll send a short invite, and I ring the numbers from a line"),
            pro(13.0, 14.0, "5, x"),
        ],
        vec![
            rep(1.0, 4.0, "1 Thursday 29th work 10 o'clock your time"),
            pro(5.0, 8.0, "Make it 10, 30, I have the sales meeting at 10."),
            rep(9.0, 12.0, "1030, Thursday 29, 15 minutes, I'll send the invite and a one-parent graph note."),
            pro(13.0, 14.0, "I put it on my calendar."),
        ],
        vec![
            rep(1.0, 4.0, "Then I'll come, Tuesday 15th at 7 at the church, 10 minutes at the start."),
            pro(5.0, 7.0, "Yes, seven, fellowship hall."),
        ],
        vec![
            rep(1.0, 4.0, "We have customers of all sizes, honestly would be surprised, so do you have 30 minutes Friday, say 10 o'clock?"),
            pro(5.0, 9.0, "I guess Friday at 10, I can't promise our treasure will join He's a volunteer"),
        ],
        // The proposed time said again, in Whisper's words, agrees to it.
        vec![
            rep(1.0, 4.0, "Sure, so how about Thursday at 2 and I'll show you the full platform."),
            pro(5.0, 9.0, "Well, I suppose if you want to Thursday at 2 land after the lunch."),
        ],
        vec![
            pro(1.0, 3.0, "Monday, night before it gets crazy."),
            rep(4.0, 9.0, "Monday at 9 at the shop. I ring the solo agreement with the March 1st."),
        ],
        vec![
            pro(1.0, 4.0, "I ask her, actually, she usually open Wednesday mornings, December 9th at 9th."),
            rep(5.0, 9.0, "December 9, at 9, 15 minutes, I'll send the invite to you and you forward it."),
        ],
    ];
    for lines in cases {
        let played = play_default(&lines, 30.0);
        let said: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert!(played.record().next_step.is_some(), "no next step secured in {said:?}");
    }
    let not_agreed: Vec<Vec<Line>> = vec![
        // A counter-proposal the rep does not take up.
        vec![rep(1.0, 3.0, "How's Thursday at four?"), pro(4.0, 7.0, "Make it 5."), rep(8.0, 11.0, "Let me check with my manager and get back to you.")],
        // "Make it" about something else.
        vec![rep(1.0, 3.0, "We could start Monday."), pro(4.0, 7.0, "Make it 3 seats, not 5."), rep(8.0, 11.0, "Sure, three seats.")],
        // The day said back as a fact, or another hour, agrees to nothing.
        vec![rep(1.0, 3.0, "How's Wednesday at 2?"), pro(4.0, 7.0, "I'm working Wednesday at 2. I'm working every day.")],
        vec![rep(1.0, 3.0, "How about Thursday at 2?"), pro(4.0, 7.0, "Hmm, Thursday at 4 would be better.")],
    ];
    for lines in not_agreed {
        let said: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert!(play_default(&lines, 30.0).record().next_step.is_none(), "secured in {said:?}");
    }
}

/// The pipeline joins a speaker's utterances under `join_gap_s` into one
/// transcription piece: its one transcript (or its loss) ends the wait for
/// the words of every utterance in it, and of none after it.
#[test]
fn one_transcript_spanning_several_utterances_ends_the_wait_for_all_of_them() {
    let mut coach = Coach::new(CoachConfig::default(), CallPrep::default(), library());
    for (start_s, end_s) in [(1.0, 2.0), (2.7, 3.5), (6.0, 7.0)] {
        coach.on_utterance_end(&Utterance { speaker: Speaker::Prospect, start_s, end_s });
    }
    coach.tick(7.5);
    coach.on_segment(&Segment { speaker: Speaker::Prospect, start_s: 1.0, end_s: 3.5, text: "It costs too much. We have no budget.".into(), confidence: None });
    assert_eq!(coach.untranscribed[Speaker::Prospect.channel()], [(6.0, 7.0)]);
    assert!(coach.text_pending(Speaker::Prospect, 5.0));
    // A joined piece given up (backlog) or with no words: the same span.
    coach.on_transcribed(Speaker::Prospect, 6.0, 7.0);
    assert!(!coach.text_pending(Speaker::Prospect, 0.0));
}

// ---------------------------------------------------------------------------
// Early objection cards (stable partial prefixes)
// ---------------------------------------------------------------------------

/// A prospect utterance 1.0–4.0 s whose stable prefix reaches the coach at
/// 2.6 s, the utterance ending at 4.0 s and its final words `final_text` at
/// 4.8 s; the rep's `reply`, if any, follows 4.8–12.0 s. Returns every prompt
/// and every verdict in order, and the coach.
fn early_then_final(prefix: &str, final_text: &str, reply: Option<&str>) -> (Vec<Prompt>, Vec<CoachVerdict>, Coach) {
    let mut coach = Coach::new(CoachConfig::default(), CallPrep::default(), library());
    let (mut prompts, mut verdicts) = (Vec::new(), Vec::new());
    let segment = |speaker, start_s, end_s, text: &str| Segment { speaker, start_s, end_s, text: text.into(), confidence: None };
    let mut t = 0.0;
    while t < 20.0 {
        t = ((t + STEP) * 10.0f64).round() / 10.0;
        if t > 1.0 && t <= 4.0 {
            coach.on_voice(Speaker::Prospect, 1.0, t);
        }
        if (t - 4.0).abs() < 1e-9 {
            coach.on_utterance_end(&Utterance { speaker: Speaker::Prospect, start_s: 1.0, end_s: 4.0 });
        }
        if reply.is_some() && t > 4.8 && t <= 12.0 {
            coach.on_voice(Speaker::Rep, 4.8, t);
        }
        coach.tick(t);
        if (t - 2.6).abs() < 1e-9 {
            coach.on_stable_partial(&segment(Speaker::Prospect, 1.0, 2.6, prefix));
        }
        if (t - 4.8).abs() < 1e-9 {
            coach.on_segment(&segment(Speaker::Prospect, 1.0, 4.0, final_text));
        }
        if let Some(reply) = reply.filter(|_| (t - 12.0).abs() < 1e-9) {
            coach.on_utterance_end(&Utterance { speaker: Speaker::Rep, start_s: 4.8, end_s: 12.0 });
            coach.on_segment(&segment(Speaker::Rep, 4.8, 12.0, reply));
        }
        prompts.extend(coach.drain_prompts());
        verdicts.extend(coach.drain_verdicts());
    }
    coach.finish(20.0);
    prompts.extend(coach.drain_prompts());
    verdicts.extend(coach.drain_verdicts());
    (prompts, verdicts, coach)
}

fn objection_verdicts(verdicts: &[CoachVerdict]) -> Vec<&ObjectionRecord> {
    verdicts
        .iter()
        .filter_map(|v| match v {
            CoachVerdict::Objection(o) => Some(o),
            CoachVerdict::NextStep(_) => None,
        })
        .collect()
}

#[test]
fn an_early_card_is_confirmed_by_the_final_words_as_the_same_objection() {
    let (prompts, verdicts, coach) = early_then_final(
        "Honestly, that's way more than we budgeted",
        "Honestly, that's way more than we budgeted this year.",
        Some("I understand, it's a real investment. What budget range did you have in mind?"),
    );
    let cards: Vec<&Prompt> = prompts.iter().filter(|p| p.kind == PromptKind::ObjectionDetected).collect();
    assert_eq!(cards.len(), 2, "the early card and its confirmation: {prompts:?}");
    let (early, confirmed) = (cards[0], cards[1]);
    assert!(early.early && early.revises.is_none(), "{early:?}");
    assert_eq!(early.objection, Some(ObjectionType::Price));
    assert!(early.t_emit_s < 4.0, "the card went out while the prospect still spoke: {early:?}");
    assert!(!confirmed.early && confirmed.revises == Some(early.id), "{confirmed:?}");
    assert_eq!((confirmed.objection_id, confirmed.objection), (early.objection_id, early.objection));
    assert_eq!(confirmed.evidence, "“Honestly, that's way more than we budgeted this year.”");
    // The journal sees the record raised provisional, then the same id confirmed
    // with the final's words, then judged.
    let records = objection_verdicts(&verdicts);
    assert!(records.iter().all(|o| o.id == 0 && o.early), "{records:?}");
    assert!(records[0].provisional && records[0].excerpt == "Honestly, that's way more than we budgeted");
    assert!(!records[1].provisional && records[1].excerpt == "Honestly, that's way more than we budgeted this year.");
    assert_eq!(records.last().unwrap().status, ObjectionStatus::Handled);
    let handled: Vec<&Prompt> = prompts.iter().filter(|p| p.kind == PromptKind::ObjectionHandled).collect();
    assert_eq!(handled.len(), 1, "{prompts:?}");
    assert_eq!(handled[0].objection_id, Some(0));
    assert!(!prompts.iter().any(|p| p.kind == PromptKind::ObjectionWithdrawn));
    assert_eq!(coach.record().objections.len(), 1);
}

#[test]
fn an_early_card_the_final_words_do_not_carry_is_withdrawn() {
    let (prompts, verdicts, coach) =
        early_then_final("Honestly, that's way more than we budgeted.", "Budget is not a problem.", None);
    let early = prompts.iter().find(|p| p.kind == PromptKind::ObjectionDetected).expect("an early card");
    assert!(early.early);
    let withdrawn: Vec<&Prompt> = prompts.iter().filter(|p| p.kind == PromptKind::ObjectionWithdrawn).collect();
    assert_eq!(withdrawn.len(), 1, "{prompts:?}");
    assert_eq!((withdrawn[0].revises, withdrawn[0].objection_id), (Some(early.id), early.objection_id));
    assert_eq!(prompts.iter().filter(|p| p.kind == PromptKind::ObjectionDetected).count(), 1, "no other card: {prompts:?}");
    // Nothing judged it: it was never an objection of the call.
    assert!(!prompts.iter().any(|p| matches!(p.kind, PromptKind::ObjectionHandled | PromptKind::ObjectionUnanswered)), "{prompts:?}");
    assert_eq!(objection_verdicts(&verdicts).last().unwrap().status, ObjectionStatus::Withdrawn);
    assert!(coach.record().objections.is_empty());
    assert_eq!(coach.metrics(20.0).objections_raised, 0);
}

#[test]
fn the_final_words_raise_what_the_partials_did_not_and_no_partial_raises_a_type_twice() {
    // The prefix carries nothing; the final carries timing: raised as without the early path.
    let (prompts, _, _) = early_then_final("Honestly, the", "It's just not this quarter for us.", None);
    let cards: Vec<&Prompt> = prompts.iter().filter(|p| p.kind == PromptKind::ObjectionDetected).collect();
    assert_eq!(cards.len(), 1, "{prompts:?}");
    assert!(!cards[0].early && cards[0].revises.is_none() && cards[0].objection == Some(ObjectionType::Timing));

    // Growing prefixes of one utterance raise one card.
    let mut coach = Coach::new(CoachConfig::default(), CallPrep::default(), library());
    let prefix = |end_s, text: &str| Segment { speaker: Speaker::Prospect, start_s: 1.0, end_s, text: text.into(), confidence: None };
    coach.tick(2.0);
    coach.on_stable_partial(&prefix(2.0, "Honestly, that's way more than we budgeted"));
    coach.tick(2.5);
    coach.on_stable_partial(&prefix(2.5, "Honestly, that's way more than we budgeted for this year"));
    assert_eq!(coach.drain_prompts().len(), 1);
    // With the early path off, partials are ignored.
    let config = CoachConfig { early_objections: false, ..CoachConfig::default() };
    let mut coach = Coach::new(config, CallPrep::default(), library());
    coach.on_stable_partial(&prefix(2.0, "Honestly, that's way more than we budgeted"));
    assert!(coach.drain_prompts().is_empty() && coach.drain_verdicts().is_empty());
}
