//! The legacy ggml Whisper file whisper.cpp loads: writer, atomic file, and `inspect` (caller's thread; blocking I/O).
//!
//! Layout (little-endian): `u32` magic 0x67676d6c; 11 `i32` hyper-parameters;
//! mel filters (`i32` n_mel, `i32` n_fft, n_mel×n_fft `f32`); vocabulary (`i32`
//! count, then per token `u32` length + bytes); then tensors until end of file:
//! `i32` n_dims, `i32` name length, `i32` ggml type, `i32` dims (ggml order),
//! name, data.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::layout::{self, TensorKind};
use super::{ModelError, Quant};

pub const GGML_MAGIC: u32 = 0x6767_6d6c;
/// ggml's `GGML_QNT_VERSION` / `GGML_QNT_VERSION_FACTOR`: the ftype of a
/// quantised file is `type + 1000 × version`.
pub const QNT_VERSION: i32 = 2;
pub const QNT_VERSION_FACTOR: i32 = 1000;

const MAX_TENSOR_NAME: i32 = 1024;
const MAX_TOKEN_BYTES: u32 = 1024;

/// The ggml tensor types a Whisper file can hold (ids from `enum ggml_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
    BF16,
}

impl GgmlType {
    pub fn from_id(id: i32) -> Option<Self> {
        Some(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            6 => GgmlType::Q5_0,
            7 => GgmlType::Q5_1,
            8 => GgmlType::Q8_0,
            10 => GgmlType::Q2K,
            11 => GgmlType::Q3K,
            12 => GgmlType::Q4K,
            13 => GgmlType::Q5K,
            14 => GgmlType::Q6K,
            30 => GgmlType::BF16,
            _ => return None,
        })
    }

    pub fn id(self) -> i32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q4_1 => 3,
            GgmlType::Q5_0 => 6,
            GgmlType::Q5_1 => 7,
            GgmlType::Q8_0 => 8,
            GgmlType::Q2K => 10,
            GgmlType::Q3K => 11,
            GgmlType::Q4K => 12,
            GgmlType::Q5K => 13,
            GgmlType::Q6K => 14,
            GgmlType::BF16 => 30,
        }
    }

    /// The weight type of a file's `ftype` (ggml's `ggml_ftype_to_ggml_type`),
    /// after removing the quantisation version. whisper.cpp aborts on an
    /// ftype it does not know, so an unknown one must be caught before loading.
    pub fn from_ftype(ftype: i32) -> Option<Self> {
        Some(match ftype % QNT_VERSION_FACTOR {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            7 => GgmlType::Q8_0,
            8 => GgmlType::Q5_0,
            9 => GgmlType::Q5_1,
            10 => GgmlType::Q2K,
            11 => GgmlType::Q3K,
            12 => GgmlType::Q4K,
            13 => GgmlType::Q5K,
            14 => GgmlType::Q6K,
            24 => GgmlType::BF16,
            _ => return None,
        })
    }

    /// (elements per block, bytes per block), from ggml's block structs.
    pub fn block(self) -> (u64, u64) {
        match self {
            GgmlType::F32 => (1, 4),
            GgmlType::F16 | GgmlType::BF16 => (1, 2),
            GgmlType::Q4_0 => (32, 18),
            GgmlType::Q4_1 => (32, 20),
            GgmlType::Q5_0 => (32, 22),
            GgmlType::Q5_1 => (32, 24),
            GgmlType::Q8_0 => (32, 34),
            GgmlType::Q2K => (256, 84),
            GgmlType::Q3K => (256, 110),
            GgmlType::Q4K => (256, 144),
            GgmlType::Q5K => (256, 176),
            GgmlType::Q6K => (256, 210),
        }
    }

    /// Bytes of a tensor with these dims (ggml order), or why it cannot be stored.
    pub fn nbytes(self, dims: &[u64]) -> Result<u64, String> {
        let (block, block_bytes) = self.block();
        let row = dims.first().copied().unwrap_or(1);
        if row % block != 0 {
            return Err(format!(
                "row length {row} is not a multiple of the {self} block size {block}"
            ));
        }
        let elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("dims {dims:?} overflow"))?;
        (elements / block)
            .checked_mul(block_bytes)
            .ok_or_else(|| format!("dims {dims:?} overflow"))
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GgmlType::F32 => "f32",
            GgmlType::F16 => "f16",
            GgmlType::Q4_0 => "q4_0",
            GgmlType::Q4_1 => "q4_1",
            GgmlType::Q5_0 => "q5_0",
            GgmlType::Q5_1 => "q5_1",
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q2K => "q2_K",
            GgmlType::Q3K => "q3_K",
            GgmlType::Q4K => "q4_K",
            GgmlType::Q5K => "q5_K",
            GgmlType::Q6K => "q6_K",
            GgmlType::BF16 => "bf16",
        })
    }
}

