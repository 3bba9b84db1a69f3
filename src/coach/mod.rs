//! The live coach: a pure, deterministic state machine that turns voice activity,
//! transcript segments and the passing of call time into metrics and prompts.
//!
//! No audio, no I/O, no clocks: time arrives as call-time seconds in every input, so the
//! same inputs always give the same prompts, in tests as in a live call. Synchronous and
//! cheap; it runs on whichever thread owns it (the pipeline's coach task).
//!
//! # Inputs
//! - [`Coach::on_voice`]: VAD speech intervals, every ~100–200 ms while someone speaks
//!   (partial extents of an open utterance are fine). Talk time, talk ratio and monologues
//!   come only from these, so talk-ratio prompts never wait for text.
//! - [`Coach::on_utterance_end`]: the final extent of an utterance.
//! - [`Coach::on_segment`]: the final text of an utterance, 0.1–2 s after it ended.
//! - [`Coach::on_stable_partial`]: the stable prefix of a prospect utterance still being
//!   spoken (`transcribe::agreement`): objection cards go out from it early.
//! - [`Coach::tick`]: the passing of time (rules that fire on silence need it).
//!
//! # Rules (thresholds in [`CoachConfig`])
//! - **Talk ratio**: rep share of speech over the recent window (180 s) above 65%, once
//!   45 s of speech is in the window. Hysteresis: an episode ends only when the share
//!   falls below 60%; while it lasts, a reminder at most once per cooldown (180 s).
//! - **Monologue**: a rep run longer than 90 s. A run is the rep's speech with pauses of
//!   at most 4 s, where the prospect says nothing longer than 1.5 s: backchannels ("mm-hm",
//!   "right") and talk-over inside continuous speech do not end it. The prospect's longest
//!   stretch is measured the same way, mirrored.
//! - **Ask and wait**: the rep's line asks a question (from its wording, see
//!   [`text::is_question`]) and the rep speaks again within 3 s with no prospect speech in
//!   between, or keeps talking after the question in the same breath (4+ words).
//! - **Objections**: the prospect's lines are matched against the library; the prompt holds
//!   the prepared response. The rep's reply (their lines until the prospect's next real
//!   turn) is judged once the rep pauses: handled = acknowledges or addresses it, AND asks a
//!   question or answers with substance (10+ words), AND does not move on to another
//!   topic; fumbled = no reply within 8 s (quiet), a bare concession or a change of topic
//!   (conceded), a reply that ignores it, or the prospect raising it again (repeated).
//! - **Engagement drop**: the prospect's last 3 answers have at most 3 words, the answers
//!   before averaged 6+, and the prospect's share of speech since then fell by 10 points
//!   (or is under 25%).
//! - **Agenda drift**: with a prep agenda, 5 minutes without any item's keywords.
//! - **No next step**: in the last 10 minutes of the planned length with nothing concrete
//!   agreed. A next step is secured when the prospect states a concrete one, or accepts one
//!   the rep proposed ([`text::detect_next_step`], [`text::is_acceptance`]).
//! - **Positive**: next step secured, objection handled.
//!
//! Every kind has a cooldown; objection prompts are per event.
//!
//! # Early objection cards, and how the final reconciles them
//! With `early_objections`, an objection the judge finds in the stable prefix of a
//! prospect utterance still being spoken is raised at once: its record is journaled
//! `provisional` and `early` (a verdict, before the prompt goes out) and the card
//! (`objection_detected`, `early: true`) shows the partial words. It is not judged yet:
//! the rep's reply is collected once the final transcript confirms it. When the final of
//! that utterance arrives, the judge runs on the final words as always, and then
//! - it carries the same type: the record is **confirmed**, the same `id` journaled
//!   again with the final's words, no longer provisional, and the card is replaced
//!   by one with the final's words (`revises` names the early prompt);
//! - it does not (or no words came): the record is **withdrawn** (status `withdrawn`,
//!   journaled; the brief and the record leave it out) and an `objection_withdrawn`
//!   prompt tells the overlay to take the card down.
//!
//! The final's other objections are raised as without the early path, so the final
//! text decides what the call's objections are; the early path only moves cards
//! earlier, and every card it adds that the final does not bear out is taken back.
//! While an objection of a type is open (raised early or not), partials raise no other.

pub mod config;
pub mod offline;
pub mod prompt;
pub mod record;
mod speech;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

pub use config::{CoachConfig, CoachConfigError};
pub use crate::language::objections::{
    LibraryError, ObjectionHit, ObjectionLibrary, ObjectionMatcher, ObjectionType,
};
pub use crate::prep::{CallPrep, PrepError};
pub use prompt::{Prompt, PromptKind, Severity};
pub use record::{
    CoachVerdict, AgendaItemStatus, AnswerRecord, CoachRecord, CoachSnapshot, FumbleReason, Metrics,
    MonologueRecord, NextStepRecord, ObjectionRecord, ObjectionStatus, QuestionRecord, TextMoment,
};
pub use crate::language::text::NextStepMatch;
use crate::language::judge::{self, Judgement};
use crate::language::stance::{Detector, StanceModel};
use crate::language::text;

use crate::call::{Segment, Speaker, Utterance};
use speech::{RunState, SpeechTrack};

/// How far (s) Whisper's segment end may sit before the VAD's end of the same speech.
const SEGMENT_END_TOLERANCE_S: f64 = 0.4;
/// Rep speech after a question shorter than this is a click or a breath, not resuming.
const MIN_RESUME_S: f64 = 0.3;
/// Rep segments kept to seed the reply of an objection whose text arrives late.
const RECENT_REP_SEGMENTS: usize = 20;
/// Call time (s) the judge waits at most for the words of speech that has ended.
const MAX_TEXT_WAIT_S: f64 = 60.0;
/// Excerpts in prompts and records are cut to this many characters.
const EXCERPT_CHARS: usize = 240;

/// Agenda words that say nothing about the topic.
const AGENDA_FILLER: &[&str] = &[
    "discuss",
    "discussion",
    "review",
    "overview",
    "talk",
    "cover",
    "quick",
    "intro",
    "introduction",
    "introductions",
    "current",
    "general",
    "item",
    "agenda",
    "topic",
    "update",
    "recap",
    "next",
    "steps",
    "step",
    "wrap",
];

/// An objection whose reply is not judged yet.
#[derive(Debug, Clone)]
struct OpenObjection {
    record: usize,
    kind: ObjectionType,
    /// End of the prospect speech that raised it (s).
    end_s: f64,
    /// The rep's reply so far.
    reply: String,
    reply_start: Option<f64>,
    reply_end: f64,
}

/// An objection card raised from partial words, waiting for its utterance's final transcript.
#[derive(Debug, Clone)]
struct EarlyObjection {
    record: usize,
    kind: ObjectionType,
    /// Start of the utterance whose partial words raised it (s).
    utterance_start_s: f64,
    /// The prompt that showed it.
    prompt_id: u64,
}

#[derive(Debug, Clone)]
struct PendingQuestion {
    record: usize,
    q_end: f64,
}

