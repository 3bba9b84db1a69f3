//! One call, from audio to journal: the pipeline thread.
//!
//! It takes `AudioEvent`s from any source (cpal capture or file replay — it
//! cannot tell which), runs each speaker's `Segmenter`, journals utterances as
//! they end, hands utterances to the transcriber's worker thread, journals
//! the transcripts, and publishes segments, metrics and health as events.
//!
//! Talk time comes straight from the segmenters on this thread, so metrics
//! never wait for transcription. What Whisper hears is longer: each speaker's
//! finished utterances go through an [`UtteranceJoiner`] first, so a sentence
//! broken by breaths is transcribed whole (the journal, talk time and the
//! coach still see the segmenter's utterances); a joined piece goes to the
//! transcriber once its speaker has been quiet for `join_gap_s`. In real-time mode (live capture, `--speed 1`)
//! nothing here ever waits on the transcriber: partials are dropped when it is
//! behind and finals queue in a bounded backlog that is reported. In
//! as-fast-as-possible mode (`--speed max`) the pipeline instead waits for the
//! transcriber, so the file is transcribed completely.
//!
//! Early objection cards (real time only): the prospect's partials are
//! transcribed as often as the segmenter emits them (`partial_interval_s`,
//! 0.25 s; the worker skips those a newer one supersedes, so in practice one
//! after another while they talk), the rep's at most every
//! [`REP_PARTIAL_INTERVAL_S`] (nothing is judged on them early), and the
//! prospect's utterance is transcribed once more as a partial the moment the
//! segmenter closes it, without waiting for the joiner. Each partial goes
//! through a [`StablePrefix`] (LocalAgreement-2) and the coach gets the
//! prefix whenever it grows (`Coach::on_stable_partial`); the final
//! transcript then confirms or withdraws what it raised.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{select, Receiver};

use crate::audio::source::{AudioEvent, HealthEvent, SOURCE_RATE};
use crate::call::{Segment, Speaker, Utterance};
use crate::events::{self, Event, Health, Metrics};
use crate::journal::{self, Entry, Journal, JournalError};
use crate::coach::{CallPrep, Coach, CoachConfig, CoachRecord, ObjectionLibrary};
use crate::segment::echo::CallSegmenter;
use crate::segment::join::UtteranceJoiner;
use crate::segment::{SegmenterConfig, SegmenterEvent};
use crate::transcribe::second_pass::SecondPassFeed;
use crate::transcribe::{Job, SpeechToText, StablePrefix, SubmitError, TranscribeError, Transcriber, Transcript};

/// The rep's partials go to the transcriber at most this often (call-time
/// seconds): they only feed the overlay's transcript, while the prospect's
/// feed the coach's early objection cards and get the transcriber's spare time.
pub const REP_PARTIAL_INTERVAL_S: f64 = 1.0;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{}: {source}", path.display())]
    Events { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
}

/// How to run one call.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub call_id: String,
    /// "capture" or the replayed file, for the journal.
    pub source_label: String,
    /// Journal files to append to (data directory, and `--out` for replays).
    pub journal_paths: Vec<PathBuf>,
    /// Where to write `events.jsonl`, if anywhere.
    pub events_path: Option<PathBuf>,
    /// Never wait for the transcriber (live capture and paced replay).
    pub realtime: bool,
    pub segmenter: SegmenterConfig,
    /// Suppress far-end echo on the mic channel (speakerphone).
    pub echo_gate: bool,
    /// Cancel far-end echo from the mic's samples before the gate, the VAD
    /// and Whisper (speakerphone).
    pub echo_cancel: bool,
    pub coach: CoachConfig,
    pub objections: Arc<ObjectionLibrary>,
    /// Call-time interval between metrics messages.
    pub metrics_interval_s: f64,
    /// Final utterances allowed to wait for transcription before the oldest
    /// is given up (and reported) in real-time mode.
    pub max_backlog: usize,
    pub prep: CallPrep,
    /// Where the pipeline publishes its voice activity as it goes (the live
    /// daemon's router reads it to end a call on silence, so the VAD runs
    /// once per chunk).
    pub voice: Option<Arc<VoiceActivity>>,
    /// A bigger model's second pass, offered every final piece (for the brief).
    pub second_pass: Option<SecondPassFeed>,
}

