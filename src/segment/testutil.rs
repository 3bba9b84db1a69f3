//! Test speech and noise: espeak-ng clips rendered at test time, laid out on
//! a timeline with known gaps, mixed with generated noise at a chosen SNR.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::audio::convert::resample_to_16k;
use crate::audio::file::read_audio;

pub const RATE: usize = 16_000;

/// Renders `text` with espeak-ng (`voice`: "en-us", "en-us+f3") at 16 kHz.
/// Cached per process: several tests use the same sentences.
type ClipCache = Mutex<HashMap<(String, String), Vec<f32>>>;

pub fn espeak(text: &str, voice: &str) -> Vec<f32> {
    static CACHE: OnceLock<ClipCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(clip) = cache
        .lock()
        .unwrap()
        .get(&(text.to_owned(), voice.to_owned()))
    {
        return clip.clone();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "165", "-w"])
        .arg(&path)
        .arg(text)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("espeak-ng failed ({s}) rendering {text:?}"),
        Err(e) => {
            panic!("these tests need espeak-ng to make speech (apt-get install espeak-ng): {e}")
        }
    }
    let clip = load_16k(&path);
    cache
        .lock()
        .unwrap()
        .insert((text.to_owned(), voice.to_owned()), clip.clone());
    clip
}

fn load_16k(path: &Path) -> Vec<f32> {
    let decoded = read_audio(path).unwrap();
    resample_to_16k(&decoded.channels[0], decoded.sample_rate)
}

fn power_db(x: &[f32]) -> f32 {
    let p = x.iter().map(|&s| (s as f64) * (s as f64)).sum::<f64>() / x.len().max(1) as f64;
    (10.0 * (p + 1e-12).log10()) as f32
}

/// The clip without its leading/trailing silence: first to last 5 ms frame
/// above −55 dBFS.
pub fn trim(clip: &[f32]) -> &[f32] {
    let f = RATE / 200;
    let n = clip.len() / f;
    let loud = |i: usize| power_db(&clip[i * f..(i + 1) * f]) > -55.0;
    let first = (0..n).find(|&i| loud(i)).expect("clip has sound");
    let last = (0..n).rev().find(|&i| loud(i)).unwrap();
    &clip[first * f..(last + 1) * f]
}

/// Speech laid out on a timeline with known positions.
pub struct Scene {
    pub samples: Vec<f32>,
    /// (start_s, end_s) of each trimmed clip.
    pub truth: Vec<(f64, f64)>,
}

impl Scene {
    /// `clips[i]` is placed after `gaps_s[i]` of silence; `tail_s` of silence ends it.
    /// Speech is scaled so its active level is `level_db` dBFS.
    pub fn new(clips: &[Vec<f32>], gaps_s: &[f64], tail_s: f64, level_db: f32) -> Scene {
        let mut samples = Vec::new();
        let mut truth = Vec::new();
        for (clip, gap) in clips.iter().zip(gaps_s) {
            samples.resize(samples.len() + (gap * RATE as f64) as usize, 0.0);
            let clip = trim(clip);
            let start = samples.len();
            samples.extend_from_slice(clip);
            truth.push((
                start as f64 / RATE as f64,
                samples.len() as f64 / RATE as f64,
            ));
        }
        samples.resize(samples.len() + (tail_s * RATE as f64) as usize, 0.0);
        let gain = 10f32.powf((level_db - active_level_db(&samples)) / 20.0);
        samples.iter_mut().for_each(|s| *s *= gain);
        Scene { samples, truth }
    }

    pub fn talk_time_s(&self) -> f64 {
        self.truth.iter().map(|(s, e)| e - s).sum()
    }
}

/// Mean power (dBFS) of the 10 ms frames above −50 dBFS.
pub fn active_level_db(x: &[f32]) -> f32 {
    let frames: Vec<f32> = x
        .chunks_exact(RATE / 100)
        .map(power_db)
        .filter(|&db| db > -50.0)
        .collect();
    let mean = frames
        .iter()
        .map(|db| 10f64.powf(*db as f64 / 10.0))
        .sum::<f64>()
        / frames.len().max(1) as f64;
    (10.0 * mean.log10()) as f32
}

#[derive(Debug, Clone, Copy)]
pub enum Noise {
    White,
    Pink,
    /// 50 Hz mains hum with harmonics.
    Hum,
}

/// `n` samples of noise at `level_db` dBFS (RMS), deterministic per seed.
pub fn noise(kind: Noise, n: usize, level_db: f32, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut white = move || {
        // Sum of uniforms: near enough Gaussian for a noise bed.
        let mut acc = 0.0f32;
        for _ in 0..4 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            acc += (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        acc * 1.732
    };
    let mut x: Vec<f32> = match kind {
        Noise::White => (0..n).map(|_| white()).collect(),
        Noise::Pink => {
            // Paul Kellet's pink filter.
            let mut b = [0.0f32; 7];
            (0..n)
                .map(|_| {
                    let w = white();
                    b[0] = 0.99886 * b[0] + w * 0.0555179;
                    b[1] = 0.99332 * b[1] + w * 0.0750759;
                    b[2] = 0.96900 * b[2] + w * 0.153_852;
                    b[3] = 0.86650 * b[3] + w * 0.3104856;
                    b[4] = 0.55000 * b[4] + w * 0.5329522;
                    b[5] = -0.7616 * b[5] - w * 0.0168980;
                    let y = b.iter().sum::<f32>() + w * 0.5362;
                    b[6] = w * 0.115926;
                    y
                })
                .collect()
        }
        Noise::Hum => (0..n)
            .map(|i| {
                let w = 2.0 * std::f32::consts::PI * 50.0 * i as f32 / RATE as f32;
                w.sin() + 0.5 * (2.0 * w).sin() + 0.3 * (3.0 * w).sin() + 0.15 * (5.0 * w).sin()
            })
            .collect(),
    };
    let gain = 10f32.powf((level_db - power_db(&x)) / 20.0);
    x.iter_mut().for_each(|s| *s *= gain);
    x
}

pub fn mix(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// Sales-call sentences, alternating voices, as in the VAD measurements.
pub const SENTENCES: [(&str, &str); 6] = [
    ("Thanks for taking the time today.", "en-us"),
    ("Sure, happy to chat.", "en-us+f3"),
    (
        "Right now we use spreadsheets, and honestly it is a mess every quarter.",
        "en-us",
    ),
    ("Yes.", "en-us+f3"),
    (
        "What would it mean for your team if that audit took one day?",
        "en-us",
    ),
    (
        "My boss signs off on anything over ten thousand.",
        "en-us+f3",
    ),
];

/// A tiny deterministic generator for chunk sizes and layouts.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}
