//! Whisper's mel filterbank, computed by formula (pure; any thread).
//!
//! Whisper was trained on librosa's default filterbank: Slaney mel scale
//! (linear below 1 kHz, logarithmic above), triangular filters, "slaney" area
//! normalisation. whisper.cpp reads the filters from the model file, so the
//! converter computes them here instead of shipping OpenAI's `mel_filters.npz`.
//! Computed in f64 like librosa, stored as f32.

/// Whisper's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// Whisper's FFT size (25 ms window); the filters cover `N_FFT / 2 + 1` bins.
pub const N_FFT: usize = 400;

const F_SP: f64 = 200.0 / 3.0; // Hz per mel in the linear part
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP; // 15
fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hertz -> Slaney mel.
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Slaney mel -> hertz.
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// The `n_mels × (n_fft/2 + 1)` filterbank, row-major (one row per mel band),
/// for frequencies 0 to Nyquist: librosa's `filters.mel(sr, n_fft, n_mels)`.
pub fn mel_filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let sr = f64::from(sample_rate);
    let fft_freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * sr / n_fft as f64).collect();

    // n_mels + 2 band edges, evenly spaced in mel from 0 Hz to Nyquist.
    let mel_max = hz_to_mel(sr / 2.0);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_max * i as f64 / (n_mels + 1) as f64))
        .collect();

    let mut weights = Vec::with_capacity(n_mels * n_bins);
    for m in 0..n_mels {
        let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        // Slaney normalisation: each triangle has the same area.
        let norm = 2.0 / (hi - lo);
        for &f in &fft_freqs {
            let rising = (f - lo) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            let w = rising.min(falling).max(0.0);
            weights.push((w * norm) as f32);
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from librosa 0.11.0:
    /// `librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[band, bin]`.
    const LIBROSA: &[(usize, usize, f64)] = &[
        (0, 1, 0.02486259490251541),
        (1, 1, 0.001990821911022067),
        (1, 2, 0.022871771827340126),
        (5, 6, 0.014908484183251858),
        (10, 11, 0.004954374860972166),
        (20, 19, 0.010972199961543083),
        (30, 29, 0.01585603691637516),
        (40, 43, 0.014735566452145576),
        (50, 63, 0.00946230161935091),
        (60, 93, 0.006591092795133591),
        (70, 136, 0.004571974277496338),
        (79, 186, 0.000366741674952209),
        (79, 192, 0.0031647118739783764),
        (79, 199, 0.0004487590049393475),
    ];

    #[test]
    fn matches_librosa_slaney_filterbank() {
        let filters = mel_filters(SAMPLE_RATE, N_FFT, 80);
        assert_eq!(filters.len(), 80 * 201);
        for &(band, bin, expected) in LIBROSA {
            let got = f64::from(filters[band * 201 + bin]);
            assert!(
                (got - expected).abs() <= 1e-8,
                "band {band} bin {bin}: got {got:e}, librosa {expected:e}"
            );
        }
        // librosa: 391 non-zero weights, summing to 1.999024092387117.
        let non_zero = filters.iter().filter(|w| **w != 0.0).count();
        assert_eq!(non_zero, 391);
        let sum: f64 = filters.iter().map(|w| f64::from(*w)).sum();
        assert!((sum - 1.999024092387117).abs() < 1e-6, "sum {sum}");
        // Zeros where librosa has zeros: bin 0 (DC) and the Nyquist bin.
        assert_eq!(filters[0], 0.0);
        assert_eq!(filters[79 * 201 + 200], 0.0);
        assert!(filters.iter().all(|w| *w >= 0.0 && w.is_finite()));
    }

    #[test]
    fn mel_scale_round_trips_and_is_linear_below_1khz() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
        }
        assert!((hz_to_mel(200.0) - 3.0).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }
}
