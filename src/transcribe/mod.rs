//! Speech to text. `Transcriber` runs a `SpeechToText` engine on its own
//! worker thread, fed utterances through a bounded queue; `whisper` is the one
//! file that imports whisper-rs; `fake` is a deterministic engine for tests of
//! the plumbing; `agreement` keeps the stable prefix of an utterance's
//! successive partial transcripts (LocalAgreement-2), which the coach may act on.
//!
//! Thread: the worker is a plain `std::thread` that owns the engine. Inference
//! blocks for tens to hundreds of milliseconds, so it must never run on an
//! async task or the audio thread.

pub mod agreement;
pub mod fake;
pub mod second_pass;
pub mod whisper;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use serde::{Deserialize, Serialize};

use crate::call::{Segment, Speaker};

pub use agreement::StablePrefix;
pub use whisper::{WhisperEngine, WhisperModel};

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("{}: {problem}", path.display())]
    Model { path: PathBuf, problem: String },
    #[error("whisper inference failed: {0}")]
    Inference(String),
}

/// Turns 16 kHz mono speech into text.
pub trait SpeechToText: Send {
    fn transcribe(&mut self, audio_16k: &[f32]) -> Result<String, TranscribeError>;

    /// Like `transcribe`, with the same speaker's previous text as context
    /// (Whisper's "condition on previous text"); engines without it ignore it.
    fn transcribe_after(&mut self, audio_16k: &[f32], previous_text: &str) -> Result<String, TranscribeError> {
        let _ = previous_text;
        self.transcribe(audio_16k)
    }

    /// The token probabilities of the last `transcribe`, when the engine has them.
    fn last_confidence(&self) -> Option<crate::call::Confidence> {
        None
    }

    /// From now on, a `transcribe` in progress gives up soon after `abort`
    /// is set (an error); engines that cannot stop midway ignore it.
    fn abort_when(&mut self, abort: Arc<AtomicBool>) {
        let _ = abort;
    }
}

/// How each utterance is decoded (see ../shared/MODEL.md for why).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TranscribeOptions {
    /// Inference threads. 1 keeps latency steady when another process (the
    /// video-call app) competes for a core; 2 is faster on an idle machine.
    pub threads: usize,
    /// Silence added before the utterance, seconds.
    pub pad_before_s: f64,
    /// Silence added after the utterance, seconds.
    pub pad_after_s: f64,
    /// Lower bound for the reduced encoder context; below ~256 tiny.en loops.
    pub min_audio_ctx: usize,
    /// Token budget per second of audio.
    pub max_tokens_per_s: f64,
    /// Hard cap on tokens per utterance.
    pub max_tokens: usize,
    /// Beam width; 0 or 1 decodes greedily (fastest).
    pub beam_size: usize,
    /// Temperature step when a decode fails Whisper's checks (average
    /// log-probability below `logprob_threshold`, or token entropy below
    /// 2.4, the sign of a loop): it is decoded again, hotter. 0 = never.
    pub temperature_increment: f64,
    /// Average token log-probability under which a decode is retried.
    pub logprob_threshold: f64,
    /// Give the decoder the same speaker's previous text as a prompt.
    pub condition_on_previous_text: bool,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions {
            threads: 1,
            pad_before_s: 0.15,
            pad_after_s: 0.3,
            min_audio_ctx: 256,
            max_tokens_per_s: 6.0,
            max_tokens: 200,
            beam_size: 0,
            temperature_increment: 0.0,
            logprob_threshold: -1.0,
            condition_on_previous_text: false,
        }
    }
}

/// One piece of audio to transcribe, stamped in call time.
#[derive(Debug, Clone)]
pub struct Job {
    pub speaker: Speaker,
    pub start_s: f64,
    pub end_s: f64,
    pub audio: Vec<f32>,
    /// Final jobs cover a finished utterance; partial ones an utterance still
    /// being spoken, and are superseded by anything newer from the same speaker.
    pub is_final: bool,
}

/// The transcript of one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transcript {
    pub segment: Segment,
    pub is_final: bool,
    /// Time spent in inference, milliseconds.
    pub inference_ms: f64,
    /// Jobs waiting behind this one when it finished.
    pub backlog: usize,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full: transcription is behind. The job was dropped.
    Backlogged,
    /// The worker has stopped.
    Closed,
}

/// Owns the worker thread. Dropping it (or `finish`) lets the worker drain
/// the queue and exit.
pub struct Transcriber {
    jobs: Option<Sender<Job>>,
    results: Receiver<Result<Transcript, TranscribeError>>,
    worker: Option<JoinHandle<()>>,
    load: LiveLoad,
}

/// Jobs the live transcriber has accepted and not yet finished: work that a
/// lower-priority transcriber (the second pass) waits for.
#[derive(Debug, Clone, Default)]
pub struct LiveLoad(Arc<AtomicUsize>);

impl LiveLoad {
    /// True when no live job is queued or being transcribed.
    pub fn is_idle(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }
}