/// The prospect's turn in progress: their lines since the rep last spoke.
#[derive(Debug, Clone)]
struct ProspectTurn {
    start_s: f64,
    end_s: f64,
    words: usize,
    speech_s: f64,
    after_question: bool,
    text: String,
}

#[derive(Debug, Clone)]
struct Proposal {
    step: NextStepMatch,
    speaker: Speaker,
    t_s: f64,
}

#[derive(Debug, Clone)]
struct AgendaItem {
    keywords: Vec<String>,
    status: AgendaItemStatus,
}

/// The live coach for one call. See the module documentation for the rules.
pub struct Coach {
    config: CoachConfig,
    prep: CallPrep,
    /// Finds objections; its library holds the prepared responses and labels.
    detector: Detector,
    /// The rep's words since the prospect last spoke: the turn a prospect line answers.
    rep_turn: String,
    rep_turn_answered: bool,
    /// The latest call time seen in any input (s).
    now: f64,
    tracks: [SpeechTrack; 2],
    runs: [RunState; 2],
    outbox: Vec<Prompt>,
    prompts: Vec<Prompt>,
    next_prompt_id: u64,
    last_emit: [Option<f64>; PromptKind::ALL.len()],
    talk_high: bool,
    talk_episode_prompted: bool,
    monologue_prompted_until: f64,
    questions: Vec<QuestionRecord>,
    pending_questions: Vec<PendingQuestion>,
    /// End of the rep's latest line and whether it ended on a question.
    last_rep_line: Option<(f64, bool)>,
    turn: Option<ProspectTurn>,
    answers: Vec<AnswerRecord>,
    answer_texts: VecDeque<String>,
    engagement_armed: bool,
    objections: Vec<ObjectionRecord>,
    open_objections: Vec<OpenObjection>,
    /// Cards raised early that no final transcript has confirmed or withdrawn yet.
    early_objections: Vec<EarlyObjection>,
    recent_rep_segments: VecDeque<Segment>,
    agenda: Vec<AgendaItem>,
    last_on_agenda_s: Option<f64>,
    agenda_drift_armed: bool,
    next_step: Option<NextStepRecord>,
    proposal: Option<Proposal>,
    no_next_step_prompted: bool,
    deferrals: Vec<TextMoment>,
    corrections: Vec<TextMoment>,
    /// Verdicts since the last drain, for the journal.
    verdicts: Vec<CoachVerdict>,
    /// Per speaker, finished utterances whose text has not arrived yet (start, end):
    /// a reply is not judged while its words are still being transcribed.
    untranscribed: [Vec<(f64, f64)>; 2],
}

impl Coach {
    /// A coach for one call. `config` should have passed [`CoachConfig::validate`].
    pub fn new(config: CoachConfig, prep: CallPrep, library: Arc<ObjectionLibrary>) -> Coach {
        let agenda = prep
            .agenda
            .iter()
            .map(|item| {
                let mut keywords: Vec<String> = text::content_stems(item)
                    .into_iter()
                    .filter(|s| !AGENDA_FILLER.contains(&s.as_str()))
                    .collect();
                keywords.dedup();
                AgendaItem {
                    keywords,
                    status: AgendaItemStatus {
                        item: item.clone(),
                        covered: false,
                        first_t_s: None,
                        last_t_s: None,
                    },
                }
            })
            .collect();
        Coach {
            config,
            prep,
            detector: Detector::new(ObjectionMatcher::new(library), StanceModel::builtin()),
            rep_turn: String::new(),
            rep_turn_answered: false,
            now: 0.0,
            tracks: Default::default(),
            runs: Default::default(),
            outbox: Vec::new(),
            prompts: Vec::new(),
            next_prompt_id: 1,
            last_emit: [None; PromptKind::ALL.len()],
            talk_high: false,
            talk_episode_prompted: false,
            monologue_prompted_until: f64::NEG_INFINITY,
            questions: Vec::new(),
            pending_questions: Vec::new(),
            last_rep_line: None,
            turn: None,
            answers: Vec::new(),
            answer_texts: VecDeque::new(),
            engagement_armed: true,
            objections: Vec::new(),
            open_objections: Vec::new(),
            early_objections: Vec::new(),
            recent_rep_segments: VecDeque::new(),
            agenda,
            last_on_agenda_s: None,
            agenda_drift_armed: true,
            next_step: None,
            proposal: None,
            no_next_step_prompted: false,
            deferrals: Vec::new(),
            corrections: Vec::new(),
            verdicts: Vec::new(),
            untranscribed: [Vec::new(), Vec::new()],
        }
    }

    /// The call's prep.
    pub fn prep(&self) -> &CallPrep {
        &self.prep
    }

    /// The thresholds in use.
    pub fn config(&self) -> &CoachConfig {
        &self.config
    }

    /// The latest call time seen in any input (s).
    pub fn now(&self) -> f64 {
        self.now
    }

    // -----------------------------------------------------------------------
    // Inputs
    // -----------------------------------------------------------------------

    /// Speech by `speaker` between `start_s` and `end_s`, from the VAD. May be a partial
    /// extent of an utterance still open, repeat earlier reports, or overlap them.
    pub fn on_voice(&mut self, speaker: Speaker, start_s: f64, end_s: f64) {
        if !(start_s.is_finite() && end_s.is_finite()) || end_s <= start_s {
            return;
        }
        let me = speaker.channel();
        self.tracks[me].add(start_s, end_s, self.config.voice_merge_gap_s);
        if let Some(run) = self.tracks[me].current_run(
            &self.tracks[1 - me],
            self.config.monologue_max_pause_s,
            self.config.backchannel_max_s,
        ) {
            self.runs[me].update(run);
        }
        // The agenda clock starts with the call's first speech.
        if self.last_on_agenda_s.is_none() {
            self.last_on_agenda_s = Some(start_s);
        }
        self.advance(end_s);
    }

    /// The final extent of an utterance.
    pub fn on_utterance_end(&mut self, utterance: &Utterance) {
        self.on_voice(utterance.speaker, utterance.start_s, utterance.end_s);
        if utterance.end_s.is_finite() && utterance.start_s.is_finite() {
            self.untranscribed[utterance.speaker.channel()].push((utterance.start_s, utterance.end_s));
        }
    }

    /// The transcriber is done with the utterance at `start_s..end_s` and it gave
    /// no words (silence, noise, a dropped job): an early card raised from its
    /// partial words is withdrawn, as no final words carry it.
    pub fn on_transcribed(&mut self, speaker: Speaker, start_s: f64, end_s: f64) {
        self.transcribed(speaker, start_s, end_s);
        let wordless = Segment { speaker, start_s, end_s, text: String::new(), confidence: None };
        self.reconcile_early(&wordless, &mut Vec::new());
    }

    /// The words of the utterance at `start_s..end_s` are in (or will never come).
    fn transcribed(&mut self, speaker: Speaker, start_s: f64, end_s: f64) {
        self.untranscribed[speaker.channel()]
            .retain(|&(s, e)| !(s < end_s + SEGMENT_END_TOLERANCE_S && e > start_s - SEGMENT_END_TOLERANCE_S));
    }