/// The call's voice activity as the pipeline's segmenters see it, shared with
/// another thread. Written by the pipeline thread, read by anyone; atomics only.
#[derive(Debug, Default)]
pub struct VoiceActivity {
    /// Per channel: call-time samples processed so far.
    processed: [AtomicU64; 2],
    /// Per channel: call-time sample index just past the latest speech (0 = none yet).
    voice_end: [AtomicU64; 2],
}

impl VoiceActivity {
    /// Call time the pipeline has processed up to, seconds.
    pub fn processed_s(&self) -> f64 {
        self.processed.iter().map(|p| p.load(Ordering::Relaxed)).max().unwrap_or(0) as f64 / SOURCE_RATE as f64
    }

    /// Call time of the latest speech on either channel, seconds (0 before any).
    pub fn last_voice_s(&self) -> f64 {
        self.voice_end.iter().map(|v| v.load(Ordering::Relaxed)).max().unwrap_or(0) as f64 / SOURCE_RATE as f64
    }

    /// Seconds of call time processed since anyone last spoke.
    pub fn silent_for_s(&self) -> f64 {
        (self.processed_s() - self.last_voice_s()).max(0.0)
    }

    fn processed(&self, speaker: Speaker, samples: u64) {
        self.processed[speaker.channel()].store(samples, Ordering::Relaxed);
    }

    fn voiced(&self, speaker: Speaker, until_sample: u64) {
        self.voice_end[speaker.channel()].fetch_max(until_sample, Ordering::Relaxed);
    }
}

impl PipelineOptions {
    pub fn new(call_id: impl Into<String>, source_label: impl Into<String>) -> Self {
        PipelineOptions {
            call_id: call_id.into(),
            source_label: source_label.into(),
            journal_paths: Vec::new(),
            events_path: None,
            realtime: true,
            segmenter: SegmenterConfig::default(),
            echo_gate: true,
            echo_cancel: true,
            coach: CoachConfig::default(),
            objections: Arc::new(ObjectionLibrary::builtin()),
            metrics_interval_s: 0.5,
            max_backlog: 32,
            prep: CallPrep::default(),
            voice: None,
            second_pass: None,
        }
    }
}

/// Receives every event as it is published (the WebSocket hub, tests).
pub trait EventSink: Send {
    fn publish(&mut self, event: &Event, json_line: &str);
}

impl<F: FnMut(&Event, &str) + Send> EventSink for F {
    fn publish(&mut self, event: &Event, json_line: &str) {
        self(event, json_line)
    }
}

/// What a finished call leaves behind.
#[derive(Debug, Clone, Default)]
pub struct CallOutcome {
    pub call_id: String,
    pub journal_paths: Vec<PathBuf>,
    pub utterances: Vec<Utterance>,
    pub segments: Vec<Segment>,
    pub duration_s: f64,
    pub talk_s_rep: f64,
    pub talk_s_prospect: f64,
    /// Jobs the transcriber never got (partials, or finals over the backlog bound).
    pub dropped_jobs: u64,
    /// Utterances whose final transcript was given up because transcription fell too far behind.
    pub untranscribed: u64,
    /// Largest number of final utterances waiting at once.
    pub max_backlog_seen: usize,
    /// End-of-speech → final-transcript latency per utterance, seconds of call time.
    pub final_latencies_s: Vec<f64>,
    /// Everything the coach saw (objections, questions, next step…), for the brief.
    pub coach: Option<CoachRecord>,
    /// Prompts sent during the call.
    pub prompts: Vec<crate::coach::Prompt>,
}

impl CallOutcome {
    pub fn talk_ratio_rep(&self) -> f64 {
        let total = self.talk_s_rep + self.talk_s_prospect;
        if total > 0.0 {
            self.talk_s_rep / total
        } else {
            0.0
        }
    }
}

struct Publisher {
    events_file: Option<(PathBuf, File)>,
    sinks: Vec<Box<dyn EventSink>>,
}

impl Publisher {
    fn publish(&mut self, event: &Event) -> Result<(), PipelineError> {
        let line = events::to_json_line(event);
        if let Some((path, file)) = &mut self.events_file {
            file.write_all(format!("{line}\n").as_bytes())
                .map_err(|source| PipelineError::Events { path: path.clone(), source })?;
        }
        for sink in &mut self.sinks {
            sink.publish(event, &line);
        }
        Ok(())
    }
}

