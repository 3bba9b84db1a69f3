//! Running calls end to end: a replayed call (`callcoach replay`) and the
//! live daemon (`callcoach run`). Both drive the same pipeline, optionally
//! serve the overlay, and build the recovery brief when the call ends.
//!
//! Threads: the pipeline runs on its own `std::thread` per call; the server
//! runs on a small tokio runtime; the live daemon's router thread moves audio
//! from capture to the current call and decides when calls start and end.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use tokio_util::sync::CancellationToken;

use crate::audio::capture::{Capture, CaptureError};
use crate::audio::file::CallAudio;
use crate::audio::replay::{self, Speed};
use crate::audio::source::{AudioEvent, SOURCE_RATE};
use crate::brief::{self, BriefOutput, CallRecord};
use crate::call::Speaker;
use crate::coach::{CallPrep, ObjectionLibrary};
use crate::config::Config;
use crate::events::{self, Event};
use crate::journal;
use crate::pipeline::{self, CallOutcome, EventSink, PipelineError, PipelineOptions};
use crate::segment::echo::CallSegmenter;
use crate::segment::SegmenterEvent;
use crate::server::{self, ControlCommand, Hub, Server, ServerConfig};
use crate::transcribe::{TranscribeError, WhisperEngine};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
    #[error(transparent)]
    Brief(#[from] brief::BriefError),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error(transparent)]
    Server(#[from] server::ServerError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("{0}")]
    Other(String),
}

/// The overlay server and the hub every call publishes to.
pub struct Overlay {
    pub hub: Hub,
    pub url: String,
    shutdown: CancellationToken,
    runtime: Option<tokio::runtime::Runtime>,
    control: Option<tokio::sync::mpsc::Receiver<ControlCommand>>,
}

impl Overlay {
    /// Binds the server on `port` (0 = any free port) on the configured host.
    pub fn start(config: &Config, port: u16) -> Result<Overlay, DaemonError> {
        let token = server::load_or_create_token(&config.token_file).map_err(|e| DaemonError::Other(e.to_string()))?;
        let mut server_config = ServerConfig::new(token);
        server_config.host = config.server.host.clone();
        server_config.port = port;
        server_config.allow_non_loopback = config.server.allow_non_loopback;
        server_config.allowed_origins = config.server.allowed_origins.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("server")
            .enable_all()
            .build()
            .map_err(|e| DaemonError::Other(format!("starting the server runtime: {e}")))?;
        let hub = Hub::default();
        let shutdown = CancellationToken::new();
        let (bound, control) = {
            let _guard = runtime.enter();
            Server::bind(server_config, hub.clone(), shutdown.clone())?
        };
        let url = bound.url();
        runtime.spawn(async move {
            if let Err(error) = bound.run().await {
                tracing::error!(%error, "overlay server stopped");
            }
        });
        Ok(Overlay { hub, url, shutdown, runtime: Some(runtime), control: Some(control) })
    }

    /// The sink the pipeline publishes through.
    pub fn sink(&self) -> Box<dyn EventSink> {
        Box::new(self.hub.clone())
    }

    fn take_control(&mut self) -> tokio::sync::mpsc::Receiver<ControlCommand> {
        self.control.take().expect("control receiver taken once")
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(3));
        }
    }
}

/// Converts the overlay/CLI's prep into the coach's.
pub fn prep_from_control(prep: &server::CallPrep, rep_name: Option<String>) -> CallPrep {
    CallPrep {
        account: prep.account.clone(),
        contact_name: prep.contact.clone(),
        contact_role: prep.role.clone(),
        rep_name,
        agenda: prep.agenda.clone(),
        competitors: Vec::new(),
        planned_minutes: prep.minutes.map(f64::from),
    }
}