    /// Whether `speaker` has finished speech after `t_s` whose words are still to come.
    /// Speech older than [`MAX_TEXT_WAIT_S`] is given up on (a lost transcript).
    fn text_pending(&self, speaker: Speaker, t_s: f64) -> bool {
        self.untranscribed[speaker.channel()]
            .iter()
            .any(|&(_, e)| e > t_s && self.now - e < MAX_TEXT_WAIT_S)
    }

    /// The final text of (part of) an utterance.
    pub fn on_segment(&mut self, segment: &Segment) {
        if segment.end_s.is_finite() {
            self.now = self.now.max(segment.end_s);
        }
        let line = segment.text.trim();
        if !line.is_empty() && segment.start_s.is_finite() && segment.end_s.is_finite() {
            self.track_agenda(segment);
            self.transcribed(segment.speaker, segment.start_s, segment.end_s);
            match segment.speaker {
                Speaker::Rep => self.rep_line(segment),
                Speaker::Prospect => self.prospect_line(segment),
            }
            self.track_next_step(segment);
        }
        self.evaluate();
    }

    /// The stable prefix (`transcribe::agreement`) of a prospect utterance whose final
    /// transcript has not arrived: `start_s` is the utterance's start, `end_s` how far
    /// the words reach. Objections the judge finds in it are raised at once, as
    /// provisional records and early cards (see the module docs). Rep partials, and
    /// every partial with `early_objections` off, are ignored.
    pub fn on_stable_partial(&mut self, partial: &Segment) {
        let line = partial.text.trim();
        if !self.config.early_objections
            || partial.speaker != Speaker::Prospect
            || line.is_empty()
            || !(partial.start_s.is_finite() && partial.end_s.is_finite())
        {
            return;
        }
        for hit in self.detector.find(line, Speaker::Prospect, &self.rep_turn, &self.prep) {
            let open = self.early_objections.iter().any(|e| e.kind == hit.kind)
                || self.open_objections.iter().any(|o| o.kind == hit.kind);
            if open {
                continue;
            }
            let kind = hit.kind;
            let record = self.record_objection(&hit, partial);
            self.objections[record].early = true;
            self.objections[record].provisional = true;
            self.verdicts.push(CoachVerdict::Objection(self.objections[record].clone()));
            let prompt_id = self.announce_objection(record, None);
            self.amend_last_prompt(|p| p.early = true);
            self.early_objections.push(EarlyObjection { record, kind, utterance_start_s: partial.start_s, prompt_id });
        }
        self.evaluate();
    }

    /// Call time has reached `now_s`; rules that fire on silence or elapsed time run here.
    pub fn tick(&mut self, now_s: f64) {
        self.advance(now_s);
    }

    /// The call ended at `end_s`: judges what is still open (an objection with no reply
    /// is fumbled, a question nobody talked over was waited on) so the record is final.
    pub fn finish(&mut self, end_s: f64) {
        self.advance(end_s);
        // No final words ever came for these (the call ended first).
        for early in std::mem::take(&mut self.early_objections) {
            self.withdraw_early(early, end_s);
        }
        self.close_turn(f64::INFINITY);
        for i in (0..self.open_objections.len()).rev() {
            let verdict = self.judge_reply(&self.open_objections[i], false);
            self.resolve_objection(i, verdict);
        }
        for pq in std::mem::take(&mut self.pending_questions) {
            let q = &mut self.questions[pq.record];
            if q.waited.is_none() {
                q.waited = Some(true);
            }
        }
        self.proposal = None;
    }

    // -----------------------------------------------------------------------
    // Outputs
    // -----------------------------------------------------------------------

    /// Prompts produced since the last call, oldest first.
    pub fn drain_prompts(&mut self) -> Vec<Prompt> {
        std::mem::take(&mut self.outbox)
    }

    /// Verdicts reached since the last call, oldest first: an objection as it is
    /// raised and again once judged, the next step once secured. The pipeline
    /// journals them so the brief reads the very verdicts the overlay showed.
    pub fn drain_verdicts(&mut self) -> Vec<CoachVerdict> {
        std::mem::take(&mut self.verdicts)
    }

    /// Live figures at call time `now_s`.
    pub fn metrics(&self, now_s: f64) -> Metrics {
        let cfg = &self.config;
        let rep = self.tracks[0].total();
        let pro = self.tracks[1].total();
        let w = cfg.talk_window_s;
        let rep_w = self.tracks[0].in_range(now_s - w, now_s);
        let pro_w = self.tracks[1].in_range(now_s - w, now_s);
        let current = self.runs[0]
            .active_at(
                now_s,
                &self.tracks[1],
                cfg.monologue_max_pause_s,
                cfg.backchannel_max_s,
            )
            .map_or(0.0, |(s, e)| e - s);
        Metrics {
            t_s: now_s,
            rep_talk_s: rep,
            prospect_talk_s: pro,
            talk_ratio_rep: share(rep, pro),
            window_s: w,
            window_talk_ratio_rep: share(rep_w, pro_w),
            window_speech_s: rep_w + pro_w,
            current_rep_monologue_s: current,
            longest_rep_monologue_s: self.runs[0].longest,
            longest_prospect_stretch_s: self.runs[1].longest,
            rep_questions: self.questions.len(),
            rep_questions_waited: self
                .questions
                .iter()
                .filter(|q| q.waited == Some(true))
                .count(),
            rep_questions_not_waited: self
                .questions
                .iter()
                .filter(|q| q.waited == Some(false))
                .count(),
            recent_answer_words: self
                .answers
                .iter()
                .rev()
                .take(5)
                .rev()
                .map(|a| a.words)
                .collect(),
            objections_raised: self.objections().count(),
            objections_handled: self.objections.iter().filter(|o| o.handled).count(),
            objections_open: self
                .objections
                .iter()
                .filter(|o| o.status == ObjectionStatus::Open)
                .count(),
            agenda_covered: self.agenda.iter().filter(|a| a.status.covered).count(),
            agenda_total: self.agenda.len(),
            next_step_secured: self.next_step.as_ref().is_some_and(|n| n.secured),
            deferrals: self.deferrals.len(),
            corrections: self.corrections.len(),
        }
    }

    /// The state a late-joining overlay needs: metrics, recent prompts, objections, next
    /// step and agenda coverage, as of the latest call time seen.
    pub fn snapshot(&self) -> CoachSnapshot {
        let since = self.now - self.config.active_prompt_s;
        CoachSnapshot {
            metrics: self.metrics(self.now),
            active_prompts: self
                .prompts
                .iter()
                .filter(|p| p.t_emit_s >= since)
                .cloned()
                .collect(),
            objections: self.objections().cloned().collect(),
            next_step: self.next_step.clone(),
            agenda: self.agenda.iter().map(|a| a.status.clone()).collect(),
        }
    }

