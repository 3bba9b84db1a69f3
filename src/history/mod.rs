//! Cross-call history: every briefed call, its outcome and its root causes, keyed
//! by rep and account. It drives the 30-day pattern rule of the brief,
//! `callcoach patterns` and `callcoach export`.
//!
//! ```text
//! sqlite.rs    the embedded store on each laptop (rusqlite, bundled): the default, and
//!              the outbox of calls waiting for the team store
//! postgres.rs  the shared team store (`CALLCOACH_HISTORY_URL` / `[history] url`),
//!              versioned migrations under an advisory lock, upserts by call id
//! outbox.rs    offline first: queue locally, push when the team store answers
//! export.rs    one row per call for a CRM importer (CSV per RFC 4180, or JSON)
//! ```
//!
//! Both stores sit behind the small [`HistoryStore`] trait, and [`SCHEMA_SQL`] is
//! portable SQL (TEXT/INTEGER/DOUBLE PRECISION, `ON CONFLICT … DO UPDATE`, UTC
//! timestamps as sortable RFC 3339 text) that both accept unchanged.
//!
//! Thread: used by the post-call stage (a call thread, never an async task: the
//! PostgreSQL client blocks) and the CLI; one connection per caller.

mod export;
mod outbox;
mod postgres;
mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::brief::{Action, Category, Outcome};

pub use export::{export_csv, export_json, ExportRow};
pub use outbox::{push_outbox, read_history, record_after_call, sync, SyncReport, Team};
pub use postgres::{PgHistory, TeamUrl, CONNECT_TIMEOUT, SCHEMA_VERSION};
pub use sqlite::SqliteHistory;

/// The schema, portable between SQLite and PostgreSQL.
pub const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS calls (
    call_id            TEXT PRIMARY KEY,
    rep                TEXT NOT NULL,
    account            TEXT NOT NULL,
    started_at         TEXT NOT NULL,              -- UTC, 'YYYY-MM-DDTHH:MM:SSZ' (sorts as time)
    outcome            TEXT NOT NULL CHECK (outcome IN ('good', 'bad')),
    talk_ratio_rep     DOUBLE PRECISION NOT NULL,
    duration_s         DOUBLE PRECISION NOT NULL,
    primary_root_cause TEXT,                       -- NULL for a good call
    salvage_action     TEXT
);
CREATE INDEX IF NOT EXISTS calls_by_rep ON calls (rep, started_at);
CREATE INDEX IF NOT EXISTS calls_by_account ON calls (account, started_at);
CREATE TABLE IF NOT EXISTS call_root_causes (
    call_id  TEXT NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    rank     INTEGER NOT NULL,                     -- 0 = primary
    category TEXT NOT NULL CHECK (category IN
             ('preparation', 'objection', 'agenda', 'product_knowledge', 'talk_ratio', 'icp_fit')),
    PRIMARY KEY (call_id, rank)
);
";

/// What the CRM export needs beyond the pattern rule's columns, added to `calls`
/// after [`SCHEMA_SQL`] (SQLite adds what an older file lacks; PostgreSQL has a
/// migration for them).
pub const CRM_COLUMNS: [&str; 3] = ["contact", "next_step", "crm_note"];

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{}: history database: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: cannot create the history folder: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: history database holds a bad value: {problem}", path.display())]
    Corrupt { path: PathBuf, problem: String },
    /// The team store; `target` is `host:port/database`, never the password.
    #[error("team history {target}: {problem}")]
    Team { target: String, problem: String },
}

/// One briefed call, as history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastCall {
    pub call_id: String,
    pub rep: String,
    pub account: String,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub talk_ratio_rep: f64,
    pub duration_s: f64,
    /// Primary first; empty for a good call.
    pub root_causes: Vec<Category>,
    pub salvage_action: Option<Action>,
    /// What only the CRM export reads.
    #[serde(default)]
    pub crm: CrmFields,
}

/// The brief's words a CRM row carries (empty for calls recorded before the export).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrmFields {
    /// The prospect's name.
    pub contact: String,
    /// The agreed next step, or "none secured".
    pub next_step: String,
    pub crm_note: String,
}

