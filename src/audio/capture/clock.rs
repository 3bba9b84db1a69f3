//! Per-channel bookkeeping of live capture that needs no device: the call
//! clock (how many 16 kHz samples a channel has delivered, and how much
//! silence a gap needs) and the level meter behind the overlay's VU bars.
//!
//! Thread: the `capture` thread only; plain data, no atomics.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::audio::source::SOURCE_RATE;

/// Keeps one channel on the call clock.
///
/// Call time is implied by sample counts, so a channel that delivers nothing
/// (device not started yet, or lost) must be filled with silence for the
/// time it was silent, or everything after the gap would land too early.
/// While the device is quiet the clock is *anchored* at the wall time the
/// audio stopped; silence is generated up to a little behind wall time, and
/// when audio returns the rest of the gap is filled exactly, using the
/// arrival time and length of the first block.
#[derive(Debug, Clone)]
pub struct CallClock {
    samples: u64,
    anchor: Option<Anchor>,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// Wall-clock seconds since the capture started when the audio stopped.
    wall_s: f64,
    /// The channel's sample count at that moment.
    samples: u64,
}

impl CallClock {
    /// A clock at call time 0 whose device has not delivered yet: anchored at
    /// wall time 0, so the wait for the first callback becomes leading silence.
    pub fn new() -> Self {
        CallClock { samples: 0, anchor: Some(Anchor { wall_s: 0.0, samples: 0 }) }
    }

    /// 16 kHz samples delivered so far (audio and inserted silence).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Call time of the next sample, seconds.
    pub fn t_s(&self) -> f64 {
        self.samples as f64 / SOURCE_RATE as f64
    }

    /// True while the device delivers nothing (before its first block, or lost).
    pub fn in_gap(&self) -> bool {
        self.anchor.is_some()
    }

    /// Call time at which the current gap began.
    pub fn gap_start_s(&self) -> Option<f64> {
        self.anchor.map(|a| a.samples as f64 / SOURCE_RATE as f64)
    }

    /// Counts `n` samples handed downstream.
    pub fn advance(&mut self, n: u64) {
        self.samples += n;
    }

    /// The device stopped delivering at wall time `wall_s` (seconds since the
    /// capture started). A no-op if already in a gap.
    pub fn start_gap(&mut self, wall_s: f64) {
        if self.anchor.is_none() {
            self.anchor = Some(Anchor { wall_s, samples: self.samples });
        }
    }

    /// Silence to insert now, during a gap, to keep the channel `lag_s`
    /// behind wall time `now_s` (the lag leaves room for a returning device's
    /// first block, which usually covers some time before its arrival).
    pub fn silence_due(&self, now_s: f64, lag_s: f64) -> u64 {
        match self.anchor {
            Some(anchor) => {
                let due = anchor.samples + seconds_to_samples(now_s - lag_s - anchor.wall_s);
                due.saturating_sub(self.samples)
            }
            None => 0,
        }
    }

    /// Audio is back: a block of `block_s` seconds arrived at wall time
    /// `now_s`. Ends the gap and returns `(silence to insert before the
    /// block, total gap length in seconds)`. Outside a gap: `(0, 0.0)`.
    pub fn end_gap(&mut self, now_s: f64, block_s: f64) -> (u64, f64) {
        let Some(anchor) = self.anchor.take() else { return (0, 0.0) };
        let block_start = anchor.samples + seconds_to_samples(now_s - block_s - anchor.wall_s);
        let pad = block_start.saturating_sub(self.samples);
        let gap = (self.samples + pad - anchor.samples) as f64 / SOURCE_RATE as f64;
        (pad, gap)
    }
}

impl Default for CallClock {
    fn default() -> Self {
        Self::new()
    }
}

fn seconds_to_samples(s: f64) -> u64 {
    if s <= 0.0 {
        0
    } else {
        (s * SOURCE_RATE as f64).round() as u64
    }
}

/// RMS and peak of the most recent 100 ms of a channel, for level meters.
/// The window is allocated once; feeding it never allocates.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    window: Vec<f32>,
    next: usize,
}