    /// Everything observed so far, for the post-call brief (call [`Coach::finish`] first
    /// for final verdicts).
    pub fn record(&self) -> CoachRecord {
        let min = self.config.monologue_record_min_s;
        let mut monologues: Vec<MonologueRecord> = Speaker::BOTH
            .iter()
            .flat_map(|&sp| {
                let rs = &self.runs[sp.channel()];
                rs.finished
                    .iter()
                    .chain(rs.current.iter())
                    .map(move |&(s, e)| MonologueRecord {
                        speaker: sp,
                        start_s: s,
                        end_s: e,
                    })
            })
            .filter(|m| m.duration_s() >= min)
            .collect();
        monologues.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        CoachRecord {
            metrics: self.metrics(self.now),
            prompts: self.prompts.clone(),
            objections: self.objections().cloned().collect(),
            questions: self.questions.clone(),
            next_step: self.next_step.clone(),
            agenda: self.agenda.iter().map(|a| a.status.clone()).collect(),
            engagement: self.answers.clone(),
            deferrals: self.deferrals.clone(),
            corrections: self.corrections.clone(),
            monologues,
        }
    }

    /// The call's objections: every record but those withdrawn (ids keep their gaps).
    fn objections(&self) -> impl Iterator<Item = &ObjectionRecord> {
        self.objections.iter().filter(|o| o.status != ObjectionStatus::Withdrawn)
    }

    /// The objection matcher this coach uses (the brief reuses it).
    pub fn matcher(&self) -> &ObjectionMatcher {
        self.detector.matcher()
    }

    // -----------------------------------------------------------------------
    // Lines of text
    // -----------------------------------------------------------------------

    fn rep_line(&mut self, seg: &Segment) {
        let line = seg.text.trim();
        if std::mem::take(&mut self.rep_turn_answered) {
            self.rep_turn.clear();
        }
        self.rep_turn.push_str(line);
        self.rep_turn.push(' ');
        if text::is_deferral(line) {
            self.deferrals.push(TextMoment {
                t_s: seg.end_s,
                speaker: Speaker::Rep,
                excerpt: excerpt(line),
            });
        }
        for o in &mut self.open_objections {
            if seg.end_s > o.end_s && seg.start_s >= o.end_s - 0.5 {
                add_reply(o, seg);
            }
        }
        self.recent_rep_segments.push_back(seg.clone());
        if self.recent_rep_segments.len() > RECENT_REP_SEGMENTS {
            self.recent_rep_segments.pop_front();
        }
        // A backchannel from the rep ("mm-hm") does not end the prospect's answer.
        let backchannel =
            text::word_count(line) <= 2 && seg.end_s - seg.start_s < self.config.backchannel_max_s;
        if !backchannel {
            self.close_turn(seg.start_s);
        }
        let mut ends_on_question = false;
        if let Some(after) = text::words_after_last_question(line) {
            let record = self.questions.len();
            let asked = text::question_sentences(line).join(" ");
            if after >= self.config.ask_wait_trailing_words {
                // Asked and kept talking in the same breath.
                self.questions.push(QuestionRecord {
                    t_s: seg.end_s,
                    text: asked.clone(),
                    waited: Some(false),
                    answered: Some(false),
                });
                self.prompt_ask_and_wait(seg.end_s, &asked);
            } else {
                self.questions.push(QuestionRecord {
                    t_s: seg.end_s,
                    text: asked,
                    waited: None,
                    answered: None,
                });
                self.pending_questions.push(PendingQuestion {
                    record,
                    q_end: seg.end_s,
                });
                ends_on_question = true;
            }
        }
        if !backchannel || ends_on_question {
            self.last_rep_line = Some((seg.end_s, ends_on_question));
        }
    }

    fn prospect_line(&mut self, seg: &Segment) {
        let line = seg.text.trim();
        let words = text::word_count(line);
        let substantive = words >= 3 || seg.end_s - seg.start_s >= self.config.backchannel_max_s;
        if self.tracks[0].total() > 0.0 && text::is_correction(line) {
            self.corrections.push(TextMoment {
                t_s: seg.end_s,
                speaker: Speaker::Prospect,
                excerpt: excerpt(line),
            });
        }
        self.extend_turn(seg, words);

        let mut hits = self.detector.find(line, Speaker::Prospect, &self.rep_turn, &self.prep);
        self.rep_turn_answered = true;
        // The prospect spoke again after the rep replied: judge those replies now, and a
        // repeat of the same objection means the reply did not land.
        let mut repeated = Vec::new();
        for i in (0..self.open_objections.len()).rev() {
            let o = &self.open_objections[i];
            let replied = o.reply_start.is_some_and(|rs| seg.end_s > rs);
            if !replied {
                continue;
            }
            if hits.iter().any(|h| h.kind == o.kind) {
                // The same concern again: after a reply that engaged with it (asked about
                // it, answered it) it is the conversation going on, a new raise; after one
                // that did not, the prospect had to repeat it.
                let verdict = self.judge_reply(&self.open_objections[i], false);
                let says_again = {
                    let w = text::words(line);
                    ["again", "like i said", "as i said", "i already said", "i told you", "still"]
                        .iter()
                        .any(|m| text::find_seq(&w, m).is_some())
                };
                let verdict = if verdict.handled && !says_again {
                    verdict
                } else {
                    repeated.push(o.kind);
                    self.judge_reply(&self.open_objections[i], true)
                };
                self.resolve_objection(i, verdict);
            } else if substantive {
                let verdict = self.judge_reply(&self.open_objections[i], false);
                self.resolve_objection(i, verdict);
            }
        }
        // Early cards from these words are confirmed (taking their hit) or withdrawn
        // here, after the replies above were judged, as a new objection would be.
        self.reconcile_early(seg, &mut hits);
        for hit in hits {
            if let Some(o) = self
                .open_objections
                .iter_mut()
                .find(|o| o.kind == hit.kind && o.reply_start.is_none())
            {
                // The prospect is still on the same objection: one objection, longer excerpt.
                o.end_s = o.end_s.max(seg.end_s);
                let rec = &mut self.objections[o.record];
                if !rec.excerpt.contains(line) {
                    rec.excerpt = excerpt(&format!("{} {}", rec.excerpt, line));
                }
                continue;
            }
            let announce = !repeated.contains(&hit.kind);
            self.open_objection(hit, seg, announce);
        }
    }

    fn open_objection(&mut self, hit: ObjectionHit, seg: &Segment, announce: bool) {
        let id = self.record_objection(&hit, seg);
        self.verdicts.push(CoachVerdict::Objection(self.objections[id].clone()));
        self.await_reply(id, hit.kind, seg);
        if announce {
            self.announce_objection(id, None);
        }
    }

