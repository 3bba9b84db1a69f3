//! Integration tests, one binary (see Cargo.toml `autotests = false`) with
//! shared helpers in `util`. They use the real model, real espeak-ng speech
//! and the real `callcoach` binary.

mod util;
mod pg_server;

mod bad_input;
mod brief;
mod brief_audio;
mod judgement;
mod early_cards;
mod transcription;
mod real_speech;
mod second_pass;
mod speakerphone;
mod server;
mod security;
mod overlay;

mod capture;
mod pulse;
mod live;
mod history_pg;
