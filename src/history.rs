//! Cross-call history: every briefed call, its outcome and its root causes, keyed
//! by rep and account, in an embedded SQLite database (rusqlite, bundled). It
//! drives the 30-day pattern rule of the brief and `callcoach patterns`.
//!
//! The store sits behind the small [`HistoryStore`] trait, and [`SCHEMA_SQL`] is
//! portable SQL (TEXT/INTEGER/DOUBLE PRECISION, `ON CONFLICT … DO UPDATE`, UTC
//! timestamps as sortable RFC 3339 text) that PostgreSQL accepts unchanged, so a
//! team can later implement the trait over a shared PostgreSQL database.
//!
//! Thread: used by the post-call stage and the CLI; one connection per caller.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::brief::{Action, Category, Outcome};

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
}

/// One briefed call, as history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
}

/// Where history lives. SQLite here; a shared PostgreSQL later.
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

/// The embedded store.
pub struct SqliteHistory {
    conn: Connection,
    path: PathBuf,
}

fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl SqliteHistory {
    /// Opens (creating if needed) the database file; its folder is created 0700.
    pub fn open(path: &Path) -> Result<SqliteHistory, HistoryError> {
        if let Some(parent) = path.parent() {
            crate::private_file::create_private_dir(parent).map_err(|source| HistoryError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        crate::private_file::refuse_link(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
        let conn = Connection::open(path).map_err(|source| HistoryError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        SqliteHistory::init(conn, path.to_path_buf())
    }

    /// A throwaway in-memory store (tests, dry runs).
    pub fn open_in_memory() -> Result<SqliteHistory, HistoryError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| HistoryError::Sqlite {
            path: path.clone(),
            source,
        })?;
        SqliteHistory::init(conn, path)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<SqliteHistory, HistoryError> {
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
            .and_then(|_| conn.execute_batch(SCHEMA_SQL))
            .map_err(|source| HistoryError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok(SqliteHistory { conn, path })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
        move |source| HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// One call by id.
    pub fn call(&self, call_id: &str) -> Result<Option<PastCall>, HistoryError> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT call_id FROM calls WHERE call_id = ?1",
                params![call_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        match id {
            Some(_) => Ok(self
                .calls(None, None)?
                .into_iter()
                .find(|c| c.call_id == call_id)),
            None => Ok(None),
        }
    }
}

impl HistoryStore for SqliteHistory {
    fn record_call(&mut self, call: &PastCall) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |source| HistoryError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute(
            "INSERT INTO calls (call_id, rep, account, started_at, outcome, talk_ratio_rep, duration_s, primary_root_cause, salvage_action)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (call_id) DO UPDATE SET rep = excluded.rep, account = excluded.account, started_at = excluded.started_at,
                 outcome = excluded.outcome, talk_ratio_rep = excluded.talk_ratio_rep, duration_s = excluded.duration_s,
                 primary_root_cause = excluded.primary_root_cause, salvage_action = excluded.salvage_action",
            params![
                call.call_id,
                call.rep,
                call.account,
                stamp(&call.started_at),
                call.outcome.as_str(),
                call.talk_ratio_rep,
                call.duration_s,
                call.root_causes.first().map(|c| c.as_str()),
                call.salvage_action.map(|a| a.as_str()),
            ],
        )
        .map_err(e)?;
        tx.execute(
            "DELETE FROM call_root_causes WHERE call_id = ?1",
            params![call.call_id],
        )
        .map_err(e)?;
        for (rank, category) in call.root_causes.iter().enumerate() {
            tx.execute(
                "INSERT INTO call_root_causes (call_id, rank, category) VALUES (?1, ?2, ?3)",
                params![call.call_id, rank as i64, category.as_str()],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    fn calls(
        &self,
        rep: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<PastCall>, HistoryError> {
        let since = since.map(|t| stamp(&t));
        let mut stmt = self
            .conn
            .prepare(
                "SELECT call_id, rep, account, started_at, outcome, talk_ratio_rep, duration_s, salvage_action FROM calls
                 WHERE (?1 IS NULL OR rep = ?1) AND (?2 IS NULL OR started_at >= ?2) ORDER BY started_at, call_id",
            )
            .map_err(self.err())?;
        type Row = (
            String,
            String,
            String,
            String,
            String,
            f64,
            f64,
            Option<String>,
        );
        let rows: Vec<Row> = stmt
            .query_map(params![rep, since], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut causes: HashMap<String, Vec<(i64, String)>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.call_id, r.rank, r.category FROM call_root_causes r JOIN calls c ON c.call_id = r.call_id
                 WHERE (?1 IS NULL OR c.rep = ?1) AND (?2 IS NULL OR c.started_at >= ?2)",
            )
            .map_err(self.err())?;
        let cause_rows: Vec<(String, i64, String)> = stmt
            .query_map(params![rep, since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        for (id, rank, cat) in cause_rows {
            causes.entry(id).or_default().push((rank, cat));
        }
        let corrupt = |problem: String| HistoryError::Corrupt {
            path: self.path.clone(),
            problem,
        };
        let mut out = Vec::with_capacity(rows.len());
        for (call_id, rep, account, started_at, outcome, talk_ratio_rep, duration_s, action) in rows
        {
            let started_at = DateTime::parse_from_rfc3339(&started_at)
                .map_err(|e| corrupt(format!("call {call_id}: started_at '{started_at}': {e}")))?
                .with_timezone(&Utc);
            let outcome = Outcome::parse(&outcome)
                .ok_or_else(|| corrupt(format!("call {call_id}: outcome '{outcome}'")))?;
            let mut cs = causes.remove(&call_id).unwrap_or_default();
            cs.sort();
            let root_causes = cs
                .into_iter()
                .map(|(_, c)| {
                    Category::parse(&c)
                        .ok_or_else(|| corrupt(format!("call {call_id}: category '{c}'")))
                })
                .collect::<Result<_, _>>()?;
            out.push(PastCall {
                call_id,
                rep,
                account,
                started_at,
                outcome,
                talk_ratio_rep,
                duration_s,
                root_causes,
                salvage_action: action.as_deref().and_then(Action::parse),
            });
        }
        Ok(out)
    }
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
    let period = until - since;
    let previous_since = since - period.max(Duration::zero());
    let calls: Vec<PastCall> = store
        .calls(rep, Some(previous_since))?
        .into_iter()
        .filter(|c| c.started_at < until)
        .collect();
    let (current, previous): (Vec<&PastCall>, Vec<&PastCall>) =
        calls.iter().partition(|c| c.started_at >= since);
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
    Ok(PatternReport {
        since,
        until,
        previous_since,
        reps,
        team: pattern_of("team", &current, &previous),
    })
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
