//! callcoach: a local, privacy-first live sales-call coach.
//!
//! # Module map (follows the data)
//!
//! ```text
//! audio::file / audio::replay / audio::capture   frames per speaker channel (WAV, FLAC, cpal)
//!   -> audio::convert                            downmix, resample to 16 kHz mono f32
//!   -> segment                                   VAD + utterances; talk time comes from here
//!   -> transcribe                                whisper on its own thread -> Segments
//!   -> coach                                     pure state: metrics + rules -> prompts
//!   -> server                                    WebSocket + overlay page
//!   -> journal                                   append-only transcript, durable
//! call end -> brief -> brief.md / brief.json; history (cross-call patterns)
//! model                                          CTranslate2 -> ggml converter, q8_0, fetch
//! config                                         raw TOML -> validated Config
//! ```
//!
//! `call` holds the types every stage shares (`Speaker`, `Utterance`, `Segment`).

pub mod audio;
pub mod brief;
pub mod call;
pub mod coach;
pub mod config;
pub mod daemon;
pub mod events;
pub mod history;
pub mod journal;
pub mod model;
pub mod pipeline;
pub mod recording;
pub mod segment;
pub mod server;
pub mod synth;
pub mod transcribe;
pub mod wer;