/// Where history lives: the laptop's SQLite file or the team's PostgreSQL.
pub trait HistoryStore {
    /// Inserts or replaces one call (rerunning a brief replaces its row).
    fn record_call(&mut self, call: &PastCall) -> Result<(), HistoryError>;
    /// Calls of one rep (or everyone), started at or after `since` (or ever), oldest first.
    fn calls(
        &self,
        rep: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<PastCall>, HistoryError>;
}

pub(crate) fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A `calls` row as both stores read it, before its text is checked.
pub(crate) struct CallRow {
    pub call_id: String,
    pub rep: String,
    pub account: String,
    pub started_at: String,
    pub outcome: String,
    pub talk_ratio_rep: f64,
    pub duration_s: f64,
    pub salvage_action: Option<String>,
    pub crm: CrmFields,
}

/// The one SELECT both stores run (`$1` = rep or NULL, `$2` = since or NULL; SQLite
/// reads `$n` as `?n`). Columns in [`CallRow`] order.
pub(crate) const CALLS_SQL: &str = "SELECT call_id, rep, account, started_at, outcome, talk_ratio_rep, duration_s, salvage_action,
        contact, next_step, crm_note FROM calls
     WHERE ($1::TEXT IS NULL OR rep = $1::TEXT) AND ($2::TEXT IS NULL OR started_at >= $2::TEXT) ORDER BY started_at, call_id";
pub(crate) const CAUSES_SQL: &str = "SELECT r.call_id, r.rank, r.category FROM call_root_causes r JOIN calls c ON c.call_id = r.call_id
     WHERE ($1::TEXT IS NULL OR c.rep = $1::TEXT) AND ($2::TEXT IS NULL OR c.started_at >= $2::TEXT)";

/// Inserts or replaces one call's row (`rerun replaces`), then its causes are
/// deleted and inserted again, all in one transaction.
pub(crate) const UPSERT_CALL_SQL: &str = "INSERT INTO calls (call_id, rep, account, started_at, outcome, talk_ratio_rep, duration_s,
        primary_root_cause, salvage_action, contact, next_step, crm_note)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (call_id) DO UPDATE SET rep = excluded.rep, account = excluded.account, started_at = excluded.started_at,
         outcome = excluded.outcome, talk_ratio_rep = excluded.talk_ratio_rep, duration_s = excluded.duration_s,
         primary_root_cause = excluded.primary_root_cause, salvage_action = excluded.salvage_action,
         contact = excluded.contact, next_step = excluded.next_step, crm_note = excluded.crm_note";
pub(crate) const DELETE_CAUSES_SQL: &str = "DELETE FROM call_root_causes WHERE call_id = $1";
pub(crate) const INSERT_CAUSE_SQL: &str = "INSERT INTO call_root_causes (call_id, rank, category) VALUES ($1, $2, $3)";

/// Rows and their root causes into calls; a value no brief writes is `Corrupt`
/// (named by `store`, the file or the team store's target).
pub(crate) fn assemble(
    store: &str,
    rows: Vec<CallRow>,
    cause_rows: Vec<(String, i64, String)>,
) -> Result<Vec<PastCall>, HistoryError> {
    let mut causes: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for (id, rank, cat) in cause_rows {
        causes.entry(id).or_default().push((rank, cat));
    }
    let corrupt = |problem: String| HistoryError::Corrupt {
        path: PathBuf::from(store),
        problem,
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let call_id = row.call_id;
        let started_at = DateTime::parse_from_rfc3339(&row.started_at)
            .map_err(|e| corrupt(format!("call {call_id}: started_at '{}': {e}", row.started_at)))?
            .with_timezone(&Utc);
        let outcome = Outcome::parse(&row.outcome)
            .ok_or_else(|| corrupt(format!("call {call_id}: outcome '{}'", row.outcome)))?;
        let mut cs = causes.remove(&call_id).unwrap_or_default();
        cs.sort();
        let root_causes = cs
            .into_iter()
            .map(|(_, c)| {
                Category::parse(&c).ok_or_else(|| corrupt(format!("call {call_id}: category '{c}'")))
            })
            .collect::<Result<_, _>>()?;
        out.push(PastCall {
            call_id,
            rep: row.rep,
            account: row.account,
            started_at,
            outcome,
            talk_ratio_rep: row.talk_ratio_rep,
            duration_s: row.duration_s,
            root_causes,
            salvage_action: row.salvage_action.as_deref().and_then(Action::parse),
            crm: row.crm,
        });
    }
    Ok(out)
}

/// Which way a root cause is going: this period against the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    New,
    Rising,
    Steady,
    Falling,
    Gone,
}

