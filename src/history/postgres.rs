//! The team store: one PostgreSQL database the whole team's daemons write to
//! (the `postgres` crate, TLS through native-tls when the URL asks for it).
//!
//! Its schema comes from versioned migrations recorded in `schema_migrations`,
//! applied under a PostgreSQL advisory lock so that daemons starting at once wait
//! for each other instead of racing on `CREATE TABLE`. Calls are upserted by call
//! id, so a push repeated after a lost acknowledgement writes nothing twice.
//!
//! Credentials come from the URL, `PGPASSWORD` or a libpq-style password file;
//! every message names the target as `host:port/database` and never the password.
//!
//! Thread: blocking; the call thread at call end or the CLI, never an async task
//! (the client runs its own small runtime).

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::config::{Host, SslMode};

use super::{
    assemble, stamp, CallRow, CrmFields, HistoryError, HistoryStore, PastCall, CALLS_SQL, CAUSES_SQL, DELETE_CAUSES_SQL,
    INSERT_CAUSE_SQL, SCHEMA_SQL, UPSERT_CALL_SQL,
};

/// How long call end waits for the team store (TCP, TLS, authentication and the
/// migration check together) before the call waits in the outbox.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Unacknowledged data older than this drops the connection (a server that vanished).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// Every statement's ceiling, so a server that accepts and then stalls cannot hold
/// the call-end path either (milliseconds, PostgreSQL's `statement_timeout`).
const STATEMENT_TIMEOUT_MS: u32 = 10_000;

/// `pg_advisory_lock` key of the migrations ("callcoac" in ASCII).
const MIGRATION_LOCK: i64 = 0x6361_6c6c_636f_6163;

/// The versioned migrations, oldest first. Never edit one that shipped: add the next.
const MIGRATIONS: [(i32, &str); 3] = [
    (1, SCHEMA_SQL),
    (
        2,
        "ALTER TABLE calls ADD COLUMN IF NOT EXISTS contact TEXT NOT NULL DEFAULT '';
         ALTER TABLE calls ADD COLUMN IF NOT EXISTS next_step TEXT NOT NULL DEFAULT '';
         ALTER TABLE calls ADD COLUMN IF NOT EXISTS crm_note TEXT NOT NULL DEFAULT '';",
    ),
    (3, "CREATE INDEX IF NOT EXISTS calls_by_start ON calls (started_at);"),
];

/// The latest schema version this build knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// A validated `postgresql://` URL. Its `Debug` shows only the target, so a logged
/// `Config` never carries the password.
#[derive(Clone)]
pub struct TeamUrl {
    config: postgres::Config,
    target: String,
    host: String,
    password_file: Option<PathBuf>,
    /// `sslrootcert=FILE`: a PEM CA to trust besides the system's (a team's own CA).
    root_cert: Option<PathBuf>,
}

impl fmt::Debug for TeamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TeamUrl({})", self.target)
    }
}

impl TeamUrl {
    /// Parses `postgresql://user[:password]@host[:port]/database[?sslmode=…]`.
    /// `password_file` (libpq's `.pgpass` format) is read at connect time. The
    /// error never repeats the URL, which may hold a password.
    pub fn parse(url: &str, password_file: Option<PathBuf>) -> Result<TeamUrl, String> {
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err("expected a postgresql:// URL (leave it unset for the local SQLite history)".into());
        }
        // libpq's `sslrootcert` is ours to handle: the client crate does not know it.
        let (url, root_cert) = take_query_parameter(url, "sslrootcert");
        let mut config =
            postgres::Config::from_str(&url).map_err(|e| format!("not a valid postgresql:// URL: {e}"))?;
        if config.get_hosts().is_empty() {
            return Err("the postgresql:// URL names no host".into());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
        if config.get_options().is_none() {
            config.options(&format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}"));
        }
        let host = match &config.get_hosts()[0] {
            Host::Tcp(host) => host.clone(),
            Host::Unix(dir) => dir.display().to_string(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let database = config.get_dbname().or(config.get_user()).unwrap_or("postgres").to_string();
        let target = format!("{host}:{port}/{database}");
        Ok(TeamUrl { config, target, host, password_file, root_cert: root_cert.map(PathBuf::from) })
    }

    /// `host:port/database`, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn error(&self, problem: impl fmt::Display) -> HistoryError {
        HistoryError::Team { target: self.target.clone(), problem: problem.to_string() }
    }

    /// libpq's order: the URL's password, then `PGPASSWORD`, then the password file
    /// (the configured one, else `PGPASSFILE`, else `~/.pgpass` when present).
    fn password(&self) -> Result<Option<String>, HistoryError> {
        if self.config.get_password().is_some() {
            return Ok(None);
        }
        if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
            return Ok(Some(password));
        }
        let file = self
            .password_file
            .clone()
            .or_else(|| std::env::var_os("PGPASSFILE").map(PathBuf::from))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")).filter(|p| p.is_file()));
        let Some(file) = file else { return Ok(None) };
        let text = read_password_file(&file).map_err(|problem| self.error(format!("{}: {problem}", file.display())))?;
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let database = self.config.get_dbname().unwrap_or("");
        let user = self.config.get_user().unwrap_or("");
        Ok(password_for(&text, &self.host, port, database, user))
    }
}