/// Whisper's hyper-parameters, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    /// ggml file type + 1000 × quantisation version (1 = f16, 2007 = q8_0).
    pub ftype: i32,
}

impl Hparams {
    fn to_array(self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    fn from_array(a: [i32; 11]) -> Self {
        Hparams {
            n_vocab: a[0],
            n_audio_ctx: a[1],
            n_audio_state: a[2],
            n_audio_head: a[3],
            n_audio_layer: a[4],
            n_text_ctx: a[5],
            n_text_state: a[6],
            n_text_head: a[7],
            n_text_layer: a[8],
            n_mels: a[9],
            ftype: a[10],
        }
    }

    /// The type of the file's big weight matrices, if whisper.cpp knows the ftype.
    pub fn weight_type(&self) -> Option<GgmlType> {
        GgmlType::from_ftype(self.ftype)
    }
}

/// One tensor's header, and where its data lies in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// Dims in ggml order (fastest-varying first), e.g. `[384, 51864]` for the token embedding.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset of the tensor's data from the start of the file.
    pub offset: u64,
    pub nbytes: u64,
}

/// What `inspect` found in a ggml Whisper file.
#[derive(Debug, Clone)]
pub struct GgmlInfo {
    pub path: PathBuf,
    pub file_size: u64,
    pub hparams: Hparams,
    pub n_mel: i32,
    pub n_fft: i32,
    /// Tokens stored in the file (whisper.cpp adds the special ones itself).
    pub n_vocab_tokens: i32,
    pub tensors: Vec<TensorInfo>,
    /// Offset just past the vocabulary, where the first tensor header starts.
    pub(crate) tensors_start: u64,
}

impl GgmlInfo {
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// How many tensors of each ggml type the file holds.
    pub fn type_counts(&self) -> BTreeMap<GgmlType, usize> {
        let mut counts = BTreeMap::new();
        for t in &self.tensors {
            *counts.entry(t.ggml_type).or_insert(0) += 1;
        }
        counts
    }

    /// Which of our quantisations this file is, if any.
    pub fn quant(&self) -> Option<Quant> {
        match self.hparams.weight_type()? {
            GgmlType::F16 => Some(Quant::F16),
            GgmlType::Q8_0 => Some(Quant::Q8_0),
            _ => None,
        }
    }
}

impl fmt::Display for GgmlInfo {
    /// A summary, then one line per tensor: name, ggml type, dims (ggml order), bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hp = &self.hparams;
        let wtype = hp
            .weight_type()
            .map_or_else(|| "?".to_string(), |t| t.to_string());
        writeln!(
            f,
            "{}: ggml Whisper model, {:.1} MB",
            self.path.display(),
            self.file_size as f64 / 1e6
        )?;
        writeln!(
            f,
            "  ftype {} (weights {wtype}), vocab {} ({} stored), mels {}, filters {}x{}",
            hp.ftype, hp.n_vocab, self.n_vocab_tokens, hp.n_mels, self.n_mel, self.n_fft
        )?;
        writeln!(
            f,
            "  encoder: ctx {}, width {}, heads {}, layers {}",
            hp.n_audio_ctx, hp.n_audio_state, hp.n_audio_head, hp.n_audio_layer
        )?;
        writeln!(
            f,
            "  decoder: ctx {}, width {}, heads {}, layers {}",
            hp.n_text_ctx, hp.n_text_state, hp.n_text_head, hp.n_text_layer
        )?;
        let types: Vec<String> = self
            .type_counts()
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        write!(f, "  {} tensors ({})", self.tensors.len(), types.join(", "))?;
        for t in &self.tensors {
            let dims: Vec<String> = t.dims.iter().map(|d| d.to_string()).collect();
            write!(
                f,
                "\n    {:<44} {:<5} [{}] {} B",
                t.name,
                t.ggml_type.to_string(),
                dims.join(", "),
                t.nbytes
            )?;
        }
        Ok(())
    }
}

