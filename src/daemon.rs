//! Running calls end to end: a replayed call (`callcoach replay`) and the
//! live daemon (`callcoach run`). Both drive the same pipeline, optionally
//! serve the overlay, and build the recovery brief when the call ends.
//!
//! Threads: the pipeline runs on its own `std::thread` per call; the server
//! runs on a small tokio runtime; the live daemon's router thread moves audio
//! from capture to the current call and decides when calls start and end.
//!
//! One audio route: the daemon loads the Whisper model once and gives each
//! call its own inference state on it. During a call the VAD runs once per
//! chunk, in the call's pipeline, and the router ends the call from the
//! pipeline's [`VoiceActivity`]; the router's own detector (the `Watcher`)
//! runs only between calls, and keeps a pre-roll so a call that starts by
//! itself begins a second before its first voice.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use tokio_util::sync::CancellationToken;

use crate::audio::capture::{Capture, CaptureError, Resolved};
use crate::audio::file::CallAudio;
use crate::audio::replay::{self, Speed};
use crate::audio::source::{AudioEvent, SOURCE_RATE};
use crate::brief::{self, BriefOutput, CallRecord};
use crate::call::Speaker;
use crate::coach::{CallPrep, ObjectionLibrary};
use crate::config::Config;
use crate::events::{self, Event};
use crate::journal;
use crate::pipeline::{self, CallOutcome, EventSink, PipelineError, PipelineOptions, VoiceActivity};
use crate::segment::echo::CallSegmenter;
use crate::segment::SegmenterEvent;
use crate::server::{self, ControlCommand, Hub, Server, ServerConfig};
use crate::transcribe::second_pass::SecondPass;
use crate::transcribe::{TranscribeError, WhisperModel};

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

/// Pipeline options for a call, from the config: `transcribe`'s audio route
/// (`recording::pipeline_options`) plus the call's journal, events and prep.
pub fn pipeline_options(config: &Config, call_id: &str, label: &str, prep: CallPrep, out: Option<&Path>) -> PipelineOptions {
    let (journals, events) = call_paths(config, call_id, out);
    let mut options = crate::recording::pipeline_options(config, call_id, label);
    options.realtime = true;
    options.journal_paths = journals;
    options.events_path = Some(events);
    options.objections = Arc::new(ObjectionLibrary::builtin());
    options.prep = prep;
    options
}

/// The second-pass model (`[model] second_pass`), loaded once per daemon or
/// replay, when one is configured.
pub fn load_second_pass_model(config: &Config) -> Result<Option<WhisperModel>, DaemonError> {
    match &config.second_pass {
        Some(second) => Ok(Some(WhisperModel::load(&second.path, config.transcribe.clone())?)),
        None => Ok(None),
    }
}

/// Starts the call's second pass on `model` and hands the pipeline its feed.
fn start_second_pass(config: &Config, model: Option<&WhisperModel>, options: &mut PipelineOptions) -> Result<Option<SecondPass>, DaemonError> {
    let (Some(settings), Some(model)) = (&config.second_pass, model) else { return Ok(None) };
    let within = Duration::from_secs_f64(settings.within_s);
    let second = SecondPass::start(model.engine()?, &options.journal_paths, settings.name.clone(), within)?;
    options.second_pass = Some(second.feed());
    Ok(Some(second))
}

