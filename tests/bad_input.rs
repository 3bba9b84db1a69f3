//! Bad input: each case gets a one-line error naming the file and the problem
//! and a non-zero exit (or, for silence, an empty transcript and success).

use std::path::Path;

use crate::util;

fn transcribe(file: &Path, model: &Path) -> std::process::Output {
    util::run(util::callcoach().arg("transcribe").arg("--model").arg(model).arg(file))
}

fn assert_one_line_error(output: &std::process::Output, file: &Path, problem: &str) {
    assert!(!output.status.success(), "expected failure for {}", file.display());
    let stderr = util::stderr(output);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got:\n{stderr}");
    assert!(lines[0].contains(&file.display().to_string()), "error must name {}: {stderr}", file.display());
    assert!(lines[0].to_lowercase().contains(problem), "error must say '{problem}': {stderr}");
}

fn write_wav(path: &Path, channels: u16, samples: &[f32]) {
    let spec = hound::WavSpec { channels, sample_rate: 16_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        writer.write_sample((s * 32767.0) as i16).unwrap();
    }
    writer.finalize().unwrap();
}

#[test]
fn missing_model() {
    let dir = util::temp_dir();
    let wav = dir.path().join("speech.wav");
    write_wav(&wav, 1, &vec![0.0; 16_000]);
    let model = dir.path().join("no-such-model.bin");
    assert_one_line_error(&transcribe(&wav, &model), &model, "not found");
}

#[test]
fn corrupt_wav() {
    let dir = util::temp_dir();
    let wav = dir.path().join("corrupt.wav");
    let mut bytes = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    bytes.extend_from_slice(&[0xff; 40]);
    std::fs::write(&wav, bytes).unwrap();
    assert_one_line_error(&transcribe(&wav, &util::model_path()), &wav, "corrupt");
}

#[test]
fn unsupported_format() {
    let dir = util::temp_dir();
    let file = dir.path().join("notes.mp3");
    std::fs::write(&file, b"ID3\x03\x00\x00\x00\x00\x00\x00 not really audio at all").unwrap();
    assert_one_line_error(&transcribe(&file, &util::model_path()), &file, "unsupported");
}

#[test]
fn empty_file() {
    let dir = util::temp_dir();
    let file = dir.path().join("empty.wav");
    std::fs::write(&file, b"").unwrap();
    assert_one_line_error(&transcribe(&file, &util::model_path()), &file, "empty");
}

#[test]
fn missing_file() {
    let dir = util::temp_dir();
    let file = dir.path().join("nowhere.wav");
    assert_one_line_error(&transcribe(&file, &util::model_path()), &file, "not found");
}

#[test]
fn silence_only_gives_an_empty_transcript() {
    let dir = util::temp_dir();
    let wav = dir.path().join("silence.wav");
    // Ten seconds of near-silence with a little noise, in stereo.
    let mut state = 1u32;
    let samples: Vec<f32> = (0..16_000 * 10 * 2)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 16) as f32 / 65_536.0 * 0.002 - 0.001
        })
        .collect();
    write_wav(&wav, 2, &samples);
    let output = util::run(util::callcoach().args(["transcribe", "--json", "--model"]).arg(util::model_path()).arg(&wav));
    assert!(output.status.success(), "{}", util::stderr(&output));
    assert_eq!(util::stdout(&output).trim(), "[]");
}

#[test]
fn malformed_config() {
    let dir = util::temp_dir();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[model]\nquant = \"q3\"\n").unwrap();
    let wav = dir.path().join("x.wav");
    write_wav(&wav, 1, &vec![0.0; 1600]);
    let output = util::run(util::callcoach().arg("--config").arg(&config).arg("transcribe").arg(&wav));
    assert_one_line_error(&output, &config, "model.quant");
}