/// 100 ms at 16 kHz.
const LEVEL_WINDOW: usize = (SOURCE_RATE / 10) as usize;

impl LevelMeter {
    pub fn new() -> Self {
        LevelMeter { window: vec![0.0; LEVEL_WINDOW], next: 0 }
    }

    pub fn push(&mut self, samples: &[f32]) {
        // Only the newest window's worth matters.
        let samples = &samples[samples.len().saturating_sub(LEVEL_WINDOW)..];
        for &s in samples {
            self.window[self.next] = s;
            self.next = (self.next + 1) % LEVEL_WINDOW;
        }
    }

    pub fn push_silence(&mut self, n: u64) {
        for _ in 0..n.min(LEVEL_WINDOW as u64) {
            self.window[self.next] = 0.0;
            self.next = (self.next + 1) % LEVEL_WINDOW;
        }
    }

    /// `(rms, peak)` of the window, linear full scale.
    pub fn levels(&self) -> (f32, f32) {
        let mut sum = 0.0f64;
        let mut peak = 0.0f32;
        for &s in &self.window {
            sum += (s as f64) * (s as f64);
            peak = peak.max(s.abs());
        }
        ((sum / LEVEL_WINDOW as f64).sqrt() as f32, peak)
    }
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new()
    }
}

/// The last two seconds of a channel as delivered (audio and gap silence),
/// addressed by call-time sample index, so two channels can be compared at
/// the same call time. Allocated once.
#[derive(Debug, Clone)]
pub struct RecentAudio {
    buf: Vec<f32>,
    /// Call-time index one past the newest sample.
    end: u64,
}

const RECENT: usize = 2 * SOURCE_RATE as usize;

impl RecentAudio {
    pub fn new() -> Self {
        RecentAudio { buf: vec![0.0; RECENT], end: 0 }
    }

    pub fn end(&self) -> u64 {
        self.end
    }

    pub fn push(&mut self, samples: &[f32]) {
        let skip = samples.len().saturating_sub(RECENT);
        self.end += skip as u64;
        for &s in &samples[skip..] {
            self.buf[(self.end % RECENT as u64) as usize] = s;
            self.end += 1;
        }
    }

    pub fn push_silence(&mut self, n: u64) {
        let skip = n.saturating_sub(RECENT as u64);
        self.end += skip;
        for _ in skip..n {
            self.buf[(self.end % RECENT as u64) as usize] = 0.0;
            self.end += 1;
        }
    }

    /// Copies samples `[from, from + len)` into `out` (replacing its
    /// contents); false if they are not (or no longer) held.
    pub fn copy_range(&self, from: u64, len: usize, out: &mut Vec<f32>) -> bool {
        let oldest = self.end.saturating_sub(RECENT as u64);
        if from < oldest || from + len as u64 > self.end {
            return false;
        }
        out.clear();
        out.extend((from..from + len as u64).map(|i| self.buf[(i % RECENT as u64) as usize]));
        true
    }
}

impl Default for RecentAudio {
    fn default() -> Self {
        Self::new()
    }
}

/// Decides whether one channel is a sample-exact copy of another: the best
/// normalised cross-correlation of a window of `far` against a longer window
/// of `mic`, over every offset, by FFT. Acoustic echo of the far end in a
/// mic never comes close to 1: a room and a loudspeaker are not a wire.
/// Buffers and FFT plans are made once, for one pair of window lengths.
pub struct CopyDetector {
    far_len: usize,
    mic_len: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    time: Vec<f64>,
    far_spectrum: Vec<Complex<f64>>,
    mic_spectrum: Vec<Complex<f64>>,
    correlation: Vec<f64>,
    /// Prefix sums of the mic's squared samples: window energy at any offset.
    mic_energy: Vec<f64>,
}

