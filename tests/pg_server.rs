//! A private PostgreSQL server for tests and benches: Debian's `postgresql`
//! binaries, initdb in a temp dir, its own port and socket directory, password
//! (SCRAM) authentication, stopped by PID when dropped. No system service is used.
//!
//! PostgreSQL refuses to run as root, so as root (CI) the server runs as uid
//! 65534 (`setpriv`, like tests/security.rs) in a temp dir that uid owns.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub const NOBODY: &str = "65534";
pub const USER: &str = "callcoach";
/// Must never appear in any output of callcoach.
pub const PASSWORD: &str = "pw-S3cret-7f2a";
pub const DATABASE: &str = "team";

/// The newest `/usr/lib/postgresql/N/bin`; fails (never skips) without it.
fn pg_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).expect("PostgreSQL's initdb is missing: run scripts/test.sh (it installs Debian's postgresql)")
}

fn is_root() -> bool {
    callcoach::private_file::effective_uid() == 0
}

/// A private PostgreSQL server, stopped by PID when dropped.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    pid: Option<i32>,
}

impl PgServer {
    /// A server without TLS.
    pub fn start() -> PgServer {
        PgServer::start_with(false)
    }

    /// A server that accepts TCP connections over TLS only, with a self-signed
    /// certificate for 127.0.0.1 ([`PgServer::root_cert`]).
    pub fn start_tls() -> PgServer {
        PgServer::start_with(true)
    }

    fn start_with(tls: bool) -> PgServer {
        let dir = tempfile::Builder::new().prefix("callcoach-pg-").tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::write(dir.path().join("pwfile"), format!("{PASSWORD}\n")).unwrap();
        std::fs::create_dir(dir.path().join("socket")).unwrap();
        if is_root() {
            for entry in ["", "pwfile", "socket"] {
                let path = std::ffi::CString::new(dir.path().join(entry).into_os_string().into_encoded_bytes()).unwrap();
                assert_eq!(unsafe { libc::chown(path.as_ptr(), 65534, 65534) }, 0, "chown {entry}");
            }
        }
        let mut server = PgServer { bin: pg_bin_dir(), dir, port, pid: None };
        let data = server.dir.path().join("data");
        let output = server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync", "--pwfile"])
            .arg(server.dir.path().join("pwfile"))
            .output()
            .expect("initdb runs");
        assert!(output.status.success(), "initdb: {}", text(&output.stderr));
        if tls {
            server.enable_tls_only(&data);
        }
        server.resume();
        server.sql("postgres", &format!("CREATE DATABASE {DATABASE}"));
        server
    }

    fn enable_tls_only(&self, data: &std::path::Path) {
        let output = self
            .command_as_server("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(data.join("server.key"))
            .arg("-out")
            .arg(data.join("server.crt"))
            .output()
            .expect("openssl runs");
        assert!(output.status.success(), "openssl: {}", text(&output.stderr));
        let conf = data.join("postgresql.conf");
        let mut settings = std::fs::read_to_string(&conf).unwrap();
        settings.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, settings).unwrap();
        std::fs::write(data.join("pg_hba.conf"), "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n").unwrap();
    }

    /// The CA to trust for [`PgServer::start_tls`]'s server: its own certificate.
    pub fn root_cert(&self) -> PathBuf {
        self.dir.path().join("data/server.crt")
    }

    /// Runs one of PostgreSQL's programs, as uid 65534 when we are root.
    fn command(&self, program: &str) -> Command {
        self.command_as_server(self.bin.join(program))
    }

    /// Any program as the server's user, so the files it writes are the server's.
    fn command_as_server(&self, path: impl AsRef<std::ffi::OsStr>) -> Command {
        if is_root() {
            let mut command = Command::new("setpriv");
            command.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Starts (again) on the same port and data; waits until it accepts connections.
    pub fn resume(&mut self) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40",
            self.port,
            self.dir.path().join("socket").display()
        );
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "30", "start"])
            .output()
            .expect("pg_ctl runs");
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(output.status.success(), "pg_ctl start: {}{}\n{log}", text(&output.stdout), text(&output.stderr));
        let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap();
        self.pid = Some(pid_file.lines().next().unwrap().trim().parse().unwrap());
    }

    /// Fast shutdown by PID (SIGINT), waiting until the server is gone.
    pub fn stop(&mut self) {
        let Some(pid) = self.pid.take() else { return };
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{}/{DATABASE}?sslmode=disable", self.port)
    }

    /// The test's own connection, over the server's Unix socket (no TLS needed).
    pub fn client(&self, database: &str) -> postgres::Client {
        let socket = self.dir.path().join("socket");
        let params = format!("host={} port={} user={USER} password={PASSWORD} dbname={database}", socket.display(), self.port);
        postgres::Client::connect(&params, postgres::NoTls).expect("the test connects")
    }

    pub fn sql(&self, database: &str, sql: &str) {
        self.client(database).batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// `(rep, call_id)` of every call in the team store.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.client(DATABASE)
            .query("SELECT rep, call_id FROM calls ORDER BY rep", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
