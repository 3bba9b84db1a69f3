//! The only file that touches whisper-rs. A [`WhisperModel`] is the loaded
//! weights (one whisper context), loaded once per process and shared; each
//! [`WhisperEngine`] is one inference state on it, created per call, and runs
//! inference on the calling thread (the transcriber's worker thread; never an
//! async task).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use super::{SpeechToText, TranscribeError, TranscribeOptions};

/// whisper.cpp's encoder works in 20 ms steps: 320 samples at 16 kHz per audio-context unit.
const SAMPLES_PER_AUDIO_CTX: usize = 320;
/// Whisper's full encoder context (30 s).
const FULL_AUDIO_CTX: usize = 1500;
const SAMPLE_RATE: f64 = 16_000.0;

/// The Whisper weights, loaded once from a ggml file and shared (cheap to
/// clone) by every call's [`WhisperEngine`]: a daemon loads the model at
/// start and never again.
#[derive(Clone)]
pub struct WhisperModel {
    context: Arc<WhisperContext>,
    options: TranscribeOptions,
    path: std::path::PathBuf,
}

/// Whisper via whisper-rs: one inference state on a shared [`WhisperModel`].
pub struct WhisperEngine {
    // Field order matters: the state must drop before the context it came from.
    state: WhisperState,
    _context: Arc<WhisperContext>,
    options: TranscribeOptions,
    padded: Vec<f32>,
    /// Token ids from here up are special (end of text, timestamps, language…).
    first_special_token: i32,
    confidence: Option<crate::call::Confidence>,
    /// Set by another thread to stop a decode midway (see `abort_when`).
    abort: Option<Arc<AtomicBool>>,
}

static LOGGING: Once = Once::new();

impl WhisperModel {
    /// Loads the model at `path`. A missing or unreadable file gets an error naming it.
    pub fn load(path: &Path, options: TranscribeOptions) -> Result<Self, TranscribeError> {
        // Route whisper.cpp's chatter into `tracing` instead of stderr.
        LOGGING.call_once(whisper_rs::install_logging_hooks);
        let model_error = |problem: String| TranscribeError::Model { path: path.to_path_buf(), problem };
        let metadata = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                model_error("model file not found (run `callcoach model fetch`)".into())
            } else {
                model_error(e.to_string())
            }
        })?;
        if metadata.len() < 1024 {
            return Err(model_error(format!("not a Whisper ggml model ({} bytes)", metadata.len())));
        }
        check_ggml_magic(path).map_err(model_error)?;
        let path_str = path.to_str().ok_or_else(|| model_error("path is not valid UTF-8".into()))?;
        let context = WhisperContext::new_with_params(path_str, WhisperContextParameters::default())
            .map_err(|e| model_error(format!("whisper.cpp could not load it: {e}")))?;
        Ok(WhisperModel { context: Arc::new(context), options, path: path.to_path_buf() })
    }

    /// A new inference state on these weights (a few MB; the weights are shared).
    pub fn engine(&self) -> Result<WhisperEngine, TranscribeError> {
        let state = self.context.create_state().map_err(|e| TranscribeError::Model {
            path: self.path.clone(),
            problem: format!("could not create inference state: {e}"),
        })?;
        let first_special_token = self.context.token_eot();
        Ok(WhisperEngine {
            state,
            _context: self.context.clone(),
            options: self.options.clone(),
            padded: Vec::new(),
            first_special_token,
            confidence: None,
            abort: None,
        })
    }
}

impl WhisperEngine {
    /// Loads the model at `path` for this engine alone (see [`WhisperModel`] to share it).
    pub fn load(path: &Path, options: TranscribeOptions) -> Result<Self, TranscribeError> {
        WhisperModel::load(path, options)?.engine()
    }

    /// Encoder context for `samples` of (padded) audio: enough to cover it,
    /// never below the floor that keeps tiny.en from looping on short clips.
    fn audio_ctx_for(&self, samples: usize) -> usize {
        (samples / SAMPLES_PER_AUDIO_CTX + 32).max(self.options.min_audio_ctx).min(FULL_AUDIO_CTX)
    }

    /// Token cap proportional to the audio: fast speech is ~4 tokens/s, so a
    /// generous cap still stops a hallucinated loop early.
    fn max_tokens_for(&self, samples: usize) -> usize {
        let seconds = samples as f64 / SAMPLE_RATE;
        ((seconds * self.options.max_tokens_per_s).ceil() as usize + 8).min(self.options.max_tokens)
    }
}

