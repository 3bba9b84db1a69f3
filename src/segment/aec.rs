//! Acoustic echo cancellation on the mic channel, with the far-end channel
//! as the reference: SpeexDSP's echo canceller (an adaptive frequency-domain
//! filter, MDF) and its preprocessor's residual-echo suppressor, through a
//! thin FFI of our own.
//!
//! Why: on a speakerphone (a laptop without a headset) the far end plays
//! from the speakers and reaches the mic, delayed and smeared by the room.
//! The echo gate ([`super::echo::EchoGate`]) can only drop whole frames, so
//! during double-talk the rep's frames still carry the prospect's words into
//! Whisper, and a gate that misjudges the coupling lets echo count as rep
//! talk. Cancelling subtracts the echo from the samples themselves: what
//! reaches the VAD and Whisper is the rep's voice, with or without the far
//! end talking. The gate stays as a second line on the cancelled signal.
//!
//! Why SpeexDSP and our own FFI: it is a well-kept C library that Debian
//! ships (`libspeexdsp-dev`, 1.2.1), small, and its echo canceller handles
//! an unknown delay inside its filter length; no maintained Rust binding
//! could be reached from crates.io here, and the five functions needed are
//! small enough to bind by hand (all `unsafe` stays in this file).
//!
//! Thread: the pipeline's segmenter thread, one 16 ms frame at a time, both
//! channels on the same call clock ([`super::echo::CallSegmenter`] aligns
//! them); never the cpal callback. No allocation after `new` (the C states
//! are allocated once there and freed on drop).
//!
//! The residual suppressor's output is used only within the filter's tail
//! of far-end speech once an echo path has been heard; elsewhere (the rep
//! alone, or a headset call) the filter's output goes on untouched, so a
//! call without echo is transcribed exactly as without the canceller. The
//! suppressor holds each frame back by one; [`EchoCanceller::output_delay_frames`]
//! says so and the segmenter re-times it.
//!
//! The filter covers [`FILTER_MS`] (400 ms, 25 frames): delays of 0–250 ms plus the
//! first 150 ms of room reverb (with RT60 ≈ 0.4 s the tail is −22 dB by then
//! and keeps falling; the residual suppressor takes what is left).
//!
//! ERLE (echo return loss enhancement, dB: mic power in over cancelled
//! power out) is measured while only the far end talks, as a running median
//! of the per-frame ratio over frames where the far end is active and its
//! echo is audible on the mic: most of those frames are far-end only
//! (people rarely talk over each other for long), and double-talk frames
//! (ratio near 0 dB) fall below the median without moving it much. It is
//! `None` with no echo path (a headset: the far end never shows on the mic).

use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;

use super::echo::{power_db, track_floor};
use super::FRAME_SAMPLES;

/// Echo tail the adaptive filter covers (ms): delays up to 250 ms plus reverb.
pub const FILTER_MS: usize = 400;
const RATE: c_int = 16_000;
/// The far end counts as active this far above its noise floor (dB).
const FAR_ACTIVE_DB: f32 = 10.0;
/// The mic must be this far above its own floor for the echo to be audible.
const ECHO_AUDIBLE_DB: f32 = 6.0;
/// Median-tracking step for the ERLE (dB per measured frame; 4× for the first 200).
const ERLE_STEP_DB: f32 = 0.1;
/// Converged: the ERLE has been measured over this many frames (about 1.6 s
/// of far-end-only speech) and stands at or above [`CONVERGED_ERLE_DB`].
const CONVERGED_FRAMES: u64 = 100;
const CONVERGED_ERLE_DB: f32 = 10.0;
/// An echo path has been heard: the ERLE measured over this many frames
/// stands at or above this (a headset's far-end-active frames hold only the
/// rep's double-talk, which the filter leaves alone: about 0 dB).
const ECHO_HEARD_FRAMES: u64 = 25;
const ECHO_HEARD_DB: f32 = 6.0;

// SpeexDSP's echo and preprocess API (speex/speex_echo.h, speex/speex_preprocess.h).
#[repr(C)]
struct SpeexEchoState {
    _private: [u8; 0],
}
#[repr(C)]
struct SpeexPreprocessState {
    _private: [u8; 0],
}
const SPEEX_ECHO_SET_SAMPLING_RATE: c_int = 24;
const SPEEX_PREPROCESS_SET_DENOISE: c_int = 0;
const SPEEX_PREPROCESS_SET_AGC: c_int = 2;
const SPEEX_PREPROCESS_SET_DEREVERB: c_int = 8;
const SPEEX_PREPROCESS_SET_NOISE_SUPPRESS: c_int = 18;
const SPEEX_PREPROCESS_SET_ECHO_STATE: c_int = 24;