    /// A new objection record (open) for `hit` in `seg`; returns its id.
    fn record_objection(&mut self, hit: &ObjectionHit, seg: &Segment) -> usize {
        let kind = hit.kind;
        let id = self.objections.len();
        self.objections.push(ObjectionRecord {
            id,
            kind,
            t_s: seg.end_s,
            excerpt: excerpt(seg.text.trim()),
            phrase: hit.phrase.clone(),
            score: hit.score,
            status: ObjectionStatus::Open,
            handled: false,
            fumble: None,
            response_excerpt: None,
            prepared_response: self.detector.matcher().library().response(kind).to_string(),
            t_resolved_s: None,
            assessment: None,
            early: false,
            provisional: false,
        });
        id
    }

    /// Starts collecting the rep's reply to objection `id`, raised by `seg`.
    fn await_reply(&mut self, id: usize, kind: ObjectionType, seg: &Segment) {
        let mut open = OpenObjection {
            record: id,
            kind,
            end_s: seg.end_s,
            reply: String::new(),
            reply_start: None,
            reply_end: seg.end_s,
        };
        // The rep's reply may have been transcribed before the objection was.
        for rs in &self.recent_rep_segments {
            if rs.end_s > seg.end_s && rs.start_s >= seg.end_s - 0.5 {
                add_reply(&mut open, rs);
            }
        }
        self.open_objections.push(open);
    }

    /// The objection card for record `id`, with its words as evidence; `revises`
    /// names the card it replaces. Returns the prompt's id.
    fn announce_objection(&mut self, id: usize, revises: Option<u64>) -> u64 {
        let rec = &self.objections[id];
        let (kind, t_s) = (rec.kind, rec.t_s);
        let (prepared, evidence) = (rec.prepared_response.clone(), format!("“{}”", rec.excerpt));
        let label = self.detector.matcher().library().entry(kind).label.clone();
        self.emit(PromptKind::ObjectionDetected, format!("{label} objection"), prepared, evidence, t_s, Some(kind));
        self.tag_objection(id);
        self.amend_last_prompt(|p| p.revises = revises);
        self.next_prompt_id - 1
    }

    /// The final words `seg` of the prospect arrived, with the judge's `hits` in them:
    /// every early card raised from an utterance `seg` covers is confirmed by a hit of
    /// its type (which it takes out of `hits`) or withdrawn.
    fn reconcile_early(&mut self, seg: &Segment, hits: &mut Vec<ObjectionHit>) {
        if seg.speaker != Speaker::Prospect {
            return;
        }
        let covers = |e: &EarlyObjection| {
            e.utterance_start_s >= seg.start_s - SEGMENT_END_TOLERANCE_S && e.utterance_start_s < seg.end_s
        };
        let (reconciled, waiting): (Vec<EarlyObjection>, Vec<EarlyObjection>) =
            std::mem::take(&mut self.early_objections).into_iter().partition(covers);
        self.early_objections = waiting;
        for early in reconciled {
            match hits.iter().position(|h| h.kind == early.kind) {
                Some(at) => {
                    let hit = hits.remove(at);
                    let rec = &mut self.objections[early.record];
                    rec.t_s = seg.end_s;
                    rec.excerpt = excerpt(seg.text.trim());
                    rec.phrase = hit.phrase;
                    rec.score = hit.score;
                    rec.provisional = false;
                    self.verdicts.push(CoachVerdict::Objection(rec.clone()));
                    self.await_reply(early.record, early.kind, seg);
                    self.announce_objection(early.record, Some(early.prompt_id));
                }
                None => self.withdraw_early(early, seg.end_s),
            }
        }
    }

    /// Takes back an early card its final words did not bear out.
    fn withdraw_early(&mut self, early: EarlyObjection, t_s: f64) {
        let now = self.now;
        let rec = &mut self.objections[early.record];
        rec.status = ObjectionStatus::Withdrawn;
        rec.provisional = false;
        rec.t_resolved_s = Some(now);
        rec.assessment = Some("withdrawn: the final transcript does not carry it".into());
        self.verdicts.push(CoachVerdict::Objection(rec.clone()));
        let label = self.detector.matcher().library().entry(early.kind).label.clone();
        self.emit(
            PromptKind::ObjectionWithdrawn,
            format!("{label} objection withdrawn"),
            "The full sentence did not bear it out.".into(),
            String::new(),
            t_s.min(now),
            Some(early.kind),
        );
        self.tag_objection(early.record);
        self.amend_last_prompt(|p| p.revises = Some(early.prompt_id));
    }

    fn extend_turn(&mut self, seg: &Segment, words: usize) {
        let line = seg.text.trim();
        match &mut self.turn {
            Some(t) => {
                t.end_s = t.end_s.max(seg.end_s);
                t.words += words;
                t.speech_s += seg.end_s - seg.start_s;
                t.text = format!("{} {}", t.text, line);
            }
            None => {
                let after_question = self
                    .last_rep_line
                    .is_some_and(|(end, q)| q && end <= seg.start_s + 0.5);
                self.turn = Some(ProspectTurn {
                    start_s: seg.start_s,
                    end_s: seg.end_s,
                    words,
                    speech_s: seg.end_s - seg.start_s,
                    after_question,
                    text: line.to_string(),
                });
            }
        }
    }

    /// The rep spoke at `before_s`: the prospect's turn before it is an answer.
    fn close_turn(&mut self, before_s: f64) {
        let Some(t) = &self.turn else { return };
        if t.end_s > before_s + 0.5 {
            return;
        }
        let t = self.turn.take().expect("checked above");
        // A short interjection during the rep's talk is not an answer.
        if !(t.after_question || t.speech_s >= self.config.backchannel_max_s) {
            return;
        }
        self.answers.push(AnswerRecord {
            start_s: t.start_s,
            t_s: t.end_s,
            words: t.words,
            after_question: t.after_question,
        });
        self.answer_texts.push_back(excerpt(&t.text));
        if self.answer_texts.len() > 10 {
            self.answer_texts.pop_front();
        }
        self.rule_engagement();
    }

    fn track_agenda(&mut self, seg: &Segment) {
        if self.agenda.is_empty() {
            return;
        }
        let stems = text::content_stems(&seg.text);
        let mut touched = false;
        for item in &mut self.agenda {
            if item.keywords.is_empty() {
                continue;
            }
            let matched = item
                .keywords
                .iter()
                .filter(|k| stems.iter().any(|s| text::word_similarity(k, s) >= 0.8))
                .count();
            let needed = if item.keywords.len() <= 2 { 1 } else { 2 };
            if matched >= needed {
                touched = true;
                item.status.covered = true;
                item.status.first_t_s.get_or_insert(seg.end_s);
                item.status.last_t_s = Some(seg.end_s);
            }
        }
        if touched {
            self.last_on_agenda_s = Some(
                self.last_on_agenda_s
                    .map_or(seg.end_s, |t| t.max(seg.end_s)),
            );
            self.agenda_drift_armed = true;
        }
    }

