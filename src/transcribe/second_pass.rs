//! The second pass: a bigger Whisper model transcribes the call again, for
//! the brief, in the live transcriber's idle time. Live prompts and verdicts
//! keep the fast model; the brief takes this transcript's words for every
//! piece it covers and the live words elsewhere (`TranscriptSource`).
//!
//! The pipeline offers it every final piece it gives the live transcriber
//! (the same joined audio, through a [`SecondPassFeed`]); the worker keeps
//! them in call order and starts one only while the live transcriber has
//! nothing queued or in progress ([`LiveLoad`]). Its thread runs at a lower
//! CPU priority (nice 10), so a piece it is decoding when live work arrives
//! yields most of the CPU to it. At call end [`SecondPass::finish`] takes the
//! work over on the calling thread (at normal priority: the call's live work
//! is done) and goes through what is left until a deadline counted from the
//! call's end, then stops (a decode in progress is aborted), so the brief is
//! on disk within its 3-minute budget whatever the machine.
//!
//! Transcripts are journaled as `second_pass` lines, the end as one
//! `second_pass_ended` line: the brief reads both from the journal, so crash
//! recovery sees what the call saw.
//!
//! Threads: during the call, one `std::thread` per call that owns the engine
//! (an inference state on the daemon's one second-pass
//! [`super::WhisperModel`]); after it, the thread that calls `finish` (the
//! call's thread, which then writes the brief).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use serde::{Deserialize, Serialize};

use super::{clean_text, Job, LiveLoad, SpeechToText};
use crate::call::Segment;
use crate::journal::{Entry, Journal, JournalError, JournalRecord};

const SAMPLE_RATE: f64 = 16_000.0;
/// Audio waiting for the second pass is held in memory; past this much
/// (30 minutes, 115 MB) new pieces are left to the live transcript.
const MAX_QUEUED_S: f64 = 30.0 * 60.0;
/// How often the worker looks again while live work runs.
const LIVE_POLL: Duration = Duration::from_millis(20);
/// Two spans are the same piece when their ends agree this closely.
const SAME_SPAN_S: f64 = 1e-3;

/// What the second pass did, journaled when it stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondPassEnded {
    /// The model's name (`[model] second_pass`).
    pub model: String,
    /// Final pieces offered, and the speech in them.
    pub pieces: usize,
    pub offered_s: f64,
    /// Pieces it transcribed, and their speech.
    pub transcribed: usize,
    pub transcribed_s: f64,
    /// Of that, the speech it had transcribed when the call ended.
    #[serde(default)]
    pub transcribed_by_call_end_s: f64,
    /// Wall-clock seconds from the call's end to its stop (negative: it was
    /// done before the call ended).
    pub after_call_end_s: f64,
    /// Why it left pieces to the live transcript, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<String>,
}

/// Where the brief's words came from (brief.json `transcript_source`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSource {
    /// The bigger model that transcribed the call again.
    pub second_pass_model: String,
    /// Share of the call's transcribed speech (seconds) that is its words; the
    /// live transcript covers the rest.
    pub covered_share: f64,
    /// Why some of the brief stands on the live transcript, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fell_back_reason: Option<String>,
}

/// The pipeline's handle: it offers every final piece here. Never blocks.
#[derive(Clone)]
pub struct SecondPassFeed {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SecondPassFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondPassFeed").field("queued_samples", &self.shared.queued_samples.load(Ordering::Relaxed)).finish()
    }
}

struct Shared {
    jobs: Sender<Job>,
    /// Samples offered and not yet taken by the worker.
    queued_samples: AtomicU64,
    /// Offered pieces left out because too much audio was waiting.
    refused: Mutex<(usize, f64)>,
    /// The live transcriber's load, once the pipeline has started it.
    live: OnceLock<LiveLoad>,
    /// When the call's audio ended.
    call_ended: OnceLock<Instant>,
    /// How long after the call's end it may go on.
    within: Duration,
    /// Set by `finish`: work through the rest, then stop.
    finishing: AtomicBool,
    /// Set when it must stop now (dropped without `finish`).
    cancelled: AtomicBool,
    /// Stops a decode in progress (the engine checks it).
    abort: Arc<AtomicBool>,
}

impl Shared {
    fn live_idle(&self) -> bool {
        self.live.get().is_none_or(LiveLoad::is_idle)
    }

    /// Past it nothing new is started: the call's end plus `within`.
    fn deadline(&self) -> Option<Instant> {
        self.call_ended.get().map(|ended| *ended + self.within)
    }