/// Lets the second pass finish within its time after the call (see
/// `transcribe::second_pass`); the brief reads what it journaled. A failure
/// here costs only the better words: the brief falls back and says so.
fn finish_second_pass(second: Option<SecondPass>) {
    let Some(second) = second else { return };
    let ended = match second.finish() {
        Ok(ended) => ended,
        Err(error) => {
            tracing::error!(%error, "the second pass could not journal its end; the brief uses the live transcript where it is missing");
            return;
        }
    };
    tracing::info!(
        "second pass ({}): {}/{} pieces, {:.0}/{:.0} s of speech, {:.1} s after the call{}",
        ended.model,
        ended.transcribed,
        ended.pieces,
        ended.transcribed_s,
        ended.offered_s,
        ended.after_call_end_s,
        ended.unfinished.as_deref().map(|why| format!("; unfinished: {why}")).unwrap_or_default()
    );
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
    let engine = WhisperModel::load(&request.model, config.transcribe.clone())?.engine()?;
    let second_pass_model = load_second_pass_model(config)?;
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
    let second_pass = start_second_pass(config, second_pass_model.as_ref(), &mut options)?;
    let sinks = overlay.iter().map(Overlay::sink).collect();
    let (tx, rx) = bounded(256);
    let source = replay::start(request.call, request.speed, tx, stop.clone());
    let outcome = pipeline::run_call(rx, engine, options, sinks, stop.clone())?;
    let _ = source.join();
    finish_second_pass(second_pass);
    let brief = finish_call(config, &outcome, &request.prep, request.out.as_deref(), overlay.as_ref().map(|o| &o.hub))?;
    let deadline = std::time::Instant::now() + request.linger;
    while overlay.is_some() && std::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((outcome, brief))
}

/// `20261123-143005-1a2b3c4d5e6f7a8b`: sortable, unique per call.
pub fn new_call_id() -> String {
    let now = chrono::Utc::now();
    // 64 random bits: a team store keys calls by id across every rep's machine, and
    // two reps starting calls in the same second must never share one.
    let mut random = [0u8; 8];
    if getrandom::getrandom(&mut random).is_err() {
        random = (u64::from(std::process::id()) << 32 | u64::from(now.timestamp_subsec_nanos())).to_le_bytes();
    }
    format!("{}-{:016x}", now.format("%Y%m%d-%H%M%S"), u64::from_le_bytes(random))
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
    /// The call's own VAD, read to end it on silence.
    voice: Arc<VoiceActivity>,
}

