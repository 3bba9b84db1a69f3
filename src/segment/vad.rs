//! Frame-level voice activity: earshot's small neural network, with an
//! energy gate over an adaptive noise floor for utterance onsets.
//!
//! Runs on the segmenter thread, one detector per channel, 16 ms frames
//! (256 samples at 16 kHz: earshot's fixed frame). No allocation per frame.
//!
//! Why both: the network alone tracks speech well through word gaps and noise
//! (it is what keeps an utterance open), but in broadband noise it fires on a
//! stray frame now and then; requiring the frame that *opens* an utterance to
//! also stand 6 dB above the noise floor removed every false utterance in the
//! noise-only measurements without costing any real onset. See
//! `segment` module docs for the measured figures.

use earshot::Detector;

/// Samples per VAD frame (16 ms at 16 kHz; fixed by earshot).
pub const FRAME_SAMPLES: usize = 256;
/// Seconds per VAD frame.
pub const FRAME_S: f64 = FRAME_SAMPLES as f64 / 16_000.0;

/// Energies below this (dBFS, after the high-pass) are never an onset:
/// digital silence with dither must not open an utterance.
const ABSOLUTE_MIN_DB: f32 = -70.0;
/// Noise-floor tracking: rises this fast (dB/s) through non-voice frames...
const FLOOR_RISE_NOISE_DB_S: f32 = 3.0;
/// ...and this slowly through voice, so long speech does not become "floor".
const FLOOR_RISE_VOICE_DB_S: f32 = 0.3;
/// Share of a lower frame energy the floor moves to at once (falls fast).
const FLOOR_FALL: f32 = 0.4;

/// What the detector says about one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameVoice {
    /// The network's voice probability, 0..1.
    pub score: f32,
    /// `score >= threshold`: keeps an open utterance going.
    pub voice: bool,
    /// `voice` and energy at least the onset margin above the noise floor:
    /// may open an utterance.
    pub onset: bool,
    /// Frame energy in dBFS after a 100 Hz high-pass (hum and DC removed).
    pub energy_db: f32,
    /// The noise floor estimate (dBFS) before this frame.
    pub floor_db: f32,
    /// `voice` and energy at least `end_margin_db` above the floor (and
    /// above digital silence): real voice, not the network lingering on
    /// noise after a word. Utterance ends are placed on these.
    pub strong: bool,
}

/// One channel's voice detector. Create one per channel and feed it every
/// frame in order (it has memory: the network's context, the noise floor).
pub struct SpeechDetector {
    network: Box<Detector>,
    threshold: f32,
    onset_margin_db: f32,
    end_margin_db: f32,
    highpass: Biquad,
    floor_db: Option<f32>,
}

impl SpeechDetector {
    /// `threshold`: network score counted as voice (0.5 is earshot's and our
    /// measured best). `onset_margin_db`: how far above the noise floor an
    /// onset frame must be; `end_margin_db`: the same for a `strong` frame.
    pub fn new(threshold: f32, onset_margin_db: f32, end_margin_db: f32) -> Self {
        SpeechDetector {
            network: Detector::default_boxed(),
            threshold,
            onset_margin_db,
            end_margin_db,
            highpass: Biquad::highpass(16_000.0, 100.0),
            floor_db: None,
        }
    }

