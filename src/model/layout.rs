//! The tensor list whisper.cpp's loader expects for a Whisper model, and where each tensor comes from in a CTranslate2 model.
//!
//! One list serves both directions: the converter writes exactly these tensors
//! (in the order OpenAI's state dict and whisper.cpp's own converter use), and
//! `inspect` checks a ggml file against it, so a file that passes `inspect` is
//! one whisper.cpp 1.8.3 will load. Names, shapes and types follow
//! `whisper_model_load` in whisper.cpp (`src/whisper.cpp`, `src/whisper-arch.h`).

use std::ops::Range;

use super::ct2::Ct2Model;
use super::ggml::{GgmlType, Hparams};
use super::{ModelError, Quant};

/// Which ggml type a tensor gets, relative to the file's weight type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TensorKind {
    /// 2-D weight matrices: whisper.cpp's `wtype` (F16, or quantised).
    Weight,
    /// Convolution kernels: whisper.cpp's `vtype`, F16 unless the whole file is F32.
    Conv,
    /// Biases, layer norms, positional embeddings: always F32.
    F32,
}

impl TensorKind {
    pub fn ggml_type(self, wtype: GgmlType) -> GgmlType {
        match self {
            TensorKind::Weight => wtype,
            TensorKind::Conv if wtype == GgmlType::F32 => GgmlType::F32,
            TensorKind::Conv => GgmlType::F16,
            TensorKind::F32 => GgmlType::F32,
        }
    }
}

/// One tensor as whisper.cpp names and shapes it (dims in ggml order: fastest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorSpec {
    pub name: String,
    pub dims: Vec<u64>,
    pub kind: TensorKind,
}

/// Where a tensor's data lives in the CTranslate2 model: a variable with
/// its full CTranslate2 shape, and optionally a range of its leading rows
/// (CTranslate2 fuses q/k/v projections into one matrix).
#[derive(Debug, Clone)]
pub(crate) struct Ct2Source {
    pub var: String,
    pub ct2_dims: Vec<u64>,
    pub rows: Option<Range<u64>>,
}

#[derive(Debug, Clone)]
pub(crate) struct PlannedTensor {
    pub spec: TensorSpec,
    pub source: Ct2Source,
}

struct Plan {
    out: Vec<PlannedTensor>,
}

impl Plan {
    fn push(
        &mut self,
        name: String,
        dims: Vec<u64>,
        kind: TensorKind,
        var: String,
        ct2_dims: Vec<u64>,
        rows: Option<Range<u64>>,
    ) {
        self.out.push(PlannedTensor {
            spec: TensorSpec { name, dims, kind },
            source: Ct2Source {
                var,
                ct2_dims,
                rows,
            },
        });
    }

    /// A linear layer stored whole: CTranslate2 weight [out, in] -> ggml [in, out].
    fn linear(&mut self, wname: &str, ct: &str, n_in: u64, n_out: u64) {
        self.push(
            format!("{wname}.weight"),
            vec![n_in, n_out],
            TensorKind::Weight,
            format!("{ct}/weight"),
            vec![n_out, n_in],
            None,
        );
        self.push(
            format!("{wname}.bias"),
            vec![n_out],
            TensorKind::F32,
            format!("{ct}/bias"),
            vec![n_out],
            None,
        );
    }

    /// One part of a fused projection: rows `part*n..(part+1)*n` of a [parts*n, n] matrix.
    fn fused_part(
        &mut self,
        wname: &str,
        ct: &str,
        n: u64,
        parts: u64,
        part: u64,
        with_bias: bool,
    ) {
        let rows = part * n..(part + 1) * n;
        self.push(
            format!("{wname}.weight"),
            vec![n, n],
            TensorKind::Weight,
            format!("{ct}/weight"),
            vec![parts * n, n],
            Some(rows.clone()),
        );
        if with_bias {
            self.push(
                format!("{wname}.bias"),
                vec![n],
                TensorKind::F32,
                format!("{ct}/bias"),
                vec![parts * n],
                Some(rows),
            );
        }
    }

    fn norm(&mut self, wname: &str, ct: &str, n: u64) {
        self.push(
            format!("{wname}.weight"),
            vec![n],
            TensorKind::F32,
            format!("{ct}/gamma"),
            vec![n],
            None,
        );
        self.push(
            format!("{wname}.bias"),
            vec![n],
            TensorKind::F32,
            format!("{ct}/beta"),
            vec![n],
            None,
        );
    }

    /// Self-attention: fused q,k,v (`linear_0`), output (`linear_1`), pre-norm.
    /// Whisper has no key bias; CTranslate2's zero key bias is dropped.
    fn self_attention(&mut self, wp: &str, ct: &str, n: u64) {
        let fused = format!("{ct}/self_attention/linear_0");
        self.fused_part(&format!("{wp}.attn.query"), &fused, n, 3, 0, true);
        self.fused_part(&format!("{wp}.attn.key"), &fused, n, 3, 1, false);
        self.fused_part(&format!("{wp}.attn.value"), &fused, n, 3, 2, true);
        self.linear(
            &format!("{wp}.attn.out"),
            &format!("{ct}/self_attention/linear_1"),
            n,
            n,
        );
        self.norm(
            &format!("{wp}.attn_ln"),
            &format!("{ct}/self_attention/layer_norm"),
            n,
        );
    }

