//! Integration tests, one binary (see Cargo.toml `autotests = false`) with
//! shared helpers in `util`. They use the real model, real espeak-ng speech
//! and the real `callcoach` binary.

mod util;

mod bad_input;
mod brief;
mod transcription;
mod server;

mod capture;
mod pulse;
