//! ggml's q8_0 block quantisation, in pure Rust (pure; any thread).
//!
//! A block holds 32 consecutive weights of one row: an f16 scale
//! `d = max|x| / 127` followed by 32 `i8` values `round(x / d)`; 34 bytes,
//! little-endian, no padding (ggml's `block_q8_0`). Matches ggml's reference
//! quantiser (`quantize_row_q8_0_ref`), which whisper.cpp's quantize tool uses,
//! so files come out byte-identical to that tool's.

use half::f16;

/// Weights per q8_0 block.
pub const Q8_0_BLOCK: usize = 32;
/// Bytes per q8_0 block: f16 scale + 32 × i8.
pub const Q8_0_BYTES: usize = 2 + Q8_0_BLOCK;

/// Appends the q8_0 encoding of `values` to `out`. Rows are quantised
/// independently by the caller's layout: `values.len()` must be a whole
/// number of blocks (Whisper's row lengths, 384·k, always are).
pub fn quantize_q8_0(values: &[f32], out: &mut Vec<u8>) -> Result<(), String> {
    if !values.len().is_multiple_of(Q8_0_BLOCK) {
        return Err(format!(
            "{} values is not a multiple of the q8_0 block size {Q8_0_BLOCK}",
            values.len()
        ));
    }
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(format!("cannot quantise non-finite weight {bad}"));
    }
    out.reserve(values.len() / Q8_0_BLOCK * Q8_0_BYTES);
    for block in values.chunks_exact(Q8_0_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        // As ggml: the f32 scale's inverse is used for rounding, the stored scale is f16.
        let inv = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        // f32::round rounds half away from zero, like C's roundf; |x·inv| <= 127 (+1 ulp).
        out.extend(
            block
                .iter()
                .map(|v| ((v * inv).round().clamp(-127.0, 127.0) as i8) as u8),
        );
    }
    Ok(())
}

/// The largest error q8_0 can make on a block whose largest magnitude is
/// `amax`: half a step, plus 127 steps' worth of the f16 rounding of the
/// scale (relative 2^-11, or absolute 2^-25 once the scale is subnormal in f16).
pub fn q8_0_error_bound(amax: f32) -> f32 {
    let d = amax / 127.0;
    0.5 * d + 127.0 * (d * 2f32.powi(-11)).max(2f32.powi(-25)) + f32::EPSILON * amax
}

/// Decodes q8_0 blocks back to f32 (for checks and tests).
pub fn dequantize_q8_0(bytes: &[u8]) -> Result<Vec<f32>, String> {
    if !bytes.len().is_multiple_of(Q8_0_BYTES) {
        return Err(format!(
            "{} bytes is not a whole number of {Q8_0_BYTES}-byte q8_0 blocks",
            bytes.len()
        ));
    }
    let mut out = Vec::with_capacity(bytes.len() / Q8_0_BYTES * Q8_0_BLOCK);
    for block in bytes.chunks_exact(Q8_0_BYTES) {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * d));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic generator (xorshift64*): no test depends on a seed the OS picks.
    pub(crate) struct Rng(u64);
    impl Rng {
        pub fn new(seed: u64) -> Self {
            Rng(seed.max(1))
        }
        pub fn next_f32(&mut self) -> f32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 bits
            bits as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        }
    }

    #[test]
    fn round_trip_error_is_within_half_a_step_per_block() {
        let mut rng = Rng::new(0x5eed);
        // Blocks of very different magnitudes, like real weight rows.
        let mut values = Vec::new();
        for scale in [1e-4f32, 0.02, 0.5, 3.0, 40.0] {
            for _ in 0..Q8_0_BLOCK * 64 {
                values.push(rng.next_f32() * scale);
            }
        }
        let mut bytes = Vec::new();
        quantize_q8_0(&values, &mut bytes).unwrap();
        assert_eq!(bytes.len(), values.len() / 32 * 34);
        let back = dequantize_q8_0(&bytes).unwrap();
        assert_eq!(back.len(), values.len());
        for (block, (orig, got)) in values.chunks(32).zip(back.chunks(32)).enumerate() {
            let amax = orig.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let bound = q8_0_error_bound(amax);
            for (o, g) in orig.iter().zip(got) {
                assert!(
                    (o - g).abs() <= bound,
                    "block {block}: {o} -> {g}, bound {bound}"
                );
            }
        }
    }

    #[test]
    fn block_layout_bytes() {
        // Max |x| = 127/64 -> d = 1/64 exactly (inverse 64): 1.0 -> 64, -127/64 -> -127,
        // ±1/128 -> ±0.5 -> ±1 (half away from zero, as C's roundf).
        let mut values = [0.0f32; 32];
        values[0] = 1.0;
        values[1] = -127.0 / 64.0;
        values[2] = 1.0 / 128.0;
        values[3] = -1.0 / 128.0;
        values[31] = 127.0 / 64.0;
        let mut bytes = Vec::new();
        quantize_q8_0(&values, &mut bytes).unwrap();
        assert_eq!(bytes.len(), 34);
        assert_eq!(&bytes[0..2], &f16::from_f32(1.0 / 64.0).to_le_bytes());
        assert_eq!(&bytes[0..2], &[0x00, 0x24]); // f16 0x2400 = 2^-6
        assert_eq!(bytes[2] as i8, 64);
        assert_eq!(bytes[3] as i8, -127);
        assert_eq!(bytes[4] as i8, 1);
        assert_eq!(bytes[5] as i8, -1);
        assert_eq!(bytes[6] as i8, 0);
        assert_eq!(bytes[33] as i8, 127);

        // An all-zero block has scale 0 and zero quants (no division by zero).
        let mut zeros = Vec::new();
        quantize_q8_0(&[0.0; 32], &mut zeros).unwrap();
        assert_eq!(zeros, vec![0u8; 34]);
    }

    #[test]
    fn rejects_partial_blocks_and_non_finite_values() {
        let mut out = Vec::new();
        assert!(quantize_q8_0(&[1.0; 33], &mut out)
            .unwrap_err()
            .contains("multiple of"));
        let mut values = [0.5f32; 32];
        values[7] = f32::NAN;
        assert!(quantize_q8_0(&values, &mut out)
            .unwrap_err()
            .contains("non-finite"));
        assert!(dequantize_q8_0(&[0u8; 35]).is_err());
    }
}
