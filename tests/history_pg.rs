//! Issue 11 against a real PostgreSQL server: each test starts a private one
//! (Debian's `postgresql` binaries: initdb in a temp dir, its own port and socket
//! directory, stopped by PID at the end) and drives the real `callcoach` binary
//! with real replays of a short fixture call. No system service is used.
//! The server itself is `tests/pg_server.rs` (shared with benches/history.rs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::pg_server::{PgServer, DATABASE, PASSWORD, USER};
use crate::util::{callcoach, model_path, repo_root, stderr, stdout, temp_dir, write_call};
use callcoach::history::{HistoryStore, PgHistory, TeamUrl};

/// A short call from the non-held-out fixture: the opening and the agreed next step.
fn short_call(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/calls/sample.txt")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("rep:") || l.starts_with("prospect:")).collect();
    let script = [lines[0], lines[1], lines[lines.len() - 2], lines[lines.len() - 1]].join("\n");
    write_call(dir, "short.wav", &script).0
}

/// One rep's laptop: its own data and config folders.
struct Laptop {
    home: PathBuf,
}

impl Laptop {
    fn new(root: &Path, name: &str) -> Laptop {
        let home = root.join(name);
        std::fs::create_dir_all(home.join("data")).unwrap();
        std::fs::create_dir_all(home.join("config")).unwrap();
        Laptop { home }
    }

    fn callcoach(&self, url: &str) -> Command {
        let mut command = callcoach();
        command
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("HOME", &self.home)
            .env("CALLCOACH_MODEL", model_path())
            .env("CALLCOACH_HISTORY_URL", url)
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE");
        command
    }

    fn replay(&self, url: &str, wav: &Path, rep: &str) -> Command {
        let mut command = self.callcoach(url);
        command
            .arg("replay")
            .arg(wav)
            .args(["--speed", "max", "--rep-name", rep, "--account", &format!("{rep} Account"), "--contact", "Tina"]);
        command
    }

    fn briefs(&self) -> usize {
        std::fs::read_dir(self.home.join("data/callcoach/briefs")).map(|d| d.count()).unwrap_or(0)
    }
}

fn assert_ok(what: &str, output: &Output) {
    assert!(output.status.success(), "{what} failed: {}", stderr(output));
    assert!(!stderr(output).contains(PASSWORD) && !stdout(output).contains(PASSWORD), "{what} printed the password");
}

/// Bars 1 and 3, and the export: four replays at once, four laptops, one team store.
#[test]
fn four_reps_replaying_at_once_share_one_store() {
    let server = PgServer::start();
    let dir = temp_dir();
    let wav = short_call(dir.path());
    let reps = ["Avery", "Blake", "Casey", "Devon"];
    let laptops: Vec<Laptop> = reps.iter().map(|r| Laptop::new(dir.path(), r)).collect();
    let url = server.url();
    let children: Vec<_> = laptops
        .iter()
        .zip(reps)
        .map(|(laptop, rep)| laptop.replay(&url, &wav, rep).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap())
        .collect();
    for (child, rep) in children.into_iter().zip(reps) {
        assert_ok(&format!("{rep}'s replay"), &child.wait_with_output().unwrap());
    }
    let calls = server.calls();
    let in_store: BTreeSet<&str> = calls.iter().map(|(rep, _)| rep.as_str()).collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(in_store, reps.into_iter().collect());

    // The manager's view from Avery's laptop: every rep, and the team.
    let output = laptops[0].callcoach(&url).arg("patterns").output().unwrap();
    assert_ok("patterns", &output);
    let report = stdout(&output);
    for rep in reps {
        assert!(report.contains(&format!("| {rep} | 1 |")), "{rep} missing:\n{report}");
    }
    assert!(report.contains("| team | 4 |"), "{report}");
    let output = laptops[0].callcoach(&url).args(["patterns", "--rep", "Casey"]).output().unwrap();
    let narrowed = stdout(&output);
    assert!(narrowed.contains("| Casey | 1 |") && !narrowed.contains("| Avery |"), "{narrowed}");

    // The CRM export, from Blake's laptop: a header and one RFC 4180 row per call.
    let output = laptops[1].callcoach(&url).args(["export", "--format", "csv", "--since", "2000-01-01"]).output().unwrap();
    assert_ok("export csv", &output);
    let csv = stdout(&output);
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "call_id,date,started_at,account,contact,rep,outcome,primary_root_cause,salvage_action,next_step,crm_note");
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines.iter().any(|l| l.contains(",Devon Account,Tina,Devon,")), "{csv}");
    let output = laptops[1].callcoach(&url).args(["export", "--format", "json", "--rep", "Devon"]).output().unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).expect("export json parses");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["rep"], "Devon");
    assert!(!rows[0]["crm_note"].as_str().unwrap().is_empty(), "{:?}", rows[0]);
    let output = laptops[1].callcoach(&url).args(["export", "--format", "json", "--since", "2999-01-01"]).output().unwrap();
    assert_eq!(stdout(&output).trim(), "[]");
}

