//! Configuration in two steps: raw TOML (every key optional, unknown keys
//! refused) is parsed, then validated into the `Config` the program uses.
//! Errors name the file and the key.
//!
//! Lookup: `--config PATH`, else `$XDG_CONFIG_HOME/callcoach/config.toml` when
//! it exists, else built-in defaults. `config/default.toml` documents every key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audio::capture::CaptureConfig;
use crate::coach::CoachConfig;
use crate::segment::SegmenterConfig;
use crate::transcribe::TranscribeOptions;

/// The Whisper model callcoach uses when none is configured.
pub const DEFAULT_MODEL_NAME: &str = "tiny.en";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: invalid config: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: invalid value for `{key}`: {problem}", path.display())]
    Invalid { path: PathBuf, key: String, problem: String },
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where `callcoach model fetch` puts models and where defaults are looked up.
    pub models_dir: PathBuf,
    /// The model every command loads unless given `--model`.
    pub model_path: PathBuf,
    /// Its Whisper size name (`[model] name`, e.g. "tiny.en" or "base"): what `model fetch` gets.
    pub model_name: String,
    /// A bigger model that transcribes the call again for the brief (`[model] second_pass`).
    pub second_pass: Option<SecondPassSettings>,
    /// Decoding options for each utterance.
    pub transcribe: TranscribeOptions,
    /// Per-call journals and recovery briefs live here (XDG data directory by default).
    pub data_dir: PathBuf,
    /// One folder per call with brief.md, brief.json and the transcript.
    pub briefs_dir: PathBuf,
    /// Per-account next-call prep files (Markdown), updated after each call.
    pub prep_dir: PathBuf,
    /// Cross-call history (SQLite), and the outbox of calls waiting for `team_history`.
    pub history_db: PathBuf,
    /// The team's shared PostgreSQL history: `CALLCOACH_HISTORY_URL`, else `[history] url`.
    pub team_history: Option<crate::history::TeamUrl>,
    /// The per-install WebSocket token file (0600).
    pub token_file: PathBuf,
    pub capture: CaptureConfig,
    pub segmenter: SegmenterConfig,
    pub coach: CoachConfig,
    pub server: ServerSettings,
    pub call: CallSettings,
    /// Rep name recorded with each call (history is keyed by rep and account).
    pub rep_name: Option<String>,
    /// The file this came from, if any.
    pub source: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    model: RawModel,
    #[serde(default)]
    transcribe: Option<TranscribeOptions>,
    #[serde(default)]
    paths: RawPaths,
    #[serde(default)]
    capture: Option<CaptureConfig>,
    #[serde(default)]
    segmenter: Option<SegmenterConfig>,
    #[serde(default)]
    coach: Option<CoachConfig>,
    #[serde(default)]
    server: Option<ServerSettings>,
    #[serde(default)]
    call: Option<CallSettings>,
    #[serde(default)]
    rep: RawRep,
    #[serde(default)]
    history: RawHistory,
}

/// `[history]`: the team's shared store (the laptop's SQLite file is `[paths] history_db`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistory {
    url: Option<String>,
    password_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRep {
    name: Option<String>,
}

/// `[server]`: where the overlay and WebSocket listen.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Loopback only unless `allow_non_loopback`.
    pub host: String,
    pub port: u16,
    pub allow_non_loopback: bool,
    /// Extra origins allowed to open the WebSocket.
    pub allowed_origins: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings { host: "127.0.0.1".into(), port: 7345, allow_non_loopback: false, allowed_origins: Vec::new() }
    }
}

/// `[call]`: the call lifecycle of `callcoach run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallSettings {
    /// Start a call by itself when both channels carry speech.
    pub auto_start: bool,
    /// Both sides must have spoken this much within `auto_start_window_s` to start a call.
    pub auto_start_speech_s: f64,
    pub auto_start_window_s: f64,
    /// End a call after this many minutes with no speech on either channel.
    pub auto_end_silence_min: f64,
    /// Suppress far-end echo on the mic channel.
    pub echo_gate: bool,
    /// Cancel far-end echo from the mic's samples (SpeexDSP, before the gate).
    pub echo_cancel: bool,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings { auto_start: true, auto_start_speech_s: 2.0, auto_start_window_s: 30.0, auto_end_silence_min: 3.0, echo_gate: true, echo_cancel: true }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    path: Option<PathBuf>,
    dir: Option<PathBuf>,
    name: Option<String>,
    quant: Option<String>,
    second_pass: Option<String>,
    second_pass_path: Option<PathBuf>,
    second_pass_within_s: Option<f64>,
}

