//! Audio files in: WAV (hound) and FLAC (claxon) decoded to f32, and whole
//! recorded calls loaded as 16 kHz per-speaker signals.
//!
//! Runs on whichever thread loads or replays a file (never the audio
//! callback). Every failure is one line naming the file and the problem; a
//! WAV or FLAC whose data stops early is decoded up to where it stops (with a
//! warning), because a recording cut short by a crash is still worth
//! coaching from.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::convert::{pick_channel, ChannelPick, StreamResampler};
use crate::call::Speaker;

/// Frames decoded per read when loading whole files.
const READ_FRAMES: usize = 16_384;

/// Why an audio file could not be read. `Display` is one line that starts
/// with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    #[error("{}: file not found", .path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot read: {reason}", .path.display())]
    Io { path: PathBuf, reason: String },
    #[error("{}: empty file (0 bytes)", .path.display())]
    Empty { path: PathBuf },
    #[error("{}: corrupt WAV: {reason}", .path.display())]
    CorruptWav { path: PathBuf, reason: String },
    #[error("{}: corrupt FLAC: {reason}", .path.display())]
    CorruptFlac { path: PathBuf, reason: String },
    #[error("{}: unsupported audio format (expected WAV or FLAC){}", .path.display(), .found.map(|f| format!("; this looks like {f}")).unwrap_or_default())]
    UnsupportedFormat {
        path: PathBuf,
        found: Option<&'static str>,
    },
    #[error("{}: unsupported sample format: {detail}", .path.display())]
    UnsupportedSampleFormat { path: PathBuf, detail: String },
}

impl AudioFileError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            AudioFileError::NotFound { path }
            | AudioFileError::Io { path, .. }
            | AudioFileError::Empty { path }
            | AudioFileError::CorruptWav { path, .. }
            | AudioFileError::CorruptFlac { path, .. }
            | AudioFileError::UnsupportedFormat { path, .. }
            | AudioFileError::UnsupportedSampleFormat { path, .. } => path,
        }
    }
}

/// A whole decoded file: planar f32 samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    pub sample_rate: u32,
    /// One vector per channel, all the same length.
    pub channels: Vec<Vec<f32>>,
}

impl DecodedAudio {
    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / self.sample_rate.max(1) as f64
    }
}

/// A recorded call at 16 kHz mono per speaker.
#[derive(Debug, Clone, PartialEq)]
pub struct CallAudio {
    pub rep: Vec<f32>,
    /// `None` when the recording has one channel holding the rep only.
    pub prospect: Option<Vec<f32>>,
}

impl CallAudio {
    /// The 16 kHz samples of one speaker, if the recording has them.
    pub fn speaker(&self, speaker: Speaker) -> Option<&[f32]> {
        match speaker {
            Speaker::Rep => {
                (!self.rep.is_empty() || self.prospect.is_none()).then_some(&self.rep[..])
            }
            Speaker::Prospect => self.prospect.as_deref(),
        }
    }
}

/// The container a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    Wav,
    Flac,
}

enum Inner {
    Wav {
        reader: hound::WavReader<BufReader<File>>,
        /// `None` for float samples, else the integer scale 1 / 2^(bits-1).
        int_scale: Option<f32>,
    },
    Flac {
        reader: claxon::FlacReader<BufReader<File>>,
        scale: f32,
        /// Interleaved samples of the last decoded block not yet handed out.
        pending: Vec<f32>,
        pending_pos: usize,
        block_buf: Vec<i32>,
        finished: bool,
    },
}

/// A streaming decoder for one WAV or FLAC file: interleaved f32 frames in
/// chunks, so a long call can be replayed or resampled without holding the
/// whole file at its original rate in memory.
pub struct AudioReader {
    path: PathBuf,
    format: AudioFormat,
    sample_rate: u32,
    channels: usize,
    inner: Inner,
    truncated: bool,
    frames_read: u64,
}

impl std::fmt::Debug for AudioReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("frames_read", &self.frames_read)
            .finish()
    }
}

