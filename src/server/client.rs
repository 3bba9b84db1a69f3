//! The CLI's side of the control API (`callcoach call start|end`).
//!
//! It sends the token only to a daemon of this user: after connecting and
//! before writing a byte, it asks the kernel who owns the listening end
//! (`peer.rs`). Any local user can listen on the configured port while the
//! daemon is down; without this check that user would receive the token.
//! The request is plain HTTP/1.1 over that same checked socket, so nothing
//! can swap the listener between the check and the request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::auth::Token;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the daemon at {addr} (is `callcoach run` running?): {source}")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("{addr} is served by another local user (uid {uid}), not by your callcoach daemon; the token was not sent")]
    ForeignListener { addr: SocketAddr, uid: u32 },
    #[error("cannot tell who serves {addr}; the token was not sent: {why}")]
    UnknownListener { addr: SocketAddr, why: String },
    #[error("talking to the daemon at {addr}: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
    #[error("the daemon at {addr} answered {status}: {body}")]
    Refused { addr: SocketAddr, status: u16, body: String },
    #[error("the daemon at {addr} sent something that is not HTTP")]
    Malformed { addr: SocketAddr },
}

const TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read (the API's are a few dozen bytes).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// POSTs `body` (JSON) to `path` on the daemon at 127.0.0.1:`port` and
/// returns the answer's body.
pub fn post(port: u16, path: &str, token: &Token, body: &str) -> Result<String, ClientError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|source| ClientError::Connect { addr, source })?;
    check_listener(&stream, addr)?;
    let io = |source| ClientError::Io { addr, source };
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token.as_str(),
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut response = Vec::new();
    stream.take(MAX_RESPONSE_BYTES).read_to_end(&mut response).map_err(io)?;
    let text = String::from_utf8_lossy(&response);
    let (head, answer) = text.split_once("\r\n\r\n").ok_or(ClientError::Malformed { addr })?;
    let status: u16 = head
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 ").or_else(|| line.strip_prefix("HTTP/1.0 ")))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or(ClientError::Malformed { addr })?;
    if !(200..300).contains(&status) {
        return Err(ClientError::Refused { addr, status, body: answer.trim().to_string() });
    }
    Ok(answer.to_string())
}

fn check_listener(stream: &TcpStream, addr: SocketAddr) -> Result<(), ClientError> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let io = |source| ClientError::Io { addr, source };
    let (server, ours) = (stream.peer_addr().map_err(io)?, stream.local_addr().map_err(io)?);
    match super::peer::socket_owner(server, ours) {
        Ok(Some(uid)) if super::peer::uid_may_connect(uid) => Ok(()),
        Ok(Some(uid)) => Err(ClientError::ForeignListener { addr, uid }),
        Ok(None) => Err(ClientError::UnknownListener { addr, why: "the kernel does not list the connection".into() }),
        Err(error) => Err(ClientError::UnknownListener { addr, why: error.to_string() }),
    }
}
