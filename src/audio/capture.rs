//! Live capture: the rep's microphone and the far end (a monitor/loopback
//! source) as two cpal input streams, delivered to the pipeline as 16 kHz
//! mono [`AudioEvent::Chunk`]s per speaker, plus [`HealthEvent`]s when a
//! device goes away and comes back.
//!
//! The only module that imports cpal (pinned in Cargo.toml: its API changes
//! between versions).
//!
//! # Threads
//! - **cpal's stream threads** run the data callback. It downmixes to mono
//!   f32 into a pre-allocated lock-free ring ([`rtrb`]) and counts frames and
//!   drops in atomics: it never blocks, locks, logs or allocates. The error
//!   callback only latches the first non-xrun error in an atomic (a dead
//!   PulseAudio server can make the ALSA host call it a million times a
//!   second).
//! - **One `capture` thread** opens and owns the streams, drains the rings
//!   every 20 ms, resamples to 16 kHz, keeps both channels on the call clock
//!   (silence for gaps), watches device health and re-opens lost devices.
//! - **Short-lived `capture-drop` threads** drop dead streams: under the ALSA
//!   host, dropping a stream whose PulseAudio server died can hang forever.
//!
//! # Device trouble
//! Each case is reported within 2 s as [`HealthEvent::DeviceLost`]:
//! - a latched stream error;
//! - no data for `watchdog_s` (a killed PulseAudio under the ALSA host just
//!   goes quiet);
//! - the device missing from the device list, checked every second (a
//!   source that disappears is silently re-routed by the sound server, with
//!   no stream error);
//! - the far end becoming a sample-exact copy of the mic, checked four times
//!   a second: that re-routing seen from the ALSA host, where the PCM stays
//!   listed (fires within ~1 s of someone speaking).
//!
//! While lost, the channel is filled with silence on the call clock and the
//! device is re-tried once a second, never in a busy loop; when it delivers
//! again, [`HealthEvent::DeviceBack`] reports the gap. Dead streams are closed
//! on `capture-drop` threads: libpulse can deadlock closing a connection to a
//! dead server, which would otherwise hang the capture (such threads are
//! abandoned and counted in [`ChannelStats::hung_closes`]).

mod clock;
mod sound_server;

pub use self::sound_server::{SoundServer, Source as ServerSource};

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SizedSample};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::{Deserialize, Serialize};

use self::clock::{CallClock, CopyDetector, LevelMeter, RecentAudio};
use super::convert::StreamResampler;
use super::source::{AudioEvent, HealthEvent, SOURCE_RATE};
use crate::call::Speaker;

/// How often the capture thread drains the rings and checks health.
const TICK: Duration = Duration::from_millis(20);
/// How often a configured device is checked against the device list, and a
/// lost device re-tried.
const RECHECK: Duration = Duration::from_secs(1);
/// Extra patience for a freshly opened stream's first callback: an idle
/// PulseAudio null sink works in 2 s blocks.
const STARTUP_GRACE: Duration = Duration::from_millis(2500);
/// Silence for a gap is generated this far behind wall time, leaving room
/// for the block a returning device delivers first.
const GAP_LAG_S: f64 = 0.3;
/// A fresh stream's start-up backlog is over once a drain finds no more
/// than this beyond real time (s): a device catching up on what it buffered
/// delivers seconds in one go, one delivering live a period or two.
const STARTUP_SETTLED_S: f64 = 0.1;
/// A `capture-drop` thread taking longer than this is reported as hung.
const DROP_PATIENCE: Duration = Duration::from_secs(2);
/// How long `stop` waits for dropped streams to close.
const STOP_PATIENCE: Duration = Duration::from_secs(1);
/// Seconds of audio the ring between callback and capture thread holds. The
/// capture thread drains it every 20 ms; the slack covers a slow device
/// re-open (PulseAudio's host gives up connecting after 2 s).
const RING_SECONDS: usize = 4;
/// How often the far end is compared with the mic (see `Worker::check_copy`).
const COPY_CHECK: Duration = Duration::from_millis(250);
/// Samples compared (0.5 s), and the largest offset searched either way.
/// A re-routed stream lands within its buffering of the mic: 20-61 ms
/// measured with 50 ms periods; 250 ms leaves room for bigger buffers
/// (the far window must trail the newest audio by this much).
const COPY_WINDOW: usize = SOURCE_RATE as usize / 2;
const COPY_MAX_LAG: usize = SOURCE_RATE as usize / 4;
/// Similarity above which the far end counts as a copy of the mic, and how
/// many checks in a row must say so.
const COPY_SIMILARITY: f64 = 0.98;
const COPY_CHECKS: u32 = 2;
/// Longest wait for the capture thread to open both devices at start-up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Which cpal host captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureHost {
    /// ALSA, which reaches PulseAudio/PipeWire through their ALSA plugins
    /// (the `pulse`/`default` devices). The most reliable path.
    #[default]
    Alsa,
    /// cpal's native PulseAudio client (also PipeWire via pipewire-pulse).
    /// Lists `.monitor` sources directly, which is what "system audio" is.
    #[serde(alias = "pulseaudio")]
    Pulse,
}

impl CaptureHost {
    fn cpal_id(self) -> cpal::HostId {
        match self {
            CaptureHost::Alsa => cpal::HostId::Alsa,
            CaptureHost::Pulse => cpal::HostId::PulseAudio,
        }
    }

    /// Callback size when the config does not ask for one. ALSA: 50 ms halves
    /// the CPU of 20 ms periods through the pulse plugin (measured 4.9% vs
    /// 8.3% of a core for both streams), and nothing downstream needs less.
    /// PulseAudio: it drops audio with small buffers, and delivers 2 s chunks
    /// by default.
    fn default_buffer_ms(self) -> u32 {
        match self {
            CaptureHost::Alsa => 50,
            CaptureHost::Pulse => 100,
        }
    }
}

impl fmt::Display for CaptureHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaptureHost::Alsa => "ALSA",
            CaptureHost::Pulse => "PulseAudio",
        })
    }
}

/// The `[capture]` section of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// The rep's microphone, by a name `callcoach devices` prints
    /// ("default" for the host's default input).
    pub mic: String,
    /// The far end: a monitor/loopback source that hears the call's output
    /// (on Linux, the `.monitor` of the output device).
    pub far_end: String,
    pub host: CaptureHost,
    /// Seconds without audio before a device counts as lost.
    pub watchdog_s: f64,
    /// Requested callback size in milliseconds; unset means the host's
    /// sensible default (ALSA 50 ms, PulseAudio 100 ms).
    pub buffer_ms: Option<u32>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            mic: "default".into(),
            far_end: String::new(),
            host: CaptureHost::default(),
            watchdog_s: 1.0,
            buffer_ms: None,
        }
    }
}

impl CaptureConfig {
    pub fn new(mic: impl Into<String>, far_end: impl Into<String>) -> Self {
        CaptureConfig { mic: mic.into(), far_end: far_end.into(), ..Default::default() }
    }

    /// Checks the values serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), CaptureError> {
        for (key, value) in [("mic", &self.mic), ("far_end", &self.far_end)] {
            if value.trim().is_empty() {
                return Err(CaptureError::Config(format!(
                    "capture.{key} is not set: name an input device (`callcoach devices` lists them)"
                )));
            }
        }
        if self.mic.trim() == self.far_end.trim() {
            return Err(CaptureError::Config(format!(
                "capture.mic and capture.far_end are both \"{}\": the far end must be a different device (the monitor of the call's output)",
                self.mic
            )));
        }
        if !(0.2..=10.0).contains(&self.watchdog_s) {
            return Err(CaptureError::Config(format!(
                "capture.watchdog_s = {} is out of range (0.2 to 10 seconds; device loss must be caught within 2 s, so keep it at 1.5 or less)",
                self.watchdog_s
            )));
        }
        if let Some(ms) = self.buffer_ms {
            if !(5..=500).contains(&ms) {
                return Err(CaptureError::Config(format!("capture.buffer_ms = {ms} is out of range (5 to 500)")));
            }
        }
        Ok(())
    }

    fn device_for(&self, speaker: Speaker) -> &str {
        match speaker {
            Speaker::Rep => &self.mic,
            Speaker::Prospect => &self.far_end,
        }
    }
}