/// The state of one call on the pipeline thread.
struct CallState {
    options: PipelineOptions,
    segmenter: CallSegmenter,
    coach: Coach,
    /// Talk time already reported to the coach, per channel.
    voiced_s: [f64; 2],
    /// Call time of the far end's last speech, and the rep's talk time then:
    /// a rep talking on while the far end stays silent suggests the wrong
    /// far-end source (or a muted call app).
    last_far_end_voice_s: f64,
    rep_talk_at_far_end_voice_s: f64,
    next_tick_s: f64,
    /// Samples received per channel: the call clock.
    samples_seen: [u64; 2],
    /// Recent mean-square level per channel, for meters.
    level_ms: [f64; 2],
    journal: Journal,
    publisher: Publisher,
    /// Per channel: finished utterances waiting to be joined for transcription.
    joiners: [UtteranceJoiner; 2],
    /// Joined pieces just completed, on their way to `pending_finals`.
    joined: Vec<(Utterance, Vec<f32>)>,
    pending_finals: VecDeque<Job>,
    outcome: CallOutcome,
    next_metrics_s: f64,
    seg_events: Vec<SegmenterEvent>,
    /// The stable prefix of each speaker's utterance in progress.
    stable: StablePrefix,
    /// Per channel: call time (utterance end) of the last partial submitted.
    last_partial_s: [f64; 2],
}

/// Runs one call until the source ends or `stop` is set, then drains the
/// transcriber and closes the journal.
pub fn run_call<E: SpeechToText + 'static>(
    audio: Receiver<AudioEvent>,
    engine: E,
    options: PipelineOptions,
    sinks: Vec<Box<dyn EventSink>>,
    stop: Arc<AtomicBool>,
) -> Result<CallOutcome, PipelineError> {
    let journal = Journal::create(&options.journal_paths)?;
    let events_file = match &options.events_path {
        Some(path) => {
            let file = crate::private_file::open_append(path).map_err(|source| PipelineError::Events { path: path.clone(), source })?;
            Some((path.clone(), file))
        }
        None => None,
    };
    let transcriber = Transcriber::spawn(engine, if options.realtime { 4 } else { 8 });
    if let Some(second_pass) = &options.second_pass {
        second_pass.follow(transcriber.load());
    }
    let mut state = CallState {
        segmenter: CallSegmenter::new(options.segmenter.clone(), options.echo_gate, options.echo_cancel),
        coach: Coach::new(options.coach.clone(), options.prep.clone(), options.objections.clone()),
        voiced_s: [0.0; 2],
        last_far_end_voice_s: 0.0,
        rep_talk_at_far_end_voice_s: 0.0,
        next_tick_s: 0.0,
        samples_seen: [0; 2],
        level_ms: [0.0; 2],
        journal,
        publisher: Publisher { events_file, sinks },
        joiners: [UtteranceJoiner::new(&options.segmenter), UtteranceJoiner::new(&options.segmenter)],
        joined: Vec::with_capacity(2),
        pending_finals: VecDeque::new(),
        outcome: CallOutcome { call_id: options.call_id.clone(), journal_paths: options.journal_paths.clone(), ..Default::default() },
        next_metrics_s: 0.0,
        seg_events: Vec::with_capacity(8),
        stable: StablePrefix::new(),
        last_partial_s: [f64::NEG_INFINITY; 2],
        options,
    };
    state.start()?;
    let reason = loop {
        if stop.load(Ordering::Relaxed) {
            break "stopped";
        }
        select! {
            recv(audio) -> message => match message {
                Ok(AudioEvent::Chunk { speaker, samples }) => state.on_chunk(speaker, &samples, &transcriber)?,
                Ok(AudioEvent::Health(event)) => state.on_health(event, &transcriber)?,
                Ok(AudioEvent::End) | Err(_) => break "end of audio",
            },
            recv(transcriber.results()) -> result => {
                if let Ok(result) = result {
                    state.on_transcript(result?)?;
                }
            },
            default(Duration::from_millis(100)) => {}
        }
        state.flush_pending(&transcriber, false)?;
        state.journal.sync_if_due()?;
    };
    if let Some(second_pass) = &state.options.second_pass {
        second_pass.call_ended();
    }
    state.finish(transcriber, reason)
}

