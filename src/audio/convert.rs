//! Sample conversion between capture/file formats and the 16 kHz mono f32 the
//! segmenter and whisper want: channel picking/downmixing and resampling.
//!
//! Runs on the segmenter thread (live) or the loading thread (files), never on
//! the audio callback: resampling costs a few FFTs per chunk.
//!
//! Resampling is time-aligned: the resampler's group delay is removed, so the
//! n-th output sample sits at the same call time as input sample
//! `n * rate / 16000`. Call-time stamps are computed from sample counts, so a
//! constant lag here would shift every utterance.

use rubato::{
    FftFixedIn, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

/// The rate everything downstream of conversion works at (whisper's rate).
pub const TARGET_RATE: u32 = 16_000;

/// Which channel of an interleaved multi-channel stream to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelPick {
    /// One channel, by index (0 = left).
    Channel(usize),
    /// The average of all channels.
    Mix,
}

/// Appends the average of all channels of `interleaved` (frames of `channels`
/// samples) to `out`. A trailing partial frame is ignored.
pub fn downmix_interleaved(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    pick_channel(interleaved, channels, ChannelPick::Mix, out);
}

/// Appends one channel (or the mix) of `interleaved` to `out`. A channel index
/// past the last channel yields silence rather than a panic, so a device that
/// changes its channel count mid-call cannot crash the segmenter.
pub fn pick_channel(interleaved: &[f32], channels: usize, pick: ChannelPick, out: &mut Vec<f32>) {
    if channels == 0 {
        return;
    }
    let frames = interleaved.chunks_exact(channels);
    out.reserve(frames.len());
    match pick {
        ChannelPick::Channel(ch) if ch < channels => out.extend(frames.map(|f| f[ch])),
        ChannelPick::Channel(_) => out.extend(frames.map(|_| 0.0)),
        ChannelPick::Mix if channels == 1 => out.extend_from_slice(&interleaved[..frames.len()]),
        ChannelPick::Mix => {
            let scale = 1.0 / channels as f32;
            out.extend(frames.map(|f| f.iter().sum::<f32>() * scale))
        }
    }
}

/// Splits interleaved frames into planar channels, appending to `planar`
/// (which must hold `channels` vectors).
pub fn deinterleave_into(interleaved: &[f32], planar: &mut [Vec<f32>]) {
    let channels = planar.len();
    if channels == 0 {
        return;
    }
    for frame in interleaved.chunks_exact(channels) {
        for (ch, &s) in planar.iter_mut().zip(frame) {
            ch.push(s);
        }
    }
}

/// Resamples a whole mono signal to 16 kHz (offline). Output length is
/// `round(len * 16000 / rate)` and it is time-aligned with the input.
/// Band-limited (FFT or sinc) resampling, so speech above 8 kHz is filtered
/// out rather than aliased.
pub fn resample_to_16k(samples: &[f32], rate: u32) -> Vec<f32> {
    if rate == TARGET_RATE {
        return samples.to_vec();
    }
    let mut resampler = StreamResampler::new(rate);
    let mut out = Vec::with_capacity(
        StreamResampler::expected_output_len(samples.len() as u64, rate) as usize + 1,
    );
    resampler.push(samples, &mut out);
    resampler.flush(&mut out);
    out
}

enum Engine {
    /// Same rate: samples pass straight through.
    Passthrough,
    Fft(Box<FftFixedIn<f32>>),
    Sinc(Box<SincFixedIn<f32>>),
}

/// A streaming mono resampler from any input rate to 16 kHz.
///
/// Push chunks of any size; 16 kHz samples come out as soon as a whole input
/// block (about 20 ms) is available. All working buffers are allocated in
/// `new`; `push` only grows the caller's `out` vector (reserve it to avoid
/// that too). Not for the audio callback itself: use it on the thread that
/// drains the callback's queue.
pub struct StreamResampler {
    engine: Engine,
    input_rate: u32,
    /// Input block being filled (length = the engine's block size).
    block: Vec<f32>,
    filled: usize,
    /// Engine output scratch.
    scratch: Vec<f32>,
    /// Output samples still to drop to cancel the engine's delay.
    delay_left: usize,
    samples_in: u64,
    samples_out: u64,
}

