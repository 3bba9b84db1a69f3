//! Audio in: decoding files, converting samples to the 16 kHz mono f32 that
//! the segmenter and whisper consume, and the sources that feed the pipeline.
//!
//! - [`file`]: WAV/FLAC decoding, whole recorded calls per speaker.
//! - [`convert`]: channel picking/downmix and resampling to 16 kHz (offline
//!   and streaming).
//! - [`source`]: what every audio source delivers (chunks per speaker, health).
//! - [`replay`]: a recorded call replayed through the live path.
//! - [`capture`]: live cpal capture.

pub mod capture;
pub mod convert;
pub mod file;
pub mod replay;
pub mod source;