    fn past_deadline(&self) -> bool {
        self.cancelled.load(Ordering::Acquire) || self.deadline().is_some_and(|deadline| Instant::now() >= deadline)
    }
}

impl SecondPassFeed {
    /// A final piece as the live transcriber gets it. Partials are ignored:
    /// the second pass only ever sees whole pieces.
    pub fn offer(&self, job: &Job) {
        if !job.is_final {
            return;
        }
        let queued = self.shared.queued_samples.load(Ordering::Relaxed) as f64 / SAMPLE_RATE;
        if queued + job.audio.len() as f64 / SAMPLE_RATE > MAX_QUEUED_S {
            let mut refused = self.shared.refused.lock().expect("refused count");
            refused.0 += 1;
            refused.1 += job.end_s - job.start_s;
            return;
        }
        self.shared.queued_samples.fetch_add(job.audio.len() as u64, Ordering::Relaxed);
        // Unbounded: the bound is the audio held, checked above.
        let _ = self.shared.jobs.send(job.clone());
    }

    /// The live transcriber whose idle time the second pass uses.
    pub fn follow(&self, live: LiveLoad) {
        let _ = self.shared.live.set(live);
    }

    /// The call's audio has ended: the deadline counts from now.
    pub fn call_ended(&self) {
        let _ = self.shared.call_ended.set(Instant::now());
    }
}

/// A call's second pass: its worker thread and the journal it appends to.
pub struct SecondPass {
    feed: SecondPassFeed,
    model: String,
    worker: Option<JoinHandle<Worker>>,
}

/// The second pass's work: owned by its low-priority thread during the call,
/// and by `finish`'s caller after it.
struct Worker {
    engine: Box<dyn SpeechToText>,
    queue: Receiver<Job>,
    journal: Journal,
    /// Each speaker's last text, the context for their next piece (as live).
    previous_text: [String; 2],
    /// A piece taken off the queue and not yet transcribed.
    next: Option<Job>,
    pieces: usize,
    offered_s: f64,
    transcribed: usize,
    transcribed_s: f64,
    transcribed_by_call_end_s: f64,
    /// Why it stopped before the last piece, if it did.
    stopped: Option<String>,
    error: Option<JournalError>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the live transcriber's idle time, until `finish` takes over.
    DuringCall,
    /// Everything left, until the deadline.
    AfterCall,
}

