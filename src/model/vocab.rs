//! CTranslate2 `vocabulary.txt` -> the raw byte strings whisper.cpp's vocabulary holds (caller's thread).
//!
//! Whisper's tokens are GPT-2 byte-level BPE: each byte is shown as a printable
//! character (GPT-2's `bytes_to_unicode`), and `vocabulary.txt` holds one token
//! per line in that form. whisper.cpp wants the bytes themselves, and only the
//! ordinary tokens: it adds `<|endoftext|>` and the other special tokens itself.

use std::path::Path;

use super::ModelError;

/// The first special token; everything before it is an ordinary BPE token.
const END_OF_TEXT: &str = "<|endoftext|>";

/// GPT-2's byte -> character table, inverted: character code -> byte.
/// Printable Latin-1 bytes stand for themselves; the other 68 bytes are
/// shifted to U+0100.. in byte order.
fn unicode_to_byte() -> [Option<u8>; 324] {
    let mut table = [None; 324];
    let mut shifted = 0usize;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if printable {
            usize::from(byte)
        } else {
            shifted += 1;
            255 + shifted
        };
        table[code] = Some(byte);
    }
    table
}

/// Decodes one GPT-2 byte-level token back into bytes.
pub(crate) fn token_bytes(token: &str, table: &[Option<u8>; 324]) -> Result<Vec<u8>, char> {
    token
        .chars()
        .map(|c| table.get(c as usize).copied().flatten().ok_or(c))
        .collect()
}

/// Reads the ordinary tokens (those before `<|endoftext|>`) as raw bytes.
///
/// `n_vocab` is the model's vocabulary size; it decides how many ordinary
/// tokens whisper.cpp will expect (50256 for English-only models, 50257 for
/// multilingual ones), and the file must agree.
pub(crate) fn read_vocabulary(path: &Path, n_vocab: i32) -> Result<Vec<Vec<u8>>, ModelError> {
    let text = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let text = String::from_utf8(text).map_err(|e| ModelError::BadVocabulary {
        path: path.to_path_buf(),
        line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        detail: "not UTF-8".into(),
    })?;
    let table = unicode_to_byte();
    let mut tokens = Vec::new();
    let mut found_eot = false;
    // A final newline ends the last line; it does not start an empty token.
    let body = text.strip_suffix('\n').unwrap_or(&text);
    for (i, line) in body.split('\n').enumerate() {
        if line == END_OF_TEXT {
            found_eot = true;
            break;
        }
        let bytes = token_bytes(line, &table).map_err(|c| ModelError::BadVocabulary {
            path: path.to_path_buf(),
            line: i + 1,
            detail: format!(
                "token {line:?} has character {c:?} (U+{:04X}), which is not a GPT-2 byte symbol",
                c as u32
            ),
        })?;
        // The multilingual vocabulary's last ordinary token (50256) is
        // empty in CTranslate2's file (OpenAI's multilingual tokenizer has
        // no bytes for it); whisper.cpp only needs it to hold the place.
        let multilingual_placeholder = n_vocab >= 51865 && i == 50256;
        if bytes.is_empty() && !multilingual_placeholder {
            return Err(ModelError::BadVocabulary {
                path: path.to_path_buf(),
                line: i + 1,
                detail: "empty token".into(),
            });
        }
        tokens.push(bytes);
    }
    if !found_eot {
        return Err(ModelError::BadVocabulary {
            path: path.to_path_buf(),
            line: tokens.len() + 1,
            detail: format!("no {END_OF_TEXT} line: not a Whisper vocabulary"),
        });
    }
    // whisper.cpp numbers its special tokens from here: an English-only model
    // (n_vocab 51864) has 50256 ordinary tokens, a multilingual one 50257.
    let expected = if n_vocab >= 51865 { 50257 } else { 50256 };
    if tokens.len() != expected {
        return Err(ModelError::BadVocabulary {
            path: path.to_path_buf(),
            line: tokens.len() + 1,
            detail: format!(
                "{END_OF_TEXT} is token {}, but a model with n_vocab {n_vocab} needs it at {expected}",
                tokens.len()
            ),
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_a_bijection_matching_gpt2() {
        let table = unicode_to_byte();
        let mut seen = [false; 256];
        for byte in table.iter().flatten() {
            assert!(!seen[*byte as usize], "byte {byte} mapped twice");
            seen[*byte as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "every byte has a symbol");
        // GPT-2: space is 'Ġ' (U+0120), newline 'Ċ' (U+010A), NUL U+0100, 0xAD U+0143.
        assert_eq!(token_bytes("Ġthe", &table).unwrap(), b" the");
        assert_eq!(token_bytes("Ċ", &table).unwrap(), b"\n");
        assert_eq!(token_bytes("\u{100}", &table).unwrap(), [0u8]);
        assert_eq!(token_bytes("\u{143}", &table).unwrap(), [0xADu8]);
        // "é" in UTF-8 is C3 A9, shown as "Ã©".
        assert_eq!(token_bytes("Ã©", &table).unwrap(), "é".as_bytes());
        assert_eq!(token_bytes("<|x|>\u{2603}", &table), Err('\u{2603}'));
    }

    #[test]
    fn bad_vocabulary_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vocabulary.txt");
        std::fs::write(&path, "!\nĠthe\nsnow\u{2603}\n<|endoftext|>\n").unwrap();
        let err = read_vocabulary(&path, 51864).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("U+2603"), "{err}");

        std::fs::write(&path, "!\nĠthe\n").unwrap();
        let err = read_vocabulary(&path, 51864).unwrap_err().to_string();
        assert!(err.contains("no <|endoftext|> line"), "{err}");

        std::fs::write(&path, "!\nĠthe\n<|endoftext|>\n").unwrap();
        let err = read_vocabulary(&path, 51864).unwrap_err().to_string();
        assert!(
            err.contains("<|endoftext|> is token 2") && err.contains("50256"),
            "{err}"
        );
    }

    #[test]
    fn real_vocabulary_decodes_to_50256_tokens() {
        let dir = crate::model::test_support::ct2_dir();
        let tokens = read_vocabulary(&dir.join("vocabulary.txt"), 51864).unwrap();
        assert_eq!(tokens.len(), 50256);
        assert_eq!(tokens[0], b"!");
        // GPT-2 token 262 is " the", 198 is "\n".
        assert_eq!(tokens[262], b" the");
        assert_eq!(tokens[198], b"\n");
    }
}
