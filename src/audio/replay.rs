//! Replays a recorded call through the same path live capture uses: 20 ms
//! chunks per speaker, either paced like real time (`--speed 1`, or any
//! factor) or as fast as the pipeline takes them (`--speed max`).
//!
//! Thread: its own `std::thread`; it blocks only on the bounded channel to
//! the pipeline (back-pressure) and on its pacing sleep.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::file::CallAudio;
use super::source::{AudioEvent, SOURCE_RATE};
use crate::call::Speaker;

/// Samples per chunk: 20 ms, like a capture callback.
pub const CHUNK: usize = (SOURCE_RATE / 50) as usize;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the pipeline accepts audio.
    Max,
    /// Call seconds per wall second (1 = real time).
    Factor(f64),
}

impl FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 && f <= 1000.0 => Ok(Speed::Factor(f)),
            _ => Err(format!("'{s}' is not a speed (a factor like 1 or 2.5, or \"max\")")),
        }
    }
}

impl Speed {
    pub fn is_realtime(self) -> bool {
        matches!(self, Speed::Factor(_))
    }
}

/// Starts replaying `call`; sends `AudioEvent::End` when done or when `stop` is set.
pub fn start(call: CallAudio, speed: Speed, events: Sender<AudioEvent>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || run(call, speed, events, stop))
        .expect("spawning the replay thread")
}

fn run(call: CallAudio, speed: Speed, events: Sender<AudioEvent>, stop: Arc<AtomicBool>) {
    let channels: Vec<(Speaker, Vec<f32>)> = std::iter::once((Speaker::Rep, call.rep))
        .chain(call.prospect.map(|p| (Speaker::Prospect, p)))
        .collect();
    let length = channels.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    let started = Instant::now();
    let mut position = 0;
    while position < length && !stop.load(Ordering::Relaxed) {
        if let Speed::Factor(factor) = speed {
            // Pace on the absolute schedule so sleeps never accumulate drift.
            let due = Duration::from_secs_f64(position as f64 / SOURCE_RATE as f64 / factor);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let end = (position + CHUNK).min(length);
        for (speaker, samples) in &channels {
            let mut chunk = Vec::with_capacity(end - position);
            chunk.extend_from_slice(samples.get(position..end.min(samples.len())).unwrap_or(&[]));
            // A shorter channel continues as silence so both stay on the call clock.
            chunk.resize(end - position, 0.0);
            if events.send(AudioEvent::Chunk { speaker: *speaker, samples: chunk }).is_err() {
                return;
            }
        }
        position = end;
    }
    let _ = events.send(AudioEvent::End);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_speeds() {
        assert_eq!("max".parse::<Speed>().unwrap(), Speed::Max);
        assert_eq!("1".parse::<Speed>().unwrap(), Speed::Factor(1.0));
        assert!("0".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().unwrap_err().contains("fast"));
    }

    #[test]
    fn paces_and_keeps_channels_aligned() {
        let call = CallAudio { rep: vec![0.1; 16_000], prospect: Some(vec![0.2; 8_000]) };
        let (tx, rx) = crossbeam_channel::bounded(1024);
        let started = Instant::now();
        start(call, Speed::Factor(4.0), tx, Arc::new(AtomicBool::new(false))).join().unwrap();
        // One second of audio at 4x takes about 0.25 s.
        let elapsed = started.elapsed().as_secs_f64();
        assert!((0.2..0.6).contains(&elapsed), "{elapsed}");
        let mut totals = [0usize; 2];
        let mut ended = false;
        for event in rx.try_iter() {
            match event {
                AudioEvent::Chunk { speaker, samples } => totals[speaker.channel()] += samples.len(),
                AudioEvent::End => ended = true,
                AudioEvent::Health(_) => {}
            }
        }
        assert!(ended);
        assert_eq!(totals, [16_000, 16_000]);
    }
}
