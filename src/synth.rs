//! Synthetic calls for tests, benchmarks and the demo: a script of rep and
//! prospect lines is rendered with espeak-ng (two distinct voices) onto two
//! 16 kHz channels, and the truth (who spoke when, and how much speech there
//! really is) is measured from the rendered samples, not guessed from the text.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::audio::convert::resample_to_16k;
use crate::call::Speaker;

pub const RATE: u32 = 16_000;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("line {line}: {problem}")]
    Script { line: usize, problem: String },
    #[error("espeak-ng failed: {0} (install it with `apt-get install espeak-ng`)")]
    Espeak(String),
    #[error("{}: {source}", path.display())]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("writing WAV: {0}")]
    Wav(String),
}

/// One scripted line: who says it, what, and how long after the previous line ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptLine {
    pub speaker: Speaker,
    pub text: String,
    /// Silence before this line starts, seconds. Negative values overlap the previous line.
    pub gap_before_s: f64,
}

/// A line as rendered: where it landed and how much of it is actual speech.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TruthLine {
    pub speaker: Speaker,
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Seconds of audible speech inside [start_s, end_s], measured in 10 ms frames.
    pub speech_s: f64,
}

/// Two channels plus the truth about them.
#[derive(Debug, Clone)]
pub struct RenderedCall {
    pub rep: Vec<f32>,
    pub prospect: Vec<f32>,
    pub truth: Vec<TruthLine>,
    /// Samples per channel; the channels are empty when only the timing was asked
    /// for ([`time_lines`]).
    pub samples: usize,
}

impl RenderedCall {
    pub fn duration_s(&self) -> f64 {
        self.samples.max(self.rep.len()).max(self.prospect.len()) as f64 / RATE as f64
    }

    /// Measured speech seconds per speaker.
    pub fn talk_seconds(&self, speaker: Speaker) -> f64 {
        self.truth.iter().filter(|l| l.speaker == speaker).map(|l| l.speech_s).sum()
    }

    /// The rep's share of all measured speech, 0–1.
    pub fn talk_ratio_rep(&self) -> f64 {
        let rep = self.talk_seconds(Speaker::Rep);
        let total = rep + self.talk_seconds(Speaker::Prospect);
        if total > 0.0 {
            rep / total
        } else {
            0.0
        }
    }

    /// All the words one speaker says, in order.
    pub fn text_of(&self, speaker: Speaker) -> String {
        self.truth.iter().filter(|l| l.speaker == speaker).map(|l| l.text.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// Writes a 16 kHz stereo 16-bit WAV: left rep, right prospect.
    pub fn write_wav(&self, path: &Path) -> Result<(), SynthError> {
        write_stereo_wav(path, &self.rep, &self.prospect)
    }
}

/// Rendering choices.
#[derive(Debug, Clone)]
pub struct Voices {
    pub rep: String,
    pub prospect: String,
    /// Words per minute.
    pub speed: u32,
    /// Silence before the first line, seconds.
    pub lead_in_s: f64,
    /// Silence after the last line, seconds.
    pub tail_s: f64,
}

impl Default for Voices {
    fn default() -> Self {
        Voices { rep: "en-us+klatt".into(), prospect: "en-us+klatt5".into(), speed: 160, lead_in_s: 0.5, tail_s: 1.0 }
    }
}

/// Parses a script: `rep: text` and `prospect: text` lines, `pause: SECONDS`
/// to add silence before the next line, `overlap: SECONDS` to start the next
/// line that much before the previous ends, and `#` comments.
/// Lines follow each other with a 0.6 s gap unless told otherwise.
pub fn parse_script(text: &str) -> Result<Vec<ScriptLine>, SynthError> {
    const DEFAULT_GAP_S: f64 = 0.6;
    let mut lines = Vec::new();
    let mut next_gap = DEFAULT_GAP_S;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |problem: String| SynthError::Script { line: index + 1, problem };
        let (key, value) = line.split_once(':').ok_or_else(|| bad(format!("expected `rep:`, `prospect:`, `pause:` or `overlap:`, got '{line}'")))?;
        let value = value.trim();
        let seconds = || value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).ok_or_else(|| bad(format!("'{value}' is not a number of seconds")));
        match key.trim().to_ascii_lowercase().as_str() {
            "rep" | "prospect" => {
                if value.is_empty() {
                    return Err(bad("empty line of speech".into()));
                }
                let speaker = if key.trim().eq_ignore_ascii_case("rep") { Speaker::Rep } else { Speaker::Prospect };
                lines.push(ScriptLine { speaker, text: value.to_string(), gap_before_s: next_gap });
                next_gap = DEFAULT_GAP_S;
            }
            "pause" => next_gap = seconds()?,
            "overlap" => next_gap = -seconds()?,
            other => return Err(bad(format!("unknown speaker or directive '{other}'"))),
        }
    }
    Ok(lines)
}

