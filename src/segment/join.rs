//! Joins one speaker's finished utterances into longer pieces for
//! transcription. The segmenter ends an utterance after 0.45 s without voice,
//! which is right for talk time and for the coach's turn-taking, but people
//! pause for breath mid-sentence: jfk.wav cut at its pauses comes back from
//! Whisper tiny.en as "And so my fellow Americans. And so my fellow
//! Americans. And so" / "S NOT!". Whisper needs the whole sentence, so the
//! transcription final waits for a longer pause ([`SegmenterConfig::join_gap_s`])
//! than the live decision does.
//!
//! Thread: whichever thread owns the segmenter (the pipeline's, or the
//! caller's offline). Pure bookkeeping, no I/O.

use super::{SegmenterConfig, RATE};
use crate::call::Utterance;

/// Longest silence kept between two joined utterances: enough for Whisper
/// to hear a sentence break, short enough not to waste encoder time.
const MAX_SILENCE_S: f64 = 0.5;

/// A piece waiting to see whether the same speaker carries on.
struct Held {
    utterance: Utterance,
    audio: Vec<f32>,
    /// Call time of the held audio's last sample.
    audio_end_s: f64,
}

/// Joins a channel's utterances (in order) whose gaps are under `join_gap_s`.
pub struct UtteranceJoiner {
    gap_s: f64,
    max_s: f64,
    post_roll_s: f64,
    held: Option<Held>,
}

impl UtteranceJoiner {
    pub fn new(cfg: &SegmenterConfig) -> Self {
        UtteranceJoiner {
            gap_s: cfg.join_gap_s.max(0.0),
            max_s: cfg.join_max_s,
            post_roll_s: cfg.post_roll_s.min(cfg.hangover_s).max(0.0),
            held: None,
        }
    }

    /// Whether joining is on at all (`join_gap_s` > 0).
    pub fn is_enabled(&self) -> bool {
        self.gap_s > 0.0
    }

    /// Takes a segmenter `Final` (its utterance and audio, pre- and
    /// post-roll included) and appends to `out` any piece now complete.
    pub fn push(&mut self, utterance: Utterance, audio: Vec<f32>, out: &mut Vec<(Utterance, Vec<f32>)>) {
        // The segmenter's audio ends `post_roll` after the utterance (it is
        // only cut short at the very end of a stream).
        let audio_end_s = utterance.end_s + self.post_roll_s;
        let audio_start_s = audio_end_s - audio.len() as f64 / RATE;
        if !self.is_enabled() {
            out.push((utterance, audio));
            return;
        }
        if let Some(held) = &mut self.held {
            let gap = utterance.start_s - held.utterance.end_s;
            let joined_s = utterance.end_s - held.utterance.start_s;
            if gap <= self.gap_s && joined_s <= self.max_s {
                let between_s = audio_start_s - held.audio_end_s;
                let mut new_audio = &audio[..];
                if between_s >= 0.0 {
                    let silence = (between_s.min(MAX_SILENCE_S) * RATE).round() as usize;
                    held.audio.resize(held.audio.len() + silence, 0.0);
                } else {
                    // The pieces overlap (pre-roll of this one, post-roll of
                    // the held one): keep that audio once.
                    let overlap = ((-between_s * RATE).round() as usize).min(new_audio.len());
                    new_audio = &new_audio[overlap..];
                }
                held.audio.extend_from_slice(new_audio);
                held.audio_end_s = audio_end_s;
                held.utterance.end_s = utterance.end_s;
                return;
            }
        }
        self.release(out);
        self.held = Some(Held { utterance, audio, audio_end_s });
    }

    /// The channel's clock reached `now_s`: a held piece whose speaker has
    /// now been quiet longer than `join_gap_s` is complete.
    pub fn tick(&mut self, now_s: f64, out: &mut Vec<(Utterance, Vec<f32>)>) {
        if self.held.as_ref().is_some_and(|held| now_s - held.utterance.end_s > self.gap_s) {
            self.release(out);
        }
    }

