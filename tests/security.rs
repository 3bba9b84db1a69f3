//! Issue 10's hostile local user, for real: another uid (`setpriv` to
//! `nobody`) connecting to the daemon's loopback port, a listener of another
//! uid waiting for the CLI's token, sockets that never send a request, and
//! symbolic links planted in `--out`. See SECURITY.md.
//!
//! Switching uid needs root; CI runs as root. Run as another user, the
//! cross-user tests say so on stderr and check only the same-user half.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use callcoach::server::{Hub, Server, ServerConfig, Token};
use tokio_util::sync::CancellationToken;

use crate::util;

const NOBODY: &str = "65534";

fn is_root() -> bool {
    callcoach::private_file::effective_uid() == 0
}

/// `bash -c script` as uid/gid 65534 with no supplementary groups.
fn as_nobody(script: &str) -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "bash", "-c", script]);
    command
}

struct Daemon {
    addr: SocketAddr,
    token: Token,
    shutdown: CancellationToken,
    _control: tokio::sync::mpsc::Receiver<callcoach::server::ControlCommand>,
    _runtime: tokio::runtime::Runtime,
}

fn start_server() -> Daemon {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let token = Token::generate().unwrap();
    let shutdown = CancellationToken::new();
    let (bound, control) = {
        let _guard = runtime.enter();
        Server::bind(ServerConfig::new(token.clone()), Hub::default(), shutdown.clone()).expect("binding")
    };
    let addr = bound.local_addr();
    runtime.spawn(async move { bound.run().await.expect("server runs") });
    Daemon { addr, token, shutdown, _control: control, _runtime: runtime }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One HTTP/1.1 GET over a fresh connection from this process; the raw answer.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", addr.port()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Bar 1: another local user gets neither the page (with its token) nor the
/// WebSocket; this user's browser still gets the page without copying a token.
#[test]
fn another_local_user_is_closed_out_before_a_byte_is_read() {
    let daemon = start_server();
    let own = get(daemon.addr, "/");
    assert!(own.starts_with("HTTP/1.1 200"), "this user is served: {own:.200}");
    assert!(own.contains(daemon.token.as_str()), "this user's page carries the token");
    if !is_root() {
        eprintln!("not root: cannot switch to another uid; the cross-user half is not checked here");
        return;
    }
    let port = daemon.addr.port();
    for (what, request) in [
        ("the page", format!("GET / HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nConnection: close\\r\\n\\r\\n")),
        (
            "the WebSocket",
            format!("GET /ws?token={} HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n", daemon.token.as_str()),
        ),
    ] {
        let script = format!("trap '' PIPE; exec 3<>/dev/tcp/127.0.0.1/{port} || exit 7; printf '{request}' >&3 2>/dev/null; timeout 5 cat <&3; exit 0");
        let output = as_nobody(&script).output().expect("setpriv runs");
        let got = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{what}: could not even connect as nobody: {}", String::from_utf8_lossy(&output.stderr));
        assert!(got.is_empty(), "{what}: uid {NOBODY} was answered: {got:.300}");
    }
    // And the server keeps serving this user afterwards.
    assert!(get(daemon.addr, "/healthz").contains("\"ok\":true"));
}

/// Bar 8: sockets that never send a request do not lock this user's clients out.
#[test]
fn idle_sockets_do_not_lock_out_the_reps_own_clients() {
    let daemon = start_server();
    let limit = callcoach::server::Limits::default().max_connections;
    // Paced a little, so that each is checked and admitted in turn (a burst
    // past the owner-check bound is closed unread, which proves less).
    let idle: Vec<TcpStream> = (0..limit + 16)
        .map(|_| {
            let socket = TcpStream::connect(daemon.addr).unwrap();
            std::thread::sleep(Duration::from_millis(5));
            socket
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let answer = get(daemon.addr, "/healthz");
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "with {} idle sockets open: {answer:.200}", idle.len());
    assert!(took < Duration::from_secs(2), "the health check waited {took:?} behind idle sockets");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    let health: serde_json::Value = serde_json::from_str(body).unwrap();
    // Every connection past the limit was closed: the idle ones evicted to make room,
    // and (on a loaded machine, where owner checks queue up) some closed unread.
    let evicted = health["idle_connections_closed"].as_u64().unwrap();
    let unchecked = health["unchecked_connections_closed"].as_u64().unwrap();
    assert!(evicted >= 1 && evicted + unchecked >= 16, "{health}");
    assert!(health["connections"].as_u64().unwrap() <= limit as u64, "{health}");
    eprintln!("{} idle sockets: /healthz answered in {:.1} ms; {health}", idle.len(), took.as_secs_f64() * 1e3);
    drop(idle);
}

/// Bar 1, the CLI half: `callcoach call start` does not hand the token to a
/// listener of another user on the configured port.
#[test]
fn the_cli_sends_no_token_to_another_users_listener() {
    if !is_root() {
        eprintln!("not root: cannot start a listener as another uid; not checked here");
        return;
    }
    let dir = util::temp_dir();
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let caught = dir.path().join("caught.txt");
    std::fs::File::create(&caught).unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&caught, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let listener_code = format!(
        "import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('127.0.0.1',{port}));s.listen(4);print('ready',flush=True)\ns.settimeout(15)\nc,_=s.accept();c.settimeout(3)\ndata=b''\ntry:\n  while len(data)<65536:\n    b=c.recv(4096)\n    if not b: break\n    data+=b\nexcept Exception: pass\nopen('{}','ab').write(data)\n",
        caught.display()
    );
    // Debian's python3: a user-local one (pyenv under /root) is out of nobody's reach.
    let mut listener = Command::new("setpriv")
        .args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "/usr/bin/python3", "-c", &listener_code])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 as nobody");
    let mut ready = [0u8; 6];
    listener.stdout.as_mut().unwrap().read_exact(&mut ready).expect("the fake listener starts");
    let config_home = dir.path().join("config");
    std::fs::create_dir_all(config_home.join("callcoach")).unwrap();
    std::fs::write(config_home.join("callcoach/config.toml"), format!("[server]\nport = {port}\n")).unwrap();
    let output = util::run(util::callcoach().env("XDG_CONFIG_HOME", &config_home).args(["call", "start", "--account", "ACME"]));
    let _ = listener.kill();
    let _ = listener.wait();
    let stderr = util::stderr(&output);
    assert!(!output.status.success(), "call start succeeded against a foreign listener");
    assert!(stderr.contains("another local user") && stderr.contains("not sent"), "{stderr}");
    let token = std::fs::read_to_string(config_home.join("callcoach/token")).unwrap();
    let seen = std::fs::read_to_string(&caught).unwrap();
    assert!(!seen.contains(token.trim()) && !seen.contains("Bearer"), "the listener received: {seen:.300}");
}

