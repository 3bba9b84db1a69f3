//! HTTP: the overlay page and its assets, `/healthz`, the control API for the
//! `callcoach call` CLI, and the door to the WebSocket (`ws.rs`).
//!
//! Runs on one tokio task per connection (hyper, HTTP/1.1). Every request
//! passes the `Host` and `Origin` checks first; responses never carry CORS
//! headers, so no other site can read them.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::admission::Ticket;
use super::control::{CallPrep, ControlCommand};
use super::{auth::Token, Shared, WS_PATH};

const INDEX_HTML: &str = include_str!("overlay/index.html");
const OVERLAY_JS: &str = include_str!("overlay/overlay.js");
const OVERLAY_CSS: &str = include_str!("overlay/overlay.css");
const TOKEN_PLACEHOLDER: &str = "__CALLCOACH_TOKEN__";

/// A client has this long to send its request head, and its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type Body = Full<Bytes>;

/// index.html with the token in its `<meta name="callcoach-token">`.
pub(crate) fn overlay_page(token: &Token) -> Bytes {
    debug_assert!(INDEX_HTML.contains(TOKEN_PLACEHOLDER));
    Bytes::from(INDEX_HTML.replace(TOKEN_PLACEHOLDER, token.as_str()))
}

/// Serves one TCP connection until it closes, upgrades, or shutdown.
/// `ticket` is the connection's slot: while a request is in flight the
/// connection cannot be closed to make room, and when the server asks for
/// its slot back an idle connection closes at once.
pub(crate) async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>, ticket: Ticket) {
    let shutdown = shared.shutdown.clone();
    let ticket = Arc::new(ticket);
    let service_ticket = ticket.clone();
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        let in_flight = service_ticket.request();
        async move {
            let response = handle(request, shared).await;
            drop(in_flight);
            Ok::<_, Infallible>(response)
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
        }
        // Idle and its slot is wanted by a new connection: close now.
        _ = ticket.close_requested().cancelled() => {}
    }
}

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let host = header_str(&request, header::HOST);
    let authority_ok = request.uri().authority().is_none_or(|authority| shared.access.host_allowed(Some(authority.as_str())));
    if !shared.access.host_allowed(host) || !authority_ok {
        return plain(StatusCode::FORBIDDEN, "forbidden: this server only answers to 127.0.0.1 or localhost\n");
    }
    if !shared.access.origin_allowed(header_str(&request, header::ORIGIN)) {
        return plain(StatusCode::FORBIDDEN, "forbidden: foreign Origin\n");
    }
    let host = host.unwrap_or_default().to_string();
    match (request.method().clone(), request.uri().path()) {
        (Method::GET | Method::HEAD, "/" | "/index.html") => page(&shared, &host),
        (Method::GET | Method::HEAD, "/overlay.js") => asset(OVERLAY_JS, "text/javascript; charset=utf-8"),
        (Method::GET | Method::HEAD, "/overlay.css") => asset(OVERLAY_CSS, "text/css; charset=utf-8"),
        (Method::GET, "/healthz") => json(
            StatusCode::OK,
            serde_json::json!({
                "ok": true,
                "protocol": crate::events::PROTOCOL_VERSION,
                "clients": shared.hub.stats().clients,
                "connections": shared.admission.open(),
                "idle_connections_closed": shared.admission.evicted(),
                "unchecked_connections_closed": shared.admission.unchecked(),
            }),
        ),
        (Method::GET, WS_PATH) => super::ws::upgrade(request, shared),
        (Method::POST, "/api/call/start") => control_api(request, &shared, true).await,
        (Method::POST, "/api/call/end") => control_api(request, &shared, false).await,
        (_, "/" | "/index.html" | "/overlay.js" | "/overlay.css" | "/healthz" | WS_PATH | "/api/call/start" | "/api/call/end") => {
            plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn page(shared: &Shared, host: &str) -> Response<Body> {
    let mut response = with_security_headers(Response::new(Full::new(shared.page.clone())));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // `host` passed the Host check, so it is one of our own names.
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws://{host}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response<Body> {
    let mut response = with_security_headers(Response::new(Full::new(Bytes::from_static(body.as_bytes()))));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `POST /api/call/start|end` with `Authorization: Bearer TOKEN`.
async fn control_api(request: Request<Incoming>, shared: &Shared, start: bool) -> Response<Body> {
    match bearer_token(&request) {
        None => {
            let mut response = plain(StatusCode::UNAUTHORIZED, "missing token: send Authorization: Bearer TOKEN\n");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        Some(token) if !shared.token.matches(token) => return plain(StatusCode::FORBIDDEN, "wrong token\n"),
        Some(_) => {}
    }
    let is_json = header_str(&request, header::CONTENT_TYPE)
        .is_none_or(|content_type| content_type.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json")));
    let limit = shared.limits.max_message_bytes;
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(request.into_body(), limit).collect()).await {
        Err(_) => return plain(StatusCode::REQUEST_TIMEOUT, "request body too slow\n"),
        Ok(Err(_)) => return plain(StatusCode::PAYLOAD_TOO_LARGE, &format!("request body over {limit} bytes\n")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let command = if start {
        let prep = if body.iter().all(u8::is_ascii_whitespace) {
            Ok(CallPrep::default())
        } else if !is_json {
            Err("the body must be JSON (Content-Type: application/json)".to_string())
        } else {
            serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}")).and_then(CallPrep::from_json)
        };
        match prep {
            Ok(prep) => ControlCommand::StartCall(prep),
            Err(message) => return json(StatusCode::BAD_REQUEST, serde_json::json!({"ok": false, "error": message})),
        }
    } else {
        ControlCommand::EndCall
    };
    let action = command.action();
    match send_control(shared, command) {
        Ok(()) => json(StatusCode::ACCEPTED, serde_json::json!({"ok": true, "action": action})),
        Err(message) => json(StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"ok": false, "action": action, "error": message})),
    }
}

/// Hands a command to the daemon without waiting.
pub(crate) fn send_control(shared: &Shared, command: ControlCommand) -> Result<(), &'static str> {
    use tokio::sync::mpsc::error::TrySendError;
    match shared.control.try_send(command) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err("the daemon is busy; try again"),
        Err(TrySendError::Closed(_)) => Err("the daemon is not taking commands"),
    }
}

fn bearer_token(request: &Request<Incoming>) -> Option<&str> {
    let value = header_str(request, header::AUTHORIZATION)?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(crate) fn header_str<B>(request: &Request<B>, name: header::HeaderName) -> Option<&str> {
    // A header that is present but not text is treated as a foreign value,
    // never as absent.
    request.headers().get(name).map(|value| value.to_str().unwrap_or("\u{fffd}"))
}

/// Headers every response carries: not cached, not framed, not sniffed, not
/// readable by other origins.
pub(crate) fn with_security_headers(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

pub(crate) fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = with_security_headers(Response::new(Full::new(Bytes::from(text.to_string()))));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let mut response = with_security_headers(Response::new(Full::new(Bytes::from(value.to_string()))));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