    fn track_next_step(&mut self, seg: &Segment) {
        if self.next_step.is_some() {
            return;
        }
        let line = seg.text.trim();
        let found = text::detect_next_step(line);
        if self
            .proposal
            .as_ref()
            .is_some_and(|p| seg.start_s > p.t_s + self.config.next_step_confirm_s)
        {
            self.proposal = None;
        }
        if found.is_none() {
            // "Make it five": the other side's time, moved, is now this side's proposal.
            let pending = self.proposal.as_ref().filter(|p| p.speaker != seg.speaker).map(|p| p.step.when.clone());
            if let Some(when) = text::counter_proposal(line, pending.as_deref()) {
                self.proposal = Some(Proposal {
                    step: NextStepMatch { phrase: line.to_string(), when, tentative: true, time_only: false },
                    speaker: seg.speaker,
                    t_s: seg.end_s,
                });
                return;
            }
        }
        if let Some(p) = self.proposal.clone().filter(|p| p.speaker != seg.speaker) {
            match &found {
                // A firm answer, or the bare time picked from the proposal ("Thursday at eleven.").
                // The bare time's own sentence must not ask: "Thursday at five, perfect.
                // … What's your email?" picks it.
                Some(step) if !step.tentative || (step.time_only && !text::sentences(&step.phrase).iter().any(text::sentence_is_question)) => {
                    return self.secure_next_step(step.clone(), seg.end_s, seg.speaker)
                }
                // A bare "great" agrees to a proposed plan, not to a date stated as a fact
                // ("July first." answering "when does your year start?").
                None if text::is_acceptance(line) && !(p.step.time_only && p.speaker == Speaker::Prospect) => {
                    return self.secure_next_step(p.step, seg.end_s, p.speaker)
                }
                // The same time named again in a statement that does not refuse it
                // ("I suppose, if you want to Thursday at 2, after the lunch").
                _ if text::echoes_time(line, &p.step.when) => return self.secure_next_step(p.step, seg.end_s, p.speaker),
                // Anything else that answers it ("let me look at my calendar and get back
                // to you", "maybe") leaves it unagreed, and a later "okay, thanks" does not
                // agree to it.
                None if text::word_count(line) >= 3 || text::words(line).iter().any(|w| text::is_negator(w)) => {
                    self.proposal = None
                }
                _ => {}
            }
        }
        if let Some(step) = found {
            // The prospect's firm time, or anyone's sign-off naming the agreed date
            // ("See you on the seventh."), needs no further yes.
            if !step.tentative && (seg.speaker == Speaker::Prospect || text::is_farewell_confirmation(line)) {
                self.secure_next_step(step, seg.end_s, seg.speaker);
            } else {
                // The rep's plan, or anyone's proposal, needs the other side's yes.
                self.proposal = Some(Proposal {
                    step,
                    speaker: seg.speaker,
                    t_s: seg.end_s,
                });
            }
        }
    }

    fn secure_next_step(&mut self, step: NextStepMatch, t_s: f64, speaker: Speaker) {
        self.proposal = None;
        self.emit(
            PromptKind::NextStepSecured,
            "Next step secured".into(),
            format!(
                "{}: confirm it with a calendar invite before you hang up.",
                step.when
            ),
            format!("“{}”", excerpt(&step.phrase)),
            t_s,
            None,
        );
        let record = NextStepRecord {
            secured: true,
            phrase: step.phrase,
            when: step.when,
            t_s,
            speaker,
        };
        self.verdicts.push(CoachVerdict::NextStep(record.clone()));
        self.next_step = Some(record);
    }

    // -----------------------------------------------------------------------
    // Rules
    // -----------------------------------------------------------------------

    fn advance(&mut self, now: f64) {
        if now.is_finite() {
            self.now = self.now.max(now);
        }
        self.evaluate();
    }

    fn evaluate(&mut self) {
        self.rule_talk_ratio();
        self.rule_monologue();
        self.rule_ask_and_wait();
        self.rule_objection_timing();
        self.rule_agenda_drift();
        self.rule_no_next_step();
    }

    fn rule_talk_ratio(&mut self) {
        let cfg = &self.config;
        let now = self.now;
        let w = cfg.talk_window_s;
        let rep = self.tracks[0].in_range(now - w, now);
        let pro = self.tracks[1].in_range(now - w, now);
        if rep + pro < cfg.talk_ratio_min_speech_s {
            return;
        }
        let ratio = rep / (rep + pro);
        if ratio > cfg.talk_ratio_high {
            if !self.talk_high {
                self.talk_high = true;
                self.talk_episode_prompted = false;
            }
            let wanted = !self.talk_episode_prompted || cfg.talk_ratio_remind;
            if wanted && self.cooldown_over(PromptKind::TalkRatioHigh, cfg.talk_ratio_cooldown_s) {
                let title = format!("You're talking {:.0}% of the time", ratio * 100.0);
                let body = format!(
                    "Over the last {}. Ask an open question and let them talk: top reps listen more than they speak.",
                    minutes_phrase(w)
                );
                let evidence = format!(
                    "rep {:.0} s vs prospect {:.0} s in the last {:.0} s",
                    rep, pro, w
                );
                // The speech that tipped the window: whoever spoke last.
                let t = self.latest_speech_end().unwrap_or(now);
                self.emit(PromptKind::TalkRatioHigh, title, body, evidence, t, None);
                self.talk_episode_prompted = true;
            }
        } else if ratio < cfg.talk_ratio_rearm {
            self.talk_high = false;
        }
    }

    fn rule_monologue(&mut self) {
        let cfg = &self.config;
        let Some((s, e)) = self.runs[0].active_at(
            self.now,
            &self.tracks[1],
            cfg.monologue_max_pause_s,
            cfg.backchannel_max_s,
        ) else {
            return;
        };
        let long = e - s >= cfg.monologue_long_s;
        // One prompt per monologue: this run started after the last one prompted ended.
        if long
            && s > self.monologue_prompted_until
            && self.cooldown_over(PromptKind::MonologueLong, cfg.monologue_cooldown_s)
        {
            let title = format!("You've been talking for {}", clock(e - s));
            let body = "Pause and hand it over: ask what resonates so far, or what they'd add."
                .to_string();
            let evidence = format!("rep speaking since {} with no real break", clock(s));
            self.emit(PromptKind::MonologueLong, title, body, evidence, e, None);
            self.monologue_prompted_until = e;
        }
    }