/// The model's output file: [`crate::private_file::AtomicFile`] (temporary
/// name created exclusively, no-follow, renamed by `commit`; removed when
/// dropped uncommitted), with errors in the model's terms.
pub(crate) struct AtomicFile(crate::private_file::AtomicFile);

impl AtomicFile {
    pub fn create(dest: &Path) -> Result<Self, ModelError> {
        crate::private_file::AtomicFile::create_shared(dest).map(AtomicFile).map_err(|e| ModelError::io(dest, e))
    }

    /// Where the data goes until `commit` (to check it before it takes the destination's name).
    pub fn temp_path(&self) -> &Path {
        self.0.temp_path()
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.0.writer()
    }

    pub fn commit(self) -> Result<(), ModelError> {
        let temp = self.0.temp_path().to_path_buf();
        self.0.commit().map_err(|e| ModelError::io(&temp, e))
    }
}

/// Writes a ggml Whisper file section by section, counting bytes.
pub(crate) struct GgmlWriter<'a, W: Write> {
    out: &'a mut W,
    path: &'a Path,
    bytes: u64,
}

impl<'a, W: Write> GgmlWriter<'a, W> {
    pub fn new(out: &'a mut W, path: &'a Path) -> Self {
        GgmlWriter {
            out,
            path,
            bytes: 0,
        }
    }

    fn put(&mut self, data: &[u8]) -> Result<(), ModelError> {
        self.out
            .write_all(data)
            .map_err(|e| ModelError::io(self.path, e))?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn put_i32(&mut self, v: i32) -> Result<(), ModelError> {
        self.put(&v.to_le_bytes())
    }

    pub fn write_header(&mut self, hp: &Hparams) -> Result<(), ModelError> {
        self.put(&GGML_MAGIC.to_le_bytes())?;
        for v in hp.to_array() {
            self.put_i32(v)?;
        }
        Ok(())
    }

    pub fn write_mel_filters(
        &mut self,
        n_mel: i32,
        n_fft: i32,
        filters: &[f32],
    ) -> Result<(), ModelError> {
        assert_eq!(filters.len(), (n_mel * n_fft) as usize, "filterbank shape");
        self.put_i32(n_mel)?;
        self.put_i32(n_fft)?;
        let mut buf = Vec::with_capacity(filters.len() * 4);
        for v in filters {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        self.put(&buf)
    }

    pub fn write_vocabulary(&mut self, tokens: &[Vec<u8>]) -> Result<(), ModelError> {
        self.put_i32(tokens.len() as i32)?;
        for t in tokens {
            self.put(&(t.len() as u32).to_le_bytes())?;
            self.put(t)?;
        }
        Ok(())
    }

    /// Copies already-encoded header bytes (mel filters + vocabulary) from another file.
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ModelError> {
        self.put(bytes)
    }

    pub fn write_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        ty: GgmlType,
        data: &[u8],
    ) -> Result<(), ModelError> {
        let expected = ty
            .nbytes(dims)
            .expect("the layout only plans storable tensors");
        assert_eq!(data.len() as u64, expected, "tensor '{name}' data size");
        self.put_i32(dims.len() as i32)?;
        self.put_i32(name.len() as i32)?;
        self.put_i32(ty.id())?;
        for &d in dims {
            self.put_i32(d as i32)?;
        }
        self.put(name.as_bytes())?;
        self.put(data)
    }

    /// Flushes and returns the number of bytes written.
    pub fn finish(self) -> Result<u64, ModelError> {
        self.out.flush().map_err(|e| ModelError::io(self.path, e))?;
        Ok(self.bytes)
    }
}

/// Bounds-checked reader over a ggml file; reading past the end is `None`.
struct Reader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
}

impl Reader {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        if (N as u64) > self.remaining() {
            return None;
        }
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).ok()?;
        self.pos += N as u64;
        Some(buf)
    }

    fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn bytes(&mut self, n: u64) -> Option<Vec<u8>> {
        if n > self.remaining() {
            return None;
        }
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).ok()?;
        self.pos += n;
        Some(buf)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        if n > self.remaining() {
            return None;
        }
        self.inner.seek_relative(i64::try_from(n).ok()?).ok()?;
        self.pos += n;
        Some(())
    }
}