impl SecondPass {
    /// Starts the worker with `engine` (the bigger model), appending its
    /// transcripts to the call's journal files; it may go on for `within`
    /// after the call's end.
    pub fn start<E: SpeechToText + 'static>(mut engine: E, journal_paths: &[PathBuf], model: impl Into<String>, within: Duration) -> Result<SecondPass, JournalError> {
        let journal = Journal::create(journal_paths)?;
        let (jobs, queue) = unbounded();
        let abort = Arc::new(AtomicBool::new(false));
        engine.abort_when(abort.clone());
        let shared = Arc::new(Shared {
            jobs,
            queued_samples: AtomicU64::new(0),
            refused: Mutex::new((0, 0.0)),
            live: OnceLock::new(),
            call_ended: OnceLock::new(),
            within,
            finishing: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            abort,
        });
        let mut worker = Worker {
            engine: Box::new(engine),
            queue,
            journal,
            previous_text: Default::default(),
            next: None,
            pieces: 0,
            offered_s: 0.0,
            transcribed: 0,
            transcribed_s: 0.0,
            transcribed_by_call_end_s: 0.0,
            stopped: None,
            error: None,
        };
        let worker_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("second-pass".into())
            .spawn(move || {
                if !lower_own_priority() {
                    tracing::warn!("second pass: could not lower its thread's priority; it still waits for live work");
                }
                worker.work(&worker_shared, Phase::DuringCall);
                worker
            })
            .expect("spawning the second-pass thread");
        Ok(SecondPass { feed: SecondPassFeed { shared }, model: model.into(), worker: Some(thread) })
    }

    /// The handle the pipeline offers pieces to.
    pub fn feed(&self) -> SecondPassFeed {
        self.feed.clone()
    }

    /// After the call: takes the work over on the calling thread (at its
    /// normal priority: the call's live work is done), transcribes what is
    /// left until `within` after the call's end (from now if the pipeline
    /// never said), then stops, aborting a decode still in progress.
    /// Journals `second_pass_ended` and returns it.
    pub fn finish(mut self) -> Result<SecondPassEnded, JournalError> {
        let shared = self.feed.shared.clone();
        let call_ended = *shared.call_ended.get_or_init(Instant::now);
        let deadline = call_ended + shared.within;
        // Hand over: a piece in progress at the low priority is aborted and redone here.
        shared.finishing.store(true, Ordering::Release);
        shared.abort.store(true, Ordering::Release);
        let thread = self.worker.take().expect("finished once");
        let mut worker = thread.join().map_err(|_| JournalError::Io {
            path: PathBuf::from("second pass"),
            source: std::io::Error::other("the second-pass thread panicked"),
        })?;
        shared.abort.store(false, Ordering::Release);
        // A timer stops a decode still running at the deadline.
        let (cancel, cancelled) = crossbeam_channel::bounded::<()>(0);
        let abort = shared.abort.clone();
        let timer = std::thread::spawn(move || {
            if cancelled.recv_timeout(deadline.saturating_duration_since(Instant::now())) == Err(RecvTimeoutError::Timeout) {
                abort.store(true, Ordering::Release);
            }
        });
        if worker.stopped.is_none() && worker.error.is_none() {
            worker.work(&shared, Phase::AfterCall);
        }
        drop(cancel);
        let _ = timer.join();
        worker.count_the_rest(&shared);
        if let Some(error) = worker.error.take() {
            return Err(error);
        }
        let (refused, refused_s) = *shared.refused.lock().expect("refused count");
        let unfinished = match (&worker.stopped, refused) {
            (Some(why), _) => Some(why.clone()),
            (None, 0) => None,
            (None, n) => Some(format!("{n} piece(s) arrived while over {:.0} minutes of audio waited for it", MAX_QUEUED_S / 60.0)),
        };
        let ended = SecondPassEnded {
            model: self.model.clone(),
            pieces: worker.pieces + refused,
            offered_s: round_ms(worker.offered_s + refused_s),
            transcribed: worker.transcribed,
            transcribed_s: round_ms(worker.transcribed_s),
            transcribed_by_call_end_s: round_ms(worker.transcribed_by_call_end_s),
            after_call_end_s: round_ms(Instant::now().saturating_duration_since(call_ended).as_secs_f64()),
            unfinished,
        };
        worker.journal.append(&Entry::SecondPassEnded(ended.clone()))?;
        worker.journal.sync()?;
        Ok(ended)
    }
}

impl Drop for SecondPass {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            // Dropped without `finish` (the call failed): stop now.
            let shared = &self.feed.shared;
            shared.cancelled.store(true, Ordering::Release);
            shared.finishing.store(true, Ordering::Release);
            shared.abort.store(true, Ordering::Release);
            let _ = worker.join();
        }
    }
}

impl Worker {
    fn take(&mut self, shared: &Shared, job: Job) {
        shared.queued_samples.fetch_sub(job.audio.len() as u64, Ordering::Relaxed);
        self.pieces += 1;
        self.offered_s += job.end_s - job.start_s;
        self.next = Some(job);
    }

    /// Pieces in call order. During the call each starts only while the live
    /// transcriber is idle, and `finish` ends the phase (a piece in progress
    /// is kept for after). After the call none starts past the deadline.
    fn work(&mut self, shared: &Shared, phase: Phase) {
        loop {
            if phase == Phase::DuringCall && shared.finishing.load(Ordering::Acquire) {
                return;
            }
            if self.next.is_none() {
                let job = match phase {
                    Phase::DuringCall => match self.queue.recv_timeout(LIVE_POLL) {
                        Ok(job) => job,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return,
                    },
                    Phase::AfterCall => match self.queue.try_recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    },
                };
                self.take(shared, job);
            }
            if phase == Phase::AfterCall && shared.past_deadline() {
                self.stopped = Some(OUT_OF_TIME.to_string());
                return;
            }
            // Live work first: during the call, wait while any is queued.
            if phase == Phase::DuringCall && !shared.live_idle() {
                std::thread::sleep(LIVE_POLL);
                continue;
            }
            let job = self.next.take().expect("a piece is waiting");
            let context = &mut self.previous_text[job.speaker.channel()];
            match self.engine.transcribe_after(&job.audio, context) {
                Ok(raw) => {
                    let segment = Segment {
                        speaker: job.speaker,
                        start_s: job.start_s,
                        end_s: job.end_s,
                        text: clean_text(&raw),
                        confidence: self.engine.last_confidence(),
                    };
                    context.clone_from(&segment.text);
                    if let Err(e) = self.journal.append(&Entry::SecondPass(segment)).and_then(|()| self.journal.sync_if_due()) {
                        self.error = Some(e);
                        return;
                    }
                    self.transcribed += 1;
                    self.transcribed_s += job.end_s - job.start_s;
                    if shared.call_ended.get().is_none() {
                        self.transcribed_by_call_end_s += job.end_s - job.start_s;
                    }
                }
                Err(_) if shared.abort.load(Ordering::Acquire) => {
                    if phase == Phase::DuringCall {
                        // Handed over mid-piece: it is done again after the call.
                        self.next = Some(job);
                    } else {
                        self.stopped = Some(OUT_OF_TIME.to_string());
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "second pass stopped");
                    self.stopped = Some(format!("it failed: {e}"));
                    return;
                }
            }
        }
    }

    /// What is still queued was offered and not transcribed (a piece held in
    /// `next` was counted when it was taken).
    fn count_the_rest(&mut self, shared: &Shared) {
        while let Ok(job) = self.queue.try_recv() {
            self.take(shared, job);
        }
        self.next = None;
    }
}

