//! The daemon's HTTP + WebSocket server and the overlay page it serves.
//!
//! Threads: the pipeline thread publishes into a [`Hub`] (sync, never
//! blocks); everything else runs on tokio tasks: one accept loop
//! ([`BoundServer::run`]), one task per HTTP connection, and one per
//! WebSocket client. Every one of them watches the shutdown token itself, so
//! an upgraded socket never keeps the daemon from stopping.
//!
//! ```text
//! pipeline thread --publish--> Hub (snapshot + one bounded queue per client)
//!                                 \--> ws session task --> browser overlay / CLI
//! overlay buttons, `callcoach call start/end` --> ControlCommand channel --> daemon
//! ```
//!
//! # Protocol (version 1)
//!
//! Every message is one JSON object with the protocol version `v` and a
//! `type`. An incompatible change bumps `v` (`events::PROTOCOL_VERSION`).
//!
//! ## Who may connect
//!
//! Before reading a byte, the server asks the kernel who owns the client's
//! socket (`peer.rs`): a connection from another local user is closed unread
//! (root is allowed: it can read the token file anyway). When all
//! `max_connections` slots are taken, a new connection closes the one idle
//! longest rather than being refused (`admission.rs`), so sockets that never
//! send a request cannot lock the rep's overlay out. SECURITY.md has the
//! threat model.
//!
//! ## Connecting
//!
//! `GET ws://127.0.0.1:PORT/ws?token=TOKEN`. The token may instead be sent
//! as the WebSocket subprotocol `callcoach.token.TOKEN`, offered together
//! with `callcoach.v1` (which the server then selects). The upgrade is
//! refused before it happens with
//! - `403` if the `Host` header is not `127.0.0.1:PORT`, `localhost:PORT` or
//!   `[::1]:PORT` (DNS rebinding),
//! - `403` if an `Origin` is present and is not `http://127.0.0.1:PORT`,
//!   `http://localhost:PORT`, `http://[::1]:PORT` or a configured extra
//!   origin (browsers always send `Origin`; CLI clients may omit it),
//! - `401` without a token, `403` with a wrong one,
//! - `503` when the client limit is reached.
//!
//! ## Server → client
//!
//! 1. `{"v":1,"type":"hello","protocol":1,"server":"callcoach 0.1.0","max_message_bytes":65536,"queue_capacity":256}`
//! 2. `{"v":1,"type":"snapshot","reason":"connect",…}` — what a late joiner
//!    needs. Each field is `null`, one earlier message verbatim, or a list of
//!    them, oldest first: `call` (the `call_started`), `call_ended`,
//!    `metrics` (latest), `health` (latest), `device_events` (last 5 health
//!    messages carrying an `event`), `prompts` (last 20), `transcript` (last
//!    30 final segments), `partials` (the live partial per speaker),
//!    `objection` (latest `objection_detected` prompt), `objection_status`
//!    (the `objection_handled`/`objection_unanswered` prompt that followed
//!    it), `next_step` (latest `next_step_secured`/`no_next_step` prompt),
//!    `brief` (the `brief_ready`). A `call_started` clears everything else.
//! 3. The event stream, exactly the lines the pipeline writes to
//!    `events.jsonl`: `call_started`, `segment` (`"final":false` partials are
//!    replaced by the final for the same speaker), `metrics` (≥ 2 Hz),
//!    `health`, `prompt`, `call_ended`, `brief_ready`.
//! 4. Replies: `{"v":1,"type":"pong"}`,
//!    `{"v":1,"type":"control_ack","action":"start_call","ok":true}` (or
//!    `"ok":false,"error":"…"`), `{"v":1,"type":"error","message":"…"}` for a
//!    message the server could not use (the connection stays open).
//!
//! A client that falls more than `queue_capacity` messages behind loses its
//! queue and receives `{"type":"snapshot","reason":"resync",…}` when it
//! catches up, then the stream again; one whose socket accepts nothing for
//! the stall timeout (10 s) is disconnected. Neither ever delays the
//! pipeline or other clients.
//!
//! ## Client → server
//!
//! - `{"type":"ping"}`
//! - `{"type":"control","action":"start_call","account":"ACME","contact":"Dana Lee","role":"VP Operations","agenda":["pricing","timeline"],"minutes":30}`
//!   (every prep field optional; unknown fields are refused)
//! - `{"type":"control","action":"end_call"}`
//!
//! Text messages only, at most 64 KiB per message and per frame. A larger
//! one closes the connection with code 1009; a binary message with 1003. On
//! shutdown the server closes with 1001.
//!
//! ## HTTP
//!
//! - `GET /` — the overlay page, with the token in
//!   `<meta name="callcoach-token">` (only this user's sockets get this far,
//!   see "Who may connect"); `Cache-Control: no-store`,
//!   `X-Frame-Options: DENY` and a CSP with `frame-ancestors 'none'`; never
//!   any CORS header. `GET /overlay.js`, `GET /overlay.css`.
//! - `GET /healthz` — `{"ok":true,"protocol":1,"clients":N,"connections":N,"idle_connections_closed":N,"unchecked_connections_closed":N}`, no token.
//! - `POST /api/call/start` (body: the prep fields above as JSON, or empty)
//!   and `POST /api/call/end`, with `Authorization: Bearer TOKEN`: `202
//!   {"ok":true,"action":…}`; `401` without a token, `403` with a wrong one
//!   or a foreign `Origin`, `400` for a bad body, `413` over 64 KiB, `503` if
//!   the daemon is not taking commands.
//!
//! The same `Host`/`Origin` checks apply to every request.