/// `url` without `?…key=value…`, and that value.
fn take_query_parameter(url: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_string(), None) };
    let mut value = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((k, v)) if k == key => {
                value = Some(v.to_string());
                false
            }
            _ => true,
        })
        .collect();
    let url = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
    (url, value)
}

/// The TLS connector: the system's roots, plus `sslrootcert` when given. The
/// server's certificate and name are verified (libpq's `verify-full`).
fn tls_connector(url: &TeamUrl) -> Result<native_tls::TlsConnector, HistoryError> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &url.root_cert {
        let pem = std::fs::read(path).map_err(|e| url.error(format!("sslrootcert {}: {e}", path.display())))?;
        let cert = native_tls::Certificate::from_pem(&pem)
            .map_err(|e| url.error(format!("sslrootcert {}: {e}", path.display())))?;
        builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| url.error(format!("TLS set-up: {e}")))
}

/// The password file must be the user's alone, as libpq insists.
fn read_password_file(path: &Path) -> Result<String, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!("password file is readable by others (mode {:o}); chmod 600 it", mode & 0o777));
        }
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read the password file: {e}"))
}

/// The first `host:port:database:user:password` line that matches (`*` matches
/// anything, `\:` and `\\` are escapes, `#` starts a comment).
fn password_for(text: &str, host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    let wanted = [host, port.as_str(), database, user];
    text.lines().filter(|l| !l.trim_start().starts_with('#')).find_map(|line| {
        let mut fields = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
                ':' if fields.len() < 5 => fields.push(String::new()),
                c => fields.last_mut()?.push(c),
            }
        }
        let matches = fields.len() == 5 && fields.iter().zip(wanted).all(|(field, want)| field == "*" || field == want);
        matches.then(|| fields[4].clone())
    })
}

/// A connection to the team store, migrated to [`SCHEMA_VERSION`].
pub struct PgHistory {
    client: RefCell<postgres::Client>,
    url: TeamUrl,
}

impl PgHistory {
    /// Connects and applies the migrations this server lacks, all within the URL's
    /// `connect_timeout` (3 s unless it says otherwise). The client's own timeout
    /// covers only the TCP connect; a server that accepts and then never answers
    /// would hold the handshake for ever, so the connect runs on a thread of its
    /// own and is given up at the deadline (that thread ends when the socket does).
    pub fn connect(url: &TeamUrl) -> Result<PgHistory, HistoryError> {
        let deadline = url.config.get_connect_timeout().copied().unwrap_or(CONNECT_TIMEOUT);
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = url.clone();
        std::thread::Builder::new()
            .name("team-history-connect".into())
            .spawn(move || {
                let _ = tx.send(PgHistory::connect_now(&worker));
            })
            .map_err(|e| url.error(format!("cannot start the connect thread: {e}")))?;
        rx.recv_timeout(deadline)
            .unwrap_or_else(|_| Err(url.error(format!("no answer within {:.1} s", deadline.as_secs_f64()))))
    }

    fn connect_now(url: &TeamUrl) -> Result<PgHistory, HistoryError> {
        let mut config = url.config.clone();
        if let Some(password) = url.password()? {
            config.password(password);
        }
        let client = if config.get_ssl_mode() == SslMode::Disable {
            config.connect(postgres::NoTls)
        } else {
            config.connect(postgres_native_tls::MakeTlsConnector::new(tls_connector(url)?))
        }
        .map_err(|e| url.error(e))?;
        let store = PgHistory { client: RefCell::new(client), url: url.clone() };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self) -> impl Fn(postgres::Error) -> HistoryError + '_ {
        move |e| self.url.error(e)
    }

    /// Applies the missing migrations, one transaction each, while holding the
    /// advisory lock (released on every path, and by the server if we die).
    fn migrate(&self) -> Result<(), HistoryError> {
        let mut client = self.client.borrow_mut();
        client.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).map_err(self.err())?;
        let applied = (|| -> Result<(), postgres::Error> {
            client.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )?;
            let done: Vec<i32> =
                client.query("SELECT version FROM schema_migrations", &[])?.iter().map(|r| r.get(0)).collect();
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !done.contains(v)) {
                let mut tx = client.transaction()?;
                tx.batch_execute(sql)?;
                tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", &[version, &stamp(&Utc::now())])?;
                tx.commit()?;
            }
            Ok(())
        })();
        let unlocked = client.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
        applied.map_err(self.err())?;
        unlocked.map_err(self.err())
    }

    /// The migrations this database has applied.
    pub fn schema_versions(&self) -> Result<Vec<i32>, HistoryError> {
        let rows = self.client.borrow_mut().query("SELECT version FROM schema_migrations ORDER BY version", &[]).map_err(self.err())?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// `host:port/database`.
    pub fn target(&self) -> &str {
        self.url.target()
    }
}

