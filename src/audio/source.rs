//! What every audio source (live cpal capture or file replay) delivers to the
//! pipeline: 16 kHz mono chunks per speaker, stamped by sample count, plus
//! device-health events. Downstream never knows which source it was.

use serde::Serialize;

use crate::call::Speaker;

/// Sample rate of everything a source delivers.
pub const SOURCE_RATE: u32 = 16_000;

/// One message from an audio source to the pipeline thread.
#[derive(Debug, Clone)]
pub enum AudioEvent {
    /// The next `samples` (16 kHz mono f32) of `speaker`'s channel. Call time
    /// is implied by how many samples of this channel came before: sources
    /// insert silence for gaps so both channels stay on the call clock.
    Chunk { speaker: Speaker, samples: Vec<f32> },
    /// Something happened to a device.
    Health(HealthEvent),
    /// The source has no more audio (end of file, or capture stopped).
    End,
}

/// Device trouble and recovery, reported within 2 s and written to the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HealthEvent {
    /// No audio arrived for the watchdog interval, the stream reported an error,
    /// or the device vanished from the device list or was silently re-routed.
    DeviceLost { speaker: Speaker, device: String, reason: String, t_s: f64 },
    /// The device delivers again after a gap of `gap_s` (filled with silence).
    DeviceBack { speaker: Speaker, device: String, gap_s: f64, t_s: f64 },
    /// Frames the audio callback could not hand over because the ring was full.
    Dropped { speaker: Speaker, frames: u64, t_s: f64 },
}
