//! The WebSocket: the upgrade (token check, subprotocol) and one session
//! task per client that forwards its hub queue and handles what it sends.
//!
//! Runs on one tokio task per client. The task watches the shutdown token
//! itself (hyper's graceful shutdown does not cover upgraded sockets), and
//! every write has a stall deadline, so a client that stops reading can only
//! ever hold up its own task.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::control::ClientMessage;
use super::http::{header_str, plain, with_security_headers, Body};
use super::hub::{Delivery, SnapshotReason};
use super::{Shared, SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX};
use crate::events::PROTOCOL_VERSION;

type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// What is read and thrown away after refusing an oversized message, so the
/// close frame reaches the client before the socket is closed under it.
const DRAIN_LIMIT: usize = 4 * 1024 * 1024;

/// Checks the token and the handshake, answers `101`, and spawns the
/// session once hyper hands over the socket. Refusals happen here, before
/// any upgrade.
pub(crate) fn upgrade(mut request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let offered: Vec<String> = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|protocol| protocol.trim().to_string())
        .collect();
    let token = query_token(request.uri().query()).or_else(|| offered.iter().find_map(|p| p.strip_prefix(TOKEN_SUBPROTOCOL_PREFIX).map(str::to_string)));
    match token {
        None => return plain(StatusCode::UNAUTHORIZED, "missing token\n"),
        Some(token) if !shared.token.matches(&token) => return plain(StatusCode::FORBIDDEN, "wrong token\n"),
        Some(_) => {}
    }

    let has_token = |name: header::HeaderName, wanted: &str| {
        header_str(&request, name).is_some_and(|value| value.split(',').any(|part| part.trim().eq_ignore_ascii_case(wanted)))
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return plain(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade\n");
    }
    if header_str(&request, header::SEC_WEBSOCKET_VERSION) != Some("13") {
        let mut response = plain(StatusCode::UPGRADE_REQUIRED, "unsupported WebSocket version\n");
        response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return response;
    }
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key\n");
    };
    let accept = derive_accept_key(key.as_bytes());
    let Ok(permit) = shared.ws_clients.clone().try_acquire_owned() else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "too many clients\n");
    };

    let on_upgrade = hyper::upgrade::on(&mut request);
    let session_shared = shared.clone();
    shared.tasks.spawn(async move {
        let _permit = permit;
        match on_upgrade.await {
            Ok(upgraded) => {
                let limit = session_shared.limits.max_message_bytes;
                let mut config = WebSocketConfig::default();
                config.max_message_size = Some(limit);
                config.max_frame_size = Some(limit);
                // Bounds what tungstenite itself may buffer for a slow reader.
                config.max_write_buffer_size = config.write_buffer_size + 1024 * 1024;
                let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                run_session(socket, session_shared).await;
            }
            Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
        }
    });

    let mut response = with_security_headers(Response::new(Body::default()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    // Never echo the token subprotocol back; select ours if it was offered.
    if offered.iter().any(|protocol| protocol == SUBPROTOCOL) {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
    }
    response
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| pair.strip_prefix("token=")).map(str::to_string)
}

/// Why a session ended.
#[derive(Debug)]
enum End {
    /// The client closed or went away.
    Closed,
    Shutdown,
    /// Shutdown came while a write was waiting on the client's socket.
    ShutdownWhileWriting,
    /// The socket accepted nothing for the stall timeout.
    Stalled,
    TooBig,
    Binary,
    Failed(WsError),
}

async fn run_session(mut socket: Socket, shared: Arc<Shared>) {
    let end = session(&mut socket, &shared).await;
    match end {
        End::Closed => {}
        End::Shutdown => close(&mut socket, CloseCode::Away, "server shutting down").await,
        // Its socket is taking nothing: a close frame would only wait behind the rest.
        End::ShutdownWhileWriting => {}
        End::Stalled => {
            // Nothing can be written to it; a close frame would stall too.
            shared.hub.note_stalled_disconnect();
            tracing::warn!(timeout_s = shared.limits.send_stall_timeout.as_secs_f64(), "overlay client stopped reading; disconnected");
        }
        End::TooBig => {
            tracing::warn!(limit = shared.limits.max_message_bytes, "overlay client sent an oversized message; disconnected");
            close(&mut socket, CloseCode::Size, "message too big").await;
            drain(&mut socket).await;
        }
        End::Binary => close(&mut socket, CloseCode::Unsupported, "text messages only").await,
        End::Failed(error) => tracing::debug!(%error, "WebSocket session ended"),
    }
}