/// Where a call's files go.
pub fn call_paths(config: &Config, call_id: &str, out: Option<&Path>) -> (Vec<PathBuf>, PathBuf) {
    let call_dir = config.data_dir.join("calls").join(call_id);
    let mut journals = vec![call_dir.join("journal.jsonl")];
    let mut events = call_dir.join("events.jsonl");
    if let Some(out) = out {
        journals.push(out.join("journal.jsonl"));
        events = out.join("events.jsonl");
    }
    (journals, events)
}

/// Pipeline options for a call, from the config.
pub fn pipeline_options(config: &Config, call_id: &str, label: &str, prep: CallPrep, out: Option<&Path>) -> PipelineOptions {
    let (journals, events) = call_paths(config, call_id, out);
    let mut options = PipelineOptions::new(call_id, label);
    options.journal_paths = journals;
    options.events_path = Some(events);
    options.segmenter = config.segmenter.clone();
    options.echo_gate = config.call.echo_gate;
    options.echo_cancel = config.call.echo_cancel;
    options.coach = config.coach.clone();
    options.objections = Arc::new(ObjectionLibrary::builtin());
    options.prep = prep;
    options
}

/// Builds the brief from the call's journal (the durable record, so a live
/// call and crash recovery take the same path), writes it, and announces it.
pub fn finish_call(
    config: &Config,
    outcome: &CallOutcome,
    prep: &CallPrep,
    out: Option<&Path>,
    hub: Option<&Hub>,
) -> Result<BriefOutput, DaemonError> {
    let journal_path = outcome.journal_paths.first().ok_or_else(|| DaemonError::Other("the call has no journal".into()))?;
    let record = CallRecord::from_journal(journal::read(journal_path)?).with_prep(prep.clone());
    let paths = config.brief_paths();
    let output = brief::after_call(&record, &paths, chrono::Utc::now())?;
    if let Some(out) = out {
        brief::writer::write_folder(&output.brief, &record, out)?;
    }
    let ready = Event::BriefReady { path: output.folder.display().to_string() };
    let line = events::to_json_line(&ready);
    let (_, events_path) = call_paths(config, &outcome.call_id, out);
    crate::private_file::append_line(&events_path, &line).map_err(|e| DaemonError::Other(format!("{}: {e}", events_path.display())))?;
    if let Some(hub) = hub {
        hub.publish(&ready, &line);
    }
    Ok(output)
}


/// What `replay` needs beyond the config.
pub struct ReplayRequest {
    pub call: CallAudio,
    pub label: String,
    pub speed: Speed,
    pub out: Option<PathBuf>,
    pub model: PathBuf,
    pub prep: CallPrep,
    /// Serve the overlay on this port while replaying.
    pub serve_port: Option<u16>,
    /// Keep serving this long after the call ends (for a browser to catch up).
    pub linger: Duration,
}

/// Replays one call start to end, then builds its brief.
pub fn replay(config: &Config, request: ReplayRequest, stop: Arc<AtomicBool>) -> Result<(CallOutcome, BriefOutput), DaemonError> {
    let engine = WhisperEngine::load(&request.model, config.transcribe.clone())?;
    let overlay = match request.serve_port {
        Some(port) => {
            let overlay = Overlay::start(config, port)?;
            eprintln!("overlay: {}", overlay.url);
            Some(overlay)
        }
        None => None,
    };
    let call_id = new_call_id();
    let mut options = pipeline_options(config, &call_id, &request.label, request.prep.clone(), request.out.as_deref());
    options.realtime = request.speed.is_realtime();
    let sinks = overlay.iter().map(Overlay::sink).collect();
    let (tx, rx) = bounded(256);
    let source = replay::start(request.call, request.speed, tx, stop.clone());
    let outcome = pipeline::run_call(rx, engine, options, sinks, stop.clone())?;
    let _ = source.join();
    let brief = finish_call(config, &outcome, &request.prep, request.out.as_deref(), overlay.as_ref().map(|o| &o.hub))?;
    let deadline = std::time::Instant::now() + request.linger;
    while overlay.is_some() && std::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((outcome, brief))
}

