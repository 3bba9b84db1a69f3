//! The messages a call produces, as JSON: one per line in the call's
//! `events.jsonl`, and the same bytes on the WebSocket. Every message carries
//! the protocol version `v` and a `type`; see the README's protocol section.

use serde::Serialize;

use crate::audio::source::HealthEvent;
use crate::call::Speaker;

/// Protocol version. Bump on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// One outgoing message.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    CallStarted {
        call_id: String,
        started_at: String,
        source: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        prep: Option<serde_json::Value>,
    },
    /// A transcript: partial while the utterance goes on, final when it ended.
    Segment {
        speaker: Speaker,
        start_s: f64,
        end_s: f64,
        text: String,
        #[serde(rename = "final")]
        is_final: bool,
    },
    /// Rolling metrics, at least twice a second of call time.
    Metrics(Metrics),
    /// Capture health: levels, far-end silence, transcription backlog, device trouble.
    Health(Health),
    /// A coaching prompt (see `coach`).
    Prompt(serde_json::Value),
    CallEnded {
        t_s: f64,
        reason: String,
    },
    BriefReady {
        path: String,
    },
}

/// Talk time comes from VAD and is never waiting on transcription.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Metrics {
    /// Call time these figures are for.
    pub t_s: f64,
    pub talk_s_rep: f64,
    pub talk_s_prospect: f64,
    /// Rep share of all speech so far, 0–1.
    pub talk_ratio_rep: f64,
    /// Everything the coach adds (window ratio, monologue, questions…).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub coach: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Health {
    pub t_s: f64,
    /// RMS level of the last ~0.5 s per channel, dBFS (−100 for silence).
    pub level_db_rep: f64,
    pub level_db_prospect: f64,
    /// True when the far end has been silent long enough to suspect the wrong source.
    pub far_end_silent: bool,
    /// Utterances waiting for transcription.
    pub backlog: usize,
    /// Jobs dropped because transcription fell behind (partials only in live mode).
    pub dropped_jobs: u64,
    /// Echo canceller: echo return loss enhancement (dB, smoothed; mic in
    /// over cancelled out while the far end talks). Null while it is off or
    /// no echo has been heard (a headset).
    pub echo_erle_db: Option<f64>,
    /// Echo canceller: its filter has converged (ERLE ≥ 10 dB, measured
    /// over ≥ 1.6 s of far-end speech heard on the mic).
    pub echo_converged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<HealthEvent>,
}

/// `{"v":1,"type":…,…}` as one line of JSON.
pub fn to_json_line(event: &Event) -> String {
    let mut value = serde_json::to_value(event).expect("events always serialise");
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("v".into(), PROTOCOL_VERSION.into());
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_version_and_type() {
        let line = to_json_line(&Event::Segment { speaker: Speaker::Prospect, start_s: 1.0, end_s: 2.0, text: "hi".into(), is_final: true });
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["v"], 1);
        assert_eq!(value["type"], "segment");
        assert_eq!(value["speaker"], "prospect");
        assert_eq!(value["final"], true);
        let line = to_json_line(&Event::Metrics(Metrics { t_s: 1.0, talk_ratio_rep: 0.5, ..Default::default() }));
        assert!(line.contains("\"type\":\"metrics\"") && line.contains("talk_ratio_rep"));
    }
}
