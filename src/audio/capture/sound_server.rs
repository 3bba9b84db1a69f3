//! The PulseAudio server (or PipeWire's, through pipewire-pulse), asked
//! directly over its native protocol: which server it is, its default source
//! and the monitor of its default sink, and its capture sources with monitors
//! marked. What `callcoach run` captures on a first run without a config, and
//! what `callcoach devices` lists.
//!
//! The only file that imports the `pulseaudio` crate (pinned: the client cpal's
//! PulseAudio host is built on). Thread: a short-lived `sound-server` thread
//! per question, so a hung server costs the caller at most [`PATIENCE`].

use std::ffi::CStr;
use std::time::Duration;

/// Longest wait for the server's answers (connecting included).
const PATIENCE: Duration = Duration::from_secs(3);

/// What the server said about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundServer {
    /// "PulseAudio 16.1", "PulseAudio (on PipeWire 1.0.5) 15.0.0", ...
    pub name: String,
    /// Where it listens ("unix:/run/user/1000/pulse/native").
    pub address: String,
    /// The default source, by the name `capture.mic` takes on the `pulse` host.
    pub default_source: Option<String>,
    /// The default sink's monitor source: what the call's other side sounds like.
    pub default_sink_monitor: Option<String>,
    /// Every capture source, real inputs and monitors.
    pub sources: Vec<Source>,
}

/// One capture source of the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub description: String,
    /// The monitor of an output (a far-end candidate), not a microphone.
    pub is_monitor: bool,
}

impl SoundServer {
    /// Asks the server the environment points at (`PULSE_SERVER`, or the
    /// user's runtime socket). `None` when there is no server to ask;
    /// `Some(Err)` when one is configured but does not answer.
    pub fn query() -> Option<Result<SoundServer, String>> {
        let socket = pulseaudio::socket_path_from_env()?;
        let address = format!("unix:{}", socket.display());
        let (tx, rx) = crossbeam_channel::bounded(1);
        let asked = address.clone();
        let spawned = std::thread::Builder::new().name("sound-server".into()).spawn(move || {
            let _ = tx.send(ask(asked));
        });
        if let Err(e) = spawned {
            return Some(Err(format!("could not start a thread to ask the sound server: {e}")));
        }
        Some(match rx.recv_timeout(PATIENCE) {
            Ok(answer) => answer,
            // The thread is abandoned: the blocking handshake has no timeout of its own.
            Err(_) => Err(format!("the sound server at {address} did not answer within {} s", PATIENCE.as_secs())),
        })
    }
}

fn text(s: &CStr) -> String {
    s.to_string_lossy().into_owned()
}

fn ask(address: String) -> Result<SoundServer, String> {
    let socket_path = pulseaudio::socket_path_from_env().ok_or_else(|| format!("{address} is gone"))?;
    let socket = std::os::unix::net::UnixStream::connect(&socket_path).map_err(|e| format!("connecting to {address}: {e}"))?;
    // Like libpulse: the user's cookie, or (none yet, on a first run) a blank
    // one, which a server that takes anonymous clients accepts.
    let cookie = pulseaudio::cookie_path_from_env().and_then(|p| std::fs::read(p).ok()).unwrap_or_else(|| vec![0; 256]);
    let client = pulseaudio::Client::new_unix(c"callcoach", socket, Some(cookie)).map_err(|e| format!("connecting to {address}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let info = client.server_info().await.map_err(|e| format!("asking {address} about itself: {e}"))?;
        let name = match (info.server_name.as_deref(), info.server_version.as_deref()) {
            (Some(name), Some(version)) => format!("{} {}", text(name), text(version)),
            (Some(name), None) => text(name),
            _ => "an unnamed PulseAudio-protocol server".to_string(),
        };
        let sources = client.list_sources().await.map_err(|e| format!("listing the sources of {address}: {e}"))?;
        let default_sink_monitor = match info.default_sink_name.clone() {
            Some(sink) => client
                .sink_info_by_name(sink)
                .await
                .ok()
                .and_then(|sink| sink.monitor_source_name)
                .map(|monitor| text(&monitor)),
            None => None,
        };
        Ok(SoundServer {
            name,
            address: address.clone(),
            default_source: info.default_source_name.as_deref().map(text),
            default_sink_monitor,
            sources: sources
                .into_iter()
                .map(|s| Source {
                    name: text(&s.name),
                    description: s.description.as_deref().map(text).unwrap_or_default(),
                    is_monitor: s.monitor_of_sink_index.is_some(),
                })
                .collect(),
        })
    })
}