/// `20261123-143005-1a2b`: sortable, unique per call.
pub fn new_call_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{:04x}", now.format("%Y%m%d-%H%M%S"), (std::process::id() as u16) ^ (now.timestamp_subsec_nanos() as u16))
}

/// Messages to the live daemon's router thread.
enum RouterCommand {
    Start(CallPrep),
    End(&'static str),
}

/// A call in progress in the live daemon.
struct LiveCall {
    audio: Sender<AudioEvent>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// Runs the live daemon until `stop` is set (SIGINT/SIGTERM): capture both
/// devices, serve the overlay, start and end calls on command or by
/// themselves, and write a brief after each call.
pub fn run_live(config: &Config, model: PathBuf, stop: Arc<AtomicBool>) -> Result<(), DaemonError> {
    // Fail fast on a missing model or device, before anything is listening.
    WhisperEngine::load(&model, config.transcribe.clone())?;
    let (audio_tx, audio_rx) = bounded::<AudioEvent>(512);
    let capture = Capture::start(&config.capture, audio_tx)?;
    let mut overlay = Overlay::start(config, config.server.port)?;
    eprintln!("callcoach listening; overlay at {}", overlay.url);
    push_team_backlog(config);
    let (command_tx, command_rx) = bounded::<RouterCommand>(16);
    // Overlay buttons and `callcoach call start/end` arrive here.
    let mut control = overlay.take_control();
    let rep_name = config.rep_name.clone();
    let forward = command_tx.clone();
    overlay.runtime.as_ref().expect("runtime").spawn(async move {
        while let Some(command) = control.recv().await {
            let message = match command {
                ControlCommand::StartCall(prep) => RouterCommand::Start(prep_from_control(&prep, rep_name.clone())),
                ControlCommand::EndCall => RouterCommand::End("ended by the rep"),
            };
            if forward.send(message).is_err() {
                break;
            }
        }
    });
    let result = route(config, &model, audio_rx, command_rx, &overlay.hub, &stop);
    capture.stop();
    drop(command_tx);
    result
}

/// Daemon start pushes calls that waited in the outbox while the team store was
/// away, on a thread of its own so that an unreachable server delays nothing.
fn push_team_backlog(config: &Config) {
    let Some(url) = config.team_history.clone() else { return };
    let db = config.history_db.clone();
    std::thread::spawn(move || match crate::history::sync(&db, &url) {
        Ok(report) => tracing::info!("team history {}: {} waiting call(s) pushed", url.target(), report.pushed),
        Err(e) => tracing::warn!("{e}; waiting calls stay in the outbox"),
    });
}

/// The router: owns the call lifecycle on its own loop (this thread).
fn route(
    config: &Config,
    model: &Path,
    audio: Receiver<AudioEvent>,
    commands: Receiver<RouterCommand>,
    hub: &Hub,
    stop: &Arc<AtomicBool>,
) -> Result<(), DaemonError> {
    // A VAD that always runs, so calls can start and end by themselves.
    let mut watcher = CallSegmenter::new(config.segmenter.clone(), config.call.echo_gate, config.call.echo_cancel);
    let mut events = Vec::new();
    let mut samples = [0u64; 2];
    let mut recent_speech: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
    let mut last_speech_s = 0.0f64;
    let mut call: Option<LiveCall> = None;
    let mut finished: Vec<JoinHandle<()>> = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            if let Some(live) = call.take() {
                end_call(live, "daemon stopped", &mut finished);
            }
            break;
        }
        // Commands first: they are rare and the rep is waiting on them.
        while let Ok(command) = commands.try_recv() {
            match command {
                RouterCommand::Start(prep) => {
                    if let Some(live) = call.take() {
                        end_call(live, "a new call was started", &mut finished);
                    }
                    call = Some(start_call(config, model, prep, hub)?);
                    last_speech_s = samples[0].max(samples[1]) as f64 / SOURCE_RATE as f64;
                }
                RouterCommand::End(reason) => {
                    if let Some(live) = call.take() {
                        end_call(live, reason, &mut finished);
                    }
                }
            }
        }
        let event = match audio.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => event,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        if let AudioEvent::Chunk { speaker, samples: chunk } = &event {
            samples[speaker.channel()] += chunk.len() as u64;
            watcher.push(*speaker, chunk, &mut events);
            for e in events.drain(..) {
                if let SegmenterEvent::Final { utterance, .. } = e {
                    last_speech_s = last_speech_s.max(utterance.end_s);
                    let list = &mut recent_speech[utterance.speaker.channel()];
                    list.push((utterance.start_s, utterance.end_s));
                }
            }
            if watcher.segmenter(*speaker).is_speaking() {
                last_speech_s = last_speech_s.max(samples[speaker.channel()] as f64 / SOURCE_RATE as f64);
            }
        }
        let now_s = samples[0].max(samples[1]) as f64 / SOURCE_RATE as f64;
        match &call {
            None if config.call.auto_start => {
                let window_start = now_s - config.call.auto_start_window_s;
                for list in recent_speech.iter_mut() {
                    list.retain(|(_, end)| *end >= window_start);
                }
                let spoken = |s: Speaker| recent_speech[s.channel()].iter().map(|(a, b)| b - a).sum::<f64>();
                if spoken(Speaker::Rep) >= config.call.auto_start_speech_s && spoken(Speaker::Prospect) >= config.call.auto_start_speech_s {
                    tracing::info!("speech on both channels: starting a call");
                    call = Some(start_call(config, model, CallPrep { rep_name: config.rep_name.clone(), ..CallPrep::default() }, hub)?);
                    recent_speech = [Vec::new(), Vec::new()];
                    last_speech_s = now_s;
                }
            }
            Some(_) if now_s - last_speech_s >= config.call.auto_end_silence_min * 60.0 => {
                let live = call.take().expect("a call");
                end_call(live, "silence", &mut finished);
            }
            _ => {}
        }
        if let Some(live) = &call {
            // Never wait on the call's pipeline: a full queue drops the chunk
            // (the pipeline reports its own backlog).
            if let Err(TrySendError::Disconnected(_)) = live.audio.try_send(event) {
                call = None;
            }
        }
    }
    for handle in finished {
        let _ = handle.join();
    }
    Ok(())
}