/// Bar 2 and the credentials: with the server down a replay still writes its brief
/// and exits 0 within the connect timeout's reach; errors name the target, never
/// the password; after the server is back, `history sync` brings the call in once.
#[test]
fn a_call_made_offline_waits_and_syncs_exactly_once() {
    let mut server = PgServer::start();
    let dir = temp_dir();
    let wav = short_call(dir.path());
    let laptop = Laptop::new(dir.path(), "Elliot");
    let url = server.url();
    let target = format!("127.0.0.1:{}/{DATABASE}", server.port);
    server.stop();

    let output = laptop.replay(&url, &wav, "Elliot").output().unwrap();
    assert_ok("the offline replay", &output);
    assert!(stderr(&output).contains(&target), "the warning names the target: {}", stderr(&output));
    assert_eq!(laptop.briefs(), 1, "the brief is written while the team store is down");

    let output = laptop.callcoach(&url).args(["history", "sync"]).output().unwrap();
    assert!(!output.status.success(), "sync with the server down must fail");
    let message = stderr(&output);
    assert!(message.contains(&target) && !message.contains(PASSWORD), "{message}");

    server.resume();
    let output = laptop.callcoach(&url).args(["history", "sync"]).output().unwrap();
    assert_ok("sync", &output);
    assert!(stdout(&output).contains("1 call(s) pushed, 0 waiting"), "{}", stdout(&output));
    let output = laptop.callcoach(&url).args(["history", "sync"]).output().unwrap();
    assert!(stdout(&output).contains("0 call(s) pushed, 0 waiting"), "{}", stdout(&output));
    let calls = server.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, "Elliot");

    // Credentials without the URL's password: PGPASSWORD, then a password file.
    let bare = format!("postgresql://{USER}@127.0.0.1:{}/{DATABASE}?sslmode=disable", server.port);
    let output = laptop.callcoach(&bare).args(["history", "sync"]).env("PGPASSWORD", PASSWORD).output().unwrap();
    assert_ok("sync with PGPASSWORD", &output);
    let passfile = dir.path().join("pgpass");
    callcoach::private_file::write_atomic(&passfile, format!("127.0.0.1:{}:{DATABASE}:{USER}:{PASSWORD}\n", server.port).as_bytes()).unwrap();
    let output = laptop.callcoach(&bare).args(["history", "sync"]).env("PGPASSFILE", &passfile).output().unwrap();
    assert_ok("sync with a password file", &output);
    // A wrong password: refused, and neither password is printed.
    let wrong = url.replace(PASSWORD, "not-the-Password-1");
    let output = laptop.callcoach(&wrong).args(["history", "sync"]).output().unwrap();
    let message = stderr(&output);
    assert!(!output.status.success() && message.contains(&target), "{message}");
    assert!(!message.contains("not-the-Password-1") && !message.contains(PASSWORD), "{message}");
}