impl CallState {
    fn now_s(&self) -> f64 {
        self.samples_seen.iter().copied().max().unwrap_or(0) as f64 / SOURCE_RATE as f64
    }

    fn start(&mut self) -> Result<(), PipelineError> {
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let prep = Some(serde_json::to_value(&self.options.prep).expect("prep serialises"));
        self.journal.append(&Entry::CallStarted {
            version: journal::JOURNAL_VERSION,
            call_id: self.options.call_id.clone(),
            started_at: started_at.clone(),
            source: self.options.source_label.clone(),
            prep: prep.clone(),
            judge: Some(crate::language::JUDGE_VERSION),
        })?;
        self.publisher.publish(&Event::CallStarted {
            call_id: self.options.call_id.clone(),
            started_at,
            source: self.options.source_label.clone(),
            prep,
        })
    }

    fn on_chunk(&mut self, speaker: Speaker, samples: &[f32], transcriber: &Transcriber) -> Result<(), PipelineError> {
        let channel = speaker.channel();
        self.samples_seen[channel] += samples.len() as u64;
        if !samples.is_empty() {
            let mean_square = samples.iter().map(|s| (*s as f64) * (*s as f64)).sum::<f64>() / samples.len() as f64;
            // ~0.5 s smoothing at 20 ms chunks.
            self.level_ms[channel] = 0.96 * self.level_ms[channel] + 0.04 * mean_square;
        }
        let mut seg_events = std::mem::take(&mut self.seg_events);
        self.segmenter.push(speaker, samples, &mut seg_events);
        self.report_voice(speaker);
        if let Some(voice) = &self.options.voice {
            // The segmenters' VAD, shared: the router never runs its own during a call.
            for speaker in Speaker::BOTH {
                if self.segmenter.segmenter(speaker).is_speaking() {
                    voice.voiced(speaker, self.samples_seen[speaker.channel()]);
                }
            }
            for event in &seg_events {
                if let SegmenterEvent::Final { utterance, .. } = event {
                    voice.voiced(utterance.speaker, (utterance.end_s * SOURCE_RATE as f64) as u64);
                }
            }
            voice.processed(speaker, self.samples_seen[channel]);
        }
        // Voice-only prompts go out with the chunk that raised them.
        self.publish_prompts()?;
        for event in seg_events.drain(..) {
            self.on_segmenter_event(event, transcriber)?;
        }
        self.seg_events = seg_events;
        self.release_joined_after_pause(transcriber)?;
        let now_s = self.now_s();
        if now_s >= self.next_tick_s {
            // Every 100 ms of call time: voice-only rules (talk ratio, ask
            // and wait, monologue) fire from here without waiting for text.
            self.coach.tick(now_s);
            self.publish_prompts()?;
            self.next_tick_s = now_s + 0.1;
        }
        if now_s >= self.next_metrics_s {
            self.publish_metrics(transcriber)?;
        }
        Ok(())
    }

    /// Tells the coach about new speech on `speaker`'s channel: the VAD's talk
    /// time grew by `delta`, which ended now.
    fn report_voice(&mut self, speaker: Speaker) {
        let channel = speaker.channel();
        let talk = self.segmenter.segmenter(speaker).talk_time_s();
        let delta = talk - self.voiced_s[channel];
        if delta > 1e-6 {
            let end = self.samples_seen[channel] as f64 / SOURCE_RATE as f64;
            self.coach.on_voice(speaker, (end - delta).max(0.0), end);
            self.voiced_s[channel] = talk;
            if speaker == Speaker::Prospect {
                self.last_far_end_voice_s = end;
                self.rep_talk_at_far_end_voice_s = self.voiced_s[Speaker::Rep.channel()];
            }
        }
    }

    fn publish_prompts(&mut self) -> Result<(), PipelineError> {
        // Verdicts first: the journal holds the verdict before the overlay shows it.
        for verdict in self.coach.drain_verdicts() {
            self.journal.append(&Entry::Verdict { verdict })?;
        }
        for prompt in self.coach.drain_prompts() {
            self.publisher.publish(&Event::Prompt(serde_json::to_value(&prompt).expect("prompts serialise")))?;
            self.outcome.prompts.push(prompt);
        }
        Ok(())
    }

