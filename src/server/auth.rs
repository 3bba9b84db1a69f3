//! Who may talk to the daemon: the per-install token, and the `Host` and
//! `Origin` checks that keep other web sites out.
//!
//! Pure functions plus one file read/write (`load_or_create_token`, called
//! once at start-up); nothing here runs on a hot path.
//!
//! Why three checks: the token proves the client could read a private file
//! (or the page the daemon served to loopback); the `Origin` check stops a
//! page on another site from opening a WebSocket or POSTing with the
//! browser's help; the `Host` check stops DNS rebinding, where another site's
//! name is pointed at 127.0.0.1 so that its page counts as same-origin.

use std::fmt;
use std::io::{Read, Write};

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Bytes of randomness in a token (hex-encoded to twice as many characters).
pub const TOKEN_BYTES: usize = 32;

/// The per-install secret, 64 lowercase hex characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a callcoach token (expected {} hex characters); delete the file to create a new one", path.display(), TOKEN_BYTES * 2)]
    Malformed { path: PathBuf },
    #[error("a token must be {} hex characters", TOKEN_BYTES * 2)]
    Invalid,
    #[error("no randomness from the operating system: {0}")]
    Random(getrandom::Error),
}

impl Token {
    /// A fresh token from the operating system's randomness.
    pub fn generate() -> Result<Token, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::getrandom(&mut bytes).map_err(TokenError::Random)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// Accepts 64 hex characters (either case; kept lowercase).
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let text = text.trim();
        if text.len() == TOKEN_BYTES * 2 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Token(text.to_ascii_lowercase()))
        } else {
            Err(TokenError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in time that does not depend on where `candidate` differs.
    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never in logs.
        f.write_str("Token(…)")
    }
}

fn constant_time_eq(expected: &[u8], candidate: &[u8]) -> bool {
    // The length is public (always 64); only the contents are secret.
    if expected.len() != candidate.len() {
        return false;
    }
    let diff = expected.iter().zip(candidate).fold(0u8, |diff, (a, b)| diff | (a ^ b));
    std::hint::black_box(diff) == 0
}

/// Reads the token at `path`, or creates it (and its directory) with mode
/// 0600 if there is none. A file that exists but holds no token is an error,
/// not silently replaced: clients configured with it would break.
pub fn load_or_create_token(path: &Path) -> Result<Token, TokenError> {
    let io = |source| TokenError::Io { path: path.to_path_buf(), source };
    match read_token(path) {
        Ok(token) => return Ok(token),
        Err(TokenError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(other) => return Err(other),
    }
    let token = Token::generate()?;
    match crate::private_file::create_new(path) {
        Ok(mut file) => {
            file.write_all(format!("{}\n", token.as_str()).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(token)
        }
        // Another process created it first: use theirs.
        Err(source) if source.kind() == std::io::ErrorKind::AlreadyExists => read_token(path),
        Err(source) => Err(io(source)),
    }
}

fn read_token(path: &Path) -> Result<Token, TokenError> {
    let io = |source| TokenError::Io { path: path.to_path_buf(), source };
    // No-follow: a link planted at the token's name must not choose the token.
    let file = crate::private_file::open_read(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(io)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "token file was readable by others; setting mode 0600");
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    let mut text = String::new();
    file.take(1024).read_to_string(&mut text).map_err(|_| TokenError::Malformed { path: path.to_path_buf() })?;
    Token::parse(&text).map_err(|_| TokenError::Malformed { path: path.to_path_buf() })
}

/// The `Host` and `Origin` values a request may carry.
#[derive(Debug, Clone)]
pub(crate) struct AccessPolicy {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl AccessPolicy {
    /// Loopback names on `port`, the bound address itself, and the extra
    /// origins from the configuration (whose hosts are then allowed too).
    pub(crate) fn new(bound: IpAddr, port: u16, extra_origins: &[String]) -> AccessPolicy {
        let mut authorities = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
        if !bound.is_loopback() && !bound.is_unspecified() {
            authorities.push(match bound {
                IpAddr::V4(ip) => format!("{ip}:{port}"),
                IpAddr::V6(ip) => format!("[{ip}]:{port}"),
            });
        }
        if port == 80 {
            // Browsers leave the default port out.
            authorities.extend(["127.0.0.1".to_string(), "localhost".to_string(), "[::1]".to_string()]);
        }
        let mut origins: Vec<String> = authorities.iter().map(|authority| format!("http://{authority}")).collect();
        let mut hosts = authorities;
        for origin in extra_origins {
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            if let Some((_, authority)) = origin.split_once("://") {
                hosts.push(authority.to_string());
            }
            origins.push(origin);
        }
        AccessPolicy { hosts, origins }
    }

    /// A request must name this daemon in `Host` (HTTP/1.1 always sends it).
    pub(crate) fn host_allowed(&self, host: Option<&str>) -> bool {
        host.is_some_and(|host| self.hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host.trim())))
    }

    /// No `Origin` (a CLI client) is fine; a browser always sends one, and it
    /// must be this daemon's own page. `null` (sandboxed frames, files) is refused.
    pub(crate) fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(origin) => {
                let origin = origin.trim().trim_end_matches('/');
                self.origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        let token = Token::generate().unwrap();
        assert_eq!(token.as_str().len(), 64);
        assert!(token.matches(token.as_str()));
        assert!(!token.matches(&token.as_str()[..63]));
        let mut wrong = token.as_str().to_string();
        wrong.replace_range(63.., if wrong.ends_with('0') { "1" } else { "0" });
        assert!(!token.matches(&wrong));
        assert!(!token.matches(""));
        assert_ne!(Token::generate().unwrap(), token);
        assert_eq!(format!("{token:?}"), "Token(…)");
        assert!(Token::parse("xyz").is_err());
    }

    #[test]
    fn token_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/token");
        let first = load_or_create_token(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(load_or_create_token(&path).unwrap(), first);
        std::fs::write(&path, "not a token").unwrap();
        let error = load_or_create_token(&path).unwrap_err().to_string();
        assert!(error.contains("not a callcoach token"), "{error}");
    }

    #[test]
    fn host_and_origin_must_be_this_daemon() {
        let policy = AccessPolicy::new("127.0.0.1".parse().unwrap(), 7345, &["http://coach.lan:7345/".to_string()]);
        for host in ["127.0.0.1:7345", "localhost:7345", "LOCALHOST:7345", "[::1]:7345", "coach.lan:7345"] {
            assert!(policy.host_allowed(Some(host)), "{host}");
        }
        for host in ["evil.example:7345", "127.0.0.1:80", "127.0.0.1", "localhost.evil.example:7345"] {
            assert!(!policy.host_allowed(Some(host)), "{host}");
        }
        assert!(!policy.host_allowed(None));
        assert!(policy.origin_allowed(None));
        for origin in ["http://127.0.0.1:7345", "http://localhost:7345", "http://coach.lan:7345"] {
            assert!(policy.origin_allowed(Some(origin)), "{origin}");
        }
        for origin in ["https://evil.example", "null", "http://127.0.0.1:9999", "https://localhost:7345", "http://localhost:7345.evil.example"] {
            assert!(!policy.origin_allowed(Some(origin)), "{origin}");
        }
    }
}