mod admission;
mod auth;
pub mod client;
mod control;
mod http;
mod hub;
pub mod peer;
mod ws;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use auth::{load_or_create_token, Token, TokenError, TOKEN_BYTES};
pub use control::{CallPrep, ControlCommand};
pub use hub::{Delivery, Hub, HubStats, Snapshot, SnapshotReason, Subscription, DEFAULT_QUEUE_CAPACITY};

/// Where the WebSocket lives.
pub const WS_PATH: &str = "/ws";
/// The subprotocol a client offers alongside `callcoach.token.TOKEN`.
pub const SUBPROTOCOL: &str = "callcoach.v1";
/// Prefix of the subprotocol that carries the token.
pub const TOKEN_SUBPROTOCOL_PREFIX: &str = "callcoach.token.";
/// Commands waiting for the daemon before the server answers "busy".
pub const CONTROL_QUEUE: usize = 16;

/// How long `run` waits for connections to finish after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// An IP address or `localhost`. Loopback unless `allow_non_loopback`.
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub token: Token,
    /// Extra origins allowed besides this daemon's own
    /// (`http://127.0.0.1:PORT`, `http://localhost:PORT`, `http://[::1]:PORT`).
    pub allowed_origins: Vec<String>,
    /// Listening beyond loopback exposes the call to the network: it has to
    /// be asked for, and is logged as a warning. Browsers reaching it by a
    /// LAN name or address also need that origin (e.g.
    /// `http://192.168.1.5:7345`) in `allowed_origins`, which admits its
    /// `Host` too; a specific bound address is admitted on its own.
    pub allow_non_loopback: bool,
    pub limits: Limits,
}

impl ServerConfig {
    /// 127.0.0.1 on a free port with default limits.
    pub fn new(token: Token) -> ServerConfig {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            token,
            allowed_origins: Vec::new(),
            allow_non_loopback: false,
            limits: Limits::default(),
        }
    }
}

/// Bounds that keep a hostile or broken client from costing much.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest incoming WebSocket message and frame, and POST body.
    pub max_message_bytes: usize,
    /// A client whose socket takes nothing for this long is disconnected.
    pub send_stall_timeout: Duration,
    /// WebSocket clients at once.
    pub max_clients: usize,
    /// TCP connections at once (HTTP and WebSocket).
    pub max_connections: usize,
    /// Kernel send buffer per connection. Small, so that a client that stops
    /// reading shows up as a full queue soon instead of megabytes later.
    pub socket_send_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            send_stall_timeout: Duration::from_secs(10),
            max_clients: 16,
            max_connections: 64,
            socket_send_buffer: 64 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("server host {host:?} is not an IP address or \"localhost\"")]
    InvalidHost { host: String },
    #[error("server host {host} is not a loopback address; set allow_non_loopback to expose the coach to the network")]
    NonLoopback { host: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server socket: {0}")]
    Io(#[from] std::io::Error),
}

/// What the HTTP and WebSocket tasks share.
pub(crate) struct Shared {
    pub(crate) hub: Hub,
    pub(crate) token: Token,
    pub(crate) access: auth::AccessPolicy,
    pub(crate) limits: Limits,
    pub(crate) control: mpsc::Sender<ControlCommand>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) ws_clients: Arc<Semaphore>,
    /// TCP connections' slots (`admission.rs`).
    pub(crate) admission: Arc<admission::Admission>,
    /// index.html with the token filled in.
    pub(crate) page: bytes::Bytes,
}

/// Namespace for [`Server::bind`].
pub struct Server;

