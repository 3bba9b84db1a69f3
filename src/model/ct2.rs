//! Reader for CTranslate2 `model.bin` files: an index of the variables, with their data read on demand (caller's thread).
//!
//! Layout (little-endian, binary version 4–6): `u32` version; string spec name;
//! `u32` spec revision; `u32` variable count; per variable: name, `u8` rank,
//! `u32` dims[rank], `u8` dtype, `u32` byte count, data; then `u32` alias count
//! and (alias, target) string pairs. Strings are `u16` length + bytes ending in NUL.
//!
//! Every length read from the file is checked against the file's size before
//! anything is allocated or skipped, so a truncated or foreign file is an error
//! naming the place it broke, never a panic or a huge allocation.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use half::{bf16, f16};

use super::ModelError;

const MIN_VERSION: u32 = 4;
const MAX_VERSION: u32 = 6;
const WHISPER_SPEC: &str = "WhisperSpec";
const MAX_RANK: usize = 8;

/// CTranslate2's `DataType` enum, as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ct2Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl Ct2Dtype {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Ct2Dtype::F32,
            1 => Ct2Dtype::I8,
            2 => Ct2Dtype::I16,
            3 => Ct2Dtype::I32,
            4 => Ct2Dtype::F16,
            5 => Ct2Dtype::BF16,
            _ => return None,
        })
    }

    fn size(self) -> u64 {
        match self {
            Ct2Dtype::I8 => 1,
            Ct2Dtype::I16 | Ct2Dtype::F16 | Ct2Dtype::BF16 => 2,
            Ct2Dtype::F32 | Ct2Dtype::I32 => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ct2Dtype::F32 => "float32",
            Ct2Dtype::I8 => "int8",
            Ct2Dtype::I16 => "int16",
            Ct2Dtype::I32 => "int32",
            Ct2Dtype::F16 => "float16",
            Ct2Dtype::BF16 => "bfloat16",
        }
    }
}

/// One variable's header; its data stays in the file at `offset`.
#[derive(Debug, Clone)]
pub(crate) struct Ct2Var {
    pub name: String,
    pub dims: Vec<u64>,
    pub dtype: Ct2Dtype,
    offset: u64,
    nbytes: u64,
}

impl Ct2Var {
    /// Elements in one leading-dimension row (1 for a vector or scalar).
    fn row_elems(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }

    fn rows(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }
}

/// An opened CTranslate2 model: the variable index plus the open file.
pub(crate) struct Ct2Model {
    path: PathBuf,
    file: File,
    pub spec_revision: u32,
    vars: Vec<Ct2Var>,
    index: HashMap<String, usize>,
}

/// Bounds-checked sequential reader over the file's header parts.
struct HeaderReader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
}

/// Reading past the end of the file: the caller turns it into a `Truncated` error with context.
struct Eof;

enum ParseError {
    Eof,
    Model(ModelError),
}

impl From<Eof> for ParseError {
    fn from(_: Eof) -> Self {
        ParseError::Eof
    }
}

impl From<ModelError> for ParseError {
    fn from(e: ModelError) -> Self {
        ParseError::Model(e)
    }
}

impl HeaderReader {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, Eof> {
        if n > self.remaining() {
            return Err(Eof);
        }
        // Bounded by the file's remaining size just above.
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).map_err(|_| Eof)?;
        self.pos += n;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Eof> {
        if (N as u64) > self.remaining() {
            return Err(Eof);
        }
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|_| Eof)?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8, Eof> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Eof> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Eof> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A `u16`-length string; CTranslate2 stores the trailing NUL too.
    fn string(&mut self) -> Result<Vec<u8>, Eof> {
        let len = self.u16()?;
        let mut bytes = self.bytes(u64::from(len))?;
        if bytes.last() == Some(&0) {
            bytes.pop();
        }
        Ok(bytes)
    }

    fn skip(&mut self, n: u64) -> Result<(), Eof> {
        if n > self.remaining() {
            return Err(Eof);
        }
        let n_i64 = i64::try_from(n).map_err(|_| Eof)?;
        self.inner.seek_relative(n_i64).map_err(|_| Eof)?;
        self.pos += n;
        Ok(())
    }
}

fn printable(bytes: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(40)
        .collect();
    text
}

impl Ct2Model {
    /// Reads the header and every variable's header, skipping the data.
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        let len = file.metadata().map_err(|e| ModelError::io(path, e))?.len();
        let mut reader = HeaderReader {
            inner: BufReader::new(file),
            pos: 0,
            len,
        };

        let not_whisper = |detail: String| ModelError::NotCt2Whisper {
            path: path.to_path_buf(),
            detail,
        };
        let truncated = |detail: String| ModelError::Truncated {
            path: path.to_path_buf(),
            detail,
        };