/// Renders `lines` with espeak-ng.
pub fn render(lines: &[ScriptLine], voices: &Voices) -> Result<RenderedCall, SynthError> {
    let speech = speak_all(lines, voices)?;
    let spoken: Vec<SpokenLine> = speech.iter().map(|s| SpokenLine::measure(s)).collect();
    let (truth, starts, samples) = lay_out(lines, &spoken, voices);
    let mut rep = vec![0.0; samples];
    let mut prospect = vec![0.0; samples];
    for ((line, speech), start) in lines.iter().zip(&speech).zip(starts) {
        let channel = match line.speaker {
            Speaker::Rep => &mut rep,
            Speaker::Prospect => &mut prospect,
        };
        for (out, sample) in channel[start..].iter_mut().zip(speech) {
            *out += sample;
        }
    }
    Ok(RenderedCall { rep, prospect, truth, samples })
}

/// Where `lines` land when rendered, without keeping the samples: the truth lines
/// and the call's length, exactly as [`render`] gives them. Text-mode evaluation
/// needs nothing else, and with `cache` (a file of measured lines, keyed by voice,
/// speed, espeak-ng version and text) a line is spoken once per machine, not once
/// per run.
pub fn time_lines(lines: &[ScriptLine], voices: &Voices, cache: Option<&Path>) -> Result<RenderedCall, SynthError> {
    let keys: Vec<String> = lines.iter().map(|l| timing_cache::key(voice_of(voices, l.speaker), voices.speed, &l.text)).collect();
    let cached = match cache {
        Some(path) => timing_cache::look_up(path, &keys),
        None => vec![None; keys.len()],
    };
    let missing: Vec<ScriptLine> =
        lines.iter().zip(&cached).filter(|(_, c)| c.is_none()).map(|(l, _)| l.clone()).collect();
    let mut fresh = std::collections::HashMap::new();
    for (line, speech) in missing.iter().zip(speak_all(&missing, voices)?) {
        let key = timing_cache::key(voice_of(voices, line.speaker), voices.speed, &line.text);
        fresh.insert(key, SpokenLine::measure(&speech));
    }
    if let Some(path) = cache {
        timing_cache::store(path, &fresh);
    }
    let spoken: Vec<SpokenLine> = keys
        .iter()
        .zip(cached)
        .map(|(k, c)| c.or_else(|| fresh.get(k).copied()).expect("every line was timed"))
        .collect();
    let (truth, _, samples) = lay_out(lines, &spoken, voices);
    Ok(RenderedCall { rep: Vec::new(), prospect: Vec::new(), truth, samples })
}

/// One spoken line, measured: its length and where its speech is.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SpokenLine {
    samples: usize,
    first_s: f64,
    last_s: f64,
    speech_s: f64,
}

impl SpokenLine {
    fn measure(speech: &[f32]) -> SpokenLine {
        let (first_s, last_s, speech_s) = measure_speech(speech);
        SpokenLine { samples: speech.len(), first_s, last_s, speech_s }
    }
}

/// Places the spoken lines one after another (with each line's gap) and returns the
/// truth lines, each line's first sample, and the call's length in samples.
fn lay_out(lines: &[ScriptLine], spoken: &[SpokenLine], voices: &Voices) -> (Vec<TruthLine>, Vec<usize>, usize) {
    let mut truth = Vec::with_capacity(lines.len());
    let mut starts = Vec::with_capacity(lines.len());
    let mut end = 0usize;
    let mut cursor = voices.lead_in_s;
    for (line, spoken) in lines.iter().zip(spoken) {
        let start_s = (cursor + line.gap_before_s).max(0.0);
        let start = (start_s * RATE as f64).round() as usize;
        end = end.max(start + spoken.samples);
        truth.push(TruthLine {
            speaker: line.speaker,
            text: line.text.clone(),
            start_s: start_s + spoken.first_s,
            end_s: start_s + spoken.last_s,
            speech_s: spoken.speech_s,
        });
        starts.push(start);
        cursor = start_s + spoken.samples as f64 / RATE as f64;
    }
    let total = ((cursor + voices.tail_s) * RATE as f64).round() as usize;
    (truth, starts, total.max(end))
}

fn voice_of(voices: &Voices, speaker: Speaker) -> &str {
    match speaker {
        Speaker::Rep => &voices.rep,
        Speaker::Prospect => &voices.prospect,
    }
}