impl Trend {
    fn of(current: usize, previous: usize) -> Trend {
        match (current, previous) {
            (c, 0) if c > 0 => Trend::New,
            (0, p) if p > 0 => Trend::Gone,
            (c, p) if c > p => Trend::Rising,
            (c, p) if c < p => Trend::Falling,
            _ => Trend::Steady,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trend::New => "new",
            Trend::Rising => "rising",
            Trend::Steady => "steady",
            Trend::Falling => "falling",
            Trend::Gone => "gone",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryCount {
    pub category: Category,
    /// Flagged calls with this root cause in the period…
    pub current: usize,
    /// …and in the period before it.
    pub previous: usize,
    pub trend: Trend,
}

/// One rep's (or the team's) pattern.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepPattern {
    /// The rep, or "team".
    pub rep: String,
    pub calls: usize,
    pub flagged_calls: usize,
    pub mean_talk_ratio_rep: f64,
    /// Root causes present in the period or the one before, most frequent first.
    pub categories: Vec<CategoryCount>,
    /// The root cause in most flagged calls this period.
    pub dominant: Option<Category>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternReport {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The comparison period is the same length, right before `since`.
    pub previous_since: DateTime<Utc>,
    pub reps: Vec<RepPattern>,
    pub team: RepPattern,
}

fn pattern_of(name: &str, current: &[&PastCall], previous: &[&PastCall]) -> RepPattern {
    let count = |calls: &[&PastCall], c: Category| {
        calls
            .iter()
            .filter(|p| p.outcome == Outcome::Bad && p.root_causes.contains(&c))
            .count()
    };
    let primary = |calls: &[&PastCall], c: Category| {
        calls
            .iter()
            .filter(|p| p.root_causes.first() == Some(&c))
            .count()
    };
    let mut categories: Vec<CategoryCount> = Category::ALL
        .into_iter()
        .map(|c| {
            let (cur, prev) = (count(current, c), count(previous, c));
            CategoryCount {
                category: c,
                current: cur,
                previous: prev,
                trend: Trend::of(cur, prev),
            }
        })
        .filter(|c| c.current + c.previous > 0)
        .collect();
    categories.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(primary(current, b.category).cmp(&primary(current, a.category)))
            .then(b.previous.cmp(&a.previous))
    });
    let dominant = categories
        .first()
        .filter(|c| c.current > 0)
        .map(|c| c.category);
    RepPattern {
        rep: name.to_string(),
        calls: current.len(),
        flagged_calls: current.iter().filter(|p| p.outcome == Outcome::Bad).count(),
        mean_talk_ratio_rep: if current.is_empty() {
            0.0
        } else {
            current.iter().map(|p| p.talk_ratio_rep).sum::<f64>() / current.len() as f64
        },
        categories,
        dominant,
    }
}

/// Per rep and for the team: which root cause dominates in `[since, until)` and its
/// trend against the same-length period before. `rep` narrows to one rep (the team
/// line is then that rep's calls too).
pub fn patterns(
    store: &dyn HistoryStore,
    rep: Option<&str>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<PatternReport, HistoryError> {
    let previous_since = since - (until - since).max(Duration::zero());
    Ok(patterns_of_calls(&store.calls(rep, Some(previous_since))?, rep, since, until))
}

/// [`patterns`] over calls already read (from one store or several merged); it
/// needs those of the same-length period before `since` too.
pub fn patterns_of_calls(
    calls: &[PastCall],
    rep: Option<&str>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> PatternReport {
    let period = until - since;
    let previous_since = since - period.max(Duration::zero());
    let calls: Vec<&PastCall> = calls
        .iter()
        .filter(|c| c.started_at >= previous_since && c.started_at < until)
        .filter(|c| rep.map_or(true, |r| c.rep == r))
        .collect();
    let (current, previous): (Vec<&PastCall>, Vec<&PastCall>) =
        calls.into_iter().partition(|c| c.started_at >= since);
    let mut by_rep: BTreeMap<&str, (Vec<&PastCall>, Vec<&PastCall>)> = BTreeMap::new();
    for c in &current {
        by_rep.entry(c.rep.as_str()).or_default().0.push(c);
    }
    for c in &previous {
        by_rep.entry(c.rep.as_str()).or_default().1.push(c);
    }
    // Calls whose rep is unknown ("[rep name]") count for the team, but are no rep.
    let reps = by_rep
        .iter()
        .filter(|(name, _)| !name.starts_with('[') && !name.trim().is_empty())
        .map(|(name, (cur, prev))| pattern_of(name, cur, prev))
        .collect();
    PatternReport {
        since,
        until,
        previous_since,
        reps,
        team: pattern_of("team", &current, &previous),
    }
}

impl PatternReport {
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "# Root-cause patterns {} → {} (compared with {} → {})\n\n",
            self.since.format("%Y-%m-%d"),
            self.until.format("%Y-%m-%d"),
            self.previous_since.format("%Y-%m-%d"),
            self.since.format("%Y-%m-%d")
        );
        s.push_str("| rep | calls | flagged | mean rep talk | dominant root cause | this period | before | trend |\n|---|---|---|---|---|---|---|---|\n");
        for p in self.reps.iter().chain(std::iter::once(&self.team)) {
            let top = p.categories.first();
            s.push_str(&format!(
                "| {} | {} | {} | {:.0}% | {} | {} | {} | {} |\n",
                p.rep,
                p.calls,
                p.flagged_calls,
                p.mean_talk_ratio_rep * 100.0,
                p.dominant.map(|c| c.as_str()).unwrap_or("—"),
                top.map(|c| c.current).unwrap_or(0),
                top.map(|c| c.previous).unwrap_or(0),
                top.map(|c| c.trend.as_str()).unwrap_or("—"),
            ));
        }
        s.push_str(
            "\n| rep | root cause | this period | before | trend |\n|---|---|---|---|---|\n",
        );
        for p in self.reps.iter().chain(std::iter::once(&self.team)) {
            for c in &p.categories {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    p.rep,
                    c.category,
                    c.current,
                    c.previous,
                    c.trend.as_str()
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::days(d)
    }

    fn call(id: &str, rep: &str, d: i64, outcome: Outcome, causes: &[Category]) -> PastCall {
        PastCall {
            call_id: id.into(),
            rep: rep.into(),
            account: "ACME".into(),
            started_at: day(d),
            outcome,
            talk_ratio_rep: 0.5,
            duration_s: 1800.0,
            root_causes: causes.to_vec(),
            salvage_action: Some(Action::RecoveryEmail),
            crm: CrmFields::default(),
        }
    }

    #[test]
    fn round_trips_and_replaces_on_rerun() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/history.sqlite");
        let mut h = SqliteHistory::open(&path).unwrap();
        h.record_call(&call(
            "a",
            "Marcus",
            0,
            Outcome::Bad,
            &[Category::Objection, Category::Agenda],
        ))
        .unwrap();
        h.record_call(&call("b", "Priya", 1, Outcome::Good, &[]))
            .unwrap();
        h.record_call(&call(
            "a",
            "Marcus",
            0,
            Outcome::Bad,
            &[Category::TalkRatio],
        ))
        .unwrap();
        drop(h);
        let h = SqliteHistory::open(&path).unwrap();
        let all = h.calls(None, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].root_causes, vec![Category::TalkRatio]);
        assert_eq!(h.calls(Some("Priya"), None).unwrap().len(), 1);
        assert_eq!(h.calls(None, Some(day(1))).unwrap().len(), 1);
        assert_eq!(h.call("a").unwrap().unwrap().rep, "Marcus");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn patterns_show_dominant_cause_and_trend() {
        let mut h = SqliteHistory::open_in_memory().unwrap();
        // Marcus: objection twice in the previous period, three times now; Priya: agenda once now.
        for (id, d) in [("p1", 2), ("p2", 10)] {
            h.record_call(&call(id, "Marcus", d, Outcome::Bad, &[Category::Objection]))
                .unwrap();
        }
        for (id, d) in [("c1", 35), ("c2", 40), ("c3", 50)] {
            h.record_call(&call(
                id,
                "Marcus",
                d,
                Outcome::Bad,
                &[Category::Objection, Category::Agenda],
            ))
            .unwrap();
        }
        h.record_call(&call("g1", "Marcus", 45, Outcome::Good, &[]))
            .unwrap();
        h.record_call(&call("q1", "Priya", 41, Outcome::Bad, &[Category::Agenda]))
            .unwrap();
        let report = patterns(&h, None, day(31), day(61)).unwrap();
        let marcus = report.reps.iter().find(|r| r.rep == "Marcus").unwrap();
        assert_eq!(marcus.calls, 4);
        assert_eq!(marcus.flagged_calls, 3);
        assert_eq!(marcus.dominant, Some(Category::Objection));
        assert_eq!(marcus.categories[0].current, 3);
        assert_eq!(marcus.categories[0].previous, 2);
        assert_eq!(marcus.categories[0].trend, Trend::Rising);
        let priya = report.reps.iter().find(|r| r.rep == "Priya").unwrap();
        assert_eq!(priya.dominant, Some(Category::Agenda));
        assert_eq!(priya.categories[0].trend, Trend::New);
        // The team: agenda in 4 flagged calls now (3 Marcus + 1 Priya), objection in 3.
        assert_eq!(report.team.dominant, Some(Category::Agenda));
        let md = report.to_markdown();
        assert!(md.contains("| Marcus | 4 | 3 |"), "{md}");
        let only = patterns(&h, Some("Priya"), day(31), day(61)).unwrap();
        assert_eq!(only.reps.len(), 1);
    }
}