    fn rule_ask_and_wait(&mut self) {
        let now = self.now;
        let wait = self.config.ask_wait_s;
        let mut keep = Vec::new();
        for pq in std::mem::take(&mut self.pending_questions) {
            let q = pq.q_end;
            let prospect = self.tracks[1].first_after(q);
            let rep = self.tracks[0].first_after(q + SEGMENT_END_TOLERANCE_S);
            let prospect_first = |p: f64| rep.is_none_or(|r| p <= r);
            let mut talked_over = false;
            {
                let rec = &mut self.questions[pq.record];
                if rec.waited.is_none() {
                    match (prospect, rep) {
                        (Some(p), _) if prospect_first(p) => {
                            rec.waited = Some(true);
                            rec.answered = Some(true);
                        }
                        (_, Some(r)) if r <= q + wait => {
                            // Resumed inside the wait: make sure it is speech, not a click.
                            let resumed = self.tracks[0].in_range(q + SEGMENT_END_TOLERANCE_S, now);
                            if resumed >= MIN_RESUME_S {
                                rec.waited = Some(false);
                                rec.answered = Some(false);
                                talked_over = true;
                            } else if now >= r + 1.0 {
                                rec.waited = Some(true);
                            }
                        }
                        _ if now >= q + wait + 0.5 => rec.waited = Some(true),
                        _ => {}
                    }
                }
                if rec.waited.is_some() && rec.answered.is_none() {
                    match (prospect, rep) {
                        (Some(p), _) if prospect_first(p) => rec.answered = Some(true),
                        (_, Some(r))
                            if prospect.is_none_or(|p| r < p)
                                && self.tracks[0].in_range(r, now) >= MIN_RESUME_S =>
                        {
                            rec.answered = Some(false)
                        }
                        _ => {}
                    }
                }
                if rec.answered.is_none() && now < q + 60.0 {
                    keep.push(pq.clone());
                }
            }
            if talked_over {
                let asked = self.questions[pq.record].text.clone();
                self.prompt_ask_and_wait(q, &asked);
            }
        }
        self.pending_questions = keep;
    }

    fn prompt_ask_and_wait(&mut self, t_trigger: f64, question: &str) {
        if !self.cooldown_over(PromptKind::AskAndWait, self.config.ask_wait_cooldown_s) {
            return;
        }
        let body = format!(
            "You asked and kept talking within {:.0} s. Ask, then count to three silently and let them answer.",
            self.config.ask_wait_s
        );
        self.emit(
            PromptKind::AskAndWait,
            "Ask, then wait".into(),
            body,
            format!("“{}”", excerpt(question)),
            t_trigger,
            None,
        );
    }

    fn rule_objection_timing(&mut self) {
        let now = self.now;
        let cfg = &self.config;
        let mut due: Vec<(usize, bool)> = Vec::new(); // (index, quiet)
        for (i, o) in self.open_objections.iter().enumerate() {
            // The rep's reply (or the prospect's repeat) is still being transcribed:
            // judging now would judge half a reply.
            if self.text_pending(Speaker::Rep, o.end_s) || self.text_pending(Speaker::Prospect, o.end_s) {
                continue;
            }
            if o.reply_start.is_none() {
                let rep_spoke = self.tracks[0].in_range(o.end_s, now) >= 0.5;
                let last_prospect = self.tracks[1].last_end().unwrap_or(o.end_s).max(o.end_s);
                if !rep_spoke && now - last_prospect >= cfg.objection_quiet_s {
                    due.push((i, true));
                } else if rep_spoke && now - o.end_s > 30.0 {
                    // The rep talked but no text ever came: judge what we have.
                    due.push((i, false));
                }
            } else {
                let rep_last = self.tracks[0]
                    .last_end()
                    .unwrap_or(o.reply_end)
                    .max(o.reply_end);
                let silent_for = now - rep_last;
                if silent_for >= cfg.objection_judge_pause_s {
                    // If the prospect is talking, wait a little for their words: a repeat
                    // of the objection changes the verdict.
                    let prospect_since = self.tracks[1].in_range(rep_last, now) > MIN_RESUME_S;
                    if !prospect_since || silent_for >= cfg.objection_judge_pause_s + 4.0 {
                        due.push((i, false));
                    }
                }
            }
        }
        for (i, quiet) in due.into_iter().rev() {
            let o = &self.open_objections[i];
            // Quiet: whatever text came later, the rep said nothing in time.
            let verdict = if quiet {
                judge::judge(judge::Reply { kind: o.kind, objection: "", reply: "", repeated: false })
            } else {
                self.judge_reply(o, false)
            };
            self.resolve_objection(i, verdict);
        }
    }

    /// The shared judge's verdict on the rep's reply so far (`language::judge`).
    fn judge_reply(&self, o: &OpenObjection, repeated: bool) -> Judgement {
        judge::judge(judge::Reply {
            kind: o.kind,
            objection: &self.objections[o.record].excerpt,
            reply: &o.reply,
            repeated,
        })
    }

    fn resolve_objection(&mut self, index: usize, verdict: Judgement) {
        let o = self.open_objections.remove(index);
        let now = self.now;
        let label = self.detector.matcher().library().entry(o.kind).label.clone();
        let rec = &mut self.objections[o.record];
        rec.t_resolved_s = Some(now);
        if !o.reply.trim().is_empty() {
            rec.response_excerpt = Some(excerpt(o.reply.trim()));
        }
        let evidence = format!("“{}”", rec.excerpt);
        let prepared = rec.prepared_response.clone();
        rec.assessment = Some(verdict.assessment.clone());
        rec.status = if verdict.handled { ObjectionStatus::Handled } else { ObjectionStatus::Fumbled };
        rec.handled = verdict.handled;
        rec.fumble = verdict.fumble;
        self.verdicts.push(CoachVerdict::Objection(rec.clone()));
        match verdict.fumble {
            None => {
                rec.status = ObjectionStatus::Handled;
                rec.handled = true;
                let reply = rec.response_excerpt.clone().unwrap_or_default();
                self.emit(
                    PromptKind::ObjectionHandled,
                    format!("{label} objection handled"),
                    "You acknowledged it and answered. Check it landed before moving on.".into(),
                    format!("“{reply}”"),
                    o.reply_end,
                    Some(o.kind),
                );
                self.tag_objection(o.record);
            }
            Some(reason) => {
                rec.status = ObjectionStatus::Fumbled;
                rec.handled = false;
                rec.fumble = Some(reason);
                let (title, t) = match reason {
                    FumbleReason::Quiet => (format!("{label} objection left unanswered"), o.end_s),
                    FumbleReason::Conceded => (format!("{label} objection conceded"), o.reply_end),
                    FumbleReason::Ignored => {
                        (format!("{label} objection not addressed"), o.reply_end)
                    }
                    FumbleReason::Repeated => {
                        (format!("They raised {} again", label.to_lowercase()), now)
                    }
                    FumbleReason::Dismissed => {
                        (format!("{label} objection dismissed"), o.reply_end)
                    }
                    FumbleReason::Discounted => {
                        (format!("{label} objection: discount offered"), o.reply_end)
                    }
                };
                let body = format!("Go back to it: acknowledge, then respond. {prepared}");
                self.emit(
                    PromptKind::ObjectionUnanswered,
                    title,
                    body,
                    evidence,
                    t.min(now),
                    Some(o.kind),
                );
                self.tag_objection(o.record);
            }
        }
    }

