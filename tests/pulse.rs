//! A private PulseAudio daemon for tests that need real cpal capture on a
//! machine without a sound card (see ../shared/AUDIO-TESTING.md).
//!
//! Each [`PulseServer`] runs `pulseaudio` as an ordinary child process in its
//! own temp dir, on its own socket, so tests never meet each other. It has:
//! - null sinks `micfeed` and `farend` (16 kHz mono) to play known audio into;
//! - a source `mic` that remaps `micfeed.monitor` (a "microphone");
//! - an ALSA config (`ALSA_CONFIG_PATH`) with PCMs that reach both through the
//!   pulse ALSA plugin, with `hint` blocks so cpal lists them.
//!
//! Device names a `[capture]` config uses:
//!
//! | host                 | mic (rep)          | far_end (prospect)   |
//! |----------------------|--------------------|----------------------|
//! | `alsa` (default)     | `callcoach_mic`    | `callcoach_farend`   |
//! | `pulse`              | `mic`              | `farend.monitor`     |
//!
//! Play the rep's audio into sink [`MIC_SINK`] and the far end's into
//! [`FAR_END_SINK`]. A child process (e.g. `callcoach run`) reaches the server
//! with [`PulseServer::env`]; code in the test process itself needs
//! [`PulseServer::use_in_this_process`], which changes process-wide state and
//! so belongs only in a process that runs one such test at a time (see
//! `capture::in_child_process`).
#![allow(dead_code)] // a shared harness: not every test uses every helper

use std::ffi::OsString;
use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Sink whose monitor feeds the `mic` source: play the rep's audio here.
pub const MIC_SINK: &str = "micfeed";
/// Sink whose monitor is the far end: play the prospect's audio here.
pub const FAR_END_SINK: &str = "farend";
/// ALSA PCM names (the default `alsa` capture host).
pub const ALSA_MIC: &str = "callcoach_mic";
pub const ALSA_FAR_END: &str = "callcoach_farend";
/// PulseAudio source names (the `pulse` capture host).
pub const PULSE_MIC: &str = "mic";
pub const PULSE_FAR_END: &str = "farend.monitor";

/// Rate and channels of both null sinks.
pub const SINK_RATE: u32 = 16_000;

pub struct PulseServer {
    dir: tempfile::TempDir,
    socket: PathBuf,
    child: Option<Child>,
}

impl PulseServer {
    /// Starts a daemon and waits until it accepts connections (~0.1 s).
    pub fn start() -> PulseServer {
        let dir = tempfile::Builder::new().prefix("callcoach-pulse-").tempdir().expect("temp dir");
        let root = dir.path();
        for sub in ["runtime", "home"] {
            fs::create_dir_all(root.join(sub)).expect("creating the server's dirs");
        }
        let socket = root.join("runtime/native");
        fs::write(root.join("server.pa"), server_script(&socket)).expect("writing server.pa");
        fs::write(root.join("asound.conf"), alsa_config(&socket)).expect("writing asound.conf");
        // Clients must never start a daemon of their own when ours is down.
        fs::write(root.join("client.conf"), "autospawn = no\n").expect("writing client.conf");
        // A client sends a cookie (any will do: the server takes anonymous
        // clients); libpulse makes one in $HOME, but pure-Rust clients with a
        // fresh HOME (a first run) need it from PULSE_COOKIE.
        fs::write(root.join("cookie"), [7u8; 256]).expect("writing the cookie");
        let mut server = PulseServer { dir, socket, child: None };
        server.spawn();
        server
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `PULSE_SERVER` value.
    pub fn server_address(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    pub fn alsa_config_path(&self) -> String {
        format!("/usr/share/alsa/alsa.conf:{}", self.dir().join("asound.conf").display())
    }

    /// What a child process needs in its environment to capture from (and
    /// play into) this server through either cpal host.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("PULSE_SERVER", self.server_address().into()),
            ("PULSE_CLIENTCONFIG", self.dir().join("client.conf").into_os_string()),
            ("PULSE_COOKIE", self.dir().join("cookie").into_os_string()),
            ("ALSA_CONFIG_PATH", self.alsa_config_path().into()),
        ]
    }