#[link(name = "speexdsp")]
extern "C" {
    fn speex_echo_state_init(frame_size: c_int, filter_length: c_int) -> *mut SpeexEchoState;
    fn speex_echo_state_destroy(st: *mut SpeexEchoState);
    fn speex_echo_cancellation(st: *mut SpeexEchoState, rec: *const i16, play: *const i16, out: *mut i16);
    fn speex_echo_ctl(st: *mut SpeexEchoState, request: c_int, ptr: *mut c_void) -> c_int;
    fn speex_preprocess_state_init(frame_size: c_int, sampling_rate: c_int) -> *mut SpeexPreprocessState;
    fn speex_preprocess_state_destroy(st: *mut SpeexPreprocessState);
    fn speex_preprocess_run(st: *mut SpeexPreprocessState, x: *mut i16) -> c_int;
    fn speex_preprocess_ctl(st: *mut SpeexPreprocessState, request: c_int, ptr: *mut c_void) -> c_int;
}

/// Echo-canceller tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct AecConfig {
    /// Echo tail the filter covers, ms (rounded up to whole 16 ms frames).
    pub filter_ms: usize,
    /// Run the preprocessor's residual-echo suppressor after the filter.
    pub residual_suppression: bool,
    /// Largest noise attenuation the preprocessor may apply (dB, ≤ 0).
    /// None (0 dB): the VAD was tuned on unsuppressed audio, and the
    /// preprocessor suppresses echo and noise with one gain (measured on a
    /// headset call with the suppressor on every frame: −3 dB of noise
    /// suppression moved rep talk by +2.3 %, 0 dB by +1.3 %, the filter alone
    /// by 0).
    pub noise_suppress_db: i32,
}

impl Default for AecConfig {
    fn default() -> Self {
        AecConfig { filter_ms: FILTER_MS, residual_suppression: true, noise_suppress_db: 0 }
    }
}

/// What the canceller reports about itself (for `health`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AecStatus {
    /// Smoothed ERLE in dB, once the far end's echo has been heard.
    pub erle_db: Option<f32>,
    /// ERLE measured long enough and high enough to trust the filter.
    pub converged: bool,
}

/// SpeexDSP echo canceller for one mic/far-end pair of 16 ms frames.
pub struct EchoCanceller {
    echo: NonNull<SpeexEchoState>,
    pre: Option<NonNull<SpeexPreprocessState>>,
    mic: [i16; FRAME_SAMPLES],
    far: [i16; FRAME_SAMPLES],
    out: [i16; FRAME_SAMPLES],
    /// With the suppressor: its output (the previous frame's), the filter's
    /// output for the previous frame, and that frame's mic power, far-end
    /// activity and whether far-end speech was within the filter's tail.
    suppressed: [i16; FRAME_SAMPLES],
    linear_before: [i16; FRAME_SAMPLES],
    mic_db_before: f32,
    far_active_before: bool,
    far_recent_before: bool,
    /// Frames since the far end was last active, and the filter's length in frames.
    far_quiet_frames: usize,
    tail_frames: usize,
    far_floor_db: Option<f32>,
    mic_floor_db: Option<f32>,
    erle_db: f32,
    erle_frames: u64,
}

// The states are plain heap memory owned by this value and used by one
// thread at a time (`&mut self`); SpeexDSP keeps no thread-local or global state.
unsafe impl Send for EchoCanceller {}

impl EchoCanceller {
    pub fn new(cfg: &AecConfig) -> Self {
        let filter_samples = (cfg.filter_ms * 16).div_ceil(FRAME_SAMPLES).max(1) * FRAME_SAMPLES;
        // SAFETY: plain constructors; a null return (out of memory) is checked.
        let echo = NonNull::new(unsafe { speex_echo_state_init(FRAME_SAMPLES as c_int, filter_samples as c_int) })
            .expect("speex_echo_state_init");
        let mut rate = RATE;
        // SAFETY: `echo` is live; the request takes a pointer to an int.
        unsafe { speex_echo_ctl(echo.as_ptr(), SPEEX_ECHO_SET_SAMPLING_RATE, &mut rate as *mut c_int as *mut c_void) };
        let pre = cfg.residual_suppression.then(|| {
            // SAFETY: as above; SET_ECHO_STATE takes the echo state itself,
            // which outlives the preprocessor (both are dropped together,
            // the preprocessor first).
            unsafe {
                let pre = NonNull::new(speex_preprocess_state_init(FRAME_SAMPLES as c_int, RATE))
                    .expect("speex_preprocess_state_init");
                let set = |request: c_int, mut value: c_int| {
                    speex_preprocess_ctl(pre.as_ptr(), request, &mut value as *mut c_int as *mut c_void);
                };
                // The gain that suppresses residual echo is the denoiser's,
                // so it stays on, with a mild noise target; no AGC or
                // dereverb (they would change what the VAD was tuned on).
                set(SPEEX_PREPROCESS_SET_DENOISE, 1);
                set(SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, cfg.noise_suppress_db);
                set(SPEEX_PREPROCESS_SET_AGC, 0);
                set(SPEEX_PREPROCESS_SET_DEREVERB, 0);
                speex_preprocess_ctl(pre.as_ptr(), SPEEX_PREPROCESS_SET_ECHO_STATE, echo.as_ptr() as *mut c_void);
                pre
            }
        });
        EchoCanceller {
            echo,
            pre,
            mic: [0; FRAME_SAMPLES],
            far: [0; FRAME_SAMPLES],
            out: [0; FRAME_SAMPLES],
            suppressed: [0; FRAME_SAMPLES],
            linear_before: [0; FRAME_SAMPLES],
            mic_db_before: -120.0,
            far_active_before: false,
            far_recent_before: false,
            far_quiet_frames: usize::MAX,
            tail_frames: filter_samples / FRAME_SAMPLES,
            far_floor_db: None,
            mic_floor_db: None,
            erle_db: 0.0,
            erle_frames: 0,
        }
    }