/// The config key that names a speaker's device.
fn role(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::Rep => "mic",
        Speaker::Prospect => "far_end",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}")]
    Config(String),
    #[error("the {host} audio host is not available: {reason}")]
    HostUnavailable { host: CaptureHost, reason: String },
    #[error("listing {host} input devices: {reason}")]
    Enumerate { host: CaptureHost, reason: String },
    #[error("{}", not_found_message(role, name, *host, available))]
    DeviceNotFound { role: &'static str, name: String, host: CaptureHost, available: Vec<String> },
    #[error("opening the {role} device \"{name}\": {reason}")]
    Open { role: &'static str, name: String, reason: String },
    #[error("capture thread: {0}")]
    Thread(String),
}

fn not_found_message(role: &str, name: &str, host: CaptureHost, available: &[String]) -> String {
    let list = if available.is_empty() {
        "none".to_string()
    } else {
        available.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
    };
    format!(
        "the {role} device \"{name}\" was not found on the {host} host; available input devices: {list} \
         (set capture.{role} to one of them; `callcoach devices` describes them)"
    )
}

/// Which devices to capture, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// The config names both.
    AsConfigured(CaptureConfig),
    /// None configured: the sound server's default source and its default
    /// output's monitor, on the `pulse` host.
    FromSoundServer { capture: CaptureConfig, server: String },
}

impl Resolved {
    pub fn capture(&self) -> &CaptureConfig {
        match self {
            Resolved::AsConfigured(capture) | Resolved::FromSoundServer { capture, .. } => capture,
        }
    }
}

/// The devices to capture: the configured ones, or on a first run (no
/// `capture.far_end`) with a PulseAudio or PipeWire server running, its
/// default source as the mic (unless `capture.mic` names another) and the
/// monitor of its default sink as the far end.
pub fn resolve_devices(cfg: &CaptureConfig) -> Result<Resolved, CaptureError> {
    if !cfg.far_end.trim().is_empty() {
        return Ok(Resolved::AsConfigured(cfg.clone()));
    }
    let not_set = "capture.far_end is not set";
    let server = match SoundServer::query() {
        None => {
            return Err(CaptureError::Config(format!(
                "{not_set} and no PulseAudio or PipeWire server is running to take the default output's monitor from: name an input device that hears the call (`callcoach devices` lists them)"
            )))
        }
        Some(Err(problem)) => return Err(CaptureError::Config(format!("{not_set} and the sound server could not be asked for its defaults: {problem}"))),
        Some(Ok(server)) => server,
    };
    let far_end = server.default_sink_monitor.clone().ok_or_else(|| {
        CaptureError::Config(format!("{not_set} and {} has no default output to take the monitor of", server.name))
    })?;
    let mic = match cfg.mic.trim() {
        "" | "default" => server.default_source.clone().ok_or_else(|| {
            CaptureError::Config(format!("capture.mic is not set and {} has no default source", server.name))
        })?,
        named if cfg.host == CaptureHost::Pulse => named.to_string(),
        named => {
            return Err(CaptureError::Config(format!(
                "{not_set}: with capture.mic = \"{named}\" on the ALSA host, name the far end too (or set capture.host = \"pulse\" to use {}'s monitor \"{far_end}\")",
                server.name
            )))
        }
    };
    if server.sources.iter().any(|s| s.name == mic && s.is_monitor) {
        return Err(CaptureError::Config(format!(
            "{}'s default source \"{mic}\" is a monitor, not a microphone: set capture.mic to the rep's microphone (`callcoach devices` lists them)",
            server.name
        )));
    }
    let capture = CaptureConfig { mic, far_end, host: CaptureHost::Pulse, ..cfg.clone() };
    Ok(Resolved::FromSoundServer { capture, server: format!("{} at {}", server.name, server.address) })
}

/// ALSA PCMs that are plugins or routes, not capture sources: what
/// `callcoach devices` leaves out on a machine without a sound server.
const ALSA_PLUGINS: &[&str] = &[
    "null", "lavrate", "lavcrate", "samplerate", "speexrate", "jack", "oss", "upmix", "vdownmix", "pulse", "pipewire",
    "a52", "usbstream", "speex", "hdmi", "dmix", "iec958", "spdif", "modem", "phoneline",
];

/// Whether an ALSA device name is a plugin (`lavrate`, `samplerate_best`,
/// `jack`, ...) rather than a source one could capture a person from.
pub fn is_alsa_plugin(name: &str) -> bool {
    let base = name.split(':').next().unwrap_or(name);
    ALSA_PLUGINS.iter().any(|plugin| base == *plugin || base.strip_prefix(plugin).is_some_and(|rest| rest.starts_with('_')))
}

/// Runs `body` with this process's stderr pointed at /dev/null: ALSA's
/// plugins and libjack print a screen of harmless errors while devices are
/// enumerated. Process-wide, so only for short, start-up moments.
pub fn without_library_noise<T>(body: impl FnOnce() -> T) -> T {
    // SAFETY: plain fd calls on fds this function owns or restores; stderr
    // is put back before returning (also on unwind, via the guard).
    struct Restore(libc::c_int);
    impl Drop for Restore {
        fn drop(&mut self) {
            unsafe {
                libc::dup2(self.0, libc::STDERR_FILENO);
                libc::close(self.0);
            }
        }
    }
    let saved = unsafe { libc::dup(libc::STDERR_FILENO) };
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if saved < 0 || null < 0 {
        unsafe {
            if saved >= 0 {
                libc::close(saved);
            }
            if null >= 0 {
                libc::close(null);
            }
        }
        return body();
    }
    unsafe {
        libc::dup2(null, libc::STDERR_FILENO);
        libc::close(null);
    }
    let _restore = Restore(saved);
    body()
}

/// A stream format: what a device delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamFormat {
    pub channels: u16,
    pub sample_rate: u32,
    /// cpal's name for it: "i16", "f32", "u24", ...
    pub sample_format: String,
}

/// An input device as `callcoach devices` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceInfo {
    /// Exactly what `capture.mic` / `capture.far_end` take.
    pub name: String,
    /// The human description (ALSA hint description, PulseAudio description).
    pub description: String,
    pub host: CaptureHost,
    /// Looks like a monitor/loopback of an output: a far-end candidate.
    pub is_monitor_likely: bool,
    /// What the device would deliver by default; `None` if it cannot be opened now.
    pub default_config: Option<StreamFormat>,
}

/// Input devices of the default host (ALSA).
pub fn list_devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    list_devices_on(CaptureHost::default())
}

/// Input devices of `host`, named as the config takes them. (Enumerating
/// ALSA prints harmless noise from jack, oss, ...; it is kept off stderr.)
pub fn list_devices_on(host: CaptureHost) -> Result<Vec<DeviceInfo>, CaptureError> {
    let cpal_host = open_host(host)?;
    let mut infos: Vec<DeviceInfo> = Vec::new();
    for device in input_devices(&cpal_host, host)? {
        let (name, description) = device_names(&device);
        if infos.iter().any(|i| i.name == name) {
            continue;
        }
        let default_config = device.default_input_config().ok().map(|c| StreamFormat {
            channels: c.channels(),
            sample_rate: c.sample_rate(),
            sample_format: c.sample_format().to_string(),
        });
        infos.push(DeviceInfo {
            is_monitor_likely: is_monitor_likely(&name, &description),
            name,
            description,
            host,
            default_config,
        });
    }
    Ok(infos)
}