/// Why pieces were left when the deadline came.
const OUT_OF_TIME: &str = "its time after the call ran out";

/// The second pass's nice value during the call. Below live work (0), yet
/// not 19: on a machine busy with other work at nice 0, 19 gets ~1.5% of a
/// core per competitor and the second pass barely moves (measured: 5 of 24
/// minutes by then, see the README); 10 still leaves 90% of a contested core
/// to the live transcriber.
const SECOND_PASS_NICE: libc::c_int = 10;

/// Lowers this thread's CPU priority (Linux threads have their own nice
/// value; whisper.cpp with one thread computes on this one).
fn lower_own_priority() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on this thread's own id.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, SECOND_PASS_NICE) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1e3).round() / 1e3
}

/// The brief's transcript: the live segments with the second pass's words
/// on every piece it transcribed (its empty result drops the live words:
/// the bigger model heard no speech there), plus the pieces the live
/// transcriber never got to. `None` when the call had no second pass.
/// Idempotent, so a record may pass through it twice.
pub fn merged_transcript(journal: &JournalRecord) -> Option<(Vec<Segment>, TranscriptSource)> {
    let ended = journal.second_pass_ended.as_ref();
    if journal.second_pass.is_empty() && ended.is_none() {
        return None;
    }
    let same_piece = |a: &Segment, b: &Segment| a.speaker == b.speaker && (a.start_s - b.start_s).abs() < SAME_SPAN_S && (a.end_s - b.end_s).abs() < SAME_SPAN_S;
    let mut segments: Vec<Segment> = journal.segments.clone();
    for better in &journal.second_pass {
        segments.retain(|live| !same_piece(live, better));
        if !better.text.trim().is_empty() {
            segments.push(better.clone());
        }
    }
    segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let covered_s: f64 = journal.second_pass.iter().map(|s| s.end_s - s.start_s).sum();
    let offered_s = match ended {
        Some(ended) => ended.offered_s,
        // No report (the call did not end cleanly): every piece anyone transcribed.
        None => {
            let live_only: f64 = journal
                .segments
                .iter()
                .filter(|live| !journal.second_pass.iter().any(|better| same_piece(live, better)))
                .map(|s| s.end_s - s.start_s)
                .sum();
            covered_s + live_only
        }
    };
    let covered_share = if offered_s > 0.0 { (covered_s / offered_s).clamp(0.0, 1.0) } else { 1.0 };
    let model = ended.map(|e| e.model.clone()).unwrap_or_else(|| "second pass".into());
    let fell_back_reason = (covered_share < 1.0 - 1e-6).then(|| {
        let why = match ended {
            Some(SecondPassEnded { unfinished: Some(why), .. }) => why.clone(),
            Some(_) => "it did not get to every piece".into(),
            None => "it never reported its end (the call did not end cleanly)".into(),
        };
        format!(
            "the {model} second pass covered {:.0}% of the speech: {why}; the rest is the live transcript",
            covered_share * 100.0
        )
    });
    Some((segments, TranscriptSource { second_pass_model: model, covered_share: (covered_share * 1e4).round() / 1e4, fell_back_reason }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Speaker;
    use crate::transcribe::fake::FakeEngine;
    use crate::transcribe::Transcriber;

    fn piece(start_s: f64, seconds: f64) -> Job {
        Job { speaker: Speaker::Prospect, start_s, end_s: start_s + seconds, audio: vec![0.1; (seconds * SAMPLE_RATE) as usize], is_final: true }
    }

    fn segment(start_s: f64, end_s: f64, text: &str) -> Segment {
        Segment { speaker: Speaker::Prospect, start_s, end_s, text: text.into(), confidence: None }
    }

    /// A journal with its first line, as the pipeline leaves it.
    fn started_journal(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("journal.jsonl");
        let started = Entry::CallStarted { version: 1, call_id: "c".into(), started_at: String::new(), source: "t".into(), prep: None, judge: None };
        Journal::create(std::slice::from_ref(&path)).unwrap().append(&started).unwrap();
        path
    }

    /// While the live transcriber has work, the second pass starts nothing;
    /// once it is idle, every piece is transcribed and journaled, in order.
    #[test]
    fn waits_for_the_live_transcriber_then_journals_every_piece() {
        let dir = tempfile::tempdir().unwrap();
        let path = started_journal(dir.path());
        let second = SecondPass::start(FakeEngine::new(), std::slice::from_ref(&path), "fake", Duration::from_secs(10)).unwrap();
        let live = Transcriber::spawn(FakeEngine::slow(Duration::from_millis(800)), 4);
        second.feed().follow(live.load());
        live.submit(piece(0.0, 1.0)).unwrap();
        for start in [0.0, 1.5, 3.0] {
            second.feed().offer(&piece(start, 1.0));
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(crate::journal::read(&path).unwrap().second_pass.is_empty(), "it ran while the live transcriber was busy");
        drop(live.finish());
        let ended = second.finish().unwrap();
        assert_eq!((ended.pieces, ended.transcribed, ended.unfinished.clone()), (3, 3, None), "{ended:?}");
        let record = crate::journal::read(&path).unwrap();
        let starts: Vec<f64> = record.second_pass.iter().map(|s| s.start_s).collect();
        assert_eq!(starts, [0.0, 1.5, 3.0]);
        assert_eq!(record.second_pass_ended, Some(ended));
    }

    /// A deadline already past leaves every piece still queued to the live
    /// transcript, and says why.
    #[test]
    fn a_deadline_of_zero_leaves_the_rest_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = started_journal(dir.path());
        let second = SecondPass::start(FakeEngine::new(), std::slice::from_ref(&path), "fake", Duration::ZERO).unwrap();
        let live = Transcriber::spawn(FakeEngine::slow(Duration::from_secs(1)), 4);
        second.feed().follow(live.load());
        live.submit(piece(0.0, 1.0)).unwrap();
        second.feed().offer(&piece(0.0, 1.0));
        second.feed().offer(&piece(2.0, 2.0));
        second.feed().call_ended();
        let ended = second.finish().unwrap();
        assert_eq!((ended.pieces, ended.transcribed), (2, 0), "{ended:?}");
        assert!((ended.offered_s - 3.0).abs() < 1e-9);
        assert!(ended.unfinished.as_deref().is_some_and(|why| why.contains("time")), "{ended:?}");
    }

    /// The brief's words: the second pass's on the pieces it covered, live
    /// elsewhere; the share is by seconds of speech.
    #[test]
    fn merged_transcript_prefers_the_second_pass_per_piece() {
        let mut journal = JournalRecord::default();
        assert!(merged_transcript(&journal).is_none(), "no second pass, nothing to say");
        journal.segments = vec![segment(0.0, 2.0, "the prize is hi"), segment(3.0, 4.0, "ok"), segment(5.0, 6.0, "thank you")];
        journal.second_pass = vec![segment(0.0, 2.0, "the price is high"), segment(5.0, 6.0, ""), segment(7.0, 8.0, "one more")];
        journal.second_pass_ended = Some(SecondPassEnded {
            model: "base".into(),
            pieces: 4,
            offered_s: 5.0,
            transcribed: 3,
            transcribed_s: 4.0,
            transcribed_by_call_end_s: 4.0,
            after_call_end_s: 0.0,
            unfinished: Some("its time after the call ran out".into()),
        });
        let (segments, source) = merged_transcript(&journal).unwrap();
        let texts: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["the price is high", "ok", "one more"]);
        assert!((source.covered_share - 0.8).abs() < 1e-9, "{source:?}");
        assert!(source.fell_back_reason.as_deref().unwrap().contains("80%"), "{source:?}");
        journal.segments = segments;
        assert_eq!(merged_transcript(&journal).unwrap().0, journal.segments, "merging twice changes nothing");
    }
}