    /// Points this process's ALSA and PulseAudio clients at this server.
    /// Process-wide: only for a process that runs one capture test at a time,
    /// before it first touches audio.
    pub fn use_in_this_process(&self) {
        for (key, value) in self.env() {
            std::env::set_var(key, value);
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Kills the daemon with SIGKILL (a crash, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the daemon again on the same socket, with the same devices.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Plays a WAV into `sink` ([`MIC_SINK`] or [`FAR_END_SINK`]) with paplay.
    pub fn play(&self, sink: &str, wav: &Path) -> Playback {
        self.play_with(sink, wav, &[])
    }

    /// Plays a WAV asking for a 10 ms latency: the sink then renders it at
    /// once instead of in the idle null sink's 2 s blocks, so it sounds
    /// (reaches the monitor) within a few tens of milliseconds of the call.
    pub fn play_now(&self, sink: &str, wav: &Path) -> Playback {
        self.play_with(sink, wav, &["--latency-msec=10"])
    }

    fn play_with(&self, sink: &str, wav: &Path, extra: &[&str]) -> Playback {
        let child = Command::new("paplay")
            .args(extra)
            .arg(format!("--device={sink}"))
            .arg(wav)
            .envs(self.env())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running paplay (install pulseaudio-utils)");
        Playback { child: Some(child), what: format!("{} into {sink}", wav.display()) }
    }

    /// Runs `pactl` against this server; panics if it fails.
    pub fn pactl(&self, args: &[&str]) -> String {
        let output = self.pactl_output(args);
        assert!(output.status.success(), "pactl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn pactl_output(&self, args: &[&str]) -> Output {
        Command::new("pactl").args(args).envs(self.env()).output().expect("running pactl (install pulseaudio-utils)")
    }

    /// Unloads a null sink (and with it its monitor source) while the server
    /// keeps running: the sound server moves streams that recorded from it.
    pub fn remove_sink(&self, sink: &str) {
        let modules = self.pactl(&["list", "short", "modules"]);
        let wanted = format!("sink_name={sink} ");
        let index = modules
            .lines()
            .find(|l| l.contains("module-null-sink") && format!("{l} ").contains(&wanted))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no null sink {sink} loaded:\n{modules}"));
        self.pactl(&["unload-module", index]);
    }

    /// Loads a null sink like the ones the server starts with.
    pub fn add_sink(&self, sink: &str) {
        self.pactl(&["load-module", "module-null-sink", &null_sink_args(sink)]);
    }

    /// The daemon's log (stderr), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir().join("pulseaudio.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let root = self.dir.path().to_path_buf();
        let _ = fs::remove_file(&self.socket);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("pulseaudio.log"))
            .expect("opening the server log");
        let child = Command::new("pulseaudio")
            .args(["--daemonize=no", "-n", "-F"])
            .arg(root.join("server.pa"))
            .args([
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--system=no",
                "--realtime=no",
                "--high-priority=no",
                "--log-target=stderr",
                "--log-level=warning",
            ])
            .env("XDG_RUNTIME_DIR", root.join("runtime"))
            .env("HOME", root.join("home"))
            .env("PULSE_SERVER", self.server_address())
            .env("PULSE_CLIENTCONFIG", root.join("client.conf"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting pulseaudio (install pulseaudio)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if !self.is_running() {
                panic!("pulseaudio exited at start-up:\n{}", self.log());
            }
            if Instant::now() > deadline {
                panic!("pulseaudio did not open {} within 10 s:\n{}", self.socket.display(), self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running paplay; killed if dropped before it finishes.
pub struct Playback {
    child: Option<Child>,
    what: String,
}

impl Playback {
    /// Waits for the playback to finish; panics if paplay failed.
    pub fn wait(mut self) {
        let child = self.child.take().expect("not waited yet");
        let output = child.wait_with_output().expect("waiting for paplay");
        assert!(output.status.success(), "paplay {} failed: {}", self.what, String::from_utf8_lossy(&output.stderr));
    }
}

impl Drop for Playback {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn null_sink_args(sink: &str) -> String {
    format!("sink_name={sink} rate={SINK_RATE} channels=1 sink_properties=device.description=callcoach-test-{sink}")
}

fn server_script(socket: &Path) -> String {
    format!(
        "# callcoach test server (tests/pulse.rs)\n\
         load-module module-native-protocol-unix auth-anonymous=1 socket={socket}\n\
         load-module module-null-sink {far_end}\n\
         load-module module-null-sink {mic_feed}\n\
         load-module module-remap-source source_name={PULSE_MIC} master={MIC_SINK}.monitor source_properties=device.description=callcoach-test-mic\n\
         set-default-source {PULSE_MIC}\n\
         set-default-sink {FAR_END_SINK}\n",
        socket = socket.display(),
        far_end = null_sink_args(FAR_END_SINK),
        mic_feed = null_sink_args(MIC_SINK),
    )
}

/// The `hint` blocks matter: cpal only lists PCMs that ALSA's name hints show.
fn alsa_config(socket: &Path) -> String {
    let pcm = |name: &str, device: &str, description: &str| {
        format!(
            "pcm.{name} {{\n    type pulse\n    server \"unix:{socket}\"\n    device \"{device}\"\n    \
             hint {{\n        show on\n        description \"{description}\"\n        ioid Input\n    }}\n}}\n",
            socket = socket.display()
        )
    };
    format!(
        "# callcoach test PCMs (tests/pulse.rs)\n{}{}",
        pcm(ALSA_MIC, PULSE_MIC, "callcoach test microphone (PulseAudio source mic)"),
        pcm(ALSA_FAR_END, PULSE_FAR_END, "Monitor of callcoach test far end (PulseAudio farend.monitor)"),
    )
}

/// Speaks `text` with espeak-ng `voice` into a 16 kHz mono WAV in `dir`.
pub fn speech_wav(dir: &Path, name: &str, voice: &str, text: &str) -> PathBuf {
    let raw = dir.join(format!("{name}.espeak.wav"));
    let wav = dir.join(format!("{name}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "165", "-w"])
        .arg(&raw)
        .arg(text)
        .status()
        .expect("running espeak-ng (install espeak-ng)");
    assert!(status.success(), "espeak-ng failed");
    let status = Command::new("sox")
        .arg(&raw)
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(&wav)
        .status()
        .expect("running sox (install sox)");
    assert!(status.success(), "sox failed");
    wav
}

/// Reads a mono 16-bit WAV as f32.
pub fn read_wav(path: &Path) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path).expect("reading a WAV");
    assert_eq!(reader.spec().channels, 1, "{} is not mono", path.display());
    reader.samples::<i16>().map(|s| s.expect("a sample") as f32 / 32768.0).collect()
}