    /// Cross-attention: query (`linear_0`), fused k,v (`linear_1`), output (`linear_2`).
    fn cross_attention(&mut self, wp: &str, ct: &str, n: u64) {
        self.linear(
            &format!("{wp}.cross_attn.query"),
            &format!("{ct}/attention/linear_0"),
            n,
            n,
        );
        let fused = format!("{ct}/attention/linear_1");
        self.fused_part(&format!("{wp}.cross_attn.key"), &fused, n, 2, 0, false);
        self.fused_part(&format!("{wp}.cross_attn.value"), &fused, n, 2, 1, true);
        self.linear(
            &format!("{wp}.cross_attn.out"),
            &format!("{ct}/attention/linear_2"),
            n,
            n,
        );
        self.norm(
            &format!("{wp}.cross_attn_ln"),
            &format!("{ct}/attention/layer_norm"),
            n,
        );
    }

    fn mlp(&mut self, wp: &str, ct: &str, n: u64) {
        self.linear(
            &format!("{wp}.mlp.0"),
            &format!("{ct}/ffn/linear_0"),
            n,
            4 * n,
        );
        self.linear(
            &format!("{wp}.mlp.2"),
            &format!("{ct}/ffn/linear_1"),
            4 * n,
            n,
        );
        self.norm(&format!("{wp}.mlp_ln"), &format!("{ct}/ffn/layer_norm"), n);
    }
}

/// Every tensor of a Whisper model with these hyper-parameters, in file order,
/// each with its CTranslate2 source. 15 per encoder layer, 24 per decoder
/// layer, 11 others: 167 for tiny (4 + 4 layers).
pub(crate) fn whisper_layout(hp: &Hparams) -> Vec<PlannedTensor> {
    let a_state = hp.n_audio_state as u64;
    let a_ctx = hp.n_audio_ctx as u64;
    let t_state = hp.n_text_state as u64;
    let t_ctx = hp.n_text_ctx as u64;
    let n_mels = hp.n_mels as u64;
    let n_vocab = hp.n_vocab as u64;
    let mut plan = Plan { out: Vec::new() };

    plan.push(
        "encoder.positional_embedding".into(),
        vec![a_state, a_ctx],
        TensorKind::F32,
        "encoder/position_encodings/encodings".into(),
        vec![a_ctx, a_state],
        None,
    );
    // Conv kernels keep CTranslate2's (out, in, width) layout = ggml [width, in, out];
    // whisper.cpp wants the conv biases as [1, n_state] so they broadcast over time.
    plan.push(
        "encoder.conv1.weight".into(),
        vec![3, n_mels, a_state],
        TensorKind::Conv,
        "encoder/conv1/weight".into(),
        vec![a_state, n_mels, 3],
        None,
    );
    plan.push(
        "encoder.conv1.bias".into(),
        vec![1, a_state],
        TensorKind::F32,
        "encoder/conv1/bias".into(),
        vec![a_state],
        None,
    );
    plan.push(
        "encoder.conv2.weight".into(),
        vec![3, a_state, a_state],
        TensorKind::Conv,
        "encoder/conv2/weight".into(),
        vec![a_state, a_state, 3],
        None,
    );
    plan.push(
        "encoder.conv2.bias".into(),
        vec![1, a_state],
        TensorKind::F32,
        "encoder/conv2/bias".into(),
        vec![a_state],
        None,
    );
    for i in 0..hp.n_audio_layer {
        let wp = format!("encoder.blocks.{i}");
        let ct = format!("encoder/layer_{i}");
        plan.self_attention(&wp, &ct, a_state);
        plan.mlp(&wp, &ct, a_state);
    }
    plan.norm("encoder.ln_post", "encoder/layer_norm", a_state);

    plan.push(
        "decoder.positional_embedding".into(),
        vec![t_state, t_ctx],
        TensorKind::F32,
        "decoder/position_encodings/encodings".into(),
        vec![t_ctx, t_state],
        None,
    );
    plan.push(
        "decoder.token_embedding.weight".into(),
        vec![t_state, n_vocab],
        TensorKind::Weight,
        "decoder/embeddings/weight".into(),
        vec![n_vocab, t_state],
        None,
    );
    for i in 0..hp.n_text_layer {
        let wp = format!("decoder.blocks.{i}");
        let ct = format!("decoder/layer_{i}");
        plan.self_attention(&wp, &ct, t_state);
        plan.cross_attention(&wp, &ct, t_state);
        plan.mlp(&wp, &ct, t_state);
    }
    plan.norm("decoder.ln", "decoder/layer_norm", t_state);
    plan.out
}

/// The tensor names, shapes and kinds alone (what `inspect` checks a file against).
pub(crate) fn whisper_specs(hp: &Hparams) -> Vec<TensorSpec> {
    whisper_layout(hp).into_iter().map(|p| p.spec).collect()
}