/// The line-timing cache of [`time_lines`]: one tab-separated line per spoken line,
/// appended (a short `write` on an `O_APPEND` file, so concurrent runs interleave
/// whole lines). A line that does not parse is skipped; the worst a bad cache does
/// is make a line be spoken again.
mod timing_cache {
    use std::collections::HashMap;
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, OnceLock};

    use super::SpokenLine;

    /// The espeak-ng version, part of every key: another version speaks differently.
    fn espeak_version() -> &'static str {
        static VERSION: OnceLock<String> = OnceLock::new();
        VERSION.get_or_init(|| {
            std::process::Command::new("espeak-ng")
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        })
    }

    pub fn key(voice: &str, speed: u32, text: &str) -> String {
        format!("{}|{voice}|{speed}|{}", espeak_version(), text.replace(['\t', '\n'], " "))
    }

    type Lines = HashMap<String, SpokenLine>;

    /// The cache files read so far in this process (each is read once).
    fn memo() -> &'static Mutex<HashMap<PathBuf, Lines>> {
        static MEMO: OnceLock<Mutex<HashMap<PathBuf, Lines>>> = OnceLock::new();
        MEMO.get_or_init(Default::default)
    }

    /// The cached timing of each key, if any.
    pub fn look_up(path: &Path, keys: &[String]) -> Vec<Option<SpokenLine>> {
        let mut memo = memo().lock().unwrap_or_else(|e| e.into_inner());
        let lines = memo.entry(path.to_path_buf()).or_insert_with(|| read(path));
        keys.iter().map(|k| lines.get(k).copied()).collect()
    }

    fn read(path: &Path) -> Lines {
        let Ok(text) = std::fs::read_to_string(path) else { return HashMap::new() };
        text.lines()
            .filter_map(|line| {
                let mut f = line.split('\t');
                let key = f.next()?.to_string();
                let spoken = SpokenLine {
                    samples: f.next()?.parse().ok()?,
                    first_s: f.next()?.parse().ok()?,
                    last_s: f.next()?.parse().ok()?,
                    speech_s: f.next()?.parse().ok()?,
                };
                Some((key, spoken))
            })
            .collect()
    }

    pub fn store(path: &Path, fresh: &Lines) {
        if fresh.is_empty() {
            return;
        }
        let mut memo = memo().lock().unwrap_or_else(|e| e.into_inner());
        memo.entry(path.to_path_buf()).or_default().extend(fresh.iter().map(|(k, v)| (k.clone(), *v)));
        drop(memo);
        let mut text = String::new();
        for (key, s) in fresh {
            // f64's Display prints the shortest text that parses back to the same value.
            text.push_str(&format!("{key}\t{}\t{}\t{}\t{}\n", s.samples, s.first_s, s.last_s, s.speech_s));
        }
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let written = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("line-timing cache {}: {e}; lines will be spoken again next time", path.display());
        }
    }
}

/// Speaks every line, one espeak-ng process per line and as many at once as the
/// machine has cores: the lines are independent, and the evaluation renders
/// thousands of them (it spent most of its time waiting on one process at a time).
fn speak_all(lines: &[ScriptLine], voices: &Voices) -> Result<Vec<Vec<f32>>, SynthError> {
    crate::parallel::map_in_order(lines, |line| speak(&line.text, voice_of(voices, line.speaker), voices.speed))
        .into_iter()
        .collect()
}