/// What `callcoach devices` prints: the sound server it talked to and its
/// capture sources (monitors marked, the first-run picks named), then the
/// ALSA devices that are real sources (plugins left out), with the
/// libraries' enumeration noise kept off the terminal.
pub fn device_report() -> Result<String, CaptureError> {
    use std::fmt::Write;
    let mut out = String::new();
    let server = SoundServer::query();
    match &server {
        Some(Ok(server)) => {
            let _ = writeln!(out, "sound server: {} at {}", server.name, server.address);
            let _ = writeln!(out, "capture sources (capture.host = \"pulse\"; a first run without a config takes the two marked \"first run\"):");
            for source in &server.sources {
                let mut marks = Vec::new();
                if source.is_monitor {
                    marks.push("monitor: use as far_end");
                }
                if server.default_source.as_deref() == Some(source.name.as_str()) {
                    marks.push("default source; first run: mic");
                }
                if server.default_sink_monitor.as_deref() == Some(source.name.as_str()) {
                    marks.push("default output's monitor; first run: far_end");
                }
                let marks = if marks.is_empty() { String::new() } else { format!("    ({})", marks.join("; ")) };
                let _ = writeln!(out, "  {}{marks}\n      {}", source.name, source.description);
            }
        }
        Some(Err(problem)) => {
            let _ = writeln!(out, "sound server: not answering ({problem})");
        }
        None => {
            let _ = writeln!(out, "sound server: none running (no PulseAudio or PipeWire socket); capture goes straight to ALSA");
        }
    }
    let alsa = without_library_noise(|| list_devices_on(CaptureHost::Alsa));
    let alsa: Vec<DeviceInfo> = match alsa {
        Ok(devices) => devices.into_iter().filter(|d| !is_alsa_plugin(&d.name)).collect(),
        Err(e) if matches!(server, Some(Ok(_))) => {
            let _ = writeln!(out, "ALSA: {e}");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    // With a sound server, ALSA's "default" routes are that server again.
    let routes_only = alsa.iter().all(|d| d.name == "default" || d.name.starts_with("sysdefault"));
    if !(matches!(server, Some(Ok(_))) && routes_only) {
        let _ = writeln!(out, "ALSA capture devices (capture.host = \"alsa\"):");
        if alsa.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for device in &alsa {
            let mark = if device.is_monitor_likely { "    (likely monitor: use as far_end)" } else { "" };
            let _ = writeln!(out, "  {}{mark}\n      {}", device.name, device.description);
        }
    }
    Ok(out)
}

/// Whether a device looks like a monitor of an output or a loopback.
pub fn is_monitor_likely(name: &str, description: &str) -> bool {
    let name = name.to_lowercase();
    let description = description.to_lowercase();
    name.ends_with(".monitor")
        || name.contains("loopback")
        || description.contains("monitor of")
        || description.contains("loopback")
}

fn open_host(host: CaptureHost) -> Result<cpal::Host, CaptureError> {
    cpal::host_from_id(host.cpal_id())
        .map_err(|e| CaptureError::HostUnavailable { host, reason: e.to_string() })
}

fn input_devices(cpal_host: &cpal::Host, host: CaptureHost) -> Result<Vec<cpal::Device>, CaptureError> {
    let enumerate = || cpal_host.input_devices().map(Iterator::collect::<Vec<_>>);
    // ALSA's plugins (jack, oss, ...) print errors while being probed.
    let devices = match host {
        CaptureHost::Alsa => without_library_noise(enumerate),
        CaptureHost::Pulse => enumerate(),
    };
    devices.map_err(|e| CaptureError::Enumerate { host, reason: e.to_string() })
}

/// `(config name, description)` of a device: the name is the host's device
/// id (ALSA PCM name, PulseAudio source name), stable across runs.
fn device_names(device: &cpal::Device) -> (String, String) {
    let name = device.id().map(|id| id.id().to_string()).unwrap_or_else(|_| device.to_string());
    let description = device
        .description()
        .map(|d| {
            let mut text = d.name().to_string();
            for line in d.extended() {
                if !text.contains(line) {
                    text.push_str(" — ");
                    text.push_str(line);
                }
            }
            text
        })
        .unwrap_or_default();
    (name, description)
}

/// Whether `device` is the one the config calls `wanted`: by name, by full
/// cpal id ("alsa:NAME"), or by its description.
fn device_matches(device: &cpal::Device, wanted: &str) -> bool {
    if let Ok(id) = device.id() {
        if id.id() == wanted || id.to_string() == wanted {
            return true;
        }
    }
    device.description().map(|d| d.name() == wanted).unwrap_or(false)
}

/// Finds the configured device; the error lists the alternatives.
fn find_device(cpal_host: &cpal::Host, host: CaptureHost, speaker: Speaker, wanted: &str) -> Result<cpal::Device, CaptureError> {
    let devices = input_devices(cpal_host, host)?;
    if let Some(device) = devices.iter().find(|d| device_matches(d, wanted)) {
        return Ok(device.clone());
    }
    if wanted == "default" {
        if let Some(device) = cpal_host.default_input_device() {
            return Ok(device);
        }
    }
    let mut available: Vec<String> = Vec::new();
    for device in &devices {
        let (name, description) = device_names(device);
        let shown = if is_monitor_likely(&name, &description) { format!("{name} (monitor)") } else { name };
        if !available.contains(&shown) {
            available.push(shown);
        }
    }
    Err(CaptureError::DeviceNotFound { role: role(speaker), name: wanted.to_string(), host, available })
}

// ---------------------------------------------------------------------------
// The real-time side: what the cpal callbacks touch.

/// Counters of one channel, shared by the callback (writes), the capture
/// thread and [`Capture::stats`] (reads). Atomics only.
#[derive(Default)]
struct ChannelCounters {
    callbacks: AtomicU64,
    frames_in: AtomicU64,
    dropped: AtomicU64,
    xruns: AtomicU64,
    // Written by the capture thread.
    samples_out: AtomicU64,
    silence_out: AtomicU64,
    rms_bits: AtomicU32,
    peak_bits: AtomicU32,
    live: AtomicBool,
    losses: AtomicU64,
    hung_closes: AtomicU64,
    device_rate: AtomicU32,
    device_channels: AtomicU32,
}

/// The first non-xrun error a stream reported, latched by its error callback.
#[derive(Default)]
struct ErrorLatch {
    /// 0 = none; otherwise an [`error_code`].
    first: AtomicU8,
    count: AtomicU64,
}

impl ErrorLatch {
    fn latch(&self, kind: cpal::ErrorKind) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self.first.compare_exchange(0, error_code(kind), Ordering::AcqRel, Ordering::Relaxed);
    }

    fn first(&self) -> Option<&'static str> {
        match self.first.load(Ordering::Acquire) {
            0 => None,
            code => Some(error_name(code)),
        }
    }
}

fn error_code(kind: cpal::ErrorKind) -> u8 {
    use cpal::ErrorKind::*;
    match kind {
        DeviceNotAvailable => 1,
        StreamInvalidated => 2,
        HostUnavailable => 3,
        DeviceChanged => 4,
        BackendError => 5,
        DeviceBusy => 6,
        PermissionDenied => 7,
        ResourceExhausted => 8,
        _ => 9,
    }
}