impl AudioReader {
    /// Opens `path`, recognising WAV or FLAC by its first bytes (not its name).
    pub fn open(path: &Path) -> Result<AudioReader, AudioFileError> {
        let io_err = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => AudioFileError::NotFound {
                path: path.to_owned(),
            },
            _ => AudioFileError::Io {
                path: path.to_owned(),
                reason: e.to_string(),
            },
        };
        let meta = std::fs::metadata(path).map_err(io_err)?;
        if meta.is_dir() {
            return Err(AudioFileError::Io {
                path: path.to_owned(),
                reason: "is a directory".into(),
            });
        }
        if meta.len() == 0 {
            return Err(AudioFileError::Empty {
                path: path.to_owned(),
            });
        }
        let mut file = File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 12];
        let got = read_up_to(&mut file, &mut magic).map_err(io_err)?;
        let magic = &magic[..got];
        let format = sniff(magic).map_err(|found| match found {
            Sniffed::TruncatedRiff => AudioFileError::CorruptWav {
                path: path.to_owned(),
                reason: format!(
                    "file is only {} bytes, too short for a WAV header",
                    meta.len()
                ),
            },
            Sniffed::Other(found) => AudioFileError::UnsupportedFormat {
                path: path.to_owned(),
                found,
            },
        })?;
        // Reopen rather than seek so both decoders see the file from byte 0.
        let file = BufReader::new(File::open(path).map_err(io_err)?);
        match format {
            AudioFormat::Wav => Self::open_wav(path, file),
            AudioFormat::Flac => Self::open_flac(path, file),
        }
    }

    fn open_wav(path: &Path, file: BufReader<File>) -> Result<AudioReader, AudioFileError> {
        let reader = hound::WavReader::new(file).map_err(|e| wav_error(path, e))?;
        let spec = reader.spec();
        let int_scale = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
                Some(1.0 / (1u64 << (bits - 1)) as f32)
            }
            (hound::SampleFormat::Float, 32) => None,
            (format, bits) => {
                return Err(AudioFileError::UnsupportedSampleFormat {
                    path: path.to_owned(),
                    detail: format!(
                        "{bits}-bit {} (supported: 8/16/24/32-bit integer PCM, 32-bit float)",
                        if format == hound::SampleFormat::Float {
                            "float"
                        } else {
                            "integer"
                        }
                    ),
                })
            }
        };
        check_spec(
            path,
            spec.sample_rate,
            spec.channels as usize,
            AudioFormat::Wav,
        )?;
        Ok(AudioReader {
            path: path.to_owned(),
            format: AudioFormat::Wav,
            sample_rate: spec.sample_rate,
            channels: spec.channels as usize,
            inner: Inner::Wav { reader, int_scale },
            truncated: false,
            frames_read: 0,
        })
    }

    fn open_flac(path: &Path, file: BufReader<File>) -> Result<AudioReader, AudioFileError> {
        let reader = claxon::FlacReader::new(file).map_err(|e| flac_error(path, e))?;
        let info = reader.streaminfo();
        if info.bits_per_sample == 0 || info.bits_per_sample > 32 {
            return Err(AudioFileError::UnsupportedSampleFormat {
                path: path.to_owned(),
                detail: format!("{}-bit FLAC", info.bits_per_sample),
            });
        }
        check_spec(
            path,
            info.sample_rate,
            info.channels as usize,
            AudioFormat::Flac,
        )?;
        Ok(AudioReader {
            path: path.to_owned(),
            format: AudioFormat::Flac,
            sample_rate: info.sample_rate,
            channels: info.channels as usize,
            inner: Inner::Flac {
                reader,
                scale: 1.0 / (1u64 << (info.bits_per_sample - 1)) as f32,
                pending: Vec::new(),
                pending_pos: 0,
                block_buf: Vec::new(),
                finished: false,
            },
            truncated: false,
            frames_read: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> AudioFormat {
        self.format
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// True once decoding hit the end of the file before the end its header
    /// promised (the file was cut short); everything before that was decoded.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Frames handed out so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Appends up to `max_frames` interleaved frames to `out`; returns how
    /// many were appended, 0 at the end of the file.
    pub fn read_interleaved(
        &mut self,
        out: &mut Vec<f32>,
        max_frames: usize,
    ) -> Result<usize, AudioFileError> {
        let channels = self.channels;
        let start = out.len();
        let want = max_frames * channels;
        match &mut self.inner {
            Inner::Wav { reader, int_scale } => {
                let mut hit_eof = false;
                let mut failure = None;
                match int_scale {
                    Some(scale) => {
                        let scale = *scale;
                        for s in reader.samples::<i32>().take(want) {
                            match s {
                                Ok(v) => out.push(v as f32 * scale),
                                Err(e) => {
                                    failure = Some(e);
                                    break;
                                }
                            }
                        }
                    }
                    None => {
                        for s in reader.samples::<f32>().take(want) {
                            match s {
                                // Float WAVs can hold values past full scale (or NaN);
                                // clamp so downstream code can rely on [-1, 1].
                                Ok(v) => out.push(if v.is_finite() {
                                    v.clamp(-1.0, 1.0)
                                } else {
                                    0.0
                                }),
                                Err(e) => {
                                    failure = Some(e);
                                    break;
                                }
                            }
                        }
                    }
                }
                if let Some(e) = failure {
                    match e {
                        hound::Error::IoError(io) if is_short_read(&io) => hit_eof = true,
                        e => return Err(wav_error(&self.path, e)),
                    }
                }
                if hit_eof {
                    self.truncated = true;
                    // Drop a partial last frame so channels stay aligned.
                    let whole = (out.len() - start) / channels * channels;
                    out.truncate(start + whole);
                    tracing::warn!(path = %self.path.display(), frames = self.frames_read + (whole / channels) as u64,
                        "WAV data ends before its header says; decoded what is there");
                }
            }
            Inner::Flac {
                reader,
                scale,
                pending,
                pending_pos,
                block_buf,
                finished,
            } => {
                while out.len() - start < want {
                    if *pending_pos < pending.len() {
                        let take = (want - (out.len() - start)).min(pending.len() - *pending_pos);
                        out.extend_from_slice(&pending[*pending_pos..*pending_pos + take]);
                        *pending_pos += take;
                        continue;
                    }
                    if *finished {
                        break;
                    }
                    let mut blocks = reader.blocks();
                    match blocks.read_next_or_eof(std::mem::take(block_buf)) {
                        Ok(Some(block)) => {
                            pending.clear();
                            *pending_pos = 0;
                            let n_ch = (block.channels() as usize).min(channels) as u32;
                            for i in 0..block.duration() {
                                for ch in 0..channels as u32 {
                                    let v = if ch < n_ch { block.sample(ch, i) } else { 0 };
                                    pending.push(v as f32 * *scale);
                                }
                            }
                            *block_buf = block.into_buffer();
                        }
                        Ok(None) => *finished = true,
                        Err(claxon::Error::IoError(e)) if is_short_read(&e) => {
                            *finished = true;
                            self.truncated = true;
                            tracing::warn!(path = %self.path.display(), "FLAC data ends mid-frame; decoded what is there");
                        }
                        Err(e) => return Err(flac_error(&self.path, e)),
                    }
                }
            }
        }
        let frames = (out.len() - start) / channels;
        self.frames_read += frames as u64;
        Ok(frames)
    }
}

/// Decodes a whole WAV or FLAC file to planar f32.
pub fn read_audio(path: &Path) -> Result<DecodedAudio, AudioFileError> {
    let mut reader = AudioReader::open(path)?;
    let mut channels = vec![Vec::new(); reader.channels()];
    let mut chunk = Vec::with_capacity(READ_FRAMES * reader.channels());
    loop {
        chunk.clear();
        if reader.read_interleaved(&mut chunk, READ_FRAMES)? == 0 {
            break;
        }
        super::convert::deinterleave_into(&chunk, &mut channels);
    }
    Ok(DecodedAudio {
        sample_rate: reader.sample_rate(),
        channels,
    })
}

/// Loads a recorded call as 16 kHz mono per speaker.
///
/// Stereo (or more channels): left (channel 0) is the rep, right (channel 1)
/// the prospect; further channels are ignored. Mono: the single channel is the
/// rep. `swap` exchanges the roles (so a mono file becomes the prospect).
/// Decoding and resampling are streamed, so memory is the 16 kHz result only.
pub fn load_call(path: &Path, swap: bool) -> Result<CallAudio, AudioFileError> {
    let mut reader = AudioReader::open(path)?;
    let channels = reader.channels();
    let rate = reader.sample_rate();
    if channels > 2 {
        tracing::warn!(path = %path.display(), channels, "using channels 0 (left) and 1 (right); ignoring the rest");
    }
    let used = channels.min(2);
    let mut resamplers: Vec<StreamResampler> =
        (0..used).map(|_| StreamResampler::new(rate)).collect();
    let mut outputs: Vec<Vec<f32>> = vec![Vec::new(); used];
    let mut chunk = Vec::with_capacity(READ_FRAMES * channels);
    let mut picked = Vec::with_capacity(READ_FRAMES);
    loop {
        chunk.clear();
        if reader.read_interleaved(&mut chunk, READ_FRAMES)? == 0 {
            break;
        }
        for (ch, (resampler, output)) in resamplers.iter_mut().zip(outputs.iter_mut()).enumerate() {
            picked.clear();
            pick_channel(&chunk, channels, ChannelPick::Channel(ch), &mut picked);
            resampler.push(&picked, output);
        }
    }
    for (resampler, output) in resamplers.iter_mut().zip(outputs.iter_mut()) {
        resampler.flush(output);
    }
    let mut outputs = outputs.into_iter();
    let first = outputs.next().unwrap_or_default();
    Ok(match outputs.next() {
        Some(second) if swap => CallAudio {
            rep: second,
            prospect: Some(first),
        },
        Some(second) => CallAudio {
            rep: first,
            prospect: Some(second),
        },
        None if swap => CallAudio {
            rep: Vec::new(),
            prospect: Some(first),
        },
        None => CallAudio {
            rep: first,
            prospect: None,
        },
    })
}

/// Loads any WAV/FLAC as one 16 kHz mono signal: the average of all its
/// channels (for a call recorded as one file per speaker).
pub fn load_mono_16k(path: &Path) -> Result<Vec<f32>, AudioFileError> {
    let mut reader = AudioReader::open(path)?;
    let channels = reader.channels();
    let mut resampler = StreamResampler::new(reader.sample_rate());
    let mut output = Vec::new();
    let mut chunk = Vec::with_capacity(READ_FRAMES * channels);
    let mut mixed = Vec::with_capacity(READ_FRAMES);
    loop {
        chunk.clear();
        if reader.read_interleaved(&mut chunk, READ_FRAMES)? == 0 {
            break;
        }
        mixed.clear();
        pick_channel(&chunk, channels, ChannelPick::Mix, &mut mixed);
        resampler.push(&mixed, &mut output);
    }
    resampler.flush(&mut output);
    Ok(output)
}

enum Sniffed {
    TruncatedRiff,
    Other(Option<&'static str>),
}

fn sniff(magic: &[u8]) -> Result<AudioFormat, Sniffed> {
    if magic.starts_with(b"fLaC") {
        return Ok(AudioFormat::Flac);
    }
    if magic.starts_with(b"RIFF") {
        if magic.len() < 12 {
            return Err(Sniffed::TruncatedRiff);
        }
        if &magic[8..12] == b"WAVE" {
            return Ok(AudioFormat::Wav);
        }
        return Err(Sniffed::Other(Some(
            "a RIFF file that is not WAVE (e.g. AVI)",
        )));
    }
    let found = if magic.starts_with(b"ID3")
        || (magic.len() >= 2 && magic[0] == 0xFF && magic[1] & 0xE0 == 0xE0)
    {
        Some("MP3")
    } else if magic.starts_with(b"OggS") {
        Some("Ogg")
    } else if magic.starts_with(b"RF64") {
        Some("RF64 (64-bit WAV)")
    } else if magic.starts_with(b"RIFX") {
        Some("big-endian WAV (RIFX)")
    } else if magic.starts_with(b"FORM") {
        Some("AIFF")
    } else if magic.len() >= 8 && &magic[4..8] == b"ftyp" {
        Some("MP4/M4A")
    } else if magic.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("WebM/Matroska")
    } else if !magic.is_empty()
        && magic
            .iter()
            .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        Some("text")
    } else {
        None
    };
    Err(Sniffed::Other(found))
}

/// Sample rates a file may declare.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
pub const MAX_SAMPLE_RATE: u32 = 192_000;

fn check_spec(
    path: &Path,
    rate: u32,
    channels: usize,
    format: AudioFormat,
) -> Result<(), AudioFileError> {
    // The resampler handles 8–192 kHz; a header declaring 1 Hz would otherwise make
    // it allocate gigabytes for a small file.
    if rate != 0 && !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        return Err(AudioFileError::UnsupportedSampleFormat {
            path: path.to_owned(),
            detail: format!("sample rate {rate} Hz (supported: {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz)"),
        });
    }
    let problem = if rate == 0 {
        Some("sample rate is 0".to_owned())
    } else if channels == 0 {
        Some("no channels".to_owned())
    } else {
        None
    };
    match (problem, format) {
        (None, _) => Ok(()),
        (Some(reason), AudioFormat::Wav) => Err(AudioFileError::CorruptWav {
            path: path.to_owned(),
            reason,
        }),
        (Some(reason), AudioFormat::Flac) => Err(AudioFileError::CorruptFlac {
            path: path.to_owned(),
            reason,
        }),
    }
}

fn wav_error(path: &Path, e: hound::Error) -> AudioFileError {
    let path = path.to_owned();
    match e {
        hound::Error::IoError(io) if is_short_read(&io) => AudioFileError::CorruptWav {
            path,
            reason: "file ends inside its header".into(),
        },
        hound::Error::IoError(io) => AudioFileError::Io {
            path,
            reason: io.to_string(),
        },
        hound::Error::FormatError(reason) => AudioFileError::CorruptWav {
            path,
            reason: reason.into(),
        },
        hound::Error::Unsupported => AudioFileError::UnsupportedSampleFormat {
            path,
            detail: "encoding not supported (only PCM and float)".into(),
        },
        hound::Error::TooWide => AudioFileError::UnsupportedSampleFormat {
            path,
            detail: "samples wider than 32 bits".into(),
        },
        hound::Error::InvalidSampleFormat => AudioFileError::UnsupportedSampleFormat {
            path,
            detail: "sample format does not match its bit depth".into(),
        },
        other => AudioFileError::CorruptWav {
            path,
            reason: other.to_string(),
        },
    }
}

fn flac_error(path: &Path, e: claxon::Error) -> AudioFileError {
    let path = path.to_owned();
    match e {
        claxon::Error::IoError(io) if is_short_read(&io) => AudioFileError::CorruptFlac {
            path,
            reason: "file ends inside its header".into(),
        },
        claxon::Error::IoError(io) => AudioFileError::Io {
            path,
            reason: io.to_string(),
        },
        claxon::Error::FormatError(reason) => AudioFileError::CorruptFlac {
            path,
            reason: reason.into(),
        },
        claxon::Error::Unsupported(what) => AudioFileError::UnsupportedSampleFormat {
            path,
            detail: what.into(),
        },
    }
}

/// The file ended before the decoder had what it needed. hound reports this
/// as `ErrorKind::Other` with a fixed message rather than `UnexpectedEof`.
fn is_short_read(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::UnexpectedEof
        || (e.kind() == io::ErrorKind::Other
            && e.to_string().contains("Failed to read enough bytes"))
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_wav_declaring_an_absurd_sample_rate_is_refused_before_any_allocation() {
        let dir = std::env::temp_dir().join(format!("callcoach-rate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for rate in [1u32, 4_000, 400_000] {
            let path = dir.join(format!("rate-{rate}.wav"));
            let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for _ in 0..1000 {
                w.write_sample(0i16).unwrap();
            }
            w.finalize().unwrap();
            let err = load_mono_16k(&path).unwrap_err().to_string();
            assert!(err.contains(&format!("sample rate {rate} Hz")), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    use super::*;
    use hound::{SampleFormat, WavSpec, WavWriter};

    /// A sine per channel (channel c at 200·(c+1) Hz, amplitude 0.5).
    fn test_signal(rate: u32, channels: usize, secs: f32) -> Vec<Vec<f32>> {
        let n = (rate as f32 * secs) as usize;
        (0..channels)
            .map(|c| {
                let f = 200.0 * (c + 1) as f32;
                (0..n)
                    .map(|i| 0.5 * (2.0 * std::f32::consts::PI * f * i as f32 / rate as f32).sin())
                    .collect()
            })
            .collect()
    }

    fn write_wav(path: &Path, rate: u32, planar: &[Vec<f32>], format: SampleFormat, bits: u16) {
        let spec = WavSpec {
            channels: planar.len() as u16,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut w = WavWriter::create(path, spec).unwrap();
        for i in 0..planar[0].len() {
            for ch in planar {
                let s = ch[i];
                match (format, bits) {
                    (SampleFormat::Float, _) => w.write_sample(s).unwrap(),
                    (_, 8) => w.write_sample((s * 127.0).round() as i8).unwrap(),
                    (_, 16) => w.write_sample((s * 32767.0).round() as i16).unwrap(),
                    (_, 24) => w.write_sample((s * 8_388_607.0).round() as i32).unwrap(),
                    (_, 32) => w
                        .write_sample((s as f64 * 2_147_483_647.0).round() as i32)
                        .unwrap(),
                    _ => unreachable!(),
                }
            }
        }
        w.finalize().unwrap();
    }

    fn assert_err_contains(
        result: Result<impl std::fmt::Debug, AudioFileError>,
        path: &Path,
        needle: &str,
    ) {
        let err = result.expect_err("expected an error");
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()),
            "message does not name the file: {msg}"
        );
        assert!(
            msg.contains(needle),
            "message {msg:?} does not contain {needle:?}"
        );
        assert!(!msg.contains('\n'), "message is not one line: {msg:?}");
    }

    #[test]
    fn reads_every_supported_wav_format() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (SampleFormat::Int, 8u16, 1.0 / 64.0),
            (SampleFormat::Int, 16, 1e-4),
            (SampleFormat::Int, 24, 1e-6),
            (SampleFormat::Int, 32, 1e-6),
            (SampleFormat::Float, 32, 1e-7),
        ];
        for rate in [44_100u32, 48_000, 22_050, 16_000] {
            for channels in [1usize, 2, 4] {
                for (format, bits, tol) in cases {
                    let signal = test_signal(rate, channels, 0.25);
                    let path = dir
                        .path()
                        .join(format!("t_{rate}_{channels}_{bits}_{format:?}.wav"));
                    write_wav(&path, rate, &signal, format, bits);
                    let decoded = read_audio(&path).unwrap();
                    assert_eq!(decoded.sample_rate, rate);
                    assert_eq!(decoded.channels.len(), channels);
                    for (got, want) in decoded.channels.iter().zip(&signal) {
                        assert_eq!(got.len(), want.len());
                        let max = got
                            .iter()
                            .zip(want)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0.0, f32::max);
                        assert!(max <= tol as f32, "{path:?}: max error {max}");
                    }
                }
            }
        }
    }

    #[test]
    fn reads_flac_made_by_sox() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("src.wav");
        let flac = dir.path().join("call.flac");
        let signal = test_signal(44_100, 2, 0.5);
        write_wav(&wav, 44_100, &signal, SampleFormat::Int, 16);
        let status = std::process::Command::new("sox")
            .arg(&wav)
            .arg(&flac)
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                panic!("this test needs sox with FLAC support (apt-get install sox): {other:?}")
            }
        }
        let from_wav = read_audio(&wav).unwrap();
        let from_flac = read_audio(&flac).unwrap();
        assert_eq!(
            from_flac, from_wav,
            "FLAC decodes to the same samples as the WAV it was made from"
        );
        let call = load_call(&flac, false).unwrap();
        assert_eq!(call.rep.len(), 8000);
    }

    #[test]
    fn load_call_splits_and_resamples_speakers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call.wav");
        let signal = test_signal(48_000, 2, 1.0); // left 200 Hz, right 400 Hz
        write_wav(&path, 48_000, &signal, SampleFormat::Int, 16);
        let zero_crossings = |x: &[f32]| x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();

        let call = load_call(&path, false).unwrap();
        let prospect = call.prospect.as_ref().unwrap();
        assert_eq!(call.rep.len(), 16_000);
        assert_eq!(prospect.len(), 16_000);
        assert!(
            (zero_crossings(&call.rep) as i64 - 200).abs() <= 1,
            "rep is the left channel"
        );
        assert!(
            (zero_crossings(prospect) as i64 - 400).abs() <= 1,
            "prospect is the right channel"
        );

        let swapped = load_call(&path, true).unwrap();
        assert_eq!(swapped.rep, *prospect);
        assert_eq!(swapped.prospect.as_ref().unwrap(), &call.rep);

        let mono = dir.path().join("mono.wav");
        write_wav(
            &mono,
            22_050,
            &test_signal(22_050, 1, 1.0),
            SampleFormat::Int,
            16,
        );
        let m = load_call(&mono, false).unwrap();
        assert_eq!(m.rep.len(), 16_000);
        assert!(m.prospect.is_none());
        let m = load_call(&mono, true).unwrap();
        assert!(m.rep.is_empty());
        assert_eq!(m.prospect.unwrap().len(), 16_000);

        // Downmix: left and right in antiphase cancel out.
        let anti = dir.path().join("anti.wav");
        let left = test_signal(32_000, 1, 0.5).remove(0);
        let right: Vec<f32> = left.iter().map(|s| -s).collect();
        write_wav(&anti, 32_000, &[left, right], SampleFormat::Float, 32);
        let mixed = load_mono_16k(&anti).unwrap();
        assert_eq!(mixed.len(), 8_000);
        assert!(mixed.iter().all(|s| s.abs() < 1e-4));
    }

    #[test]
    fn truncated_data_chunk_decodes_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        write_wav(
            &path,
            16_000,
            &test_signal(16_000, 2, 1.0),
            SampleFormat::Int,
            16,
        );
        let bytes = std::fs::read(&path).unwrap();
        // Header (44 bytes) + 0.5 s of stereo 16-bit + one odd byte.
        std::fs::write(&path, &bytes[..44 + 8000 * 4 + 1]).unwrap();
        let mut reader = AudioReader::open(&path).unwrap();
        let mut out = Vec::new();
        while reader.read_interleaved(&mut out, 3000).unwrap() > 0 {}
        assert!(reader.truncated());
        assert_eq!(out.len(), 8000 * 2);
        let decoded = read_audio(&path).unwrap();
        assert_eq!(decoded.frames(), 8000);
    }

    #[test]
    fn bad_files_get_one_line_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();

        let missing = dir.path().join("nope.wav");
        assert_err_contains(read_audio(&missing), &missing, "file not found");
        assert_err_contains(load_call(&missing, false), &missing, "file not found");

        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        assert_err_contains(read_audio(&empty), &empty, "empty file (0 bytes)");

        let text = dir.path().join("notes.wav");
        std::fs::write(&text, "these are my call notes, not audio\n").unwrap();
        assert_err_contains(
            read_audio(&text),
            &text,
            "unsupported audio format (expected WAV or FLAC)",
        );

        let mp3 = dir.path().join("call.mp3");
        std::fs::write(&mp3, b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00").unwrap();
        assert_err_contains(
            read_audio(&mp3),
            &mp3,
            "unsupported audio format (expected WAV or FLAC); this looks like MP3",
        );

        // A RIFF/WAVE header whose fmt chunk is garbage.
        let corrupt = dir.path().join("corrupt.wav");
        let mut bytes = b"RIFF\x40\x00\x00\x00WAVEfmt \x10\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&[0xAB; 40]);
        std::fs::write(&corrupt, &bytes).unwrap();
        assert_err_contains(read_audio(&corrupt), &corrupt, "corrupt WAV: ");

        // A WAV cut inside its header.
        let cut_header = dir.path().join("cut_header.wav");
        let good = dir.path().join("good.wav");
        write_wav(
            &good,
            16_000,
            &test_signal(16_000, 1, 0.1),
            SampleFormat::Int,
            16,
        );
        std::fs::write(&cut_header, &std::fs::read(&good).unwrap()[..30]).unwrap();
        assert_err_contains(read_audio(&cut_header), &cut_header, "corrupt WAV: ");
        let tiny = dir.path().join("tiny.wav");
        std::fs::write(&tiny, b"RIFF\x00").unwrap();
        assert_err_contains(read_audio(&tiny), &tiny, "corrupt WAV: ");

        // µ-law (format tag 7) is a real WAV encoding hound does not decode.
        let ulaw = dir.path().join("ulaw.wav");
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36u32 + 100).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&7u16.to_le_bytes()); // µ-law
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&100u32.to_le_bytes());
        b.extend_from_slice(&[0x7F; 100]);
        std::fs::write(&ulaw, &b).unwrap();
        assert_err_contains(read_audio(&ulaw), &ulaw, "unsupported sample format");

        let bad_flac = dir.path().join("bad.flac");
        std::fs::write(&bad_flac, b"fLaC\x00\x00\x00\x22garbage").unwrap();
        assert_err_contains(read_audio(&bad_flac), &bad_flac, "corrupt FLAC: ");
    }
}