    fn rule_engagement(&mut self) {
        let cfg = &self.config;
        let k = cfg.engagement_turns;
        let short = cfg.engagement_short_words;
        let n = self.answers.len();
        if self.answers.last().is_some_and(|a| a.words > short) {
            self.engagement_armed = true;
            return;
        }
        if !self.engagement_armed || n < k + 1 {
            return;
        }
        let recent = &self.answers[n - k..];
        if !recent.iter().all(|a| a.words <= short) {
            return;
        }
        let earlier = &self.answers[(n - k).saturating_sub(5)..n - k];
        let baseline = earlier.iter().map(|a| a.words as f64).sum::<f64>() / earlier.len() as f64;
        if baseline < cfg.engagement_baseline_words {
            return;
        }
        let split = earlier.last().map_or(0.0, |a| a.t_s);
        let now = self.now;
        let prospect_share = |a: f64, b: f64| {
            let r = self.tracks[0].in_range(a, b);
            let p = self.tracks[1].in_range(a, b);
            (r + p > 0.0).then(|| p / (r + p))
        };
        let (Some(recent_share), Some(before_share)) = (
            prospect_share(split, now),
            prospect_share((split - cfg.talk_window_s).max(0.0), split),
        ) else {
            return;
        };
        if recent_share <= before_share - cfg.engagement_share_drop
            || recent_share < cfg.engagement_share_floor
        {
            if !self.cooldown_over(PromptKind::EngagementDrop, cfg.engagement_cooldown_s) {
                return;
            }
            let quotes: Vec<String> = self
                .answer_texts
                .iter()
                .rev()
                .take(k)
                .rev()
                .map(|t| format!("“{t}”"))
                .collect();
            let body = format!("Their last {k} answers were a few words each. Ask an open question about their situation, then wait.");
            let evidence = format!(
                "{}; prospect share {:.0}% (was {:.0}%)",
                quotes.join(" "),
                recent_share * 100.0,
                before_share * 100.0
            );
            let t = self.answers[n - 1].t_s;
            self.emit(
                PromptKind::EngagementDrop,
                "Prospect is going quiet".into(),
                body,
                evidence,
                t,
                None,
            );
            self.engagement_armed = false;
        }
    }

    fn rule_agenda_drift(&mut self) {
        if !self.agenda_drift_armed || self.agenda.iter().all(|a| a.keywords.is_empty()) {
            return;
        }
        let Some(last) = self.last_on_agenda_s else {
            return;
        };
        let now = self.now;
        let cfg = &self.config;
        if now - last < cfg.agenda_drift_s {
            return;
        }
        // Only while people are talking: silence is not drift.
        let recent =
            self.tracks[0].in_range(now - 30.0, now) + self.tracks[1].in_range(now - 30.0, now);
        if recent < 1.0 || !self.cooldown_over(PromptKind::AgendaDrift, cfg.agenda_drift_cooldown_s)
        {
            return;
        }
        let next = self
            .agenda
            .iter()
            .find(|a| !a.status.covered)
            .map(|a| a.status.item.clone());
        let body = match next {
            Some(item) => format!("Steer back to the agenda: “{item}” is still open."),
            None => "Bring it back to the agenda, or agree out loud to change it.".to_string(),
        };
        let title = format!("Off the agenda for {}", minutes_phrase(now - last));
        let evidence = format!("no agenda item mentioned since {}", clock(last));
        let t = self.latest_speech_end().unwrap_or(now);
        self.emit(PromptKind::AgendaDrift, title, body, evidence, t, None);
        self.agenda_drift_armed = false;
    }

    fn rule_no_next_step(&mut self) {
        if self.no_next_step_prompted || self.next_step.is_some() {
            return;
        }
        let cfg = &self.config;
        let planned_s = match self.prep.planned_minutes {
            Some(m) => m * 60.0,
            None if cfg.default_planned_minutes > 0.0 => cfg.default_planned_minutes * 60.0,
            None => return,
        };
        // In the last N minutes; a call planned shorter than N gets it at half time.
        let from = (planned_s - cfg.no_next_step_lead_s).max(planned_s * 0.5);
        let now = self.now;
        let live = self.tracks[0].in_range(now - 60.0, now)
            + self.tracks[1].in_range(now - 60.0, now)
            > 0.0;
        if now < from || !live {
            return;
        }
        let left = planned_s - now;
        let title = if left > 30.0 {
            format!("{} left and no next step", minutes_phrase(left))
        } else {
            "Past the planned end and no next step".to_string()
        };
        let body = "Propose a specific time: “How does Tuesday at 2 look for 30 minutes to go through this with your team?”".to_string();
        let evidence = format!(
            "planned {}; nothing concrete agreed yet",
            minutes_phrase(planned_s)
        );
        let t = self.latest_speech_end().unwrap_or(now);
        self.emit(PromptKind::NoNextStep, title, body, evidence, t, None);
        self.no_next_step_prompted = true;
    }

    // -----------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------

    fn latest_speech_end(&self) -> Option<f64> {
        match (self.tracks[0].last_end(), self.tracks[1].last_end()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
        .map(|t| t.min(self.now))
    }

    fn cooldown_over(&self, kind: PromptKind, cooldown_s: f64) -> bool {
        self.last_emit[kind.index()].is_none_or(|t| self.now - t >= cooldown_s)
    }

    fn emit(
        &mut self,
        kind: PromptKind,
        title: String,
        body: String,
        evidence: String,
        t_trigger_s: f64,
        objection: Option<ObjectionType>,
    ) {
        let prompt = Prompt {
            id: self.next_prompt_id,
            kind,
            severity: kind.severity(),
            title,
            body,
            evidence,
            t_trigger_s,
            t_emit_s: self.now,
            objection,
            objection_id: None,
            early: false,
            revises: None,
        };
        self.next_prompt_id += 1;
        self.last_emit[kind.index()] = Some(self.now);
        self.prompts.push(prompt.clone());
        self.outbox.push(prompt);
    }

    /// Marks the prompt just emitted as being about objection `id`.
    fn tag_objection(&mut self, id: usize) {
        self.amend_last_prompt(|p| p.objection_id = Some(id));
    }

    /// Changes the prompt just emitted (its copies in the record and the outbox).
    fn amend_last_prompt(&mut self, change: impl Fn(&mut Prompt)) {
        for p in [self.prompts.last_mut(), self.outbox.last_mut()].into_iter().flatten() {
            change(p);
        }
    }
}

fn add_reply(o: &mut OpenObjection, seg: &Segment) {
    let line = seg.text.trim();
    if line.is_empty() {
        return;
    }
    if !o.reply.is_empty() {
        o.reply.push(' ');
    }
    o.reply.push_str(line);
    o.reply_start = Some(o.reply_start.map_or(seg.start_s, |s| s.min(seg.start_s)));
    o.reply_end = o.reply_end.max(seg.end_s);
}

fn share(rep: f64, prospect: f64) -> f64 {
    if rep + prospect > 0.0 {
        rep / (rep + prospect)
    } else {
        0.0
    }
}

/// Cuts a line to [`EXCERPT_CHARS`] at a word boundary.
fn excerpt(line: &str) -> String {
    let line = line.trim();
    if line.chars().count() <= EXCERPT_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(EXCERPT_CHARS).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

/// "3 min", "45 s".
fn minutes_phrase(seconds: f64) -> String {
    if seconds >= 90.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.0} s", seconds)
    }
}

/// "1:35" (m:ss) for call times and durations.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}