/// Bar 2: links planted in `--out` receive nothing; a planted `brief.json`
/// link is replaced, never followed; a planted journal link stops the replay
/// with a clear error before anything is written through it.
#[test]
fn planted_links_in_out_receive_nothing() {
    let dir = util::temp_dir();
    let (wav, _) = util::write_call(
        dir.path(),
        "call.wav",
        "rep: Hi Dana, thanks for joining today.\nprospect: Sure, happy to talk.\nrep: Could we meet again on Thursday at ten?\nprospect: Thursday at ten works.",
    );
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "somebody else's file\n").unwrap();

    let out = dir.path().join("out-brief");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("brief.json")).unwrap();
    std::fs::write(out.join(".brief.md.4999999.0.tmp"), "left by a killed run").unwrap();
    let data = dir.path().join("data");
    let replay = |out: &std::path::Path| {
        util::run(
            util::callcoach()
                .env("XDG_DATA_HOME", &data)
                .args(["replay", "--speed", "max", "--model"])
                .arg(util::model_path())
                .arg("--out")
                .arg(out)
                .arg(&wav),
        )
    };
    let output = replay(&out);
    assert!(output.status.success(), "{}", util::stderr(&output));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "somebody else's file\n");
    let brief = std::fs::symlink_metadata(out.join("brief.json")).unwrap();
    assert!(brief.file_type().is_file(), "brief.json is a regular file of ours now");
    assert!(!out.join(".brief.md.4999999.0.tmp").exists(), "the stale temporary file was cleaned");
    for name in ["brief.json", "brief.md", "events.jsonl", "journal.jsonl"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(out.join(name)).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }

    let out = dir.path().join("out-journal");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("journal.jsonl")).unwrap();
    let output = replay(&out);
    let stderr = util::stderr(&output);
    assert!(!output.status.success(), "a replay wrote through a planted journal link");
    assert!(stderr.contains("journal.jsonl") && stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "somebody else's file\n");
}