fn error_name(code: u8) -> &'static str {
    match code {
        1 => "device not available",
        2 => "stream invalidated",
        3 => "audio server not available",
        4 => "stream re-routed to another device",
        5 => "backend error",
        6 => "device busy",
        7 => "permission denied",
        8 => "resource exhausted",
        _ => "stream error",
    }
}

/// The data callback's body: downmixes interleaved `data` (frames of
/// `channels` samples) to mono f32 into the ring, counting what does not fit.
/// Real-time safe: no allocation, no locks, no blocking.
fn push_downmixed<T>(data: &[T], channels: usize, ring: &mut rtrb::Producer<f32>, counters: &ChannelCounters)
where
    T: Sample,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    let frames = data.len() / channels;
    counters.callbacks.fetch_add(1, Ordering::Relaxed);
    counters.frames_in.fetch_add(frames as u64, Ordering::Relaxed);
    let room = frames.min(ring.slots());
    let written = match ring.write_chunk_uninit(room) {
        Ok(chunk) => chunk.fill_from_iter(data.chunks_exact(channels).map(downmix::<T>)),
        Err(_) => 0,
    };
    if written < frames {
        counters.dropped.fetch_add((frames - written) as u64, Ordering::Relaxed);
    }
}

/// The mean of one frame's channels, as f32 in [-1, 1].
#[inline]
fn downmix<T>(frame: &[T]) -> f32
where
    T: Sample,
    f32: FromSample<T>,
{
    if frame.len() == 1 {
        return frame[0].to_sample::<f32>();
    }
    let sum: f32 = frame.iter().map(|s| s.to_sample::<f32>()).sum();
    sum / frame.len() as f32
}

/// A running input stream and the capture thread's end of its ring.
struct OpenStream {
    stream: cpal::Stream,
    ring: rtrb::Consumer<f32>,
    latch: Arc<ErrorLatch>,
    format: StreamFormat,
    /// Just before the device was opened: gap silence stops here until its
    /// first block has come (within the start-up grace), as that block may
    /// cover any time since.
    opening_at: Instant,
    opened_at: Instant,
}

// Dead streams are dropped on helper threads (see `Reaper`); cpal 0.18 makes
// every host's stream `Send`. Fail the build, not the daemon, if that changes.
const _: fn() = || {
    fn assert_send<T: Send>() {}
    assert_send::<cpal::Stream>();
};

fn open_stream(
    cpal_host: &cpal::Host,
    host: CaptureHost,
    speaker: Speaker,
    name: &str,
    buffer_ms: u32,
    counters: &Arc<ChannelCounters>,
) -> Result<OpenStream, CaptureError> {
    let opening_at = Instant::now();
    let device = find_device(cpal_host, host, speaker, name)?;
    let open_error = |reason: String| CaptureError::Open { role: role(speaker), name: name.to_string(), reason };
    let supported = device.default_input_config().map_err(|e| open_error(e.to_string()))?;
    let rate = supported.sample_rate();
    let channels = supported.channels();
    let wanted_frames = (rate as u64 * buffer_ms as u64 / 1000).max(1) as u32;
    let buffer_size = match supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => cpal::BufferSize::Fixed(wanted_frames.clamp(*min, (*max).max(*min))),
        cpal::SupportedBufferSize::Unknown => cpal::BufferSize::Fixed(wanted_frames),
    };
    let config = cpal::StreamConfig { channels, sample_rate: rate, buffer_size };
    let format = StreamFormat { channels, sample_rate: rate, sample_format: supported.sample_format().to_string() };
    let (producer, consumer) = rtrb::RingBuffer::<f32>::new((rate as usize * RING_SECONDS).max(8192));
    let latch = Arc::new(ErrorLatch::default());

    let build = BuildArgs {
        device: &device,
        config,
        producer,
        counters: counters.clone(),
        latch: latch.clone(),
    };
    use cpal::SampleFormat as F;
    let stream = match supported.sample_format() {
        F::I8 => build.build::<i8>(),
        F::I16 => build.build::<i16>(),
        F::I24 => build.build::<cpal::I24>(),
        F::I32 => build.build::<i32>(),
        F::I64 => build.build::<i64>(),
        F::U8 => build.build::<u8>(),
        F::U16 => build.build::<u16>(),
        F::U24 => build.build::<cpal::U24>(),
        F::U32 => build.build::<u32>(),
        F::U64 => build.build::<u64>(),
        F::F32 => build.build::<f32>(),
        F::F64 => build.build::<f64>(),
        other => return Err(open_error(format!("sample format {other} is not supported (DSD bitstreams are not audio we can use)"))),
    }
    .map_err(|e| open_error(e.to_string()))?;
    stream.play().map_err(|e| open_error(e.to_string()))?;
    counters.device_rate.store(rate, Ordering::Relaxed);
    counters.device_channels.store(channels as u32, Ordering::Relaxed);
    Ok(OpenStream { stream, ring: consumer, latch, format, opening_at, opened_at: Instant::now() })
}

struct BuildArgs<'a> {
    device: &'a cpal::Device,
    config: cpal::StreamConfig,
    producer: rtrb::Producer<f32>,
    counters: Arc<ChannelCounters>,
    latch: Arc<ErrorLatch>,
}

impl BuildArgs<'_> {
    /// Builds the stream for sample type `T`: converted with `FromSample`,
    /// never by reinterpreting bytes.
    fn build<T>(self) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let BuildArgs { device, config, mut producer, counters, latch } = self;
        let channels = config.channels as usize;
        let error_counters = counters.clone();
        device.build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _: &cpal::InputCallbackInfo| push_downmixed(data, channels, &mut producer, &counters),
            // Atomics only: no logging here (an error storm would flood the log).
            move |error: cpal::Error| match error.kind() {
                cpal::ErrorKind::Xrun => {
                    error_counters.xruns.fetch_add(1, Ordering::Relaxed);
                }
                cpal::ErrorKind::RealtimeDenied => {}
                kind => latch.latch(kind),
            },
            Some(Duration::from_secs(2)),
        )
    }
}

// ---------------------------------------------------------------------------
// The capture thread.

/// Live capture of both speakers. Dropping it stops capture (like [`stop`]).
///
/// [`stop`]: Capture::stop
pub struct Capture {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    stats: StatsReader,
    /// Call time 0: the moment before either device was opened.
    started: Instant,
}

/// A cheap, cloneable reader of a capture's counters, for threads that do
/// not own the [`Capture`] (e.g. the overlay's level meters). Atomics only.
#[derive(Clone)]
pub struct StatsReader {
    counters: [Arc<ChannelCounters>; 2],
    devices: [String; 2],
    started: Instant,
}