    fn on_segmenter_event(&mut self, event: SegmenterEvent, transcriber: &Transcriber) -> Result<(), PipelineError> {
        match event {
            SegmenterEvent::SpeechStart { .. } => {}
            SegmenterEvent::Partial { utterance, audio } => {
                // Partials only matter live; a replay at full speed skips them.
                let channel = utterance.speaker.channel();
                let due = utterance.speaker == Speaker::Prospect || utterance.end_s - self.last_partial_s[channel] >= REP_PARTIAL_INTERVAL_S;
                if self.options.realtime && due {
                    self.last_partial_s[channel] = utterance.end_s;
                    self.submit_partial(&utterance, audio, transcriber);
                }
            }
            SegmenterEvent::Final { utterance, audio } => {
                if self.options.realtime && self.options.coach.early_objections && utterance.speaker == Speaker::Prospect {
                    // The whole utterance, heard now: one more hypothesis for the
                    // stable prefix, well before the joiner releases the final.
                    self.submit_partial(&utterance, audio.clone(), transcriber);
                }
                self.journal.append(&Entry::Utterance(utterance.clone()))?;
                self.coach.on_utterance_end(&utterance);
                self.outcome.utterances.push(utterance.clone());
                let mut joined = std::mem::take(&mut self.joined);
                self.joiners[utterance.speaker.channel()].push(utterance, audio, &mut joined);
                self.joined = joined;
                self.submit_joined(transcriber)?;
            }
        }
        Ok(())
    }

    /// Queues a partial transcription job; when the transcriber is behind it is dropped and counted.
    fn submit_partial(&mut self, utterance: &Utterance, audio: Vec<f32>, transcriber: &Transcriber) {
        let job = Job { speaker: utterance.speaker, start_s: utterance.start_s, end_s: utterance.end_s, audio, is_final: false };
        if transcriber.try_submit(job).is_err() {
            self.outcome.dropped_jobs += 1;
        }
    }

    /// Releases each speaker's held piece once they have been quiet longer
    /// than `join_gap_s` on their own channel's clock. Speech the segmenter
    /// is still hearing (not yet reported: an utterance is confirmed only
    /// after `min_speech_s` of voice) counts from its start, so speech that
    /// began within the gap keeps the piece for it to join, as offline.
    fn release_joined_after_pause(&mut self, transcriber: &Transcriber) -> Result<(), PipelineError> {
        let mut joined = std::mem::take(&mut self.joined);
        for speaker in Speaker::BOTH {
            let segmenter = self.segmenter.segmenter(speaker);
            let now_s = segmenter.time_s();
            let quiet_until_s = segmenter.pending_start_s().map_or(now_s, |start| start.min(now_s));
            self.joiners[speaker.channel()].tick(quiet_until_s, &mut joined);
        }
        self.joined = joined;
        self.submit_joined(transcriber)
    }

    /// Queues completed joined pieces as final transcription jobs. The
    /// segment spans the first piece's start to the last one's end, so its
    /// transcript (or its loss) ends the coach's wait for every utterance in it.
    fn submit_joined(&mut self, transcriber: &Transcriber) -> Result<(), PipelineError> {
        if self.joined.is_empty() {
            return Ok(());
        }
        for (utterance, audio) in self.joined.drain(..) {
            let job = Job { speaker: utterance.speaker, start_s: utterance.start_s, end_s: utterance.end_s, audio, is_final: true };
            if let Some(second_pass) = &self.options.second_pass {
                second_pass.offer(&job);
            }
            self.pending_finals.push_back(job);
        }
        self.flush_pending(transcriber, !self.options.realtime)
    }

    /// Hands waiting finals to the transcriber. When `wait` is set (not
    /// real-time) it waits for room, handling transcripts meanwhile so the
    /// worker can never block on a full result queue.
    fn flush_pending(&mut self, transcriber: &Transcriber, wait: bool) -> Result<(), PipelineError> {
        while let Some(job) = self.pending_finals.pop_front() {
            match transcriber.try_submit(job.clone()) {
                Ok(()) => {}
                Err(SubmitError::Closed) => return Ok(()),
                Err(SubmitError::Backlogged) => {
                    self.pending_finals.push_front(job);
                    if !wait {
                        break;
                    }
                    if let Ok(result) = transcriber.results().recv_timeout(Duration::from_millis(200)) {
                        self.on_transcript(result?)?;
                    }
                }
            }
        }
        // Bounded backlog: past the bound the oldest waiting utterance is given
        // up; it stays in the journal as an utterance (talk time is intact).
        while self.pending_finals.len() > self.options.max_backlog {
            if let Some(job) = self.pending_finals.pop_front() {
                self.coach.on_transcribed(job.speaker, job.start_s, job.end_s);
            }
            self.outcome.untranscribed += 1;
            self.outcome.dropped_jobs += 1;
        }
        self.outcome.max_backlog_seen = self.outcome.max_backlog_seen.max(self.pending_finals.len() + transcriber.backlog());
        Ok(())
    }