/// The end of `previous_text`, cut at a word boundary, at most `MAX_PROMPT_CHARS` long.
fn prompt_from(previous_text: &str) -> &str {
    let text = previous_text.trim();
    if text.len() <= MAX_PROMPT_CHARS {
        return text;
    }
    let mut cut = text.len() - MAX_PROMPT_CHARS;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    match text[cut..].find(' ') {
        Some(space) => text[cut + space..].trim_start(),
        None => &text[cut..],
    }
}

fn check_ggml_magic(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| e.to_string())?;
    if u32::from_le_bytes(magic) != 0x6767_6d6c {
        return Err("not a Whisper ggml model (bad magic)".into());
    }
    Ok(())
}

/// Characters of previous text given as a prompt: a sentence or two of
/// context is what helps; Whisper's prompt holds at most 224 tokens.
const MAX_PROMPT_CHARS: usize = 300;

impl SpeechToText for WhisperEngine {
    fn transcribe(&mut self, audio: &[f32]) -> Result<String, TranscribeError> {
        self.transcribe_after(audio, "")
    }

    fn transcribe_after(&mut self, audio: &[f32], previous_text: &str) -> Result<String, TranscribeError> {
        let pad_before = (self.options.pad_before_s * SAMPLE_RATE) as usize;
        let pad_after = (self.options.pad_after_s * SAMPLE_RATE) as usize;
        // Reuse one buffer: the worker transcribes thousands of utterances per call.
        self.padded.clear();
        self.padded.resize(pad_before, 0.0);
        self.padded.extend_from_slice(audio);
        self.padded.resize(pad_before + audio.len() + pad_after, 0.0);
        // whisper.cpp rejects input under 100 ms; pad to a full second so the
        // reduced context always sees a sane amount of audio.
        if self.padded.len() < SAMPLE_RATE as usize {
            self.padded.resize(SAMPLE_RATE as usize, 0.0);
        }
        let samples = self.padded.len();

        let strategy = if self.options.beam_size > 1 {
            SamplingStrategy::BeamSearch { beam_size: self.options.beam_size as i32, patience: -1.0 }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(self.options.threads as i32);
        params.set_language(Some("en"));
        params.set_translate(false);
        // Each utterance stands alone: carrying text across utterances is what
        // lets Whisper repeat itself on silence.
        params.set_no_context(true);
        params.set_single_segment(true);
        // Decoding with timestamp tokens is markedly more robust on short
        // clips: without them tiny.en often emits end-of-text mid-sentence.
        params.set_no_timestamps(false);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_temperature(0.0);
        // Temperature fallback multiplies latency on the utterances that
        // need it; the token cap and the loop filter handle most loops.
        params.set_temperature_inc(self.options.temperature_increment as f32);
        params.set_logprob_thold(self.options.logprob_threshold as f32);
        let prompt = prompt_from(previous_text);
        if self.options.condition_on_previous_text && !prompt.is_empty() {
            params.set_initial_prompt(prompt);
        }
        params.set_audio_ctx(self.audio_ctx_for(samples) as i32);
        params.set_max_tokens(self.max_tokens_for(samples) as i32);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        if let Some(abort) = &self.abort {
            // SAFETY: the callback only reads the AtomicBool, which `self.abort`
            // keeps alive for the whole `full` call below.
            unsafe {
                params.set_abort_callback(Some(abort_requested));
                params.set_abort_callback_user_data(Arc::as_ptr(abort) as *mut std::ffi::c_void);
            }
        }

        self.state
            .full(params, &self.padded)
            .map_err(|e| TranscribeError::Inference(e.to_string()))?;
        let mut text = String::new();
        let (mut sum, mut count, mut min) = (0.0f32, 0usize, 1.0f32);
        for segment in self.state.as_iter() {
            if let Ok(piece) = segment.to_str_lossy() {
                text.push_str(&piece);
            }
            for index in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(index) else { continue };
                if token.token_id() >= self.first_special_token {
                    continue;
                }
                let p = token.token_probability();
                sum += p;
                count += 1;
                min = min.min(p);
            }
        }
        self.confidence = (count > 0).then(|| crate::call::Confidence { mean: sum / count as f32, min });
        Ok(text)
    }

    fn last_confidence(&self) -> Option<crate::call::Confidence> {
        self.confidence
    }

    fn abort_when(&mut self, abort: Arc<AtomicBool>) {
        self.abort = Some(abort);
    }
}

/// whisper.cpp's abort callback (checked between graph nodes and decoder
/// steps). whisper-rs's closure-taking variant passes the wrong pointer type
/// to its trampoline, so this one is a plain function over an `AtomicBool`.
unsafe extern "C" fn abort_requested(flag: *mut std::ffi::c_void) -> bool {
    // SAFETY: `flag` is the `Arc<AtomicBool>` pointer set in `transcribe_after`.
    unsafe { (*(flag as *const AtomicBool)).load(Ordering::Relaxed) }
}