/// The key-bias slices the converter drops (CTranslate2 variable, rows):
/// they must be zero, or the converted model would differ from the original.
pub(crate) fn dropped_key_biases(hp: &Hparams) -> Vec<(String, Range<u64>)> {
    let a = hp.n_audio_state as u64;
    let t = hp.n_text_state as u64;
    let mut out = Vec::new();
    for i in 0..hp.n_audio_layer {
        out.push((
            format!("encoder/layer_{i}/self_attention/linear_0/bias"),
            a..2 * a,
        ));
    }
    for i in 0..hp.n_text_layer {
        out.push((
            format!("decoder/layer_{i}/self_attention/linear_0/bias"),
            t..2 * t,
        ));
        out.push((format!("decoder/layer_{i}/attention/linear_1/bias"), 0..t));
    }
    out
}

/// Whisper's hyper-parameters, read off the CTranslate2 variables' shapes.
pub(crate) fn hparams_from_ct2(model: &mut Ct2Model, quant: Quant) -> Result<Hparams, ModelError> {
    let path = model.path().to_path_buf();
    let corrupt = |detail: String| ModelError::Corrupt {
        path: path.clone(),
        detail,
    };
    let dims2 = |model: &Ct2Model, name: &str| -> Result<(u64, u64), ModelError> {
        match model.dims(name)? {
            &[a, b] => Ok((a, b)),
            other => Err(corrupt(format!(
                "'{name}' should be 2-D, has shape {other:?}"
            ))),
        }
    };

    let (n_vocab, n_text_state) = dims2(model, "decoder/embeddings/weight")?;
    let (n_text_ctx, t_state2) = dims2(model, "decoder/position_encodings/encodings")?;
    let (n_audio_ctx, n_audio_state) = dims2(model, "encoder/position_encodings/encodings")?;
    let n_mels = match model.dims("encoder/conv1/weight")? {
        &[out, mels, 3] if out == n_audio_state => mels,
        other => {
            return Err(corrupt(format!(
                "'encoder/conv1/weight' has shape {other:?}, expected [{n_audio_state}, n_mels, 3]"
            )))
        }
    };
    if t_state2 != n_text_state {
        return Err(corrupt(format!(
            "decoder width {n_text_state} (embeddings) differs from {t_state2} (position encodings)"
        )));
    }
    if n_text_state != n_audio_state {
        // whisper.cpp asserts the two are equal.
        return Err(ModelError::Unsupported {
            path: path.clone(),
            detail: format!(
                "encoder width {n_audio_state} differs from decoder width {n_text_state}"
            ),
        });
    }
    let count_layers = |model: &Ct2Model, side: &str| {
        (0..)
            .take_while(|i| {
                model
                    .get(&format!("{side}/layer_{i}/self_attention/linear_0/weight"))
                    .is_some()
            })
            .count() as u64
    };
    let n_audio_layer = count_layers(model, "encoder");
    let n_text_layer = count_layers(model, "decoder");
    // Whisper's attention heads are 64 wide; older CTranslate2 files may not store the count.
    let n_audio_head = model
        .scalar_int("encoder/num_heads")?
        .map_or(n_audio_state / 64, |h| h.max(0) as u64);
    let n_text_head = model
        .scalar_int("decoder/num_heads")?
        .map_or(n_text_state / 64, |h| h.max(0) as u64);

    let fields = [
        ("n_vocab", n_vocab, 1 << 20),
        ("n_audio_ctx", n_audio_ctx, 1 << 16),
        ("n_audio_state", n_audio_state, 1 << 16),
        ("n_audio_head", n_audio_head, 1 << 10),
        ("n_audio_layer", n_audio_layer, 1 << 10),
        ("n_text_ctx", n_text_ctx, 1 << 16),
        ("n_text_state", n_text_state, 1 << 16),
        ("n_text_head", n_text_head, 1 << 10),
        ("n_text_layer", n_text_layer, 1 << 10),
        ("n_mels", n_mels, 1 << 12),
    ];
    for (name, value, max) in fields {
        if value == 0 || value > max {
            return Err(corrupt(format!(
                "{name} = {value} is out of range (1..={max})"
            )));
        }
    }
    if n_audio_state % n_audio_head != 0 || n_text_state % n_text_head != 0 {
        return Err(corrupt(format!(
            "width {n_audio_state} is not divisible by {n_audio_head}/{n_text_head} heads"
        )));
    }
    // Every value was bounded above, so the casts cannot truncate.
    Ok(Hparams {
        n_vocab: n_vocab as i32,
        n_audio_ctx: n_audio_ctx as i32,
        n_audio_state: n_audio_state as i32,
        n_audio_head: n_audio_head as i32,
        n_audio_layer: n_audio_layer as i32,
        n_text_ctx: n_text_ctx as i32,
        n_text_state: n_text_state as i32,
        n_text_head: n_text_head as i32,
        n_text_layer: n_text_layer as i32,
        n_mels: n_mels as i32,
        ftype: quant.ftype(),
    })
}