    fn on_transcript(&mut self, transcript: Transcript) -> Result<(), PipelineError> {
        let segment = transcript.segment;
        if transcript.is_final {
            self.outcome.final_latencies_s.push((self.now_s() - segment.end_s).max(0.0));
            self.stable.on_final(segment.speaker, segment.start_s, segment.end_s);
        }
        if segment.text.trim().is_empty() {
            if transcript.is_final {
                // No words: the coach stops waiting for them (and withdraws an
                // early card their partials raised).
                self.coach.on_transcribed(segment.speaker, segment.start_s, segment.end_s);
                self.publish_prompts()?;
            }
            return Ok(());
        }
        if transcript.is_final {
            self.journal.append(&Entry::Segment(segment.clone()))?;
            self.outcome.segments.push(segment.clone());
        } else {
            // What the overlay shows is journaled too: a crash mid-utterance keeps it.
            self.journal.append(&Entry::Partial(segment.clone()))?;
        }
        self.publisher.publish(&Event::Segment {
            speaker: segment.speaker,
            start_s: segment.start_s,
            end_s: segment.end_s,
            text: segment.text.clone(),
            is_final: transcript.is_final,
        })?;
        if transcript.is_final {
            // Text rules (objections, questions, next step) run as soon as the
            // words exist; tick first so the coach stamps prompts with now.
            let now_s = self.now_s();
            self.coach.tick(now_s);
            self.coach.on_segment(&segment);
            self.coach.tick(now_s);
            self.publish_prompts()?;
        } else if let Some(prefix) = self.stable.on_partial(&segment) {
            // Newly agreed words of an utterance still going on: objection
            // cards may go out now (the final confirms or withdraws them).
            let now_s = self.now_s();
            self.coach.tick(now_s);
            self.coach.on_stable_partial(&prefix);
            self.publish_prompts()?;
        }
        Ok(())
    }

    fn on_health(&mut self, event: HealthEvent, transcriber: &Transcriber) -> Result<(), PipelineError> {
        let t_s = self.now_s();
        self.journal.append(&Entry::Health { t_s, event: serde_json::to_value(&event).expect("serialisable") })?;
        let health = self.health(transcriber, Some(event));
        self.publisher.publish(&Event::Health(health))
    }

    fn health(&self, transcriber: &Transcriber, event: Option<HealthEvent>) -> Health {
        let db = |ms: f64| if ms > 1e-10 { 10.0 * ms.log10() } else { -100.0 };
        let aec = self.segmenter.echo_cancel_status().unwrap_or_default();
        Health {
            t_s: self.now_s(),
            level_db_rep: db(self.level_ms[0]),
            level_db_prospect: db(self.level_ms[1]),
            far_end_silent: self.far_end_silent(),
            backlog: self.pending_finals.len() + transcriber.backlog(),
            dropped_jobs: self.outcome.dropped_jobs,
            echo_erle_db: aec.erle_db.map(|db| (db as f64 * 10.0).round() / 10.0),
            echo_converged: aec.converged,
            event,
        }
    }

    /// True after 45 s without far-end speech during which the rep spoke 20 s or more.
    fn far_end_silent(&self) -> bool {
        const SILENT_FOR_S: f64 = 45.0;
        const REP_SPOKE_S: f64 = 20.0;
        let rep_since = self.voiced_s[Speaker::Rep.channel()] - self.rep_talk_at_far_end_voice_s;
        self.now_s() - self.last_far_end_voice_s >= SILENT_FOR_S && rep_since >= REP_SPOKE_S
    }