/// Runs the live daemon until `stop` is set (SIGINT/SIGTERM): capture both
/// devices, serve the overlay, start and end calls on command or by
/// themselves, and write a brief after each call. The model is loaded once
/// here and shared by every call.
pub fn run_live(config: &Config, model: PathBuf, stop: Arc<AtomicBool>) -> Result<(), DaemonError> {
    // Fail fast on a missing model or device, before anything is listening.
    let model = WhisperModel::load(&model, config.transcribe.clone())?;
    let second_pass_model = load_second_pass_model(config)?;
    let capture_config = match crate::audio::capture::resolve_devices(&config.capture)? {
        Resolved::AsConfigured(capture) => capture,
        Resolved::FromSoundServer { capture, server } => {
            eprintln!(
                "no capture devices configured; from the sound server ({server}): mic = its default source \"{}\", far end = \"{}\", the monitor of its default output (set [capture] mic and far_end to choose others; `callcoach devices` lists them)",
                capture.mic, capture.far_end
            );
            capture
        }
    };
    let (audio_tx, audio_rx) = bounded::<AudioEvent>(512);
    let capture = Capture::start(&capture_config, audio_tx)?;
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
    let router = Router::new(config, &model, second_pass_model.as_ref(), &overlay.hub);
    let result = router.run(audio_rx, command_rx, &stop);
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

/// Speech is kept from this long before the first voice of an auto-started
/// call: the VAD's onset trails the first word's soft start.
const PRE_VOICE_S: f64 = 1.0;
/// Pre-roll is handed to a new call in pieces this long (the call's queue
/// holds 1024 messages; a whole window in 20 ms chunks would not fit).
const PRE_ROLL_PIECE: usize = SOURCE_RATE as usize / 2;

/// Between calls: a VAD on both channels that decides when a call starts by
/// itself. It does not run during a call (the call's pipeline has its own).
struct Watcher {
    segmenter: CallSegmenter,
    /// Router time of the watcher's call time 0 (it is new after every call).
    origin_s: f64,
    /// Utterances per channel, router time.
    recent: [Vec<(f64, f64)>; 2],
    events: Vec<SegmenterEvent>,
}

impl Watcher {
    fn new(config: &Config, origin_s: f64) -> Watcher {
        Watcher {
            segmenter: CallSegmenter::new(config.segmenter.clone(), config.call.echo_gate, config.call.echo_cancel),
            origin_s,
            recent: [Vec::new(), Vec::new()],
            events: Vec::new(),
        }
    }

    fn push(&mut self, speaker: Speaker, chunk: &[f32]) {
        self.segmenter.push(speaker, chunk, &mut self.events);
        for event in self.events.drain(..) {
            if let SegmenterEvent::Final { utterance, .. } = event {
                let span = (self.origin_s + utterance.start_s, self.origin_s + utterance.end_s);
                self.recent[utterance.speaker.channel()].push(span);
            }
        }
    }

    /// When both sides have spoken `need_s` within the `window_s` ending at
    /// `now_s` (router time): the start of the window's first utterance.
    fn call_began(&mut self, now_s: f64, window_s: f64, need_s: f64) -> Option<f64> {
        let window_start = now_s - window_s;
        for list in self.recent.iter_mut() {
            list.retain(|(_, end)| *end >= window_start);
        }
        let spoken = |list: &Vec<(f64, f64)>| list.iter().map(|(a, b)| b - a).sum::<f64>();
        if self.recent.iter().all(|list| spoken(list) >= need_s) {
            self.recent.iter().flatten().map(|(start, _)| *start).reduce(f64::min)
        } else {
            None
        }
    }
}

/// The last seconds of both channels as they arrived, so a call that starts
/// by itself begins at its first voice instead of at the decision.
struct PreRoll {
    channels: [VecDeque<f32>; 2],
    capacity: usize,
}

impl PreRoll {
    fn new(seconds: f64) -> PreRoll {
        let capacity = (seconds * SOURCE_RATE as f64).ceil() as usize;
        PreRoll { channels: [VecDeque::with_capacity(capacity), VecDeque::with_capacity(capacity)], capacity }
    }

    fn push(&mut self, speaker: Speaker, chunk: &[f32]) {
        let kept = &mut self.channels[speaker.channel()];
        kept.extend(chunk.iter().copied());
        let excess = kept.len().saturating_sub(self.capacity);
        kept.drain(..excess);
    }

    /// Empties the buffer into chunks covering router samples `from` up to
    /// each channel's end (`ends`), both channels starting at the same
    /// sample: `from`, or later if a channel does not reach back that far.
    /// Returns that start and the chunks, interleaved by call time.
    fn take_since(&mut self, from: u64, ends: [u64; 2]) -> (u64, Vec<AudioEvent>) {
        let held = [0, 1].map(|c| ends[c].saturating_sub(self.channels[c].len() as u64));
        let start = from.max(held[0]).max(held[1]);
        let mut pieces: [Vec<Vec<f32>>; 2] = [Vec::new(), Vec::new()];
        for (c, kept) in self.channels.iter_mut().enumerate() {
            let skip = (start - held[c]) as usize;
            let audio: Vec<f32> = kept.drain(..).skip(skip).collect();
            pieces[c] = audio.chunks(PRE_ROLL_PIECE).map(<[f32]>::to_vec).collect();
        }
        let mut events = Vec::new();
        let [rep, prospect] = pieces;
        let mut rep = rep.into_iter();
        let mut prospect = prospect.into_iter();
        loop {
            let (a, b) = (rep.next(), prospect.next());
            if a.is_none() && b.is_none() {
                break;
            }
            if let Some(samples) = a {
                events.push(AudioEvent::Chunk { speaker: Speaker::Rep, samples });
            }
            if let Some(samples) = b {
                events.push(AudioEvent::Chunk { speaker: Speaker::Prospect, samples });
            }
        }
        (start, events)
    }

    fn clear(&mut self) {
        self.channels.iter_mut().for_each(VecDeque::clear);
    }
}

/// The live daemon's router: moves audio from capture to the current call
/// and owns the call lifecycle, on its own loop (the daemon's main thread).
struct Router<'a> {
    config: &'a Config,
    model: &'a WhisperModel,
    /// The second pass's bigger model, when configured (loaded once, like `model`).
    second_pass_model: Option<&'a WhisperModel>,
    hub: &'a Hub,
    /// Samples received per channel since capture began: the router's clock.
    samples: [u64; 2],
    watcher: Watcher,
    pre_roll: PreRoll,
    call: Option<LiveCall>,
    finished: Vec<JoinHandle<()>>,
}