impl CopyDetector {
    /// For `far` windows of `far_len` samples searched inside `mic` windows
    /// of `mic_len` (offsets `0..=mic_len - far_len`).
    pub fn new(far_len: usize, mic_len: usize) -> Self {
        assert!(far_len > 0 && mic_len >= far_len);
        let n = (far_len + mic_len).next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        CopyDetector {
            far_len,
            mic_len,
            time: forward.make_input_vec(),
            far_spectrum: forward.make_output_vec(),
            mic_spectrum: forward.make_output_vec(),
            correlation: inverse.make_output_vec(),
            mic_energy: Vec::with_capacity(mic_len + 1),
            forward,
            inverse,
        }
    }

    /// `(similarity, offset)`: how well `far` matches `mic[offset..]` at the
    /// best offset, from -1 to 1. `None` when either side is too quiet or
    /// their levels differ by more than 6 dB at every offset: no evidence
    /// either way.
    pub fn similarity(&mut self, far: &[f32], mic: &[f32]) -> Option<(f64, usize)> {
        const QUIET_RMS: f64 = 0.003; // about -50 dBFS
        assert_eq!((far.len(), mic.len()), (self.far_len, self.mic_len), "window lengths fixed at construction");
        let n = self.time.len();
        let far_energy: f64 = far.iter().map(|&s| (s as f64).powi(2)).sum();
        let rms = |energy: f64| (energy / self.far_len as f64).sqrt();
        if rms(far_energy) < QUIET_RMS {
            return None;
        }
        self.mic_energy.clear();
        self.mic_energy.push(0.0);
        let mut total = 0.0;
        for &s in mic {
            total += (s as f64).powi(2);
            self.mic_energy.push(total);
        }
        // corr[k] = sum_i mic[i + k] * far[i] = IFFT(MIC * conj(FAR)) / n.
        fill_padded(&mut self.time, far);
        self.forward.process(&mut self.time, &mut self.far_spectrum).ok()?;
        fill_padded(&mut self.time, mic);
        self.forward.process(&mut self.time, &mut self.mic_spectrum).ok()?;
        for (m, f) in self.mic_spectrum.iter_mut().zip(&self.far_spectrum) {
            *m *= f.conj();
        }
        // Real input: the DC and Nyquist bins are real; say so exactly.
        let last = self.mic_spectrum.len() - 1;
        self.mic_spectrum[0].im = 0.0;
        self.mic_spectrum[last].im = 0.0;
        self.inverse.process(&mut self.mic_spectrum, &mut self.correlation).ok()?;
        let mut best: Option<(f64, usize)> = None;
        for offset in 0..=self.mic_len - self.far_len {
            let mic_energy = self.mic_energy[offset + self.far_len] - self.mic_energy[offset];
            if rms(mic_energy) < QUIET_RMS || !(0.25..=4.0).contains(&(far_energy / mic_energy)) {
                continue;
            }
            let similarity = self.correlation[offset] / n as f64 / (far_energy * mic_energy).sqrt();
            if best.is_none_or(|(b, _)| similarity > b) {
                best = Some((similarity, offset));
            }
        }
        best
    }
}