/// Many daemons starting and writing at once: migrations apply once, under the
/// lock, and concurrent upserts of one call id leave one row.
#[test]
fn daemons_starting_at_once_migrate_once_and_write_each_call_once() {
    let server = PgServer::start();
    // A generous deadline: this test is about the lock, not the timeout, and CI is busy.
    let url = TeamUrl::parse(&(server.url() + "&connect_timeout=15"), None).unwrap();
    let call = |id: &str, rep: &str| callcoach::history::PastCall {
        call_id: id.into(),
        rep: rep.into(),
        account: "ACME".into(),
        started_at: chrono::Utc::now(),
        outcome: callcoach::brief::Outcome::Bad,
        talk_ratio_rep: 0.6,
        duration_s: 600.0,
        root_causes: vec![callcoach::brief::Category::Objection, callcoach::brief::Category::Agenda],
        salvage_action: Some(callcoach::brief::Action::RecoveryEmail),
        crm: Default::default(),
    };
    std::thread::scope(|scope| {
        for n in 0..8 {
            let (url, call) = (&url, &call);
            scope.spawn(move || {
                let mut store = PgHistory::connect(url).expect("connects and migrates");
                store.record_call(&call("shared-call", "Frankie")).unwrap();
                store.record_call(&call(&format!("own-{n}"), &format!("rep{n}"))).unwrap();
            });
        }
    });
    let store = PgHistory::connect(&url).unwrap();
    assert_eq!(store.schema_versions().unwrap(), (1..=callcoach::history::SCHEMA_VERSION).collect::<Vec<_>>());
    let calls = store.calls(None, None).unwrap();
    assert_eq!(calls.len(), 9);
    let shared = calls.iter().find(|c| c.call_id == "shared-call").unwrap();
    assert_eq!(shared.root_causes.len(), 2);
    assert_eq!(store.calls(Some("rep3"), None).unwrap().len(), 1);

    // What the brief's 30-day rule reads for rep3: the team store's calls (from
    // the other machines) and this laptop's own, even one still in the outbox.
    let dir = temp_dir();
    let mut local = callcoach::history::SqliteHistory::open(&dir.path().join("history.sqlite")).unwrap();
    local.record_call(&call("laptop-only", "rep3")).unwrap();
    local.queue_for_team(&call("laptop-only", "rep3")).unwrap();
    let team = callcoach::history::Team { url: url.clone(), store: Some(store) };
    let seen = callcoach::history::read_history(&local, Some(&team), Some("rep3"), None).unwrap();
    let ids: BTreeSet<&str> = seen.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, ["laptop-only", "own-3"].into_iter().collect());
}

/// A server that accepts the connection and then never answers (a stuck proxy):
/// the call end gives up at the connect timeout, writes the brief's history
/// locally and queues the call.
#[test]
fn a_team_store_that_never_answers_costs_the_call_end_at_most_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(std::time::Duration::from_secs(60));
        drop(held);
    });
    let url = TeamUrl::parse(&format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}?sslmode=disable"), None).unwrap();
    let dir = temp_dir();
    let mut local = callcoach::history::SqliteHistory::open(&dir.path().join("history.sqlite")).unwrap();
    let call = quick_call("stalled-1", "Gale");
    let started = std::time::Instant::now();
    let mut team = callcoach::history::Team::reach(&url);
    callcoach::history::record_after_call(&mut local, Some(&mut team), &call).unwrap();
    let waited = started.elapsed();
    assert!(team.store.is_none());
    assert!(waited < callcoach::history::CONNECT_TIMEOUT + std::time::Duration::from_secs(2), "call end waited {waited:?}");
    assert_eq!(local.team_queue().unwrap().len(), 1, "the call waits in the outbox");
    assert_eq!(local.call("stalled-1").unwrap().unwrap().rep, "Gale");
}

/// TLS when the URL asks for it: a server that takes TCP over TLS only is reached
/// with `sslmode=require` and its CA (`sslrootcert`); without TLS, or without
/// trusting its certificate, the connect fails and says why, naming the target.
#[test]
fn tls_when_the_url_asks_for_it() {
    let server = PgServer::start_tls();
    let base = format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{}/{DATABASE}", server.port);
    let target = format!("127.0.0.1:{}/{DATABASE}", server.port);
    let with_ca = format!("{base}?sslmode=require&sslrootcert={}", server.root_cert().display());
    let mut store = PgHistory::connect(&TeamUrl::parse(&with_ca, None).unwrap()).expect("TLS with the team's CA connects");
    store.record_call(&quick_call("tls-1", "Indigo")).unwrap();
    assert_eq!(server.calls(), vec![("Indigo".to_string(), "tls-1".to_string())]);
    for (what, url) in [("no TLS", format!("{base}?sslmode=disable")), ("an unknown CA", format!("{base}?sslmode=require"))] {
        let error = PgHistory::connect(&TeamUrl::parse(&url, None).unwrap()).err().unwrap_or_else(|| panic!("{what} connected")).to_string();
        assert!(error.contains(&target) && !error.contains(PASSWORD), "{what}: {error}");
    }
}

fn quick_call(id: &str, rep: &str) -> callcoach::history::PastCall {
    callcoach::history::PastCall {
        call_id: id.into(),
        rep: rep.into(),
        account: "ACME".into(),
        started_at: chrono::Utc::now(),
        outcome: callcoach::brief::Outcome::Good,
        talk_ratio_rep: 0.5,
        duration_s: 60.0,
        root_causes: Vec::new(),
        salvage_action: None,
        crm: Default::default(),
    }
}
