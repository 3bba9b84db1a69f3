//! Transcription of a recorded call, start to finish: decode, resample,
//! segment each speaker's channel, transcribe utterance by utterance on the
//! transcriber's worker thread, and return the segments in call order.

use std::path::Path;

use crate::audio::file::{load_call, load_mono_16k, AudioFileError, CallAudio};
use crate::call::{Segment, Speaker};
use crate::segment::join::join_offline;
use crate::segment::{segment_offline, SegmenterConfig};
use crate::transcribe::{Job, SpeechToText, TranscribeError, Transcriber};

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
}

/// Transcribes the call in `path` (stereo: left rep, right prospect; `swap` flips).
pub fn transcribe_file<E: SpeechToText + 'static>(
    path: &Path,
    swap: bool,
    engine: E,
    segmenter: &SegmenterConfig,
) -> Result<Vec<Segment>, RecordingError> {
    transcribe_call(load_call(path, swap)?, engine, segmenter)
}

/// Transcribes decoded call audio.
pub fn transcribe_call<E: SpeechToText + 'static>(
    call: CallAudio,
    engine: E,
    segmenter: &SegmenterConfig,
) -> Result<Vec<Segment>, RecordingError> {
    let mut channels = vec![(Speaker::Rep, call.rep)];
    if let Some(prospect) = call.prospect {
        channels.push((Speaker::Prospect, prospect));
    }
    let mut jobs = Vec::new();
    for (speaker, samples) in &channels {
        // Joined across breaths for Whisper (segment::join); talk time is not involved here.
        for (utterance, audio) in join_offline(segment_offline(samples, *speaker, segmenter), segmenter) {
            jobs.push(Job { speaker: *speaker, start_s: utterance.start_s, end_s: utterance.end_s, audio, is_final: true });
        }
    }
    // Transcribe in call order so a reader could watch them arrive as they would live.
    jobs.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    transcribe_jobs(engine, jobs)
}

/// Loads a call recorded as two files, one per speaker (each mixed down to mono).
pub fn load_pair(rep: &Path, prospect: &Path) -> Result<CallAudio, AudioFileError> {
    Ok(CallAudio { rep: load_mono_16k(rep)?, prospect: Some(load_mono_16k(prospect)?) })
}

/// Runs `jobs` through a transcriber and returns the non-empty segments in call order.
pub fn transcribe_jobs<E: SpeechToText + 'static>(engine: E, jobs: Vec<Job>) -> Result<Vec<Segment>, RecordingError> {
    let transcriber = Transcriber::spawn(engine, 8);
    let mut segments = Vec::new();
    for job in jobs {
        // Collect as we go so the bounded result queue never fills.
        while let Ok(result) = transcriber.results().try_recv() {
            segments.push(result?.segment);
        }
        if transcriber.submit(job).is_err() {
            break;
        }
    }
    for result in transcriber.finish() {
        segments.push(result?.segment);
    }
    segments.retain(|s| !s.text.trim().is_empty());
    segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Ok(segments)
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