    /// End of the stream: whatever is held is complete.
    pub fn finish(&mut self, out: &mut Vec<(Utterance, Vec<f32>)>) {
        self.release(out);
    }

    /// Start time of the piece being held, if any (its transcript is pending).
    pub fn held_start_s(&self) -> Option<f64> {
        self.held.as_ref().map(|held| held.utterance.start_s)
    }

    fn release(&mut self, out: &mut Vec<(Utterance, Vec<f32>)>) {
        if let Some(held) = self.held.take() {
            out.push((held.utterance, held.audio));
        }
    }
}

/// Joins a whole channel's utterances at once (what a live run would have
/// handed to the transcriber).
pub fn join_offline(pieces: Vec<(Utterance, Vec<f32>)>, cfg: &SegmenterConfig) -> Vec<(Utterance, Vec<f32>)> {
    let mut joiner = UtteranceJoiner::new(cfg);
    let mut out = Vec::with_capacity(pieces.len());
    for (utterance, audio) in pieces {
        joiner.push(utterance, audio, &mut out);
    }
    joiner.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Speaker;

    /// A segmenter-like final: audio from `start - 0.3` to `end + 0.2`, every
    /// sample holding its own call time so the joined audio can be checked.
    fn piece(start_s: f64, end_s: f64) -> (Utterance, Vec<f32>) {
        let from = ((start_s - 0.3) * RATE).round() as usize;
        let to = ((end_s + 0.2) * RATE).round() as usize;
        let audio = (from..to).map(|i| i as f32 / RATE as f32).collect();
        (Utterance { speaker: Speaker::Rep, start_s, end_s }, audio)
    }

    #[test]
    fn joins_pieces_closer_than_the_gap_and_keeps_overlapping_audio_once() {
        let cfg = SegmenterConfig::default();
        let joined = join_offline(vec![piece(1.0, 2.0), piece(2.45, 3.0), piece(3.8, 4.0), piece(6.0, 7.0)], &cfg);
        assert_eq!(joined.len(), 2, "{:?}", joined.iter().map(|(u, _)| u).collect::<Vec<_>>());
        let (first, audio) = &joined[0];
        assert_eq!((first.start_s, first.end_s), (1.0, 4.0));
        // 0.7..2.2 then 2.2..3.2 (overlap dropped), 0.3 s of silence, 3.5..4.2.
        assert_eq!(audio.len(), ((4.2 - 0.7) * RATE).round() as usize);
        let at = |t: f64| audio[((t - 0.7) * RATE).round() as usize];
        assert!((at(2.5) - 2.5).abs() < 1e-3, "{}", at(2.5));
        assert_eq!(at(3.35), 0.0);
        assert!((at(3.9) - 3.9).abs() < 1e-3);
        assert_eq!(joined[1].0.start_s, 6.0);
    }

    #[test]
    fn stops_growing_at_the_maximum_and_is_off_at_zero() {
        let cfg = SegmenterConfig { join_max_s: 4.0, ..SegmenterConfig::default() };
        let joined = join_offline(vec![piece(0.5, 2.0), piece(2.5, 4.0), piece(4.5, 6.0)], &cfg);
        assert_eq!(joined.iter().map(|(u, _)| (u.start_s, u.end_s)).collect::<Vec<_>>(), [(0.5, 4.0), (4.5, 6.0)]);
        let off = SegmenterConfig { join_gap_s: 0.0, ..SegmenterConfig::default() };
        assert_eq!(join_offline(vec![piece(0.5, 2.0), piece(2.5, 4.0)], &off).len(), 2);
    }

    #[test]
    fn tick_releases_a_piece_once_its_speaker_has_paused_long_enough() {
        let mut joiner = UtteranceJoiner::new(&SegmenterConfig::default());
        let mut out = Vec::new();
        let (utterance, audio) = piece(1.0, 2.0);
        joiner.push(utterance, audio, &mut out);
        joiner.tick(2.9, &mut out);
        assert!(out.is_empty());
        assert_eq!(joiner.held_start_s(), Some(1.0));
        joiner.tick(3.1, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(joiner.held_start_s(), None);
    }
}
