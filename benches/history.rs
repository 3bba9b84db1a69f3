//! Team history benchmark: 10,000 calls of 20 reps over 90 days in a private
//! PostgreSQL server (tests/pg_server.rs), then the two paths a rep and a manager
//! wait on, p50/p95 of wall time:
//! - the call-end write: connect (with the migration check), read the rep's
//!   history for the brief, record locally, queue, push, as `brief::after_call` does;
//! - `callcoach patterns`: connect, read every rep's calls of the window and the
//!   one before, compute the report.
//! Also the offline call end (the server's port closed: refused, so no timeout).
//!
//! `cargo bench --bench history` (needs Debian's postgresql: scripts/setup.sh).

use std::time::Instant;

use callcoach::brief::{Action, Category, Outcome};
use callcoach::history::{self, CrmFields, HistoryStore, PastCall, PgHistory, SqliteHistory, Team, TeamUrl};
use chrono::{Duration, Utc};

#[path = "../tests/pg_server.rs"]
#[allow(dead_code)]
mod pg_server;
mod support;
use support::percentile;

const CALLS: usize = 10_000;
const REPS: usize = 20;

fn call(n: usize) -> PastCall {
    let bad = n % 3 != 0;
    let causes = if bad { vec![Category::ALL[n % 6], Category::ALL[(n / 6) % 6]] } else { Vec::new() };
    PastCall {
        call_id: format!("bench-{n:06}"),
        rep: format!("rep{:02}", n % REPS),
        account: format!("Account {}", n % 500),
        started_at: Utc::now() - Duration::minutes((n * 90 * 24 * 60 / CALLS) as i64),
        outcome: if bad { Outcome::Bad } else { Outcome::Good },
        talk_ratio_rep: 0.4 + (n % 30) as f64 / 100.0,
        duration_s: 1200.0 + (n % 600) as f64,
        root_causes: causes,
        salvage_action: Some(Action::RecoveryEmail),
        crm: CrmFields { contact: "Tina".into(), next_step: "Tuesday at two".into(), crm_note: "Budget: 20k; pricing call with the controller.".into() },
    }
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!("| {what} | {} | {:.1} | {:.1} |", ms.len(), percentile(&ms, 0.5), percentile(&ms, 0.95));
}

fn main() {
    let server = pg_server::PgServer::start();
    let url = TeamUrl::parse(&server.url(), None).unwrap();
    let mut store = PgHistory::connect(&url).unwrap();
    let started = Instant::now();
    for n in 0..CALLS {
        store.record_call(&call(n)).unwrap();
    }
    let fill_s = started.elapsed().as_secs_f64();
    println!("filled {CALLS} calls of {REPS} reps in {fill_s:.1} s ({:.2} ms per upsert on an open connection)\n", fill_s * 1e3 / CALLS as f64);
    assert_eq!(store.calls(None, None).unwrap().len(), CALLS);

    let dir = tempfile::tempdir().unwrap();
    let mut local = SqliteHistory::open(&dir.path().join("history.sqlite")).unwrap();
    println!("| path | runs | p50 ms | p95 ms |\n|---|---|---|---|");
    let mut call_end = Vec::new();
    for n in 0..200 {
        let this = call(CALLS + n);
        let t = Instant::now();
        let mut team = Team::reach(&url);
        let past = history::read_history(&local, Some(&team), Some(&this.rep), None).unwrap();
        history::record_after_call(&mut local, Some(&mut team), &this).unwrap();
        call_end.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(past.len() >= CALLS / REPS);
    }
    report("call-end write (connect, rep's history, record, push)", call_end);

    let mut patterns = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let now = Utc::now();
        let team = Team::reach(&url);
        let calls = history::read_history(&local, Some(&team), None, Some(now - Duration::days(60))).unwrap();
        let report = history::patterns_of_calls(&calls, None, now - Duration::days(30), now);
        patterns.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(report.reps.len(), REPS);
    }
    report("patterns, 30 days, every rep", patterns);

    let closed = TeamUrl::parse(&server.url().replace(&server.port.to_string(), &free_port().to_string()), None).unwrap();
    let mut offline = Vec::new();
    for n in 0..20 {
        let this = call(2 * CALLS + n);
        let t = Instant::now();
        let mut team = Team::reach(&closed);
        history::record_after_call(&mut local, Some(&mut team), &this).unwrap();
        offline.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report("offline call-end write (refused, queued)", offline);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