impl Transcriber {
    /// Starts the worker with `engine`. At most `queue_capacity` jobs wait.
    pub fn spawn<E: SpeechToText + 'static>(engine: E, queue_capacity: usize) -> Transcriber {
        let (job_tx, job_rx) = bounded::<Job>(queue_capacity.max(1));
        let (result_tx, result_rx) = bounded(queue_capacity.max(1) * 2 + 16);
        let lookahead = queue_capacity.max(1);
        let load = LiveLoad::default();
        let worker_load = load.clone();
        let worker = std::thread::Builder::new()
            .name("transcriber".into())
            .spawn(move || run(engine, job_rx, result_tx, lookahead, worker_load))
            .expect("spawning the transcriber thread");
        Transcriber { jobs: Some(job_tx), results: result_rx, worker: Some(worker), load }
    }

    /// Queues a job, waiting while the queue is full (offline use).
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        let sender = self.sender()?;
        // Counted before it is sent, so the worker never finishes an uncounted job.
        self.load.0.fetch_add(1, Ordering::AcqRel);
        sender.send(job).map_err(|_| {
            self.load.0.fetch_sub(1, Ordering::AcqRel);
            SubmitError::Closed
        })
    }

    /// Queues a job without waiting (live use): when transcription is behind,
    /// the job is dropped and the caller counts it.
    pub fn try_submit(&self, job: Job) -> Result<(), SubmitError> {
        let sender = self.sender()?;
        self.load.0.fetch_add(1, Ordering::AcqRel);
        let sent = sender.try_send(job);
        if sent.is_err() {
            self.load.0.fetch_sub(1, Ordering::AcqRel);
        }
        match sent {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(SubmitError::Backlogged),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// How busy this transcriber is, for work that must wait for it.
    pub fn load(&self) -> LiveLoad {
        self.load.clone()
    }

    /// Jobs waiting to be transcribed.
    pub fn backlog(&self) -> usize {
        self.jobs.as_ref().map_or(0, Sender::len)
    }

    /// Where transcripts arrive, in job order.
    pub fn results(&self) -> &Receiver<Result<Transcript, TranscribeError>> {
        &self.results
    }

    /// Stops accepting jobs, lets the worker finish what is queued, and
    /// returns every remaining result.
    pub fn finish(mut self) -> Vec<Result<Transcript, TranscribeError>> {
        self.jobs.take();
        // Collect while the worker drains its queue: joining first would
        // deadlock once the bounded result queue fills. The channel closes
        // when the worker returns (or panics: reported through the missing
        // results, not re-raised).
        let results = self.results.iter().collect();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
        results
    }

    fn sender(&self) -> Result<&Sender<Job>, SubmitError> {
        self.jobs.as_ref().ok_or(SubmitError::Closed)
    }
}

impl Drop for Transcriber {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            // Discard results until the worker is done, so it never blocks on a full queue.
            for _ in self.results.iter() {}
            let _ = worker.join();
        }
    }
}

