//! Transcription of a recorded call (`callcoach transcribe`): the live
//! pipeline run over the file at full speed, without a journal or events, so
//! it segments with the configured segmenter, cancels and gates echo on the
//! mic exactly as a live call or `callcoach replay --speed max` does, and
//! gives the same segments as they do for the same file.
//!
//! Threads: the file is fed by the replay thread; the pipeline runs on the
//! calling thread and whisper on the transcriber's worker thread.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::audio::file::{load_call, load_mono_16k, AudioFileError, CallAudio};
use crate::audio::replay::{self, Speed};
use crate::call::Segment;
use crate::config::Config;
use crate::pipeline::{self, PipelineError, PipelineOptions};
use crate::transcribe::SpeechToText;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// The audio route of a call from the config (segmenter, echo canceller and
/// gate), at full speed, writing nothing: what `transcribe` runs, and what
/// every call's options start from.
pub fn pipeline_options(config: &Config, call_id: &str, label: &str) -> PipelineOptions {
    let mut options = PipelineOptions::new(call_id, label);
    options.realtime = false;
    options.segmenter = config.segmenter.clone();
    options.echo_gate = config.call.echo_gate;
    options.echo_cancel = config.call.echo_cancel;
    options.coach = config.coach.clone();
    options
}

/// Transcribes the call in `path` (stereo: left rep, right prospect; `swap` flips).
pub fn transcribe_file<E: SpeechToText + 'static>(
    path: &Path,
    swap: bool,
    engine: E,
    options: PipelineOptions,
) -> Result<Vec<Segment>, RecordingError> {
    transcribe_call(load_call(path, swap)?, engine, options)
}

/// Transcribes decoded call audio through the pipeline at full speed and
/// returns the non-empty final segments in call order. `options` should not
/// name journal or events files (use `callcoach replay --out` for those).
pub fn transcribe_call<E: SpeechToText + 'static>(
    call: CallAudio,
    engine: E,
    mut options: PipelineOptions,
) -> Result<Vec<Segment>, RecordingError> {
    // Full speed: the pipeline waits for the transcriber, so nothing is dropped.
    options.realtime = false;
    let (tx, rx) = crossbeam_channel::bounded(256);
    let stop = Arc::new(AtomicBool::new(false));
    let source = replay::start(call, Speed::Max, tx, stop.clone());
    let outcome = pipeline::run_call(rx, engine, options, Vec::new(), stop);
    let _ = source.join();
    Ok(outcome?.segments)
}

/// Loads a call recorded as two files, one per speaker (each mixed down to mono).
pub fn load_pair(rep: &Path, prospect: &Path) -> Result<CallAudio, AudioFileError> {
    Ok(CallAudio { rep: load_mono_16k(rep)?, prospect: Some(load_mono_16k(prospect)?) })
}

/// `[00:12.3 – 00:15.8] rep: text` lines.
pub fn format_segments(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push_str(&format!("[{} – {}] {:>8}: {}\n", clock(s.start_s), clock(s.end_s), s.speaker.as_str(), s.text.trim()));
    }
    out
}

/// mm:ss.s
pub fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    let minutes = (seconds / 60.0).floor();
    format!("{:02}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}