/// Parses a ggml Whisper file's header and every tensor header without reading
/// tensor data, checks every size against the file, and checks the tensors
/// against what whisper.cpp's loader expects for these hyper-parameters
/// (names, shapes, types, none missing or extra). A file that passes loads in
/// whisper.cpp 1.8.3.
pub fn inspect(path: &Path) -> Result<GgmlInfo, ModelError> {
    let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
    let len = file.metadata().map_err(|e| ModelError::io(path, e))?.len();
    let mut r = Reader {
        inner: BufReader::new(file),
        pos: 0,
        len,
    };
    let p = || path.to_path_buf();
    let truncated = |detail: String| ModelError::Truncated { path: p(), detail };
    let corrupt = |detail: String| ModelError::Corrupt { path: p(), detail };
    let layout_err = |detail: String| ModelError::Layout { path: p(), detail };

    let magic = r.u32().ok_or_else(|| ModelError::NotGgml {
        path: p(),
        detail: format!("the file is only {len} bytes long"),
    })?;
    if magic != GGML_MAGIC {
        let head: String = magic
            .to_le_bytes()
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect();
        return Err(ModelError::NotGgml {
            path: p(),
            detail: format!(
                "magic 0x{magic:08x}, expected 0x{GGML_MAGIC:08x}; the file starts with '{head}'"
            ),
        });
    }
    let mut raw = [0i32; 11];
    for v in raw.iter_mut() {
        *v = r.i32().ok_or_else(|| truncated("in the header".into()))?;
    }
    let hp = Hparams::from_array(raw);
    check_hparams(&hp).map_err(corrupt)?;
    let wtype = hp.weight_type().ok_or_else(|| {
        layout_err(format!(
            "unknown ftype {} (whisper.cpp would abort)",
            hp.ftype
        ))
    })?;

    let n_mel = r
        .i32()
        .ok_or_else(|| truncated("in the mel filters".into()))?;
    let n_fft = r
        .i32()
        .ok_or_else(|| truncated("in the mel filters".into()))?;
    if n_mel != hp.n_mels || n_fft != 201 {
        return Err(layout_err(format!(
            "mel filterbank is {n_mel}×{n_fft}, whisper.cpp needs {}×201",
            hp.n_mels
        )));
    }
    r.skip(n_mel as u64 * n_fft as u64 * 4)
        .ok_or_else(|| truncated("in the mel filters".into()))?;

    let n_tokens = r
        .i32()
        .ok_or_else(|| truncated("before the vocabulary".into()))?;
    if n_tokens < 0 || n_tokens > hp.n_vocab {
        return Err(corrupt(format!(
            "vocabulary of {n_tokens} tokens for n_vocab {}",
            hp.n_vocab
        )));
    }
    for i in 0..n_tokens {
        let at = || {
            truncated(format!(
                "in the vocabulary at token {} of {n_tokens}",
                i + 1
            ))
        };
        let n = r.u32().ok_or_else(at)?;
        if n > MAX_TOKEN_BYTES {
            return Err(corrupt(format!("vocabulary token {i} claims {n} bytes")));
        }
        r.skip(u64::from(n)).ok_or_else(at)?;
    }
    let tensors_start = r.pos;

    let mut tensors: Vec<TensorInfo> = Vec::new();
    let mut seen = HashMap::new();
    while r.remaining() > 0 {
        let k = tensors.len() + 1;
        let header = || {
            truncated(format!(
                "in the header of tensor {k} (after {} complete tensors)",
                k - 1
            ))
        };
        let n_dims = r.i32().ok_or_else(header)?;
        let name_len = r.i32().ok_or_else(header)?;
        let type_id = r.i32().ok_or_else(header)?;
        if !(1..=4).contains(&n_dims) {
            return Err(corrupt(format!("tensor {k} has {n_dims} dims")));
        }
        if !(1..=MAX_TENSOR_NAME).contains(&name_len) {
            return Err(corrupt(format!(
                "tensor {k} has a name of {name_len} bytes"
            )));
        }
        let ggml_type = GgmlType::from_id(type_id)
            .ok_or_else(|| corrupt(format!("tensor {k} has unknown ggml type {type_id}")))?;
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = r.i32().ok_or_else(header)?;
            if d <= 0 {
                return Err(corrupt(format!("tensor {k} has dimension {d}")));
            }
            dims.push(d as u64);
        }
        let name_bytes = r.bytes(name_len as u64).ok_or_else(header)?;
        let name = String::from_utf8(name_bytes)
            .map_err(|_| corrupt(format!("tensor {k} has a name that is not UTF-8")))?;
        let nbytes = ggml_type
            .nbytes(&dims)
            .map_err(|e| corrupt(format!("tensor '{name}': {e}")))?;
        let offset = r.pos;
        r.skip(nbytes).ok_or_else(|| {
            truncated(format!(
                "in tensor {k} '{name}': its data needs {nbytes} bytes, {} remain",
                r_remaining(len, offset)
            ))
        })?;
        if seen.insert(name.clone(), k).is_some() {
            return Err(corrupt(format!("tensor '{name}' appears twice")));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            nbytes,
        });
    }

    let info = GgmlInfo {
        path: p(),
        file_size: len,
        hparams: hp,
        n_mel,
        n_fft,
        n_vocab_tokens: n_tokens,
        tensors,
        tensors_start,
    };
    check_layout(&info, wtype).map_err(layout_err)?;
    Ok(info)
}