    fn publish_metrics(&mut self, transcriber: &Transcriber) -> Result<(), PipelineError> {
        let t_s = self.now_s();
        let metrics = self.metrics(t_s);
        self.publisher.publish(&Event::Metrics(metrics))?;
        let health = self.health(transcriber, None);
        self.publisher.publish(&Event::Health(health))?;
        self.next_metrics_s = t_s + self.options.metrics_interval_s;
        Ok(())
    }

    fn finish(mut self, transcriber: Transcriber, reason: &str) -> Result<CallOutcome, PipelineError> {
        let mut seg_events = Vec::new();
        self.segmenter.finish(&mut seg_events);
        for speaker in Speaker::BOTH {
            self.report_voice(speaker);
        }
        for event in seg_events {
            self.on_segmenter_event(event, &transcriber)?;
        }
        let mut joined = std::mem::take(&mut self.joined);
        for joiner in &mut self.joiners {
            joiner.finish(&mut joined);
        }
        self.joined = joined;
        self.submit_joined(&transcriber)?;
        // The call is over: wait for every final transcript.
        self.flush_pending(&transcriber, true)?;
        for result in transcriber.finish() {
            self.on_transcript(result?)?;
        }
        self.outcome.talk_s_rep = self.segmenter.segmenter(Speaker::Rep).talk_time_s();
        self.outcome.talk_s_prospect = self.segmenter.segmenter(Speaker::Prospect).talk_time_s();
        self.outcome.duration_s = self.now_s();
        let t_s = self.outcome.duration_s;
        self.coach.finish(t_s);
        self.publish_prompts()?;
        let metrics = self.metrics(t_s);
        self.publisher.publish(&Event::Metrics(metrics))?;
        self.outcome.coach = Some(self.coach.record());
        self.journal.append(&Entry::CallEnded { t_s, reason: reason.to_string() })?;
        self.journal.sync()?;
        self.publisher.publish(&Event::CallEnded { t_s, reason: reason.to_string() })?;
        self.outcome.segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        Ok(self.outcome)
    }