impl StreamResampler {
    /// A resampler from `input_rate` Hz to [`TARGET_RATE`]. A rate of 0 is
    /// treated as 16 kHz (nothing sensible can be done with it; callers
    /// validate rates where they are read).
    pub fn new(input_rate: u32) -> Self {
        let input_rate = if input_rate == 0 {
            TARGET_RATE
        } else {
            input_rate
        };
        let (engine, block_len) = if input_rate == TARGET_RATE {
            (Engine::Passthrough, 0)
        } else {
            let gcd = gcd(input_rate as usize, TARGET_RATE as usize);
            let min_block = input_rate as usize / gcd;
            // ~20 ms blocks keep latency low; the FFT engine needs whole
            // multiples of rate/gcd, which is small for every common rate.
            let wanted = (input_rate as usize / 50).max(64);
            if min_block <= 4096 {
                let block = min_block * wanted.div_ceil(min_block);
                let fft =
                    FftFixedIn::<f32>::new(input_rate as usize, TARGET_RATE as usize, block, 1, 1)
                        .expect("valid FFT resampler parameters");
                (Engine::Fft(Box::new(fft)), block)
            } else {
                // Odd rates (e.g. 44101 Hz from a drifting device) have no
                // small common block: use the sinc interpolator.
                let params = SincInterpolationParameters {
                    sinc_len: 128,
                    f_cutoff: 0.925,
                    oversampling_factor: 128,
                    interpolation: SincInterpolationType::Cubic,
                    window: WindowFunction::BlackmanHarris2,
                };
                let ratio = TARGET_RATE as f64 / input_rate as f64;
                let sinc = SincFixedIn::<f32>::new(ratio, 1.0, params, wanted, 1)
                    .expect("valid sinc resampler parameters");
                (Engine::Sinc(Box::new(sinc)), wanted)
            }
        };
        let (out_max, delay) = match &engine {
            Engine::Passthrough => (0, 0),
            Engine::Fft(r) => (r.output_frames_max(), r.output_delay()),
            Engine::Sinc(r) => (r.output_frames_max(), sinc_delay(r)),
        };
        StreamResampler {
            engine,
            input_rate,
            block: vec![0.0; block_len],
            filled: 0,
            scratch: vec![0.0; out_max],
            delay_left: delay,
            samples_in: 0,
            samples_out: 0,
        }
    }

    pub fn input_rate(&self) -> u32 {
        self.input_rate
    }

    /// Input samples that make one processing block (0 for passthrough).
    pub fn block_len(&self) -> usize {
        self.block.len()
    }

    /// How many 16 kHz samples `input_len` samples at `rate` become.
    pub fn expected_output_len(input_len: u64, rate: u32) -> u64 {
        if rate == 0 {
            return input_len;
        }
        (input_len * TARGET_RATE as u64 + rate as u64 / 2) / rate as u64
    }

    /// Feeds input samples; appends every 16 kHz sample that is ready to `out`.
    pub fn push(&mut self, mut input: &[f32], out: &mut Vec<f32>) {
        self.samples_in += input.len() as u64;
        if matches!(self.engine, Engine::Passthrough) {
            out.extend_from_slice(input);
            self.samples_out += input.len() as u64;
            return;
        }
        while !input.is_empty() {
            let take = (self.block.len() - self.filled).min(input.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled == self.block.len() {
                self.process_block(out, u64::MAX);
            }
        }
    }

    /// Ends the stream: pushes out everything still inside the resampler
    /// (zero-padding the tail) so the total output is exactly
    /// `expected_output_len(samples pushed)`. The resampler can be reused
    /// afterwards as if new.
    pub fn flush(&mut self, out: &mut Vec<f32>) {
        let target = Self::expected_output_len(self.samples_in, self.input_rate);
        if !matches!(self.engine, Engine::Passthrough) {
            // Each padded block pushes at least a block's worth of output
            // through; bound the loop in case an engine produces nothing.
            let mut guard = 0;
            while self.samples_out < target && guard < 64 {
                self.block[self.filled..].fill(0.0);
                self.filled = self.block.len();
                self.process_block(out, target);
                guard += 1;
            }
        }
        self.reset();
    }

    /// Forgets all buffered input and restarts the delay compensation.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.samples_in = 0;
        self.samples_out = 0;
        match &mut self.engine {
            Engine::Passthrough => self.delay_left = 0,
            Engine::Fft(r) => {
                r.reset();
                self.delay_left = r.output_delay();
            }
            Engine::Sinc(r) => {
                r.reset();
                self.delay_left = sinc_delay(r);
            }
        }
    }

    fn process_block(&mut self, out: &mut Vec<f32>, limit: u64) {
        let input = [&self.block[..]];
        let mut output = [&mut self.scratch[..]];
        let result = match &mut self.engine {
            Engine::Passthrough => return,
            Engine::Fft(r) => r.process_into_buffer(&input, &mut output, None),
            Engine::Sinc(r) => r.process_into_buffer(&input, &mut output, None),
        };
        self.filled = 0;
        // The buffers are sized from the engine's own maxima, so this cannot
        // fail; if it ever did, dropping one block is better than a panic.
        let Ok((_, produced)) = result else { return };
        let mut produced = &self.scratch[..produced];
        let skip = self.delay_left.min(produced.len());
        self.delay_left -= skip;
        produced = &produced[skip..];
        let room = limit
            .saturating_sub(self.samples_out)
            .min(produced.len() as u64) as usize;
        out.extend_from_slice(&produced[..room]);
        self.samples_out += room as u64;
    }
}

