//! Which local user owns the other end of a loopback TCP connection.
//!
//! Loopback is shared by every user of the machine, and the overlay page
//! carries the token, so "listens on 127.0.0.1" alone would let any local
//! user read a call. The kernel knows who created each socket: Linux lists
//! every TCP socket of the network namespace, with its owner's uid, in
//! `/proc/net/tcp` and `/proc/net/tcp6`. The daemon looks up the client's
//! socket (local address = the client's, remote = ours) before it reads a
//! byte, and the CLI looks up the server's socket before it sends the token.
//! See SECURITY.md.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The uid that owns the TCP socket whose local address is `local` and whose
/// remote address is `remote`, if the kernel lists one. Reads procfs: call it
/// off the async runtime's workers (`spawn_blocking`).
pub fn socket_owner(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<u32>> {
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = match std::fs::read_to_string(table) {
            Ok(text) => text,
            // No IPv6 on this kernel.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        if let Some(uid) = find_owner(&text, local, remote) {
            return Ok(Some(uid));
        }
    }
    Ok(None)
}

pub use crate::private_file::effective_uid as own_uid;

/// A peer may talk to the daemon when it runs as the daemon's user, or as
/// root (who can read the token file anyway).
pub fn uid_may_connect(uid: u32) -> bool {
    uid == own_uid() || uid == 0
}

/// Finds the row for `local` → `remote` in one procfs TCP table.
fn find_owner(table: &str, local: SocketAddr, remote: SocketAddr) -> Option<u32> {
    let (local, remote) = (canonical(local), canonical(remote));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid ...
        if fields.len() < 8 {
            return None;
        }
        let row_local = parse_address(fields[1])?;
        let row_remote = parse_address(fields[2])?;
        (row_local == local && row_remote == remote).then(|| fields[7].parse().ok()).flatten()
    })
}

/// IPv4-mapped IPv6 addresses compare as IPv4 (a dual-stack socket lists them so).
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6). The kernel
/// prints each 32-bit word of the address as a native-endian integer.
fn parse_address(field: &str) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = field.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match ip_hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip_hex)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(&ip_hex[i * 8..i * 8 + 8])?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(canonical(SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernels_tables() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                  0: 0100007F:1CB1 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0 20 4 30 10 -1\n";
        let local: SocketAddr = "127.0.0.1:7345".parse().unwrap();
        let remote: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(find_owner(v4, local, remote), Some(1000));
            assert_eq!(find_owner(v4, remote, local), None);
        }
        let v6 = "header\n   0: 0000000000000000FFFF00000100007F:1CB1 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000    65534        0 1 1\n";
        if cfg!(target_endian = "little") {
            assert_eq!(find_owner(v6, local, remote), Some(65534), "v4-mapped rows match IPv4 addresses");
        }
        assert_eq!(parse_address("garbage"), None);
    }

    #[test]
    fn finds_the_owner_of_a_real_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        // The daemon's view: who owns the client's socket?
        assert_eq!(socket_owner(peer, server_side.local_addr().unwrap()).unwrap(), Some(own_uid()));
        // The CLI's view: who owns the server's socket?
        assert_eq!(socket_owner(client.peer_addr().unwrap(), client.local_addr().unwrap()).unwrap(), Some(own_uid()));
        drop(server_side);
        drop(client);
    }
}