    /// Cancels the far end's echo from one mic frame. `far` is the far-end
    /// frame of the same call time (silence when it has none); the cancelled
    /// mic frame is written to `out`.
    pub fn process(&mut self, mic: &[f32; FRAME_SAMPLES], far: &[f32; FRAME_SAMPLES], out: &mut [f32; FRAME_SAMPLES]) {
        to_i16(mic, &mut self.mic);
        to_i16(far, &mut self.far);
        // SAFETY: the state is live and was made for FRAME_SAMPLES frames;
        // all three buffers hold exactly that many samples.
        unsafe {
            speex_echo_cancellation(self.echo.as_ptr(), self.mic.as_ptr(), self.far.as_ptr(), self.out.as_mut_ptr());
        }
        let mic_db = power_db(mic);
        let far_db = power_db(far);
        let far_floor = track_floor(&mut self.far_floor_db, far_db);
        let far_active = far_db >= far_floor + FAR_ACTIVE_DB;
        self.far_quiet_frames = if far_active { 0 } else { self.far_quiet_frames.saturating_add(1) };
        let Some(pre) = self.pre else {
            for (o, &s) in out.iter_mut().zip(&self.out) {
                *o = s as f32 / 32768.0;
            }
            self.measure(mic_db, far_active, out);
            return;
        };
        // The suppressor runs on every frame (it tracks the residual and the
        // noise) but its output, a frame late, is used only where there is
        // echo to suppress: within the filter's tail of far-end speech, once
        // an echo path has been heard. Elsewhere the filter's own output goes
        // out, held a frame to match; the rep's voice alone is never touched
        // (its spectral gain changed Whisper's punctuation of questions on
        // headset calls).
        self.suppressed = self.out;
        // SAFETY: as above; the buffer holds FRAME_SAMPLES samples.
        unsafe { speex_preprocess_run(pre.as_ptr(), self.suppressed.as_mut_ptr()) };
        let echo_heard = self.erle_frames >= ECHO_HEARD_FRAMES && self.erle_db >= ECHO_HEARD_DB;
        let emitted = if self.far_recent_before && echo_heard { &self.suppressed } else { &self.linear_before };
        for (o, &s) in out.iter_mut().zip(emitted) {
            *o = s as f32 / 32768.0;
        }
        self.linear_before = self.out;
        // `out` is the previous frame's: measure it against that frame's mic.
        let (mic_db_before, far_active_before) = (self.mic_db_before, self.far_active_before);
        self.measure(mic_db_before, far_active_before, out);
        self.mic_db_before = mic_db;
        self.far_active_before = far_active;
        self.far_recent_before = self.far_quiet_frames <= self.tail_frames;
    }

    /// One frame's ERLE update: `mic_db` is the mic frame's power going in,
    /// `out` the same frame cancelled.
    fn measure(&mut self, mic_db: f32, far_active: bool, out: &[f32; FRAME_SAMPLES]) {
        let mic_floor = track_floor(&mut self.mic_floor_db, mic_db);
        if !far_active || mic_db < mic_floor + ECHO_AUDIBLE_DB {
            return;
        }
        let ratio = mic_db - power_db(out);
        let step = if self.erle_frames < 200 { 4.0 * ERLE_STEP_DB } else { ERLE_STEP_DB };
        if self.erle_frames == 0 {
            self.erle_db = ratio;
        } else {
            self.erle_db += if ratio > self.erle_db { step } else { -step };
        }
        self.erle_frames += 1;
    }

    /// Whole frames between a mic frame going in and its cancelled frame
    /// coming out: 1 with the residual suppressor (its overlap-add holds
    /// one frame back), 0 with the filter alone. [`super::echo::CallSegmenter`]
    /// takes it back out so the rep's utterances keep their call times.
    pub fn output_delay_frames(&self) -> usize {
        self.pre.is_some() as usize
    }