fn start_call(config: &Config, model: &Path, prep: CallPrep, hub: &Hub) -> Result<LiveCall, DaemonError> {
    let engine = WhisperEngine::load(model, config.transcribe.clone())?;
    let call_id = new_call_id();
    let options = pipeline_options(config, &call_id, "capture", prep.clone(), None);
    let (tx, rx) = bounded::<AudioEvent>(1024);
    let stop = Arc::new(AtomicBool::new(false));
    let config = config.clone();
    let hub = hub.clone();
    let call_stop = stop.clone();
    let thread = std::thread::Builder::new()
        .name(format!("call-{call_id}"))
        .spawn(move || {
            let sinks: Vec<Box<dyn EventSink>> = vec![Box::new(hub.clone())];
            match pipeline::run_call(rx, engine, options, sinks, call_stop) {
                Ok(outcome) => match finish_call(&config, &outcome, &prep, None, Some(&hub)) {
                    Ok(output) => eprintln!("call {} ended; brief in {}", outcome.call_id, output.folder.display()),
                    Err(error) => tracing::error!(%error, call = %outcome.call_id, "writing the brief failed; rebuild it with `callcoach brief --from-journal`"),
                },
                Err(error) => tracing::error!(%error, "the call's pipeline failed"),
            }
        })
        .map_err(|e| DaemonError::Other(format!("starting the call thread: {e}")))?;
    tracing::info!(call = %call_id, "call started");
    Ok(LiveCall { audio: tx, stop, thread })
}

fn end_call(live: LiveCall, reason: &str, finished: &mut Vec<JoinHandle<()>>) {
    tracing::info!(reason, "ending the call");
    live.stop.store(true, Ordering::Relaxed);
    drop(live.audio);
    finished.push(live.thread);
}