/// The worker loop: one job at a time, skipping partials that a newer job
/// from the same speaker has already superseded. It looks at most
/// `lookahead` jobs ahead: taking every queued job off the bounded queue
/// would hide the backlog from `try_submit` and take away the back-pressure
/// a `--speed max` replay relies on.
fn run<E: SpeechToText>(mut engine: E, jobs: Receiver<Job>, results: Sender<Result<Transcript, TranscribeError>>, lookahead: usize, load: LiveLoad) {
    let mut pending: std::collections::VecDeque<Job> = std::collections::VecDeque::with_capacity(lookahead);
    // Each speaker's last final text, the context for their next utterance.
    let mut previous_text: [String; 2] = Default::default();
    loop {
        if pending.is_empty() {
            match jobs.recv() {
                Ok(job) => pending.push_back(job),
                Err(_) => return,
            }
        }
        while pending.len() < lookahead {
            match jobs.try_recv() {
                Ok(job) => pending.push_back(job),
                Err(_) => break,
            }
        }
        let job = pending.pop_front().expect("pending is not empty");
        let superseded = !job.is_final && pending.iter().any(|later| later.speaker == job.speaker);
        if superseded {
            load.0.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let started = Instant::now();
        let context = &mut previous_text[job.speaker.channel()];
        let outcome = engine.transcribe_after(&job.audio, context).map(|raw| Transcript {
            segment: Segment {
                speaker: job.speaker,
                start_s: job.start_s,
                end_s: job.end_s,
                text: clean_text(&raw),
                confidence: engine.last_confidence(),
            },
            is_final: job.is_final,
            inference_ms: started.elapsed().as_secs_f64() * 1e3,
            backlog: pending.len() + jobs.len(),
        });
        if let Ok(transcript) = &outcome {
            if transcript.is_final {
                context.clone_from(&transcript.segment.text);
            }
        }
        load.0.fetch_sub(1, Ordering::AcqRel);
        if results.send(outcome).is_err() {
            return;
        }
    }
}

/// Strips Whisper's non-speech annotations ("[BLANK_AUDIO]", "(music)") and
/// collapses a phrase repeated over and over, the signature of a decoding loop.
pub fn clean_text(raw: &str) -> String {
    let mut without_annotations = String::with_capacity(raw.len());
    let mut depth = 0usize;
    for c in raw.chars() {
        match c {
            '[' | '(' | '*' if depth == 0 || c != '*' => depth += 1,
            ']' | ')' if depth > 0 => depth -= 1,
            '*' if depth > 0 => depth -= 1,
            _ if depth == 0 => without_annotations.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = without_annotations.split_whitespace().collect();
    collapse_repeats(&words).join(" ")
}

/// Removes immediate repetitions of a short (1–3 word) phrase beyond its
/// second occurrence, and any repetition at all of a longer (4–40 word)
/// phrase: people say "no, no" or "I know, I know", but tiny.en given half a
/// sentence says "And so my fellow Americans. And so my fellow Americans."
fn collapse_repeats<'a>(words: &[&'a str]) -> Vec<&'a str> {
    const SHORT_MAX: usize = 3;
    const LONG_MAX: usize = 40;
    let mut out: Vec<&'a str> = Vec::with_capacity(words.len());
    let norm = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    for &word in words {
        out.push(word);
        for n in 1..=LONG_MAX {
            let copies = if n <= SHORT_MAX { 3 } else { 2 };
            if out.len() < copies * n {
                break;
            }
            let len = out.len();
            // The last n words equal each of the previous (copies - 1) runs of n words.
            let repeated = (0..n).all(|i| {
                let newest = norm(out[len - n + i]);
                (2..=copies).all(|copy| newest == norm(out[len - copy * n + i]))
            });
            if repeated {
                out.truncate(len - n);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_annotations() {
        assert_eq!(clean_text(" [BLANK_AUDIO]"), "");
        assert_eq!(clean_text(" (music) Hello there. *laughs*"), "Hello there.");
    }

    #[test]
    fn collapses_decoding_loops() {
        let looped = "Okay, sure. ".repeat(55);
        assert_eq!(clean_text(&looped), "Okay, sure. Okay, sure.");
        assert_eq!(clean_text("no no no no"), "no no");
        assert_eq!(clean_text("that is that is fine"), "that is that is fine");
        assert_eq!(clean_text("I know, I know. Fine."), "I know, I know. Fine.");
        assert_eq!(
            clean_text("And so my fellow Americans. And so my fellow Americans. And so"),
            "And so my fellow Americans. And so"
        );
        let sentence = "Honestly, the price worries me, it is more than we planned. ";
        assert_eq!(clean_text(&format!("{sentence}{sentence}Honestly, the")), clean_text(&format!("{sentence}Honestly, the")));
    }

    #[test]
    fn worker_transcribes_in_order_and_skips_superseded_partials() {
        let engine = fake::FakeEngine::new();
        let transcriber = Transcriber::spawn(engine, 8);
        let job = |start: f64, is_final: bool| Job {
            speaker: Speaker::Rep,
            start_s: start,
            end_s: start + 1.0,
            audio: vec![0.1; 1600],
            is_final,
        };
        // Occupy the worker so the next jobs queue up together.
        transcriber.submit(Job { audio: vec![0.1; 16_000 * 3], ..job(0.0, true) }).unwrap();
        transcriber.submit(job(1.0, false)).unwrap();
        transcriber.submit(job(1.0, true)).unwrap();
        let results: Vec<Transcript> = transcriber.finish().into_iter().map(Result::unwrap).collect();
        let finals = results.iter().filter(|t| t.is_final).count();
        assert_eq!(finals, 2);
        assert!(results.len() <= 3);
        assert_eq!(results[0].segment.start_s, 0.0);
        assert_eq!(results.last().unwrap().segment.start_s, 1.0);
        assert!(results.last().unwrap().is_final);
    }

    /// More results than the result queue holds are still in flight when
    /// `finish` is called (a `--speed max` replay ending): all come back.
    #[test]
    fn finish_returns_every_result_however_many_are_in_flight() {
        let transcriber = Transcriber::spawn(fake::FakeEngine::slow(std::time::Duration::from_millis(1)), 8);
        let job = Job { speaker: Speaker::Rep, start_s: 0.0, end_s: 1.0, audio: vec![0.0; 100], is_final: true };
        for _ in 0..40 {
            transcriber.submit(job.clone()).unwrap();
        }
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let _ = done_tx.send(transcriber.finish().len());
        });
        let returned = done_rx.recv_timeout(std::time::Duration::from_secs(20)).expect("finish deadlocked");
        assert_eq!(returned, 40);
    }

    #[test]
    fn try_submit_reports_backlog_instead_of_blocking() {
        let transcriber = Transcriber::spawn(fake::FakeEngine::slow(std::time::Duration::from_millis(200)), 1);
        let job = Job { speaker: Speaker::Prospect, start_s: 0.0, end_s: 1.0, audio: vec![0.0; 100], is_final: true };
        let mut backlogged = 0;
        for _ in 0..5 {
            if transcriber.try_submit(job.clone()) == Err(SubmitError::Backlogged) {
                backlogged += 1;
            }
        }
        assert!(backlogged >= 3, "expected most submissions to be refused, got {backlogged}");
    }
}