/// A snapshot of [`Capture`]'s counters, for level meters and logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureStats {
    /// Wall-clock seconds since capture started.
    pub elapsed_s: f64,
    /// Indexed by [`Speaker::channel`]: rep, prospect.
    pub channels: [ChannelStats; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStats {
    pub speaker: Speaker,
    pub device: String,
    /// The device is delivering audio right now.
    pub live: bool,
    /// cpal data callbacks so far (0 until the device's first delivery).
    pub callbacks: u64,
    /// Device frames the callbacks received.
    pub frames_in: u64,
    /// Device frames lost because the ring was full.
    pub dropped: u64,
    /// Overruns the host reported.
    pub xruns: u64,
    /// 16 kHz samples delivered downstream (audio and gap silence).
    pub samples_out: u64,
    /// Of those, silence inserted for gaps.
    pub silence_samples: u64,
    /// Level of the last ~100 ms delivered, linear full scale.
    pub rms: f32,
    pub peak: f32,
    /// Times the device was lost.
    pub losses: u64,
    /// Lost streams whose close hung (libpulse can deadlock tearing down a
    /// connection to a dead server); each leaves a blocked thread behind.
    pub hung_closes: u64,
    pub device_rate: u32,
    pub device_channels: u32,
}

impl Capture {
    /// Opens both configured devices and starts capturing into `events`.
    /// A missing device fails here with an error that lists the alternatives.
    pub fn start(cfg: &CaptureConfig, events: Sender<AudioEvent>) -> Result<Capture, CaptureError> {
        cfg.validate()?;
        let counters = [Arc::new(ChannelCounters::default()), Arc::new(ChannelCounters::default())];
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<Instant, CaptureError>>(1);
        let thread_cfg = cfg.clone();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let worker = match Worker::open(thread_cfg, thread_counters, events) {
                    Ok(worker) => worker,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(worker.started));
                worker.run(stop_rx);
            })
            .map_err(|e| CaptureError::Thread(e.to_string()))?;
        let outcome = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) => Err(CaptureError::Thread(format!(
                "opening the devices took more than {} s (is the sound server hung?)",
                START_TIMEOUT.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => Err(CaptureError::Thread("the capture thread died while opening the devices".into())),
        };
        match outcome {
            Ok(started) => Ok(Capture {
                stop: Some(stop_tx),
                thread: Some(thread),
                stats: StatsReader { counters, devices: [cfg.mic.clone(), cfg.far_end.clone()], started: Instant::now() },
                started,
            }),
            Err(e) => {
                // The thread exits on its own once it sees the closed stop channel.
                drop(stop_tx);
                Err(e)
            }
        }
    }

    /// The wall-clock instant of call time 0 (just before the devices were
    /// opened): audio captured `t` seconds after it is delivered at call time `t`.
    pub fn started_at(&self) -> Instant {
        self.started
    }

    /// Counters and levels, read from atomics (cheap; call it as often as the
    /// overlay repaints). Updated by the capture thread every 20 ms.
    pub fn stats(&self) -> CaptureStats {
        self.stats.stats()
    }

    /// A reader of [`stats`](Capture::stats) that can move to another thread.
    pub fn stats_reader(&self) -> StatsReader {
        self.stats.clone()
    }

    /// Stops capture: delivers what is still buffered, closes the streams
    /// (waiting at most about a second for a hung one) and sends
    /// [`AudioEvent::End`].
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl StatsReader {
    /// See [`Capture::stats`].
    pub fn stats(&self) -> CaptureStats {
        let channel = |speaker: Speaker| {
            let c = &self.counters[speaker.channel()];
            ChannelStats {
                speaker,
                device: self.devices[speaker.channel()].clone(),
                live: c.live.load(Ordering::Relaxed),
                callbacks: c.callbacks.load(Ordering::Relaxed),
                frames_in: c.frames_in.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                xruns: c.xruns.load(Ordering::Relaxed),
                samples_out: c.samples_out.load(Ordering::Relaxed),
                silence_samples: c.silence_out.load(Ordering::Relaxed),
                rms: f32::from_bits(c.rms_bits.load(Ordering::Relaxed)),
                peak: f32::from_bits(c.peak_bits.load(Ordering::Relaxed)),
                losses: c.losses.load(Ordering::Relaxed),
                hung_closes: c.hung_closes.load(Ordering::Relaxed),
                device_rate: c.device_rate.load(Ordering::Relaxed),
                device_channels: c.device_channels.load(Ordering::Relaxed),
            }
        };
        CaptureStats {
            elapsed_s: self.started.elapsed().as_secs_f64(),
            channels: [channel(Speaker::Rep), channel(Speaker::Prospect)],
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The host, re-created when the PulseAudio host's connection has died.
struct HostHandle {
    kind: CaptureHost,
    host: Option<cpal::Host>,
}

impl HostHandle {
    fn get(&mut self) -> Result<&cpal::Host, CaptureError> {
        if self.host.is_none() {
            self.host = Some(open_host(self.kind)?);
        }
        Ok(self.host.as_ref().expect("just set"))
    }

    /// Names of the input devices listed now.
    fn listed_names(&mut self) -> Result<Vec<String>, CaptureError> {
        let kind = self.kind;
        let result = self.get().and_then(|host| input_devices(host, kind)).map(|devices| {
            devices
                .iter()
                .flat_map(|d| {
                    let (name, _) = device_names(d);
                    let full = d.id().map(|id| id.to_string()).unwrap_or_default();
                    let description = d.description().map(|d| d.name().to_string()).unwrap_or_default();
                    [name, full, description]
                })
                .collect()
        });
        if result.is_err() && self.kind == CaptureHost::Pulse {
            // The client's connection is gone; the next attempt reconnects.
            self.host = None;
        }
        result
    }
}

/// Drops dead streams on helper threads so a hanging drop cannot stall capture.
#[derive(Default)]
struct Reaper {
    pending: Vec<PendingDrop>,
}

struct PendingDrop {
    done: Receiver<()>,
    since: Instant,
    device: String,
    counters: Arc<ChannelCounters>,
    hung: bool,
}

impl Reaper {
    fn drop_later(&mut self, stream: cpal::Stream, device: &str, counters: &Arc<ChannelCounters>) {
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new().name("capture-drop".into()).spawn(move || {
            drop(stream);
            let _ = done_tx.send(());
        });
        if let Err(e) = spawned {
            // The closure (and the stream) was dropped right here instead.
            tracing::warn!("could not spawn a thread to close the {device} stream ({e}); closed it in place");
            return;
        }
        self.pending.push(PendingDrop {
            done,
            since: Instant::now(),
            device: device.to_string(),
            counters: counters.clone(),
            hung: false,
        });
    }

    fn poll(&mut self) {
        self.pending.retain(|p| {
            let closed = matches!(p.done.try_recv(), Ok(()) | Err(crossbeam_channel::TryRecvError::Disconnected));
            if closed {
                tracing::debug!("stream of {} closed after {} ms", p.device, p.since.elapsed().as_millis());
            }
            !closed
        });
        for p in &mut self.pending {
            if !p.hung && p.since.elapsed() > DROP_PATIENCE {
                p.hung = true;
                p.counters.hung_closes.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "closing the stream of {} has hung for {} s (libpulse can deadlock when its server dies); abandoning that thread",
                    p.device,
                    DROP_PATIENCE.as_secs()
                );
            }
        }
    }

    /// Waits (at most `patience` in all) for the closes that are not known to be hung.
    fn finish(&mut self, patience: Duration) {
        let deadline = Instant::now() + patience;
        for p in self.pending.drain(..).filter(|p| !p.hung) {
            let left = deadline.saturating_duration_since(Instant::now());
            if p.done.recv_timeout(left).is_err() {
                tracing::warn!("the stream of {} did not close within {:.1} s; leaving it behind", p.device, patience.as_secs_f64());
            }
        }
    }
}

/// One speaker's channel on the capture thread.
struct Channel {
    speaker: Speaker,
    device: String,
    counters: Arc<ChannelCounters>,
    stream: Option<OpenStream>,
    resampler: StreamResampler,
    out: Delivered,
    /// When the current stream last delivered audio.
    last_data_at: Option<Instant>,
    /// Why the device is lost; `Some` from DeviceLost until DeviceBack.
    lost: Option<String>,
    next_retry: Instant,
    /// Reusable buffer of device-rate mono samples popped from the ring.
    popped: Vec<f32>,
    /// A fresh stream's first audio, held (device rate) until its start-up
    /// backlog has been delivered, so the whole backlog is placed at once.
    startup: Vec<f32>,
    /// When the previous drain ran (s since call time 0).
    last_pump_s: f64,
    dropped_reported: u64,
}

struct Worker {
    cfg: CaptureConfig,
    host: HostHandle,
    channels: [Channel; 2],
    events: Sender<AudioEvent>,
    reaper: Reaper,
    started: Instant,
    buffer_ms: u32,
    next_list_check: Instant,
    next_drop_report: Instant,
    next_copy_check: Instant,
    /// Consecutive checks that found the far end to be a copy of the mic.
    copy_streak: u32,
    copy_far: Vec<f32>,
    copy_mic: Vec<f32>,
    copy_detector: CopyDetector,
    /// The pipeline hung up: stop, there is nobody to deliver to.
    disconnected: bool,
}

impl Worker {
    /// Opens both devices (on this thread: the streams live here).
    fn open(cfg: CaptureConfig, counters: [Arc<ChannelCounters>; 2], events: Sender<AudioEvent>) -> Result<Worker, CaptureError> {
        let mut host = HostHandle { kind: cfg.host, host: None };
        let buffer_ms = cfg.buffer_ms.unwrap_or_else(|| cfg.host.default_buffer_ms());
        let now = Instant::now();
        let mut opened = Vec::with_capacity(2);
        for speaker in Speaker::BOTH {
            let name = cfg.device_for(speaker).to_string();
            let counters = counters[speaker.channel()].clone();
            let stream = open_stream(host.get()?, cfg.host, speaker, &name, buffer_ms, &counters)?;
            tracing::info!(
                "capturing {} from \"{}\": {} ch, {} Hz, {}",
                speaker,
                name,
                stream.format.channels,
                stream.format.sample_rate,
                stream.format.sample_format
            );
            opened.push(Channel {
                speaker,
                device: name,
                counters,
                resampler: StreamResampler::new(stream.format.sample_rate),
                stream: Some(stream),
                out: Delivered::new(),
                last_data_at: None,
                lost: None,
                next_retry: now,
                popped: Vec::with_capacity(SOURCE_RATE as usize),
                startup: Vec::new(),
                last_pump_s: 0.0,
                dropped_reported: 0,
            });
        }
        let prospect = opened.pop().expect("two channels");
        let rep = opened.pop().expect("two channels");
        Ok(Worker {
            cfg,
            host,
            channels: [rep, prospect],
            events,
            reaper: Reaper::default(),
            // Call time 0: before either stream started, so each channel's
            // wait for its first callback becomes leading silence.
            started: now,
            buffer_ms,
            next_list_check: now + RECHECK,
            next_drop_report: now + RECHECK,
            next_copy_check: now + COPY_CHECK,
            copy_streak: 0,
            copy_far: Vec::with_capacity(COPY_WINDOW),
            copy_mic: Vec::with_capacity(COPY_WINDOW + 2 * COPY_MAX_LAG),
            copy_detector: CopyDetector::new(COPY_WINDOW, COPY_WINDOW + 2 * COPY_MAX_LAG),
            disconnected: false,
        })
    }

    fn run(mut self, stop: Receiver<()>) {
        // Any message, or the `Capture` hanging up, means stop.
        while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(TICK) {
            self.tick(Instant::now());
            if self.disconnected {
                tracing::warn!("the pipeline stopped listening; capture stops");
                break;
            }
        }
        self.shutdown();
    }

    fn wall_s(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.started).as_secs_f64()
    }

    fn tick(&mut self, now: Instant) {
        let now_s = self.wall_s(now);
        for index in 0..2 {
            self.pump(index, now, now_s);
        }
        self.check_health(now);
        if now >= self.next_copy_check {
            self.next_copy_check = now + COPY_CHECK;
            self.check_copy(now);
        }
        for index in 0..2 {
            self.retry(index, now);
        }
        if now >= self.next_drop_report {
            self.next_drop_report = now + RECHECK;
            self.report_drops();
        }
        self.reaper.poll();
    }

    fn send(&mut self, event: AudioEvent) {
        if !self.disconnected && self.events.send(event).is_err() {
            self.disconnected = true;
        }
    }

    /// Moves audio from the ring downstream, and silence during a gap.
    fn pump(&mut self, index: usize, now: Instant, now_s: f64) {
        let mut out = Vec::new();
        let mut back = None;
        let ch = &mut self.channels[index];
        let mut got = 0;
        if let Some(stream) = &mut ch.stream {
            ch.popped.clear();
            if let Ok(chunk) = stream.ring.read_chunk(stream.ring.slots()) {
                let (a, b) = chunk.as_slices();
                ch.popped.extend_from_slice(a);
                ch.popped.extend_from_slice(b);
                chunk.commit_all();
            }
            got = ch.popped.len();
            let rate = stream.format.sample_rate as f64;
            if (got > 0 || !ch.startup.is_empty()) && ch.out.clock.in_gap() {
                // A fresh stream. A device that buffered before its first
                // delivery hands that backlog over faster than real time,
                // possibly across several drains; once a drain brings no
                // more than real time it is over, and its newest frame is
                // about now. Hold it until then and place it whole, ending
                // now, so the channel's sample count stays on wall time.
                // Not by the host's capture timestamps: through the pulse
                // ALSA plugin, an idle source's first callback reports a
                // 0.7 s delay that shrinks to 0.03 s over the next second
                // while frames arrive exactly in real time; placing by it
                // put every later sample 0.65 s before it was played.
                ch.startup.extend_from_slice(&ch.popped);
                ch.popped.clear();
                let since_last_s = now_s - ch.last_pump_s;
                if got as f64 / rate <= since_last_s + STARTUP_SETTLED_S {
                    std::mem::swap(&mut ch.popped, &mut ch.startup);
                    let block_s = ch.popped.len() as f64 / rate;
                    let block_start_s = now_s - block_s;
                    tracing::debug!("{} device's first block: {block_s:.3} s, settled at {now_s:.3} s: placed at {block_start_s:.3} s", ch.speaker);
                    let (pad, gap_s) = ch.out.clock.end_gap(block_start_s + block_s, block_s);
                    ch.out.silence(&mut out, pad, &ch.counters);
                    if ch.lost.take().is_some() {
                        back = Some(HealthEvent::DeviceBack {
                            speaker: ch.speaker,
                            device: ch.device.clone(),
                            gap_s,
                            t_s: ch.out.clock.t_s(),
                        });
                    }
                }
            }
            if !ch.popped.is_empty() {
                ch.last_data_at = Some(now);
                let before = out.len();
                ch.resampler.push(&ch.popped, &mut out);
                ch.out.audio(&out[before..]);
                ch.counters.live.store(true, Ordering::Relaxed);
            }
        }
        if got == 0 && ch.out.clock.in_gap() && ch.startup.is_empty() {
            // Until a fresh stream's first block comes (within the start-up
            // grace), its gap silence stops where the device was opened:
            // that block may cover everything since.
            let lag_s = match &ch.stream {
                Some(stream) if now.saturating_duration_since(stream.opening_at) < STARTUP_GRACE => {
                    GAP_LAG_S.max(now.saturating_duration_since(stream.opening_at).as_secs_f64())
                }
                _ => GAP_LAG_S,
            };
            let due = ch.out.clock.silence_due(now_s, lag_s);
            ch.out.silence(&mut out, due, &ch.counters);
        }
        ch.last_pump_s = now_s;
        let (rms, peak) = ch.out.meter.levels();
        ch.counters.rms_bits.store(rms.to_bits(), Ordering::Relaxed);
        ch.counters.peak_bits.store(peak.to_bits(), Ordering::Relaxed);
        ch.counters.samples_out.store(ch.out.clock.samples(), Ordering::Relaxed);
        let speaker = ch.speaker;
        if let Some(back) = back {
            tracing::info!("{speaker} device is back");
            self.send(AudioEvent::Health(back));
        }
        if !out.is_empty() {
            self.send(AudioEvent::Chunk { speaker, samples: out });
        }
    }

    /// Declares trouble: latched errors, the watchdog, and (every second) the device list.
    fn check_health(&mut self, now: Instant) {
        let watchdog = Duration::from_secs_f64(self.cfg.watchdog_s);
        for index in 0..2 {
            let ch = &self.channels[index];
            let Some(stream) = &ch.stream else { continue };
            let reason = if let Some(error) = stream.latch.first() {
                Some(format!("stream error: {error}"))
            } else if let Some(last) = ch.last_data_at {
                let quiet = now.saturating_duration_since(last);
                (quiet > watchdog).then(|| format!("no audio for {:.1} s", quiet.as_secs_f64()))
            } else {
                let waited = now.saturating_duration_since(stream.opened_at);
                (waited > watchdog + STARTUP_GRACE).then(|| format!("no audio in the {:.1} s since the device was opened", waited.as_secs_f64()))
            };
            if let Some(reason) = reason {
                self.lose(index, now, reason);
            }
        }
        if now >= self.next_list_check {
            self.next_list_check = now + RECHECK;
            let listed = self.host.listed_names();
            for index in 0..2 {
                if self.channels[index].stream.is_none() {
                    continue;
                }
                let reason = match &listed {
                    // "default" follows the host's default, which is never "gone".
                    Ok(names) if self.channels[index].device == "default" || names.contains(&self.channels[index].device) => None,
                    Ok(_) => Some("the device is no longer in the device list (removed, or re-routed by the sound server)".to_string()),
                    Err(e) => Some(format!("the device list is unavailable: {e}")),
                };
                if let Some(reason) = reason {
                    self.lose(index, now, reason);
                }
            }
        }
    }

    /// Catches the far end silently re-routed to the mic. When a source
    /// vanishes, PulseAudio moves the streams recording from it to the default
    /// source (usually the mic) without telling the client, and under the ALSA
    /// host the device stays listed: the far end then becomes a sample-exact
    /// copy of the mic. Echo of the far end in the mic never does. Needs
    /// sound on both channels, so it fires within ~1 s of someone speaking.
    fn check_copy(&mut self, now: Instant) {
        let delivering = |ch: &Channel| ch.stream.is_some() && !ch.out.clock.in_gap();
        if !self.channels.iter().all(delivering) {
            self.copy_streak = 0;
            return;
        }
        let [rep, prospect] = &self.channels;
        let end = rep.out.recent.end().min(prospect.out.recent.end());
        let Some(mic_from) = end.checked_sub((COPY_WINDOW + 2 * COPY_MAX_LAG) as u64) else { return };
        let far_from = mic_from + COPY_MAX_LAG as u64;
        if !prospect.out.recent.copy_range(far_from, COPY_WINDOW, &mut self.copy_far)
            || !rep.out.recent.copy_range(mic_from, COPY_WINDOW + 2 * COPY_MAX_LAG, &mut self.copy_mic)
        {
            return;
        }
        match self.copy_detector.similarity(&self.copy_far, &self.copy_mic) {
            Some((similarity, _)) if similarity >= COPY_SIMILARITY => {
                self.copy_streak += 1;
                if self.copy_streak >= COPY_CHECKS {
                    self.copy_streak = 0;
                    let reason = format!(
                        "the far end delivers a copy of the mic (similarity {similarity:.3}): the sound server probably re-routed it to the mic"
                    );
                    self.lose(Speaker::Prospect.channel(), now, reason);
                }
            }
            Some(_) => self.copy_streak = 0,
            // Too quiet to tell: keep what the last loud check said.
            None => {}
        }
    }

    /// Closes a failed stream (off this thread), keeps the channel on the
    /// call clock and reports the loss once per episode.
    fn lose(&mut self, index: usize, now: Instant, reason: String) {
        let started = self.started;
        let ch = &mut self.channels[index];
        let mut out = Vec::new();
        if let Some(mut stream) = ch.stream.take() {
            // What is still held or in the ring is real audio: deliver it.
            ch.resampler.push(&ch.startup, &mut out);
            ch.startup.clear();
            if let Ok(chunk) = stream.ring.read_chunk(stream.ring.slots()) {
                let (a, b) = chunk.as_slices();
                ch.resampler.push(a, &mut out);
                ch.resampler.push(b, &mut out);
                chunk.commit_all();
            }
            self.reaper.drop_later(stream.stream, &ch.device, &ch.counters);
        }
        ch.resampler.flush(&mut out);
        ch.out.audio(&out);
        // The gap began when the audio stopped (or, if it never came, at the
        // start: the clock is still anchored there).
        let gap_from = ch.last_data_at.unwrap_or(now);
        ch.out.clock.start_gap(gap_from.saturating_duration_since(started).as_secs_f64());
        ch.last_data_at = None;
        ch.next_retry = now + RECHECK;
        ch.counters.live.store(false, Ordering::Relaxed);
        let speaker = ch.speaker;
        let event = if ch.lost.is_none() {
            ch.lost = Some(reason.clone());
            ch.counters.losses.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("{speaker} device \"{}\" lost: {reason}", ch.device);
            Some(HealthEvent::DeviceLost {
                speaker,
                device: ch.device.clone(),
                reason,
                t_s: ch.out.clock.gap_start_s().unwrap_or_else(|| ch.out.clock.t_s()),
            })
        } else {
            tracing::debug!("{speaker} device \"{}\" re-opened but failed again: {reason}", ch.device);
            None
        };
        if !out.is_empty() {
            self.send(AudioEvent::Chunk { speaker, samples: out });
        }
        if let Some(event) = event {
            self.send(AudioEvent::Health(event));
        }
    }

    /// Re-opens a lost device, at most once per second.
    fn retry(&mut self, index: usize, now: Instant) {
        if self.channels[index].stream.is_some() || now < self.channels[index].next_retry {
            return;
        }
        self.channels[index].next_retry = now + RECHECK;
        let (host_kind, buffer_ms) = (self.cfg.host, self.buffer_ms);
        let attempt = match self.host.get() {
            Ok(host) => {
                let ch = &self.channels[index];
                open_stream(host, host_kind, ch.speaker, &ch.device, buffer_ms, &ch.counters)
            }
            Err(e) => Err(e),
        };
        let ch = &mut self.channels[index];
        match attempt {
            Ok(stream) => {
                tracing::debug!("{} device \"{}\" re-opened; waiting for audio", ch.speaker, ch.device);
                if stream.format.sample_rate != ch.resampler.input_rate() {
                    ch.resampler = StreamResampler::new(stream.format.sample_rate);
                }
                ch.stream = Some(stream);
            }
            Err(e) => {
                tracing::debug!("{} device \"{}\" still unavailable: {e}", ch.speaker, ch.device);
                if self.cfg.host == CaptureHost::Pulse {
                    // A new server needs a new client connection.
                    self.host.host = None;
                }
            }
        }
    }

    fn report_drops(&mut self) {
        for index in 0..2 {
            let ch = &mut self.channels[index];
            let dropped = ch.counters.dropped.load(Ordering::Relaxed);
            if dropped > ch.dropped_reported {
                let event = HealthEvent::Dropped { speaker: ch.speaker, frames: dropped - ch.dropped_reported, t_s: ch.out.clock.t_s() };
                ch.dropped_reported = dropped;
                tracing::warn!("{} channel dropped {} frames (the capture thread fell behind)", ch.speaker, dropped);
                self.send(AudioEvent::Health(event));
            }
        }
    }

    /// Delivers what is buffered, closes the streams, evens out the channels
    /// and sends `End`.
    fn shutdown(mut self) {
        let now = Instant::now();
        let now_s = self.wall_s(now);
        for index in 0..2 {
            self.pump(index, now, now_s);
            let ch = &mut self.channels[index];
            let mut out = Vec::new();
            if let Some(stream) = ch.stream.take() {
                self.reaper.drop_later(stream.stream, &ch.device, &ch.counters);
            }
            ch.resampler.flush(&mut out);
            ch.out.audio(&out);
            ch.counters.live.store(false, Ordering::Relaxed);
            let speaker = ch.speaker;
            if !out.is_empty() {
                self.send(AudioEvent::Chunk { speaker, samples: out });
            }
        }
        self.report_drops();
        // Both channels end at the same call time.
        let end = self.channels.iter().map(|c| c.out.clock.samples()).max().unwrap_or(0);
        for index in 0..2 {
            let ch = &mut self.channels[index];
            let missing = end - ch.out.clock.samples();
            let mut out = Vec::new();
            ch.out.silence(&mut out, missing, &ch.counters);
            ch.counters.samples_out.store(ch.out.clock.samples(), Ordering::Relaxed);
            let speaker = ch.speaker;
            if !out.is_empty() {
                self.send(AudioEvent::Chunk { speaker, samples: out });
            }
        }
        self.reaper.finish(STOP_PATIENCE);
        self.send(AudioEvent::End);
    }
}

/// What a channel has handed downstream: its call clock, level meter and
/// last second of audio.
struct Delivered {
    clock: CallClock,
    meter: LevelMeter,
    recent: RecentAudio,
}

impl Delivered {
    fn new() -> Self {
        Delivered { clock: CallClock::new(), meter: LevelMeter::new(), recent: RecentAudio::new() }
    }

    /// Counts audio that was appended to the outgoing chunk.
    fn audio(&mut self, samples: &[f32]) {
        self.clock.advance(samples.len() as u64);
        self.meter.push(samples);
        self.recent.push(samples);
    }

    /// Appends `n` samples of gap silence to `out`.
    fn silence(&mut self, out: &mut Vec<f32>, n: u64, counters: &ChannelCounters) {
        if n == 0 {
            return;
        }
        out.resize(out.len() + n as usize, 0.0);
        self.clock.advance(n);
        self.meter.push_silence(n);
        self.recent.push_silence(n);
        counters.silence_out.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(capacity: usize) -> (rtrb::Producer<f32>, rtrb::Consumer<f32>) {
        rtrb::RingBuffer::new(capacity)
    }

    fn drain(consumer: &mut rtrb::Consumer<f32>) -> Vec<f32> {
        std::iter::from_fn(|| consumer.pop().ok()).collect()
    }

    #[test]
    fn every_sample_format_is_converted_and_downmixed() {
        let counters = ChannelCounters::default();
        let (mut producer, mut consumer) = ring(64);

        // Stereo i16: full-scale left, silent right -> -0.5 / +0.5 averages.
        push_downmixed(&[i16::MIN, 0, i16::MAX, 0], 2, &mut producer, &counters);
        let got = drain(&mut consumer);
        assert!((got[0] + 0.5).abs() < 1e-4 && (got[1] - 0.5).abs() < 1e-4, "{got:?}");

        // Unsigned 8-bit is centred on 128.
        push_downmixed(&[128u8, 255, 0], 1, &mut producer, &counters);
        let got = drain(&mut consumer);
        assert!(got[0].abs() < 1e-6 && got[1] > 0.99 && got[2] <= -0.99, "{got:?}");

        // 24-bit and 64-bit float, 3 channels.
        let max24 = cpal::I24::new(8_388_607).unwrap();
        let zero24 = cpal::I24::new(0).unwrap();
        push_downmixed(&[max24, max24, zero24], 3, &mut producer, &counters);
        let got = drain(&mut consumer);
        assert!((got[0] - 2.0 / 3.0).abs() < 1e-3, "{got:?}");
        push_downmixed(&[0.25f64, 0.75], 2, &mut producer, &counters);
        assert_eq!(drain(&mut consumer), vec![0.5]);

        assert_eq!(counters.frames_in.load(Ordering::Relaxed), 2 + 3 + 1 + 1);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_ring_counts_dropped_frames_instead_of_blocking() {
        let counters = ChannelCounters::default();
        let (mut producer, mut consumer) = ring(4);
        push_downmixed(&[0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6], 1, &mut producer, &counters);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(drain(&mut consumer), vec![0.1, 0.2, 0.3, 0.4]);
        // A trailing partial frame is not a frame.
        push_downmixed(&[0.1f32, 0.2, 0.3], 2, &mut producer, &counters);
        assert_eq!(drain(&mut consumer).len(), 1);
    }

    #[test]
    fn error_latch_keeps_the_first_error() {
        let latch = ErrorLatch::default();
        assert_eq!(latch.first(), None);
        latch.latch(cpal::ErrorKind::BackendError);
        latch.latch(cpal::ErrorKind::DeviceNotAvailable);
        assert_eq!(latch.first(), Some("backend error"));
        assert_eq!(latch.count.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn config_validation_names_the_key() {
        let mut cfg = CaptureConfig::new("mic", "");
        assert!(cfg.validate().unwrap_err().to_string().contains("capture.far_end"));
        cfg.far_end = "mic".into();
        assert!(cfg.validate().unwrap_err().to_string().contains("both \"mic\""));
        cfg.far_end = "farend.monitor".into();
        cfg.watchdog_s = 30.0;
        assert!(cfg.validate().unwrap_err().to_string().contains("capture.watchdog_s"));
        cfg.watchdog_s = 1.0;
        assert!(cfg.validate().is_ok());
        let parsed: Result<CaptureConfig, _> = toml::from_str("mic = \"a\"\nfar_end = \"b\"\nbogus = 1\n");
        assert!(parsed.unwrap_err().to_string().contains("bogus"));
        let parsed: CaptureConfig = toml::from_str("mic = \"a\"\nfar_end = \"b\"\nhost = \"pulse\"\n").unwrap();
        assert_eq!(parsed.host, CaptureHost::Pulse);
        assert_eq!(parsed.watchdog_s, 1.0);
    }

    #[test]
    fn alsa_plugins_are_told_from_sources() {
        for plugin in ["null", "lavrate", "samplerate", "samplerate_best", "speexrate_medium", "jack", "oss", "upmix", "vdownmix", "pulse", "hdmi:CARD=PCH,DEV=0"] {
            assert!(is_alsa_plugin(plugin), "{plugin}");
        }
        for source in ["default", "sysdefault:CARD=PCH", "hw:CARD=PCH,DEV=0", "dsnoop:CARD=PCH,DEV=0", "callcoach_mic", "nullable"] {
            assert!(!is_alsa_plugin(source), "{source}");
        }
    }

    #[test]
    fn monitors_are_recognised() {
        assert!(is_monitor_likely("alsa_output.pci.analog-stereo.monitor", ""));
        assert!(is_monitor_likely("callcoach_farend", "Monitor of Built-in Audio"));
        assert!(is_monitor_likely("hw:CARD=Loopback,DEV=1", ""));
        assert!(!is_monitor_likely("callcoach_mic", "callcoach test microphone"));
    }

    #[test]
    fn not_found_error_lists_alternatives() {
        let e = CaptureError::DeviceNotFound {
            role: "far_end",
            name: "nope".into(),
            host: CaptureHost::Alsa,
            available: vec!["a".into(), "b (monitor)".into()],
        };
        let text = e.to_string();
        assert!(text.contains("\"nope\"") && text.contains("\"a\", \"b (monitor)\"") && text.contains("capture.far_end"), "{text}");
    }
}