impl<'a> Router<'a> {
    fn new(config: &'a Config, model: &'a WhisperModel, second_pass_model: Option<&'a WhisperModel>, hub: &'a Hub) -> Router<'a> {
        Router {
            config,
            model,
            second_pass_model,
            hub,
            samples: [0; 2],
            watcher: Watcher::new(config, 0.0),
            // The whole auto-start window, so the call can begin at its first voice.
            pre_roll: PreRoll::new(config.call.auto_start_window_s + PRE_VOICE_S),
            call: None,
            finished: Vec::new(),
        }
    }

    fn now_s(&self) -> f64 {
        self.samples[0].max(self.samples[1]) as f64 / SOURCE_RATE as f64
    }

    fn run(mut self, audio: Receiver<AudioEvent>, commands: Receiver<RouterCommand>, stop: &Arc<AtomicBool>) -> Result<(), DaemonError> {
        loop {
            if stop.load(Ordering::Relaxed) {
                self.end_call("daemon stopped");
                break;
            }
            // Commands first: they are rare and the rep is waiting on them.
            while let Ok(command) = commands.try_recv() {
                match command {
                    RouterCommand::Start(prep) => {
                        self.end_call("a new call was started");
                        self.start_call(prep, Vec::new())?;
                    }
                    RouterCommand::End(reason) => self.end_call(reason),
                }
            }
            let event = match audio.recv_timeout(Duration::from_millis(100)) {
                Ok(event) => event,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            self.on_event(event)?;
        }
        for handle in self.finished {
            let _ = handle.join();
        }
        Ok(())
    }

    fn on_event(&mut self, event: AudioEvent) -> Result<(), DaemonError> {
        if let AudioEvent::Chunk { speaker, samples } = &event {
            self.samples[speaker.channel()] += samples.len() as u64;
            if self.call.is_none() {
                // Between calls only: during one, the call's pipeline runs the VAD.
                self.watcher.push(*speaker, samples);
                self.pre_roll.push(*speaker, samples);
                if self.config.call.auto_start {
                    let call = &self.config.call;
                    if let Some(first_voice_s) = self.watcher.call_began(self.now_s(), call.auto_start_window_s, call.auto_start_speech_s) {
                        self.auto_start(first_voice_s)?;
                        // This chunk is the pre-roll's last.
                        return Ok(());
                    }
                }
            }
        }
        let silence_s = self.config.call.auto_end_silence_min * 60.0;
        if self.call.as_ref().is_some_and(|live| live.voice.silent_for_s() >= silence_s) {
            self.end_call("silence");
        }
        if let Some(live) = &self.call {
            // Never wait on the call's pipeline: a full queue drops the chunk
            // (the pipeline reports its own backlog).
            if let Err(TrySendError::Disconnected(_)) = live.audio.try_send(event) {
                self.call = None;
            }
        }
        Ok(())
    }

    /// Starts a call that began at `first_voice_s` (router time): it gets the
    /// audio from just before then, so its first utterance is whole.
    fn auto_start(&mut self, first_voice_s: f64) -> Result<(), DaemonError> {
        let from = ((first_voice_s - PRE_VOICE_S).max(0.0) * SOURCE_RATE as f64) as u64;
        let (start, pre_roll) = self.pre_roll.take_since(from, self.samples);
        let kept_s = self.now_s() - start as f64 / SOURCE_RATE as f64;
        tracing::info!("speech on both channels: starting a call with the {kept_s:.1} s since its first voice");
        let prep = CallPrep { rep_name: self.config.rep_name.clone(), ..CallPrep::default() };
        self.start_call(prep, pre_roll)
    }

    fn start_call(&mut self, prep: CallPrep, pre_roll: Vec<AudioEvent>) -> Result<(), DaemonError> {
        let (config, hub) = (self.config, self.hub);
        let engine = self.model.engine()?;
        let call_id = new_call_id();
        let voice = Arc::new(VoiceActivity::default());
        let mut options = pipeline_options(config, &call_id, "capture", prep.clone(), None);
        options.voice = Some(voice.clone());
        let second_pass = start_second_pass(config, self.second_pass_model, &mut options)?;
        let (tx, rx) = bounded::<AudioEvent>(1024);
        for event in pre_roll {
            // The queue is new and the pre-roll a fraction of it: this never drops.
            let _ = tx.try_send(event);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let config = config.clone();
        let hub = hub.clone();
        let call_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("call-{call_id}"))
            .spawn(move || {
                let sinks: Vec<Box<dyn EventSink>> = vec![Box::new(hub.clone())];
                match pipeline::run_call(rx, engine, options, sinks, call_stop) {
                    Ok(outcome) => {
                        finish_second_pass(second_pass);
                        match finish_call(&config, &outcome, &prep, None, Some(&hub)) {
                            Ok(output) => eprintln!("call {} ended; brief in {}", outcome.call_id, output.folder.display()),
                            Err(error) => tracing::error!(%error, call = %outcome.call_id, "writing the brief failed; rebuild it with `callcoach brief --from-journal`"),
                        }
                    }
                    Err(error) => tracing::error!(%error, "the call's pipeline failed"),
                }
            })
            .map_err(|e| DaemonError::Other(format!("starting the call thread: {e}")))?;
        tracing::info!(call = %call_id, "call started");
        self.pre_roll.clear();
        self.call = Some(LiveCall { audio: tx, stop, thread, voice });
        Ok(())
    }

    fn end_call(&mut self, reason: &str) {
        let Some(live) = self.call.take() else { return };
        tracing::info!(reason, "ending the call");
        live.stop.store(true, Ordering::Relaxed);
        drop(live.audio);
        self.finished.push(live.thread);
        // The watcher saw nothing of the call: it starts afresh from now.
        self.watcher = Watcher::new(self.config, self.now_s());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(events: &[AudioEvent], speaker: Speaker) -> Vec<f32> {
        events
            .iter()
            .filter_map(|e| match e {
                AudioEvent::Chunk { speaker: s, samples } if *s == speaker => Some(samples.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The pre-roll hands over both channels from the same router sample,
    /// in pieces the call's queue holds, and never more than it kept.
    #[test]
    fn pre_roll_starts_both_channels_at_the_same_sample() {
        let mut pre_roll = PreRoll::new(2.0);
        // 3 s on the rep's channel (only the last 2 s are kept), 2.5 s on the prospect's.
        let rep: Vec<f32> = (0..48_000).map(|i| i as f32).collect();
        let prospect: Vec<f32> = (0..40_000).map(|i| -(i as f32)).collect();
        pre_roll.push(Speaker::Rep, &rep);
        pre_roll.push(Speaker::Prospect, &prospect);
        // Asked from sample 10 000: the rep's channel holds only from 16 000.
        let (start, events) = pre_roll.take_since(10_000, [48_000, 40_000]);
        assert_eq!(start, 16_000);
        assert_eq!(chunks(&events, Speaker::Rep), rep[16_000..].to_vec());
        assert_eq!(chunks(&events, Speaker::Prospect), prospect[16_000..].to_vec());
        assert!(events.len() <= 2 * (32_000 / PRE_ROLL_PIECE + 1), "{} pieces", events.len());
        // Taking empties it.
        assert!(pre_roll.take_since(0, [48_000, 40_000]).1.is_empty());
    }
}