impl HistoryStore for PgHistory {
    fn record_call(&mut self, call: &PastCall) -> Result<(), HistoryError> {
        let mut client = self.client.borrow_mut();
        let e = |e| self.url.error(e);
        let mut tx = client.transaction().map_err(e)?;
        tx.execute(
            UPSERT_CALL_SQL,
            &[
                &call.call_id,
                &call.rep,
                &call.account,
                &stamp(&call.started_at),
                &call.outcome.as_str(),
                &call.talk_ratio_rep,
                &call.duration_s,
                &call.root_causes.first().map(|c| c.as_str()),
                &call.salvage_action.map(|a| a.as_str()),
                &call.crm.contact,
                &call.crm.next_step,
                &call.crm.crm_note,
            ],
        )
        .map_err(e)?;
        tx.execute(DELETE_CAUSES_SQL, &[&call.call_id]).map_err(e)?;
        for (rank, category) in call.root_causes.iter().enumerate() {
            tx.execute(INSERT_CAUSE_SQL, &[&call.call_id, &(rank as i32), &category.as_str()]).map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    fn calls(&self, rep: Option<&str>, since: Option<DateTime<Utc>>) -> Result<Vec<PastCall>, HistoryError> {
        let since = since.map(|t| stamp(&t));
        let mut client = self.client.borrow_mut();
        let rows = client
            .query(CALLS_SQL, &[&rep, &since])
            .map_err(self.err())?
            .iter()
            .map(|r| CallRow {
                call_id: r.get(0),
                rep: r.get(1),
                account: r.get(2),
                started_at: r.get(3),
                outcome: r.get(4),
                talk_ratio_rep: r.get(5),
                duration_s: r.get(6),
                salvage_action: r.get(7),
                crm: CrmFields { contact: r.get(8), next_step: r.get(9), crm_note: r.get(10) },
            })
            .collect();
        let causes = client
            .query(CAUSES_SQL, &[&rep, &since])
            .map_err(self.err())?
            .iter()
            .map(|r| (r.get(0), i64::from(r.get::<_, i32>(1)), r.get(2)))
            .collect();
        assemble(self.url.target(), rows, causes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_errors_and_debug_never_show_the_password() {
        let url = TeamUrl::parse("postgresql://rep:s3cret-pw@db.example:6543/team?sslmode=require", None).unwrap();
        assert_eq!(url.target(), "db.example:6543/team");
        assert!(!format!("{url:?}").contains("s3cret-pw"));
        for bad in ["sqlite:///x", "postgresql://rep:s3cret-pw@db.example:notaport/team", "postgresql://rep:s3cret-pw@/team"] {
            let problem = TeamUrl::parse(bad, None).unwrap_err();
            assert!(!problem.contains("s3cret-pw"), "{bad}: {problem}");
        }
    }

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        let (url, cert) = take_query_parameter("postgresql://h/db?sslmode=require&sslrootcert=/ca.pem&connect_timeout=5", "sslrootcert");
        assert_eq!((url.as_str(), cert.as_deref()), ("postgresql://h/db?sslmode=require&connect_timeout=5", Some("/ca.pem")));
        assert_eq!(take_query_parameter("postgresql://h/db?sslrootcert=x", "sslrootcert").0, "postgresql://h/db");
    }

    #[test]
    fn password_file_lines_match_like_libpq() {
        let text = "# team\nother:5432:team:rep:wrong\ndb.example:6543:team:rep:pa\\:ss\n*:*:*:*:fallback\n";
        assert_eq!(password_for(text, "db.example", 6543, "team", "rep").as_deref(), Some("pa:ss"));
        assert_eq!(password_for(text, "elsewhere", 5432, "x", "y").as_deref(), Some("fallback"));
        assert_eq!(password_for("a:1:b:c:d\n", "a", 2, "b", "c"), None);
    }
}