/// `[model] second_pass`: the bigger model of the post-call second pass.
#[derive(Debug, Clone)]
pub struct SecondPassSettings {
    /// Its Whisper size name (e.g. "base"), as `model fetch --name` takes it.
    pub name: String,
    /// Its ggml file (`second_pass_path`, else the models directory's file for `name`).
    pub path: PathBuf,
    /// How long after the call's end it may go on (`second_pass_within_s`).
    pub within_s: f64,
}

/// The second pass stops this long after the call's end, leaving the brief
/// (milliseconds) well inside its 3-minute budget.
pub const DEFAULT_SECOND_PASS_WITHIN_S: f64 = 150.0;
/// The most it may take: the brief must be on disk within 3 minutes.
const MAX_SECOND_PASS_WITHIN_S: f64 = 170.0;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    data_dir: Option<PathBuf>,
    briefs_dir: Option<PathBuf>,
    prep_dir: Option<PathBuf>,
    history_db: Option<PathBuf>,
}

impl Config {
    /// Loads `explicit` if given, else the XDG config file if present, else defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(path) => Config::from_file(path),
            None => {
                let default_file = xdg_config_home().join("callcoach").join("config.toml");
                if default_file.is_file() {
                    Config::from_file(&default_file)
                } else {
                    Config::from_raw(RawConfig::default(), None)
                }
            }
        }
    }

    /// Parses and validates one TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::from_toml(&text, path)
    }

    /// Parses and validates TOML text that came from `path` (used in messages).
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            // toml's message spans several lines with a source excerpt; keep it on one.
            message: e.message().to_string() + &e.span().map(|s| format!(" (at byte {})", s.start)).unwrap_or_default(),
        })?;
        Config::from_raw(raw, Some(path))
    }

    fn from_raw(raw: RawConfig, source: Option<&Path>) -> Result<Config, ConfigError> {
        let origin = source.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("<defaults>"));
        let invalid = |key: &str, problem: String| ConfigError::Invalid { path: origin.clone(), key: key.into(), problem };
        // Relative paths in a config file are relative to that file.
        let base = source.and_then(Path::parent).map(Path::to_path_buf);
        let resolve = |p: PathBuf| match &base {
            Some(base) if p.is_relative() => base.join(p),
            _ => p,
        };
        let data_dir = raw.paths.data_dir.map(resolve).unwrap_or_else(|| xdg_data_home().join("callcoach"));
        let models_dir = raw.model.dir.map(resolve).unwrap_or_else(|| default_models_dir(&data_dir));
        let name = raw.model.name.unwrap_or_else(|| DEFAULT_MODEL_NAME.to_string());
        if name.is_empty() || name.contains('/') {
            return Err(invalid("model.name", format!("'{name}' is not a model name like \"tiny.en\"")));
        }
        let quant = raw.model.quant.unwrap_or_else(|| "q8_0".into());
        if !matches!(quant.as_str(), "q8_0" | "f16") {
            return Err(invalid("model.quant", format!("'{quant}' (expected \"q8_0\" or \"f16\")")));
        }
        // CALLCOACH_MODEL lets the set-up scripts and tests point every command at the fetched model.
        let model_path = raw
            .model
            .path
            .map(resolve)
            .or_else(|| std::env::var_os("CALLCOACH_MODEL").map(PathBuf::from))
            .unwrap_or_else(|| models_dir.join(model_file_name(&name, &quant)));
        let second_pass = match raw.model.second_pass {
            Some(second) => {
                if second.is_empty() || second.contains('/') {
                    return Err(invalid("model.second_pass", format!("'{second}' is not a model name like \"base\"")));
                }
                let within_s = raw.model.second_pass_within_s.unwrap_or(DEFAULT_SECOND_PASS_WITHIN_S);
                if !(0.0..=MAX_SECOND_PASS_WITHIN_S).contains(&within_s) {
                    return Err(invalid("model.second_pass_within_s", format!("{within_s} (expected 0–{MAX_SECOND_PASS_WITHIN_S} s: the brief is due 3 minutes after the call)")));
                }
                let path = raw.model.second_pass_path.map(resolve).unwrap_or_else(|| models_dir.join(model_file_name(&second, &quant)));
                Some(SecondPassSettings { name: second, path, within_s })
            }
            None if raw.model.second_pass_path.is_some() || raw.model.second_pass_within_s.is_some() => {
                return Err(invalid("model.second_pass", "second_pass_path and second_pass_within_s need a second_pass model name".into()));
            }
            None => None,
        };
        let transcribe = raw.transcribe.unwrap_or_default();
        if transcribe.threads == 0 || transcribe.threads > 64 {
            return Err(invalid("transcribe.threads", format!("{} (expected 1–64)", transcribe.threads)));
        }
        if transcribe.min_audio_ctx < 64 || transcribe.min_audio_ctx > 1500 {
            return Err(invalid("transcribe.min_audio_ctx", format!("{} (expected 64–1500)", transcribe.min_audio_ctx)));
        }
        if !(0.0..=2.0).contains(&transcribe.pad_before_s) || !(0.0..=2.0).contains(&transcribe.pad_after_s) {
            return Err(invalid("transcribe.pad_before_s/pad_after_s", "padding must be 0–2 s".into()));
        }
        let capture = raw.capture.unwrap_or_default();
        let segmenter = raw.segmenter.unwrap_or_default();
        segmenter.validate().map_err(|e| invalid(&format!("segmenter.{}", e.key), format!("{} ({})", e.value, e.problem)))?;
        let coach = raw.coach.unwrap_or_default();
        coach.validate().map_err(|e| invalid("coach", e.to_string()))?;
        let call = raw.call.unwrap_or_default();
        if !(call.auto_end_silence_min > 0.0) {
            return Err(invalid("call.auto_end_silence_min", "must be above 0".into()));
        }
        let server = raw.server.unwrap_or_default();
        let briefs_dir = raw.paths.briefs_dir.map(resolve).unwrap_or_else(|| data_dir.join("briefs"));
        let prep_dir = raw.paths.prep_dir.map(resolve).unwrap_or_else(|| data_dir.join("prep"));
        let history_db = raw.paths.history_db.map(resolve).unwrap_or_else(|| data_dir.join("history.sqlite"));
        let token_file = xdg_config_home().join("callcoach").join("token");
        // The environment wins, so one machine can point at another team store without
        // editing its file; an empty value means "unset".
        let team_url = std::env::var("CALLCOACH_HISTORY_URL").ok().filter(|u| !u.trim().is_empty()).or(raw.history.url);
        let team_history = match team_url {
            Some(url) => Some(
                crate::history::TeamUrl::parse(url.trim(), raw.history.password_file.map(resolve))
                    .map_err(|problem| invalid("history.url (or CALLCOACH_HISTORY_URL)", problem))?,
            ),
            None => None,
        };
        Ok(Config {
            team_history,
            models_dir,
            model_path,
            model_name: name,
            second_pass,
            transcribe,
            token_file,
            briefs_dir,
            prep_dir,
            history_db,
            data_dir,
            capture,
            segmenter,
            coach,
            server,
            call,
            rep_name: raw.rep.name,
            source: source.map(Path::to_path_buf),
        })
    }
}