/// Runs espeak-ng and returns 16 kHz mono samples.
pub fn speak(text: &str, voice: &str, speed: u32) -> Result<Vec<f32>, SynthError> {
    let output = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &speed.to_string(), "--stdout"])
        .arg(text)
        .output()
        .map_err(|e| SynthError::Espeak(e.to_string()))?;
    if !output.status.success() {
        return Err(SynthError::Espeak(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    // espeak-ng streams a WAV whose header leaves the data length unset; read
    // the format from the header and take the samples after it ourselves.
    let bytes = output.stdout;
    let data_at = find_chunk(&bytes, b"data").ok_or_else(|| SynthError::Espeak("no WAV data in espeak-ng output".into()))?;
    let rate = bytes.get(24..28).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(22_050);
    let samples: Vec<f32> = bytes[data_at..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect();
    Ok(resample_to_16k(&samples, rate))
}

fn find_chunk(bytes: &[u8], id: &[u8; 4]) -> Option<usize> {
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        if &bytes[at..at + 4] == id {
            return Some(at + 8);
        }
        at = at.checked_add(8 + size + (size & 1))?;
    }
    None
}

/// First and last audible instants (seconds) and seconds of audible speech,
/// in 10 ms frames; pauses between words up to 200 ms count as speech, as a
/// listener (and a VAD with hangover) would count them.
pub fn measure_speech(samples: &[f32]) -> (f64, f64, f64) {
    const FRAME: usize = (RATE / 100) as usize;
    const THRESHOLD_RMS: f32 = 0.003;
    const BRIDGE_FRAMES: usize = 20;
    let loud: Vec<bool> = samples
        .chunks(FRAME)
        .map(|f| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt() > THRESHOLD_RMS)
        .collect();
    let Some(first) = loud.iter().position(|&l| l) else {
        return (0.0, 0.0, 0.0);
    };
    let last = loud.iter().rposition(|&l| l).unwrap_or(first);
    let mut speech_frames = 0;
    let mut quiet_run = 0;
    for &is_loud in &loud[first..=last] {
        if is_loud {
            speech_frames += 1 + if quiet_run <= BRIDGE_FRAMES { quiet_run } else { 0 };
            quiet_run = 0;
        } else {
            quiet_run += 1;
        }
    }
    let frame_s = FRAME as f64 / RATE as f64;
    (first as f64 * frame_s, (last + 1) as f64 * frame_s, speech_frames as f64 * frame_s)
}

/// 16 kHz stereo 16-bit WAV, left = rep, right = prospect.
pub fn write_stereo_wav(path: &Path, left: &[f32], right: &[f32]) -> Result<(), SynthError> {
    let spec = hound::WavSpec { channels: 2, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).map_err(|e| SynthError::Wav(format!("{}: {e}", path.display())))?;
    let to_i16 = |s: f32| (s.clamp(-1.0, 1.0) * 32767.0) as i16;
    for i in 0..left.len().max(right.len()) {
        for channel in [left, right] {
            writer
                .write_sample(to_i16(channel.get(i).copied().unwrap_or(0.0)))
                .map_err(|e| SynthError::Wav(e.to_string()))?;
        }
    }
    writer.finalize().map_err(|e| SynthError::Wav(e.to_string()))
}

/// How the far end reaches a speakerphone's mic: a direct path `delay_ms`
/// late plus a room's reverb (exponentially decaying noise, energy falling
/// 60 dB in `rt60_s`, as much energy as the direct path), the whole echo
/// `bleed_db` below the far end's level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoPath {
    pub bleed_db: f64,
    pub delay_ms: f64,
    pub rt60_s: f64,
    /// Seeds the reverb's noise (and the mic's own noise floor).
    pub seed: u64,
}

impl EchoPath {
    /// The far end → mic impulse response at 16 kHz.
    pub fn impulse_response(&self) -> Vec<f64> {
        let delay = (self.delay_ms / 1000.0 * RATE as f64).round() as usize;
        // Reverb from 2 ms after the direct sound, cut where it is 60 dB down.
        let onset = (0.002 * RATE as f64) as usize;
        let tail = (self.rt60_s * RATE as f64) as usize;
        let mut h = vec![0.0f64; delay + onset + tail];
        let mut rng = self.seed.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
        let mut reverb_energy = 0.0;
        for (i, tap) in h[delay + onset..].iter_mut().enumerate() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let uniform = (rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            // Amplitude −60 dB at rt60: exp(−6.91 t / rt60).
            *tap = uniform * (-6.91 * i as f64 / RATE as f64 / self.rt60_s).exp();
            reverb_energy += *tap * *tap;
        }
        let reverb_gain = 1.0 / reverb_energy.sqrt();
        for tap in &mut h[delay + onset..] {
            *tap *= reverb_gain;
        }
        h[delay] = 1.0;
        // Direct + reverb have energy 2; scale the whole path to the bleed.
        let gain = 10f64.powf(self.bleed_db / 20.0) / 2f64.sqrt();
        h.iter_mut().for_each(|tap| *tap *= gain);
        h
    }

    /// The call as a speakerphone hears it: the far end convolved with the
    /// echo path and added to the rep's mic, over a −65 dBFS noise floor.
    /// The far-end channel and the truth stay as they were.
    pub fn apply(&self, call: &RenderedCall) -> RenderedCall {
        let echo = convolve(&call.prospect, &self.impulse_response());
        let mut rng = self.seed ^ 0x9e37_79b9_7f4a_7c15;
        let noise_amp = 10f64.powf(-65.0 / 20.0) * 3f64.sqrt();
        let rep = call
            .rep
            .iter()
            .zip(&echo)
            .map(|(&s, &e)| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let uniform = (rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                (s as f64 + e + noise_amp * uniform) as f32
            })
            .collect();
        RenderedCall { rep, prospect: call.prospect.clone(), truth: call.truth.clone(), samples: call.samples }
    }
}

/// `signal` convolved with `h`, cut to the signal's length (one FFT).
fn convolve(signal: &[f32], h: &[f64]) -> Vec<f64> {
    use realfft::RealFftPlanner;
    let n = (signal.len() + h.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let spectrum = |x: &mut Vec<f64>| {
        let mut out = forward.make_output_vec();
        forward.process(x, &mut out).expect("FFT sizes match");
        out
    };
    let mut a: Vec<f64> = signal.iter().map(|&s| s as f64).chain(std::iter::repeat(0.0)).take(n).collect();
    let mut b: Vec<f64> = h.iter().copied().chain(std::iter::repeat(0.0)).take(n).collect();
    let (fa, fb) = (spectrum(&mut a), spectrum(&mut b));
    let mut product: Vec<_> = fa.iter().zip(&fb).map(|(x, y)| x * y / n as f64).collect();
    let mut out = inverse.make_output_vec();
    inverse.process(&mut product, &mut out).expect("FFT sizes match");
    out.truncate(signal.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_alone_lands_every_line_where_the_rendering_does_and_the_cache_keeps_it() {
        let lines = parse_script("rep: Hi Dana, thanks for the time.\npause: 1.5\nprospect: Sure. What is this about?\noverlap: 0.4\nrep: Two minutes, promise.\n").unwrap();
        let voices = Voices::default();
        let rendered = render(&lines, &voices).expect("espeak-ng");
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("timings.tsv");
        for _ in 0..2 {
            let timed = time_lines(&lines, &voices, Some(&cache)).unwrap();
            assert!(timed.rep.is_empty() && timed.prospect.is_empty());
            assert_eq!(timed.duration_s(), rendered.duration_s());
            for (t, r) in timed.truth.iter().zip(&rendered.truth) {
                assert_eq!((t.start_s, t.end_s, t.speech_s), (r.start_s, r.end_s, r.speech_s), "{}", t.text);
            }
        }
        // The second pass read the cache: one line per spoken line, none twice.
        assert_eq!(std::fs::read_to_string(&cache).unwrap().lines().count(), lines.len());
    }

    #[test]
    fn parses_script_with_directives() {
        let script = "# a call\nrep: Hi Dana.\npause: 2\nprospect: Hello.\noverlap: 0.5\nrep: Sorry, go on.\n";
        let lines = parse_script(script).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].gap_before_s, 2.0);
        assert_eq!(lines[2].gap_before_s, -0.5);
        assert_eq!(lines[2].speaker, Speaker::Rep);
    }

    #[test]
    fn script_errors_name_the_line() {
        let err = parse_script("rep: hi\ncustomer: hello\n").unwrap_err().to_string();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse_script("pause: soon\n").unwrap_err().to_string().contains("soon"));
    }

    #[test]
    fn echo_path_has_the_bleed_delay_and_decay_asked_for() {
        let path = EchoPath { bleed_db: -12.0, delay_ms: 40.0, rt60_s: 0.4, seed: 1 };
        let h = path.impulse_response();
        let energy_db = 10.0 * h.iter().map(|t| t * t).sum::<f64>().log10();
        assert!((energy_db + 12.0).abs() < 0.01, "{energy_db}");
        assert!(h[..640].iter().all(|&t| t == 0.0) && h[640] > 0.0);
        // Energy 200 ms into the tail is about 30 dB below its start.
        let band = |from: usize| 10.0 * h[from..from + 160].iter().map(|t| t * t).sum::<f64>().log10();
        let decay = band(640 + 32) - band(640 + 32 + 3200);
        assert!((decay - 30.0).abs() < 4.0, "{decay}");
        // Convolving an impulse gives the response back.
        let mut signal = vec![0.0f32; 16_000];
        signal[100] = 1.0;
        let echoed = convolve(&signal, &h);
        assert!((echoed[740] - h[640]).abs() < 1e-9);
    }

    #[test]
    fn measures_speech_with_bridged_pauses() {
        let mut samples = vec![0.0f32; 16_000];
        samples.extend(std::iter::repeat(0.1).take(8_000));
        samples.extend(std::iter::repeat(0.0).take(1_600)); // 100 ms pause: bridged
        samples.extend(std::iter::repeat(0.1).take(8_000));
        samples.extend(std::iter::repeat(0.0).take(16_000));
        let (first, last, speech) = measure_speech(&samples);
        assert!((first - 1.0).abs() < 0.011, "{first}");
        assert!((last - 2.1).abs() < 0.011, "{last}");
        assert!((speech - 1.1).abs() < 0.021, "{speech}");
    }
}