/// rubato 0.15's `SincFixedIn` starts its read position half a filter
/// early, so its output is already centred on the input: the delay its
/// `output_delay` reports is not actually in the output (measured by
/// `resampling_is_time_aligned`).
fn sinc_delay(_resampler: &SincFixedIn<f32>) -> usize {
    0
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, secs: f32, amp: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Frequency from rising zero crossings, over the middle of the signal
    /// (edges carry the resampler's start-up and flush transients).
    fn measured_freq(x: &[f32], rate: u32) -> f64 {
        let lo = x.len() / 10;
        let hi = x.len() - x.len() / 10;
        let crossings: Vec<f64> = (lo + 1..hi)
            .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
            // Sub-sample position by linear interpolation.
            .map(|i| (i - 1) as f64 + (-x[i - 1] / (x[i] - x[i - 1])) as f64)
            .collect();
        let span = crossings[crossings.len() - 1] - crossings[0];
        (crossings.len() - 1) as f64 / span * rate as f64
    }

    fn rms(x: &[f32]) -> f64 {
        let lo = x.len() / 10;
        let hi = x.len() - x.len() / 10;
        (x[lo..hi].iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / (hi - lo) as f64).sqrt()
    }

    #[test]
    fn resampling_preserves_frequency_amplitude_and_length() {
        for rate in [8_000u32, 22_050, 32_000, 44_100, 48_000, 96_000, 44_101] {
            for freq in [220.0f32, 1000.0, 3000.0] {
                let input = sine(freq, rate, 2.0, 0.5);
                let out = resample_to_16k(&input, rate);
                let expected = (input.len() as f64 * 16_000.0 / rate as f64).round() as usize;
                assert_eq!(out.len(), expected, "length at {rate} Hz");
                let f = measured_freq(&out, TARGET_RATE);
                assert!(
                    (f - freq as f64).abs() < freq as f64 * 0.002,
                    "{rate} Hz: {freq} Hz sine came out at {f:.2} Hz"
                );
                let r = rms(&out);
                let want = 0.5 / 2f64.sqrt();
                assert!(
                    (r - want).abs() < want * 0.02,
                    "{rate} Hz, {freq} Hz: rms {r:.4}, want {want:.4}"
                );
            }
        }
    }

    #[test]
    fn resampling_is_time_aligned() {
        // A click at 0.5 s must come out at 0.5 s (delay compensated).
        for rate in [22_050u32, 44_100, 48_000, 44_101] {
            let mut input = vec![0.0f32; rate as usize];
            input[rate as usize / 2] = 1.0;
            let out = resample_to_16k(&input, rate);
            let peak = out
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().partial_cmp(&b.1.abs()).unwrap())
                .unwrap()
                .0;
            assert!(
                (peak as i64 - 8000).abs() <= 2,
                "{rate} Hz: click at sample {peak}, want 8000"
            );
        }
    }

    #[test]
    fn frequencies_above_8k_are_filtered_not_aliased() {
        // 10 kHz at 48 kHz would alias to 6 kHz without a low-pass.
        let input = sine(10_000.0, 48_000, 1.0, 0.5);
        let out = resample_to_16k(&input, 48_000);
        assert!(
            rms(&out) < 0.005,
            "10 kHz leaked through: rms {}",
            rms(&out)
        );
    }

    #[test]
    fn streaming_in_odd_chunks_matches_offline() {
        let input = sine(440.0, 44_100, 1.5, 0.3);
        let offline = resample_to_16k(&input, 44_100);
        let mut r = StreamResampler::new(44_100);
        let mut out = Vec::new();
        let mut pos = 0;
        let sizes = [1usize, 7, 512, 33, 4410, 100, 2, 999];
        let mut k = 0;
        while pos < input.len() {
            let n = sizes[k % sizes.len()].min(input.len() - pos);
            r.push(&input[pos..pos + n], &mut out);
            pos += n;
            k += 1;
        }
        r.flush(&mut out);
        assert_eq!(out.len(), offline.len());
        let max_diff = out
            .iter()
            .zip(&offline)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(max_diff < 1e-5, "streamed output differs by {max_diff}");
    }

    #[test]
    fn channel_helpers() {
        let inter = [0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4];
        let mut left = Vec::new();
        pick_channel(&inter, 2, ChannelPick::Channel(0), &mut left);
        assert_eq!(left, vec![0.1, 0.2, 0.3]);
        let mut right = Vec::new();
        pick_channel(&inter, 2, ChannelPick::Channel(1), &mut right);
        assert_eq!(right, vec![0.9, 0.8, 0.7]);
        let mut mix = Vec::new();
        downmix_interleaved(&inter, 2, &mut mix);
        assert!(mix.iter().all(|&m| (m - 0.5).abs() < 1e-6));
        let mut missing = Vec::new();
        pick_channel(&inter, 2, ChannelPick::Channel(5), &mut missing);
        assert_eq!(missing, vec![0.0; 3]);
        let mut planar = vec![Vec::new(), Vec::new()];
        deinterleave_into(&inter, &mut planar);
        assert_eq!(planar[0], left);
        assert_eq!(planar[1], right);
    }
}