impl Config {
    /// Where the post-call stage writes: briefs, account prep files, history.
    pub fn brief_paths(&self) -> crate::brief::BriefPaths {
        crate::brief::BriefPaths {
            briefs_dir: self.briefs_dir.clone(),
            prep_dir: Some(self.prep_dir.clone()),
            history_db: Some(self.history_db.clone()),
            team: self.team_history.clone(),
        }
    }
}

/// `ggml-tiny.en-q8_0.bin` (or `ggml-tiny.en.bin` for f16), the file name `model fetch` writes.
pub fn model_file_name(name: &str, quant: &str) -> String {
    let quant = quant.parse::<crate::model::Quant>().unwrap_or(crate::model::Quant::Q8_0);
    crate::model::fetch::model_file_name(name, quant)
}

/// `./models` when run from a checkout (the set-up fetches there), else the data directory's.
fn default_models_dir(data_dir: &Path) -> PathBuf {
    let local = PathBuf::from("models");
    if local.is_dir() {
        local
    } else {
        data_dir.join("models")
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn xdg_config_home() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home().join(".config"))
}

fn xdg_data_home() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home().join(".local").join("share"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = Config::from_toml("", Path::new("/etc/cc.toml")).unwrap();
        assert!(config.model_path.ends_with("ggml-tiny.en-q8_0.bin"));
        assert_eq!(config.transcribe.min_audio_ctx, 256);
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let err = Config::from_toml("[model]\npth = \"x\"\n", Path::new("/tmp/my.toml")).unwrap_err().to_string();
        assert!(err.contains("/tmp/my.toml") && err.contains("pth"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn bad_value_names_key() {
        let err = Config::from_toml("[transcribe]\nthreads = 0\n", Path::new("/tmp/c.toml")).unwrap_err().to_string();
        assert!(err.contains("transcribe.threads"), "{err}");
        let err = Config::from_toml("[model]\nquant = \"q4\"\n", Path::new("/tmp/c.toml")).unwrap_err().to_string();
        assert!(err.contains("model.quant"), "{err}");
    }

    #[test]
    fn echo_cancel_defaults_on_and_takes_only_a_bool() {
        let config = Config::from_toml("", Path::new("/tmp/c.toml")).unwrap();
        assert!(config.call.echo_cancel && config.call.echo_gate);
        let config = Config::from_toml("[call]\necho_cancel = false\n", Path::new("/tmp/c.toml")).unwrap();
        assert!(!config.call.echo_cancel && config.call.echo_gate);
        let err = Config::from_toml("[call]\necho_cancel = \"yes\"\n", Path::new("/tmp/c.toml")).unwrap_err().to_string();
        assert!(err.contains("boolean") && err.contains("/tmp/c.toml"), "{err}");
    }

    #[test]
    fn second_pass_names_a_model_in_the_models_dir_and_a_deadline_inside_the_brief_budget() {
        assert!(Config::from_toml("", Path::new("/tmp/c.toml")).unwrap().second_pass.is_none());
        let config = Config::from_toml("[model]\ndir = \"/m\"\nsecond_pass = \"base\"\n", Path::new("/tmp/c.toml")).unwrap();
        let second = config.second_pass.unwrap();
        assert_eq!((second.name.as_str(), second.path, second.within_s), ("base", PathBuf::from("/m/ggml-base-q8_0.bin"), DEFAULT_SECOND_PASS_WITHIN_S));
        let err = Config::from_toml("[model]\nsecond_pass = \"base\"\nsecond_pass_within_s = 600\n", Path::new("/tmp/c.toml")).unwrap_err().to_string();
        assert!(err.contains("model.second_pass_within_s") && err.contains("3 minutes"), "{err}");
        let err = Config::from_toml("[model]\nsecond_pass_within_s = 10\n", Path::new("/tmp/c.toml")).unwrap_err().to_string();
        assert!(err.contains("model.second_pass"), "{err}");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_file() {
        let config = Config::from_toml("[model]\npath = \"m/x.bin\"\n", Path::new("/srv/cc/config.toml")).unwrap();
        assert_eq!(config.model_path, PathBuf::from("/srv/cc/m/x.bin"));
    }

    #[test]
    fn team_history_url_is_checked_and_its_password_never_shown() {
        // (CALLCOACH_HISTORY_URL, when set in the environment, would win over the file.)
        if std::env::var_os("CALLCOACH_HISTORY_URL").is_some() {
            return;
        }
        let at = Path::new("/tmp/c.toml");
        let config = Config::from_toml("[history]\nurl = \"postgresql://rep:hunter2-pw@db.example:6543/team\"\n", at).unwrap();
        assert_eq!(config.team_history.as_ref().unwrap().target(), "db.example:6543/team");
        assert!(!format!("{config:?}").contains("hunter2-pw"));
        let err = Config::from_toml("[history]\nurl = \"mysql://rep:hunter2-pw@db/team\"\n", at).unwrap_err().to_string();
        assert!(err.contains("history.url") && !err.contains("hunter2-pw"), "{err}");
        assert!(Config::from_toml("", at).unwrap().team_history.is_none());
    }

    #[test]
    fn shipped_default_toml_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let config = Config::from_file(&path).unwrap();
        let defaults = TranscribeOptions::default();
        assert_eq!(config.transcribe.threads, defaults.threads);
        assert_eq!(config.transcribe.max_tokens, defaults.max_tokens);
        assert!(config.model_path.ends_with("ggml-tiny.en-q8_0.bin"));
    }
}