async fn session(socket: &mut Socket, shared: &Shared) -> End {
    let shutdown = &shared.shutdown;
    let stall = shared.limits.send_stall_timeout;
    let (subscription, snapshot) = shared.hub.subscribe();
    let hello = serde_json::json!({
        "v": PROTOCOL_VERSION,
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "server": concat!("callcoach ", env!("CARGO_PKG_VERSION")),
        "max_message_bytes": shared.limits.max_message_bytes,
        "queue_capacity": shared.hub.queue_capacity(),
    });
    if let Err(end) = write(shutdown, stall, socket.feed(Message::Text(hello.to_string()))).await {
        return end;
    }
    if let Err(end) = write(shutdown, stall, socket.send(Message::Text(snapshot.to_json_line(SnapshotReason::Connect)))).await {
        return end;
    }
    drop(snapshot);

    let mut batch = Vec::with_capacity(shared.hub.queue_capacity());
    loop {
        // Deliver everything queued, then wait for more or for the client.
        loop {
            match subscription.take(&mut batch) {
                Delivery::Resync(snapshot) => {
                    let line = snapshot.to_json_line(SnapshotReason::Resync);
                    if let Err(end) = write(shutdown, stall, socket.feed(Message::Text(line))).await {
                        return end;
                    }
                }
                Delivery::Messages if batch.is_empty() => break,
                Delivery::Messages => {
                    for line in batch.drain(..) {
                        if let Err(end) = write(shutdown, stall, socket.feed(Message::Text(line.to_string()))).await {
                            return end;
                        }
                    }
                }
            }
            if let Err(end) = write(shutdown, stall, socket.flush()).await {
                return end;
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return End::Shutdown,
            _ = subscription.changed() => {}
            incoming = socket.next() => {
                let reply = match incoming {
                    None => return End::Closed,
                    Some(Ok(Message::Text(text))) => reply_to(&text, shared),
                    Some(Ok(Message::Binary(_))) => return End::Binary,
                    // Pings are answered and closes acknowledged by tungstenite.
                    Some(Ok(_)) => None,
                    Some(Err(WsError::Capacity(_))) => return End::TooBig,
                    Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return End::Closed,
                    Some(Err(error)) => return End::Failed(error),
                };
                if let Some(reply) = reply {
                    if let Err(end) = write(shutdown, stall, socket.send(Message::Text(reply.to_string()))).await {
                        return end;
                    }
                }
            }
        }
    }
}

/// Runs one write with the stall deadline. A write that can go ahead does
/// (so a reading client gets its close frame after the batch); one that is
/// waiting on the socket is abandoned at shutdown.
async fn write(shutdown: &CancellationToken, stall: Duration, operation: impl Future<Output = Result<(), WsError>>) -> Result<(), End> {
    tokio::select! {
        biased;
        result = tokio::time::timeout(stall, operation) => match result {
            Err(_) => Err(End::Stalled),
            Ok(Ok(())) => Ok(()),
            Ok(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => Err(End::Closed),
            Ok(Err(error)) => Err(End::Failed(error)),
        },
        _ = shutdown.cancelled() => Err(End::ShutdownWhileWriting),
    }
}

/// Handles one text message from the client; returns the reply, if any.
fn reply_to(text: &str, shared: &Shared) -> Option<serde_json::Value> {
    let v = PROTOCOL_VERSION;
    Some(match ClientMessage::parse(text) {
        Ok(ClientMessage::Ping) => serde_json::json!({"v": v, "type": "pong"}),
        Ok(ClientMessage::Control(command)) => {
            let action = command.action();
            match super::http::send_control(shared, command) {
                Ok(()) => serde_json::json!({"v": v, "type": "control_ack", "action": action, "ok": true}),
                Err(error) => serde_json::json!({"v": v, "type": "control_ack", "action": action, "ok": false, "error": error}),
            }
        }
        Err(message) => serde_json::json!({"v": v, "type": "error", "message": message}),
    })
}

async fn close(socket: &mut Socket, code: CloseCode, reason: &'static str) {
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(Some(frame))).await;
}

/// After refusing a message mid-frame the rest of it is still arriving.
/// Closing the socket with unread data would reset the connection and could
/// destroy the close frame before the client reads it, so: stop sending,
/// read and discard for a moment, then close.
async fn drain(socket: &mut Socket) {
    let io = socket.get_mut();
    let _ = io.shutdown().await;
    let mut scratch = vec![0u8; 16 * 1024];
    let mut total = 0;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while total < DRAIN_LIMIT {
            match io.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comes_from_the_query() {
        assert_eq!(query_token(Some("a=1&token=abc")).as_deref(), Some("abc"));
        assert_eq!(query_token(Some("tokenx=abc")), None);
        assert_eq!(query_token(None), None);
    }
}