    /// VAD talk time plus the coach's rolling figures.
    fn metrics(&self, t_s: f64) -> Metrics {
        let rep = self.segmenter.segmenter(Speaker::Rep).talk_time_s();
        let prospect = self.segmenter.segmenter(Speaker::Prospect).talk_time_s();
        let total = rep + prospect;
        let mut coach = serde_json::to_value(self.coach.metrics(t_s)).expect("metrics serialise");
        if let serde_json::Value::Object(map) = &mut coach {
            // These are reported from the segmenters directly.
            for key in ["t_s", "talk_ratio_rep", "rep_talk_s", "prospect_talk_s"] {
                map.remove(key);
            }
        }
        Metrics {
            t_s,
            talk_s_rep: rep,
            talk_s_prospect: prospect,
            talk_ratio_rep: if total > 0.0 { rep / total } else { 0.0 },
            coach: Some(coach),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::file::CallAudio;
    use crate::audio::replay::{self, Speed};
    use crate::synth;
    use crate::transcribe::fake::FakeEngine;

    /// Replays a rendered call through `run_call` at full speed.
    fn replay_through(call: &synth::RenderedCall, engine: FakeEngine, options: PipelineOptions) -> CallOutcome {
        let (tx, rx) = crossbeam_channel::bounded(64);
        let stop = Arc::new(AtomicBool::new(false));
        let audio = CallAudio { rep: call.rep.clone(), prospect: Some(call.prospect.clone()) };
        let source = replay::start(audio, Speed::Max, tx, stop.clone());
        let outcome = run_call(rx, engine, options, Vec::new(), stop).unwrap();
        source.join().unwrap();
        outcome
    }

    /// The plumbing end to end with a stand-in engine: every scripted line
    /// becomes one journaled utterance with a transcript, metrics flow at
    /// 2 Hz of call time, and the events file opens and closes the call.
    #[test]
    fn replayed_call_is_journaled_and_published() {
        let script = "rep: Thanks for joining today, how is the week going?\nprospect: Busy, but good. We are hiring two people.\nrep: What made you look at scheduling tools now?\nprospect: Our spreadsheets broke last month.\n";
        let call = synth::render(&synth::parse_script(script).unwrap(), &synth::Voices::default()).expect("espeak-ng");
        let dir = tempfile::tempdir().unwrap();
        let mut options = PipelineOptions::new("test-call", "test");
        options.realtime = false;
        options.journal_paths = vec![dir.path().join("journal.jsonl")];
        options.events_path = Some(dir.path().join("events.jsonl"));
        let outcome = replay_through(&call, FakeEngine::new(), options);

        assert_eq!(outcome.utterances.len(), 4, "{:?}", outcome.utterances);
        assert_eq!(outcome.segments.len(), 4);
        assert!((outcome.talk_ratio_rep() - call.talk_ratio_rep()).abs() < 0.03, "{} vs {}", outcome.talk_ratio_rep(), call.talk_ratio_rep());
        let record = journal::read(&dir.path().join("journal.jsonl")).unwrap();
        assert_eq!(record.utterances.len(), 4);
        assert_eq!(record.segments.len(), 4);
        assert!(record.ended_at_s.is_some());

        let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
        let kinds: Vec<String> = events
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kinds.first().map(String::as_str), Some("call_started"));
        assert_eq!(kinds.last().map(String::as_str), Some("call_ended"));
        let metrics = kinds.iter().filter(|k| *k == "metrics").count() as f64;
        assert!(metrics >= 2.0 * outcome.duration_s - 2.0, "{metrics} metrics for {:.1} s", outcome.duration_s);
        assert_eq!(kinds.iter().filter(|k| *k == "segment").count(), 4);
    }

    /// A rep who breathes mid-sentence (~0.7 s with espeak-ng's own padding,
    /// under `join_gap_s`) is two
    /// utterances for talk time, the journal and the coach, but one piece for
    /// Whisper, spanning both; the prospect's reply 1.6 s later is its own
    /// piece. (When a piece is released is `segment::join`'s tick test.)
    #[test]
    fn a_speakers_utterances_under_the_join_gap_are_transcribed_as_one_segment() {
        let line = |speaker, text: &str, gap_before_s| synth::ScriptLine { speaker, text: text.into(), gap_before_s };
        let lines = [
            line(Speaker::Rep, "Thanks for joining today.", 0.5),
            line(Speaker::Rep, "How is the week going for your team?", 0.3),
            line(Speaker::Prospect, "Busy, but good. We are hiring two people.", 1.6),
        ];
        let call = synth::render(&lines, &synth::Voices::default()).expect("espeak-ng");
        let mut options = PipelineOptions::new("join", "test");
        options.realtime = false;
        let outcome = replay_through(&call, FakeEngine::new(), options);

        let rep: Vec<&Utterance> = outcome.utterances.iter().filter(|u| u.speaker == Speaker::Rep).collect();
        assert_eq!(rep.len(), 2, "{:?}", outcome.utterances);
        assert_eq!(outcome.segments.len(), 2, "{:?}", outcome.segments);
        let joined = &outcome.segments[0];
        assert_eq!((joined.speaker, joined.start_s, joined.end_s), (Speaker::Rep, rep[0].start_s, rep[1].end_s));
        assert_eq!(outcome.segments[1].speaker, Speaker::Prospect);
        // Talk time is the segmenter's, untouched by the join.
        assert!((outcome.talk_ratio_rep() - call.talk_ratio_rep()).abs() < 0.05, "{} vs {}", outcome.talk_ratio_rep(), call.talk_ratio_rep());
    }

    /// Live mode never waits on a slow transcriber: the backlog stays bounded
    /// and what could not be transcribed is counted, while talk time is intact.
    #[test]
    fn slow_transcription_keeps_a_bounded_backlog_in_real_time_mode() {
        let script = "rep: One.\nprospect: Two.\nrep: Three.\nprospect: Four.\nrep: Five.\nprospect: Six.\n";
        let call = synth::render(&synth::parse_script(script).unwrap(), &synth::Voices::default()).expect("espeak-ng");
        let dir = tempfile::tempdir().unwrap();
        let mut options = PipelineOptions::new("slow", "test");
        options.realtime = true;
        options.max_backlog = 1;
        options.journal_paths = vec![dir.path().join("journal.jsonl")];
        let outcome = replay_through(&call, FakeEngine::slow(std::time::Duration::from_millis(400)), options);
        assert_eq!(outcome.utterances.len(), 6);
        assert!(outcome.max_backlog_seen <= 1 + 4, "backlog {}", outcome.max_backlog_seen);
        assert!((outcome.talk_ratio_rep() - call.talk_ratio_rep()).abs() < 0.05);
    }
}