    pub fn status(&self) -> AecStatus {
        let erle_db = (self.erle_frames > 0).then_some(self.erle_db);
        AecStatus { erle_db, converged: self.erle_frames >= CONVERGED_FRAMES && self.erle_db >= CONVERGED_ERLE_DB }
    }
}

impl Drop for EchoCanceller {
    fn drop(&mut self) {
        // SAFETY: both states were made in `new`, are freed exactly once, and
        // the preprocessor (which points at the echo state) goes first.
        unsafe {
            if let Some(pre) = self.pre.take() {
                speex_preprocess_state_destroy(pre.as_ptr());
            }
            speex_echo_state_destroy(self.echo.as_ptr());
        }
    }
}

fn to_i16(samples: &[f32; FRAME_SAMPLES], out: &mut [i16; FRAME_SAMPLES]) {
    for (o, &s) in out.iter_mut().zip(samples) {
        *o = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, EchoPath, RenderedCall};

    const SCRIPT: &str = "\
prospect: We looked at three vendors last spring and none of them stuck with our team.
rep: What made those tools fail for you?
prospect: Mostly the setup, it took months and our drivers never trusted the schedules it made.
overlap: 2.0
rep: Sorry, who owned that rollout on your side?
";

    /// Renders the script as a speakerphone hears it (`bleed_db`, 120 ms,
    /// RT60 0.4 s) and runs the canceller over its mic: the clean call, the
    /// mix, the canceller after it, the cancelled mic.
    fn cancel(bleed_db: f64) -> (RenderedCall, RenderedCall, EchoCanceller, Vec<f32>) {
        let clean = synth::render(&synth::parse_script(SCRIPT).unwrap(), &synth::Voices::default()).expect("espeak-ng");
        let call = EchoPath { bleed_db, delay_ms: 120.0, rt60_s: 0.4, seed: 7 }.apply(&clean);
        let mut aec = EchoCanceller::new(&AecConfig::default());
        let mut out = vec![0.0f32; call.rep.len()];
        for ((mic, far), out) in call
            .rep
            .chunks_exact(FRAME_SAMPLES)
            .zip(call.prospect.chunks_exact(FRAME_SAMPLES))
            .zip(out.chunks_exact_mut(FRAME_SAMPLES))
        {
            aec.process(mic.try_into().unwrap(), far.try_into().unwrap(), out.try_into().unwrap());
        }
        (clean, call, aec, out)
    }

    fn level_db(samples: &[f32], from_s: f64, to_s: f64) -> f32 {
        power_db(&samples[(from_s * 16_000.0) as usize..(to_s * 16_000.0) as usize])
    }

    /// Speakerphone echo (−6 dB, 120 ms, RT60 0.4 s) is cancelled by more
    /// than 20 dB once converged, and the rep's double-talk line comes
    /// through within a few dB of the rep's clean level.
    #[test]
    fn cancels_room_echo_and_keeps_double_talk() {
        let (clean, call, aec, out) = cancel(-6.0);
        let lines = &call.truth;
        // The second prospect line, before the rep cuts in: echo only.
        let (from, to) = (lines[2].start_s + 0.5, lines[3].start_s - 0.1);
        let erle = level_db(&call.rep, from, to) - level_db(&out, from, to);
        let status = aec.status();
        eprintln!("ERLE over far-end-only speech {erle:.1} dB; reported {status:?}");
        assert!(erle > 20.0, "ERLE {erle:.1} dB");
        assert!(status.converged && status.erle_db.unwrap() > 20.0, "{status:?}");
        // Double-talk: the rep's line, over the prospect's, keeps its level.
        let (from, to) = (lines[3].start_s, lines[2].end_s);
        assert!(to - from > 1.5, "real double-talk");
        let kept = level_db(&out, from, to) - level_db(&clean.rep, from, to);
        eprintln!("double-talk: cancelled mic {kept:+.1} dB against the rep's clean voice");
        assert!(kept.abs() < 4.0, "double-talk level {kept:+.1} dB");
    }

    /// A headset: the far end never reaches the mic, nothing is measured or
    /// taken away from the rep.
    #[test]
    fn without_an_echo_path_the_mic_passes_and_no_erle_is_claimed() {
        let (_, call, aec, out) = cancel(-120.0);
        let status = aec.status();
        assert!(!status.converged, "{status:?}");
        for line in call.truth.iter().filter(|l| l.speaker == crate::call::Speaker::Rep) {
            let kept = level_db(&out, line.start_s, line.end_s) - level_db(&call.rep, line.start_s, line.end_s);
            assert!(kept.abs() < 1.5, "rep line {:?} changed by {kept:+.1} dB", line.text);
        }
    }
}