/// A listening server, not yet accepting; [`BoundServer::run`] serves it.
pub struct BoundServer {
    local_addr: SocketAddr,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the listening socket (synchronously, so a taken port is an error
    /// right here) and returns the server with the receiving end of the
    /// control channel. Serve it with [`BoundServer::run`] inside a tokio
    /// runtime; cancelling `shutdown` stops it and every client.
    pub fn bind(
        config: ServerConfig,
        hub: Hub,
        shutdown: CancellationToken,
    ) -> Result<(BoundServer, mpsc::Receiver<ControlCommand>), ServerError> {
        let ip = resolve_host(&config.host)?;
        if !ip.is_loopback() {
            if !config.allow_non_loopback {
                return Err(ServerError::NonLoopback { host: config.host.clone() });
            }
            tracing::warn!(host = %config.host, "the coach server listens beyond loopback: anyone who can reach this address and has the token can read calls");
        }
        let addr = SocketAddr::new(ip, config.port);
        let listener = listen(addr).map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let page = http::overlay_page(&config.token);
        let shared = Arc::new(Shared {
            hub,
            access: auth::AccessPolicy::new(ip, local_addr.port(), &config.allowed_origins),
            token: config.token,
            ws_clients: Arc::new(Semaphore::new(config.limits.max_clients)),
            admission: admission::Admission::new(config.limits.max_connections),
            limits: config.limits,
            control,
            shutdown,
            tasks: TaskTracker::new(),
            page,
        });
        tracing::info!(addr = %local_addr, "coach server listening");
        Ok((BoundServer { local_addr, listener, shared }, control_rx))
    }
}

impl BoundServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The overlay's address, for humans and the browser test.
    pub fn url(&self) -> String {
        let ip = self.local_addr.ip();
        match ip {
            _ if ip.is_unspecified() => format!("http://127.0.0.1:{}/", self.local_addr.port()),
            IpAddr::V6(_) => format!("http://[{ip}]:{}/", self.local_addr.port()),
            IpAddr::V4(_) => format!("http://{ip}:{}/", self.local_addr.port()),
        }
    }

    pub fn hub(&self) -> &Hub {
        &self.shared.hub
    }

    /// Accepts connections until the shutdown token is cancelled, then waits
    /// (a few seconds at most) for every connection and WebSocket task.
    pub async fn run(self) -> Result<(), ServerError> {
        let BoundServer { listener, shared, .. } = self;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let local_addr = listener.local_addr()?;
        // Owner checks waiting at once; past this a connection is closed unread.
        let checks = Arc::new(Semaphore::new(shared.limits.max_connections));
        loop {
            let (stream, peer) = tokio::select! {
                _ = shared.shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Ok(check) = checks.clone().try_acquire_owned() else {
                tracing::debug!(%peer, "too many connections waiting for the owner check; closing");
                shared.admission.closed_unchecked();
                continue;
            };
            let connection_shared = shared.clone();
            shared.tasks.spawn(async move {
                // Before a byte is read: is the other end this user's?
                let allowed = peer_is_this_user(peer, local_addr).await;
                drop(check);
                if !allowed {
                    return;
                }
                let Some(ticket) = connection_shared.admission.admit() else {
                    tracing::debug!(%peer, "every connection is busy; closing");
                    return;
                };
                if let Err(error) = tune_socket(&stream, &connection_shared.limits) {
                    tracing::debug!(%peer, %error, "could not tune socket");
                }
                http::serve_connection(stream, connection_shared, ticket).await;
            });
        }
        drop(listener);
        shared.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, shared.tasks.wait()).await.is_err() {
            tracing::warn!(tasks = shared.tasks.len(), "server tasks still running after shutdown grace period");
        }
        tracing::info!("coach server stopped");
        Ok(())
    }
}

/// Whether the client's socket belongs to this user (or root): loopback is
/// shared by every user of the machine (SECURITY.md). Fails closed: a socket
/// the kernel does not list (a remote client, one already gone) is refused.
async fn peer_is_this_user(peer: SocketAddr, local: SocketAddr) -> bool {
    if !cfg!(target_os = "linux") {
        // Elsewhere the owner is not looked up; SECURITY.md says so.
        return true;
    }
    match tokio::task::spawn_blocking(move || peer::socket_owner(peer, local)).await {
        Ok(Ok(Some(uid))) if peer::uid_may_connect(uid) => true,
        Ok(Ok(Some(uid))) => {
            tracing::warn!(%peer, uid, "refused a connection from another local user");
            false
        }
        Ok(Ok(None)) => {
            tracing::debug!(%peer, "refused a connection whose socket the kernel does not list");
            false
        }
        Ok(Err(error)) => {
            tracing::warn!(%peer, %error, "could not look up the owner of a connection; refused");
            false
        }
        Err(_) => false,
    }
}

fn resolve_host(host: &str) -> Result<IpAddr, ServerError> {
    let host = host.trim();
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| ServerError::InvalidHost { host: host.to_string() })
}

fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    // Restarting the daemon must not fail on the previous run's TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn tune_socket(stream: &tokio::net::TcpStream, limits: &Limits) -> std::io::Result<()> {
    // Prompts are small and latency matters more than packet count.
    stream.set_nodelay(true)?;
    socket2::SockRef::from(stream).set_send_buffer_size(limits.socket_send_buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_beyond_loopback_needs_the_flag() {
        let mut config = ServerConfig::new(Token::generate().unwrap());
        config.host = "0.0.0.0".into();
        let error = Server::bind(config.clone(), Hub::default(), CancellationToken::new()).err().expect("refused");
        assert!(matches!(error, ServerError::NonLoopback { .. }), "{error}");
        config.host = "example.com".into();
        assert!(matches!(Server::bind(config, Hub::default(), CancellationToken::new()).err(), Some(ServerError::InvalidHost { .. })));
    }
}