        let version = reader
            .u32()
            .map_err(|_| not_whisper(format!("the file is only {len} bytes long")))?;
        if version == 0 || version > 100 {
            let head = printable(&version.to_le_bytes());
            return Err(not_whisper(format!(
                "binary version {version} is not a CTranslate2 version; the file starts with '{head}'"
            )));
        }
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(ModelError::Unsupported {
                path: path.to_path_buf(),
                detail: format!(
                    "CTranslate2 binary version {version}; this converter reads versions {MIN_VERSION} to {MAX_VERSION}"
                ),
            });
        }
        let spec = reader
            .string()
            .map_err(|_| truncated("in the header".into()))?;
        if spec != WHISPER_SPEC.as_bytes() {
            return Err(not_whisper(format!("spec name '{}'", printable(&spec))));
        }
        let spec_revision = reader
            .u32()
            .map_err(|_| truncated("in the header".into()))?;
        let count = reader
            .u32()
            .map_err(|_| truncated("in the header".into()))?;
        // A variable header takes at least 12 bytes: never reserve for more than the file can hold.
        let plausible = (reader.remaining() / 12).min(u64::from(count)) as usize;
        let mut vars = Vec::with_capacity(plausible);
        let mut index = HashMap::with_capacity(plausible);
        for i in 0..count {
            let var = match read_var(&mut reader, path) {
                Ok(var) => var,
                Err(ParseError::Eof) => {
                    return Err(truncated(format!("at variable {} of {count}", i + 1)));
                }
                Err(ParseError::Model(e)) => return Err(e),
            };
            index.insert(var.name.clone(), vars.len());
            vars.push(var);
        }

        let alias_count = reader
            .u32()
            .map_err(|_| truncated("after the last variable (no alias table)".into()))?;
        for i in 0..alias_count {
            let pair = reader
                .string()
                .and_then(|alias| Ok((alias, reader.string()?)));
            let (alias, target) = pair.map_err(|_| {
                truncated(format!(
                    "in the alias table at alias {} of {alias_count}",
                    i + 1
                ))
            })?;
            let alias = String::from_utf8_lossy(&alias).into_owned();
            let target = String::from_utf8_lossy(&target).into_owned();
            // Aliases only add names for variables already stored (e.g. the
            // output projection shares the token embedding).
            if let Some(&target_index) = index.get(&target) {
                index.entry(alias).or_insert(target_index);
            }
        }

        Ok(Ct2Model {
            path: path.to_path_buf(),
            file: reader.inner.into_inner(),
            spec_revision,
            vars,
            index,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, name: &str) -> Option<&Ct2Var> {
        self.index.get(name).map(|&i| &self.vars[i])
    }

    pub fn var(&self, name: &str) -> Result<&Ct2Var, ModelError> {
        self.get(name).ok_or_else(|| ModelError::MissingVariable {
            path: self.path.clone(),
            name: name.to_string(),
        })
    }

    pub fn dims(&self, name: &str) -> Result<&[u64], ModelError> {
        Ok(&self.var(name)?.dims)
    }

    /// The value of an integer scalar such as `encoder/num_heads`, if present.
    pub fn scalar_int(&mut self, name: &str) -> Result<Option<i64>, ModelError> {
        let Some(var) = self.get(name).cloned() else {
            return Ok(None);
        };
        if !var.dims.is_empty() {
            return Err(self.corrupt(format!(
                "'{name}' should be a scalar, has dims {:?}",
                var.dims
            )));
        }
        let bytes = self.read_bytes(&var, 0, var.nbytes)?;
        let value = match (var.dtype, bytes.as_slice()) {
            (Ct2Dtype::I8, [b]) => i64::from(*b as i8),
            (Ct2Dtype::I16, &[a, b]) => i64::from(i16::from_le_bytes([a, b])),
            (Ct2Dtype::I32, &[a, b, c, d]) => i64::from(i32::from_le_bytes([a, b, c, d])),
            _ => {
                return Err(self.corrupt(format!(
                    "'{name}' is a {} scalar, expected an integer",
                    var.dtype.name()
                )));
            }
        };
        Ok(Some(value))
    }

    /// Checks that `name` exists with exactly `dims` and a float (or int8 with scale) type.
    pub fn check_source(&self, name: &str, dims: &[u64]) -> Result<(), ModelError> {
        let var = self.var(name)?;
        if var.dims != dims {
            return Err(self.corrupt(format!(
                "'{name}' has shape {:?}, expected {:?}",
                var.dims, dims
            )));
        }
        Ok(())
    }

    /// Rows `rows` (all if `None`) of a variable, as f32.
    pub fn read_rows_f32(
        &mut self,
        name: &str,
        rows: Option<Range<u64>>,
        out: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let var = self.var(name)?.clone();
        let rows = self.row_range(&var, rows)?;
        let row_elems = var.row_elems();
        let bytes = self.read_bytes(
            &var,
            rows.start * row_elems * var.dtype.size(),
            (rows.end - rows.start) * row_elems * var.dtype.size(),
        )?;
        out.clear();
        out.reserve(bytes.len() / var.dtype.size() as usize);
        match var.dtype {
            Ct2Dtype::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            Ct2Dtype::F16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()),
            ),
            Ct2Dtype::BF16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32()),
            ),
            Ct2Dtype::I8 => {
                // CTranslate2 int8 weights: q = round(w * scale[row]), one scale per output row.
                let scale_name = format!("{name}_scale");
                let mut scales = Vec::new();
                let scale_var = self.var(&scale_name)?.clone();
                if scale_var.dims != [var.rows()]
                    || !matches!(
                        scale_var.dtype,
                        Ct2Dtype::F32 | Ct2Dtype::F16 | Ct2Dtype::BF16
                    )
                {
                    return Err(self.corrupt(format!(
                        "'{scale_name}' should be {} float scales, is {} {:?}",
                        var.rows(),
                        scale_var.dtype.name(),
                        scale_var.dims
                    )));
                }
                self.read_rows_f32(&scale_name, Some(rows.clone()), &mut scales)?;
                for (row, chunk) in bytes.chunks_exact(row_elems.max(1) as usize).enumerate() {
                    let scale = scales.get(row).copied().unwrap_or(1.0);
                    if scale == 0.0 || !scale.is_finite() {
                        return Err(
                            self.corrupt(format!("'{scale_name}' has scale {scale} at row {row}"))
                        );
                    }
                    out.extend(chunk.iter().map(|&q| f32::from(q as i8) / scale));
                }
            }
            Ct2Dtype::I16 | Ct2Dtype::I32 => {
                return Err(ModelError::Unsupported {
                    path: self.path.clone(),
                    detail: format!(
                        "'{name}' is {}; convert the model with float16 or int8 quantisation",
                        var.dtype.name()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Rows of a variable as little-endian f16 bytes: a plain copy for float16
    /// data, a conversion otherwise.
    pub fn read_rows_f16_bytes(
        &mut self,
        name: &str,
        rows: Option<Range<u64>>,
        out: &mut Vec<u8>,
    ) -> Result<(), ModelError> {
        let var = self.var(name)?.clone();
        if var.dtype == Ct2Dtype::F16 {
            let rows = self.row_range(&var, rows)?;
            let row_bytes = var.row_elems() * 2;
            let bytes = self.read_bytes(
                &var,
                rows.start * row_bytes,
                (rows.end - rows.start) * row_bytes,
            )?;
            out.clear();
            out.extend_from_slice(&bytes);
            return Ok(());
        }
        let mut values = Vec::new();
        self.read_rows_f32(name, rows, &mut values)?;
        out.clear();
        out.reserve(values.len() * 2);
        for v in values {
            out.extend_from_slice(&f16::from_f32(v).to_le_bytes());
        }
        Ok(())
    }

    fn row_range(&self, var: &Ct2Var, rows: Option<Range<u64>>) -> Result<Range<u64>, ModelError> {
        let all = 0..var.rows();
        let rows = rows.unwrap_or(all.clone());
        if rows.start > rows.end || rows.end > all.end {
            return Err(self.corrupt(format!(
                "'{}' has {} rows, rows {}..{} were needed",
                var.name, all.end, rows.start, rows.end
            )));
        }
        Ok(rows)
    }

    fn read_bytes(&mut self, var: &Ct2Var, start: u64, len: u64) -> Result<Vec<u8>, ModelError> {
        // `open` proved offset + nbytes lies inside the file; this keeps reads within the variable.
        if start.checked_add(len).is_none_or(|end| end > var.nbytes) {
            return Err(self.corrupt(format!("read outside '{}'", var.name)));
        }
        let mut buf = vec![0u8; len as usize];
        self.file
            .seek(SeekFrom::Start(var.offset + start))
            .and_then(|_| self.file.read_exact(&mut buf))
            .map_err(|e| ModelError::io(&self.path, e))?;
        Ok(buf)
    }

    fn corrupt(&self, detail: String) -> ModelError {
        ModelError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }
}

fn read_var(reader: &mut HeaderReader, path: &Path) -> Result<Ct2Var, ParseError> {
    let corrupt = |detail: String| {
        ParseError::Model(ModelError::Corrupt {
            path: path.to_path_buf(),
            detail,
        })
    };
    let name_bytes = reader.string()?;
    let name = String::from_utf8(name_bytes)
        .map_err(|e| corrupt(format!("variable name is not UTF-8: {e}")))?;
    if name.is_empty() {
        return Err(corrupt("a variable has an empty name".into()));
    }
    let rank = reader.u8()? as usize;
    if rank > MAX_RANK {
        return Err(corrupt(format!("variable '{name}' has rank {rank}")));
    }
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        dims.push(u64::from(reader.u32()?));
    }
    let dtype_id = reader.u8()?;
    let dtype = Ct2Dtype::from_id(dtype_id)
        .ok_or_else(|| corrupt(format!("variable '{name}' has unknown dtype {dtype_id}")))?;
    let nbytes = u64::from(reader.u32()?);
    let expected = dims
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| corrupt(format!("variable '{name}' has impossible dims {dims:?}")))?;
    if nbytes != expected {
        return Err(corrupt(format!(
            "variable '{name}' ({} {dims:?}) declares {nbytes} bytes, its shape needs {expected}",
            dtype.name()
        )));
    }
    let offset = reader.pos;
    reader.skip(nbytes)?;
    Ok(Ct2Var {
        name,
        dims,
        dtype,
        offset,
        nbytes,
    })
}