fn r_remaining(len: u64, offset: u64) -> u64 {
    len.saturating_sub(offset)
}

fn check_hparams(hp: &Hparams) -> Result<(), String> {
    let fields = [
        ("n_vocab", hp.n_vocab, 1 << 20),
        ("n_audio_ctx", hp.n_audio_ctx, 1 << 16),
        ("n_audio_state", hp.n_audio_state, 1 << 16),
        ("n_audio_head", hp.n_audio_head, 1 << 10),
        ("n_audio_layer", hp.n_audio_layer, 1 << 10),
        ("n_text_ctx", hp.n_text_ctx, 1 << 16),
        ("n_text_state", hp.n_text_state, 1 << 16),
        ("n_text_head", hp.n_text_head, 1 << 10),
        ("n_text_layer", hp.n_text_layer, 1 << 10),
        ("n_mels", hp.n_mels, 1 << 12),
    ];
    for (name, value, max) in fields {
        if value <= 0 || value > max {
            return Err(format!(
                "hyper-parameter {name} = {value} is out of range (1..={max})"
            ));
        }
    }
    if hp.n_audio_state != hp.n_text_state {
        return Err(format!(
            "n_audio_state {} differs from n_text_state {} (whisper.cpp asserts they are equal)",
            hp.n_audio_state, hp.n_text_state
        ));
    }
    Ok(())
}