    /// Classifies one frame of exactly [`FRAME_SAMPLES`] 16 kHz samples.
    pub fn classify(&mut self, frame: &[f32; FRAME_SAMPLES]) -> FrameVoice {
        let mut clamped = [0.0f32; FRAME_SAMPLES];
        let mut energy = 0.0f64;
        for (c, &s) in clamped.iter_mut().zip(frame) {
            // earshot expects [-1, 1]; NaN from a broken source becomes silence.
            *c = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            let y = self.highpass.run(*c);
            energy += (y as f64) * (y as f64);
        }
        let energy_db = (10.0 * (energy / FRAME_SAMPLES as f64 + 1e-12).log10()) as f32;
        let score = self.network.predict_f32(&clamped);
        let voice = score >= self.threshold;
        let floor = self.floor_db.get_or_insert(energy_db);
        let floor_before = *floor;
        let audible = voice && energy_db > ABSOLUTE_MIN_DB;
        let onset = audible && energy_db > floor_before + self.onset_margin_db;
        let strong = audible && energy_db > floor_before + self.end_margin_db;
        // Minimum-statistics style floor: follow drops at once, creep up
        // slowly, more slowly still while the network hears voice.
        if energy_db < *floor {
            *floor += FLOOR_FALL * (energy_db - *floor);
        } else {
            let rate = if voice {
                FLOOR_RISE_VOICE_DB_S
            } else {
                FLOOR_RISE_NOISE_DB_S
            };
            *floor += (rate * FRAME_S as f32).min(energy_db - *floor);
        }
        FrameVoice {
            score,
            voice,
            onset,
            energy_db,
            floor_db: floor_before,
            strong,
        }
    }

    /// Current noise-floor estimate in dBFS (None before the first frame).
    pub fn noise_floor_db(&self) -> Option<f32> {
        self.floor_db
    }
}

/// A second-order (RBJ) filter section.
#[derive(Debug, Clone)]
pub(crate) struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    z1: f32,
    z2: f32,
}

impl Biquad {
    /// Butterworth high-pass.
    pub(crate) fn highpass(rate: f32, cutoff: f32) -> Self {
        let w0 = 2.0 * std::f32::consts::PI * cutoff / rate;
        let alpha = w0.sin() / (2.0 * std::f32::consts::FRAC_1_SQRT_2);
        let cos = w0.cos();
        let a0 = 1.0 + alpha;
        Biquad {
            b0: (1.0 + cos) / 2.0 / a0,
            b1: -(1.0 + cos) / a0,
            b2: (1.0 + cos) / 2.0 / a0,
            a1: -2.0 * cos / a0,
            a2: (1.0 - alpha) / a0,
            z1: 0.0,
            z2: 0.0,
        }
    }

    #[inline]
    pub(crate) fn run(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(x: &[f32]) -> impl Iterator<Item = &[f32; FRAME_SAMPLES]> {
        x.chunks_exact(FRAME_SAMPLES).map(|c| c.try_into().unwrap())
    }

    #[test]
    fn highpass_removes_hum_keeps_speech_band() {
        let tone = |f: f32| -> f32 {
            let mut hp = Biquad::highpass(16_000.0, 100.0);
            let x: Vec<f32> = (0..16_000)
                .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / 16_000.0).sin())
                .collect();
            let y: Vec<f32> = x.iter().map(|&s| hp.run(s)).collect();
            (y[8000..].iter().map(|s| s * s).sum::<f32>() / 8000.0).sqrt() * 2f32.sqrt()
        };
        assert!(tone(50.0) < 0.25, "50 Hz gain {}", tone(50.0));
        assert!(tone(1000.0) > 0.98, "1 kHz gain {}", tone(1000.0));
    }

    #[test]
    fn noise_floor_follows_stationary_noise_and_rejects_onsets_in_it() {
        let mut d = SpeechDetector::new(0.5, 6.0, 3.0);
        // Deterministic white noise at about -40 dBFS.
        let mut seed = 12345u32;
        let noise: Vec<f32> = (0..16_000 * 5)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.035
            })
            .collect();
        let mut onsets = 0;
        let mut last = None;
        for f in frames(&noise) {
            let v = d.classify(f);
            onsets += v.onset as usize;
            last = Some(v);
        }
        let last = last.unwrap();
        assert_eq!(onsets, 0);
        assert!(
            (last.floor_db - last.energy_db).abs() < 3.0,
            "floor {} vs energy {}",
            last.floor_db,
            last.energy_db
        );
    }
}