fn fill_padded(buffer: &mut [f64], samples: &[f32]) {
    for (slot, &s) in buffer.iter_mut().zip(samples) {
        *slot = s as f64;
    }
    buffer[samples.len()..].fill(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f64 = SOURCE_RATE as f64;

    #[test]
    fn start_up_wait_becomes_leading_silence() {
        let mut clock = CallClock::new();
        // 0.5 s in, nothing yet: keep 0.3 s behind wall time.
        let due = clock.silence_due(0.5, 0.3);
        assert_eq!(due, (0.2 * RATE) as u64);
        clock.advance(due);
        // First block of 0.1 s arrives at 1.0 s: it started at 0.9 s.
        let (pad, gap) = clock.end_gap(1.0, 0.1);
        assert_eq!(clock.samples() + pad, (0.9 * RATE) as u64);
        assert!((gap - 0.9).abs() < 1e-9);
        assert!(!clock.in_gap());
        assert_eq!(clock.silence_due(5.0, 0.3), 0, "no silence outside a gap");
    }

    #[test]
    fn a_lost_device_is_filled_with_wall_clock_silence() {
        let mut clock = CallClock::new();
        clock.end_gap(0.0, 0.0);
        clock.advance(10 * SOURCE_RATE as u64); // 10 s of audio
        clock.start_gap(10.0);
        assert_eq!(clock.gap_start_s(), Some(10.0));
        let mut inserted = 0;
        for tick in 1..=150 {
            let now = 10.0 + tick as f64 * 0.02; // 3 s of 20 ms ticks
            let due = clock.silence_due(now, 0.3);
            clock.advance(due);
            inserted += due;
        }
        assert_eq!(inserted, (2.7 * RATE) as u64);
        // Back at 13.5 s with a 20 ms block: the gap was 3.48 s.
        let (pad, gap) = clock.end_gap(13.5, 0.02);
        clock.advance(pad);
        assert!((gap - 3.48).abs() < 1e-9, "gap {gap}");
        assert_eq!(clock.samples(), (13.48 * RATE) as u64);
    }

    #[test]
    fn a_block_longer_than_the_gap_needs_no_padding() {
        let mut clock = CallClock::new();
        clock.advance(1000);
        // A 2 s block arriving 1 s after start: nothing to pad, never negative.
        let (pad, _) = clock.end_gap(1.0, 2.0);
        assert_eq!(pad, 0);
    }

    #[test]
    fn level_meter_reports_the_last_100_ms() {
        let mut meter = LevelMeter::new();
        assert_eq!(meter.levels(), (0.0, 0.0));
        meter.push(&vec![0.5; 3200]);
        let (rms, peak) = meter.levels();
        assert!((rms - 0.5).abs() < 1e-6 && (peak - 0.5).abs() < 1e-6);
        meter.push(&[-0.9]);
        assert!((meter.levels().1 - 0.9).abs() < 1e-6);
        meter.push_silence(10_000);
        assert_eq!(meter.levels(), (0.0, 0.0));
    }

    /// Deterministic noise-like test signal.
    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 - 0.5) * 0.4
            })
            .collect()
    }

    #[test]
    fn recent_audio_is_addressed_by_call_time() {
        let mut recent = RecentAudio::new();
        recent.push(&[1.0, 2.0, 3.0]);
        recent.push_silence(2);
        let mut out = Vec::new();
        assert!(recent.copy_range(1, 4, &mut out));
        assert_eq!(out, vec![2.0, 3.0, 0.0, 0.0]);
        assert!(!recent.copy_range(3, 3, &mut out), "past the end");
        recent.push(&vec![0.5; 40_000]);
        assert_eq!(recent.end(), 40_005);
        assert!(!recent.copy_range(0, 1, &mut out), "forgotten");
        assert!(recent.copy_range(40_005 - RECENT as u64, RECENT, &mut out));
        assert!(out.iter().all(|&s| s == 0.5));
    }

    #[test]
    fn a_copy_is_recognised_and_echo_or_other_speech_is_not() {
        let mic = noise(24_000, 1);
        let mut detector = CopyDetector::new(8_000, 24_000);
        // The same samples 300 ms later: a re-routed stream.
        let far: Vec<f32> = mic[12_800..12_800 + 8_000].to_vec();
        let (similarity, offset) = detector.similarity(&far, &mic).unwrap();
        assert!(similarity > 0.999, "{similarity}");
        assert_eq!(offset, 12_800);
        // Echo: the far end, attenuated, delayed and smeared, plus the rep's own voice.
        let other = noise(24_000, 2);
        let echoic: Vec<f32> =
            (0..24_000).map(|i| other[i] + 0.5 * mic[i.saturating_sub(640)] + 0.3 * mic[i.saturating_sub(700)]).collect();
        let (similarity, _) = detector.similarity(&far, &echoic).unwrap();
        assert!(similarity < 0.9, "{similarity}");
        // Unrelated speech, and silence.
        assert!(detector.similarity(&far, &other).unwrap().0 < 0.1);
        assert_eq!(detector.similarity(&far, &vec![0.0; 24_000]), None);
        // 20 dB quieter is no evidence either way.
        let quiet: Vec<f32> = mic.iter().map(|s| s * 0.1).collect();
        assert_eq!(detector.similarity(&far, &quiet), None);
    }
}