/// Compares the file's tensors with whisper.cpp's expected list.
fn check_layout(info: &GgmlInfo, wtype: GgmlType) -> Result<(), String> {
    let expected = layout::whisper_specs(&info.hparams);
    let by_name: HashMap<&str, &layout::TensorSpec> =
        expected.iter().map(|s| (s.name.as_str(), s)).collect();
    for t in &info.tensors {
        let spec = by_name
            .get(t.name.as_str())
            .ok_or_else(|| format!("unknown tensor '{}'", t.name))?;
        // whisper.cpp compares 3 dims, padding with 1s.
        let pad = |d: &[u64]| {
            let mut v = d.to_vec();
            v.resize(4, 1);
            v
        };
        if pad(&t.dims) != pad(&spec.dims) {
            return Err(format!(
                "tensor '{}' has shape {:?}, expected {:?}",
                t.name, t.dims, spec.dims
            ));
        }
        let want = spec.kind.ggml_type(wtype);
        if t.ggml_type != want {
            let why = match spec.kind {
                TensorKind::Weight => "the file's weight type",
                TensorKind::Conv => "the convolution type",
                TensorKind::F32 => "always f32",
            };
            return Err(format!(
                "tensor '{}' is {}, expected {want} ({why})",
                t.name, t.ggml_type
            ));
        }
    }
    if info.tensors.len() != expected.len() {
        let present: std::collections::HashSet<&str> =
            info.tensors.iter().map(|t| t.name.as_str()).collect();
        let missing: Vec<&str> = expected
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !present.contains(n))
            .collect();
        return Err(format!(
            "{} of {} tensors present; missing '{}'{}",
            info.tensors.len(),
            expected.len(),
            missing.first().unwrap_or(&"?"),
            if missing.len() > 1 {
                format!(" and {} more", missing.len() - 1)
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small Whisper-shaped hyper-parameters: files of a few hundred KB.
    const SMALL: Hparams = Hparams {
        n_vocab: 100,
        n_audio_ctx: 8,
        n_audio_state: 64,
        n_audio_head: 1,
        n_audio_layer: 1,
        n_text_ctx: 4,
        n_text_state: 64,
        n_text_head: 1,
        n_text_layer: 2,
        n_mels: 8,
        ftype: 2007,
    };

    type Tensors = Vec<(String, Vec<u64>, GgmlType)>;

    /// Writes a ggml file with the expected tensor list (zero data), after `tamper` edits the list.
    fn synthetic(path: &Path, hp: Hparams, n_fft: i32, tamper: impl FnOnce(&mut Tensors)) -> u64 {
        let wtype = hp.weight_type().unwrap_or(GgmlType::F16);
        let mut tensors: Tensors = layout::whisper_specs(&hp)
            .into_iter()
            .map(|s| {
                let ty = s.kind.ggml_type(wtype);
                (s.name, s.dims, ty)
            })
            .collect();
        tamper(&mut tensors);
        let mut file = File::create(path).unwrap();
        let mut w = GgmlWriter::new(&mut file, path);
        w.write_header(&hp).unwrap();
        w.write_mel_filters(hp.n_mels, n_fft, &vec![0.5; (hp.n_mels * n_fft) as usize])
            .unwrap();
        w.write_vocabulary(&[b"a".to_vec(), b" the".to_vec(), b"\n".to_vec()])
            .unwrap();
        for (name, dims, ty) in &tensors {
            let data = vec![0u8; ty.nbytes(dims).unwrap() as usize];
            w.write_tensor(name, dims, *ty, &data).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn inspect_accepts_a_whisper_file_and_maps_every_tensor() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("small.bin");
        let size = synthetic(&path, SMALL, 201, |_| {});
        let info = inspect(&path).unwrap();
        assert_eq!(info.file_size, size);
        assert_eq!(info.hparams, SMALL);
        assert_eq!(info.n_vocab_tokens, 3);
        // 11 + 15 per encoder layer + 24 per decoder layer.
        assert_eq!(info.tensors.len(), 11 + 15 + 2 * 24);
        assert_eq!(info.quant(), Some(Quant::Q8_0));
        let q = info.tensor("decoder.token_embedding.weight").unwrap();
        assert_eq!(
            (q.ggml_type, q.dims.clone(), q.nbytes),
            (GgmlType::Q8_0, vec![64, 100], 100 * 2 * 34)
        );
        // Data regions tile the file after each header, ending exactly at its end.
        let last = info.tensors.last().unwrap();
        assert_eq!(last.offset + last.nbytes, size);
        for pair in info.tensors.windows(2) {
            let header = 12 + 4 * pair[1].dims.len() as u64 + pair[1].name.len() as u64;
            assert_eq!(pair[0].offset + pair[0].nbytes + header, pair[1].offset);
        }
        assert!(info.to_string().contains("decoder.token_embedding.weight"));
    }

    #[test]
    fn inspect_names_the_file_and_the_place_a_truncated_file_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let full_path = tmp.path().join("full.bin");
        synthetic(&full_path, SMALL, 201, |_| {});
        let full = std::fs::read(&full_path).unwrap();
        let info = inspect(&full_path).unwrap();
        let first = &info.tensors[0];
        let path = tmp.path().join("cut.bin");
        let mel_end = 48 + 8 + 8 * 201 * 4;
        let cases: Vec<(usize, String)> = vec![
            (
                2,
                "not a ggml Whisper model (the file is only 2 bytes long)".into(),
            ),
            (20, "truncated in the header".into()),
            (48 + 8 + 100, "truncated in the mel filters".into()),
            (
                mel_end + 4 + 4 + 1 + 2,
                "truncated in the vocabulary at token 2 of 3".into(),
            ),
            (
                info.tensors_start as usize + 5,
                "truncated in the header of tensor 1 (after 0 complete tensors)".into(),
            ),
            (
                first.offset as usize + 10,
                format!(
                    "truncated in tensor 1 '{}': its data needs {} bytes, 10 remain",
                    first.name, first.nbytes
                ),
            ),
            (
                full.len() - 1,
                "truncated in tensor 74 'decoder.ln.bias': its data needs 256 bytes, 255 remain"
                    .into(),
            ),
        ];
        for (len, expected) in cases {
            std::fs::write(&path, &full[..len]).unwrap();
            let err = inspect(&path)
                .expect_err("truncated file accepted")
                .to_string();
            assert_eq!(
                err,
                format!("{}: {expected}", path.display()),
                "cut at {len}"
            );
        }
    }

    #[test]
    fn inspect_rejects_what_whisper_cpp_would_reject() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bad.bin");
        let check = |hp: Hparams, n_fft: i32, tamper: &dyn Fn(&mut Tensors), expected: &str| {
            synthetic(&path, hp, n_fft, |t| tamper(t));
            let err = inspect(&path).expect_err(expected).to_string();
            assert!(
                err.starts_with(&path.display().to_string()) && err.contains(expected),
                "{err}\nexpected: {expected}"
            );
        };
        let none = |_: &mut Tensors| {};
        check(
            SMALL,
            201,
            &|t| t.retain(|x| x.0 != "decoder.ln.weight"),
            "73 of 74 tensors present; missing 'decoder.ln.weight'",
        );
        check(
            SMALL,
            201,
            &|t| t.push(("alignment_heads".into(), vec![4], GgmlType::F32)),
            "unknown tensor 'alignment_heads'",
        );
        check(
            SMALL,
            201,
            &|t| t[2].2 = GgmlType::F16,
            "tensor 'encoder.conv1.bias' is f16, expected f32 (always f32)",
        );
        check(
            SMALL,
            201,
            &|t| t[1].2 = GgmlType::F32,
            "tensor 'encoder.conv1.weight' is f32, expected f16 (the convolution type)",
        );
        check(SMALL, 201, &|t| t[5].2 = GgmlType::F16, "tensor 'encoder.blocks.0.attn.query.weight' is f16, expected q8_0 (the file's weight type)");
        check(
            SMALL,
            201,
            &|t| t[2].1 = vec![64],
            "tensor 'encoder.conv1.bias' has shape [64], expected [1, 64]",
        );
        check(
            SMALL,
            201,
            &|t| {
                let d = t[3].clone();
                t.push(d)
            },
            "corrupt: tensor 'encoder.conv2.weight' appears twice",
        );
        check(
            SMALL,
            200,
            &none,
            "mel filterbank is 8×200, whisper.cpp needs 8×201",
        );
        check(
            Hparams { ftype: 4, ..SMALL },
            201,
            &none,
            "unknown ftype 4 (whisper.cpp would abort)",
        );
        check(
            Hparams {
                n_text_state: 32,
                ..SMALL
            },
            201,
            &none,
            "n_audio_state 64 differs from n_text_state 32",
        );
        check(
            Hparams {
                n_audio_layer: 0,
                ..SMALL
            },
            201,
            &none,
            "hyper-parameter n_audio_layer = 0 is out of range",
        );

        std::fs::write(&path, b"RIFF\x00\x00\x00\x00WAVEfmt ").unwrap();
        let err = inspect(&path).unwrap_err().to_string();
        assert!(
            err.contains("not a ggml Whisper model (magic 0x46464952") && err.contains("'RIFF'"),
            "{err}"
        );
    }

    #[test]
    fn type_sizes_follow_ggml_blocks() {
        assert_eq!(
            GgmlType::Q8_0.nbytes(&[384, 384]).unwrap(),
            384 * 384 / 32 * 34
        );
        assert_eq!(
            GgmlType::F16.nbytes(&[3, 80, 384]).unwrap(),
            3 * 80 * 384 * 2
        );
        assert!(GgmlType::Q8_0
            .nbytes(&[100, 2])
            .unwrap_err()
            .contains("not a multiple"));
        assert!(GgmlType::F32.nbytes(&[u64::MAX, 2]).is_err());
        for id in 0..40 {
            if let Some(t) = GgmlType::from_id(id) {
                assert_eq!(t.id(), id);
            }
        }
        assert_eq!(GgmlType::from_ftype(2007), Some(GgmlType::Q8_0));
        assert_eq!(GgmlType::from_ftype(1), Some(GgmlType::F16));
        assert_eq!(GgmlType::from_ftype(4), None);
    }
}
