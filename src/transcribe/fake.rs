//! A deterministic stand-in engine for tests of the plumbing (queueing,
//! ordering, backlog). Never used to prove transcription quality.

use std::time::Duration;

use super::{SpeechToText, TranscribeError};

/// Describes the audio it is given instead of recognising it.
pub struct FakeEngine {
    delay_per_second_of_audio: Duration,
    fixed_delay: Duration,
}

impl FakeEngine {
    /// Takes 10 ms per second of audio.
    pub fn new() -> Self {
        FakeEngine { delay_per_second_of_audio: Duration::from_millis(10), fixed_delay: Duration::ZERO }
    }

    /// Takes `delay` for every job, to simulate a machine that is behind.
    pub fn slow(delay: Duration) -> Self {
        FakeEngine { delay_per_second_of_audio: Duration::ZERO, fixed_delay: delay }
    }
}

impl Default for FakeEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl SpeechToText for FakeEngine {
    fn transcribe(&mut self, audio_16k: &[f32]) -> Result<String, TranscribeError> {
        let seconds = audio_16k.len() as f64 / 16_000.0;
        std::thread::sleep(self.fixed_delay + self.delay_per_second_of_audio.mul_f64(seconds));
        Ok(format!("{seconds:.2} seconds of audio"))
    }
}
