//! callcoach: a local, privacy-first live sales-call coach.
//!
//! # Module map (follows the data)
//!
//! ```text
//! audio::capture (cpal) / audio::replay (file)   16 kHz chunks per speaker (audio::source);
//!   capture::sound_server                        the PulseAudio/PipeWire server's defaults (first run)
//!   -> segment (+ segment::aec, segment::echo)   echo cancellation on the mic (SpeexDSP, far end as
//!                                                reference), echo gate, VAD, utterances; talk time
//!                                                comes from here; segment::join joins one speaker's
//!                                                utterances across breaths for transcription only
//!   -> transcribe                                whisper on its own thread -> Segments;
//!                                                transcribe::agreement keeps the stable prefix of
//!                                                partials (LocalAgreement-2) for early objection cards
//!        transcribe::second_pass                 a bigger model ([model] second_pass) transcribes the
//!                                                same final pieces again in the live transcriber's
//!                                                idle time (nice 10), journaled as second_pass lines;
//!                                                finished within a deadline after the call, for the brief
//!   -> coach                                     pure state: metrics + rules -> prompts, verdicts
//!        language                                the one judge (text, objections, stance, judge),
//!                                                used by the coach live and by the brief after
//!   -> events -> server                          events.jsonl, WebSocket + overlay page
//!   -> journal                                   append-only transcript and verdicts, durable
//! pipeline                                       one call on its own thread: all of the above
//! daemon                                         call lifecycle (run, replay), brief at call end;
//!                                                one model per daemon, the call's VAD ends it,
//!                                                auto-start with a pre-roll
//! call end -> brief -> brief.md / brief.json; history (cross-call patterns)
//!             (its words: the second pass's per piece where it got to, else the live ones;
//!             brief.json transcript_source says which)
//!             history: local SQLite (default) + optional team PostgreSQL via an
//!             offline outbox; CRM export (CSV/JSON)
//!             (reads the journaled verdicts; coach::offline re-judges a journal without them)
//! model                                          CTranslate2 -> ggml converter, q8_0, fetch
//! recording                                      `transcribe`: the pipeline over a file at full speed, no journal
//! synth, wer                                     synthetic calls and word error rate (tests, benches, demo)
//! speakerphone                                   scores a speakerphone replay against its clean truth
//!                                                (tests, `eval --bleed-db`, benches/speakerphone.rs)
//! real_speech                                    real recordings with transcripts (fetched by setup.sh) for accuracy
//! config, prep                                   raw TOML -> validated Config; the call's prep
//! private_file                                   every file that holds a call: 0600, no-follow, atomic
//! parallel                                       batch work on every core (evaluation, rendering)
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
pub mod language;
pub mod model;
pub mod parallel;
pub mod pipeline;
pub mod prep;
pub mod private_file;
pub mod real_speech;
pub mod recording;
pub mod segment;
pub mod server;
pub mod speakerphone;
pub mod synth;
pub mod transcribe;
pub mod wer;
