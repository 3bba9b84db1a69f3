//! The embedded store: one SQLite file per laptop (0600 in a 0700 folder), also
//! holding `team_outbox`, the calls waiting for the team store.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{assemble, stamp, CallRow, CrmFields, HistoryError, HistoryStore, PastCall, CALLS_SQL, CAUSES_SQL, CRM_COLUMNS, DELETE_CAUSES_SQL, INSERT_CAUSE_SQL, SCHEMA_SQL, UPSERT_CALL_SQL};

/// The outbox: one JSON record per call id, so a rerun before the push replaces it.
const OUTBOX_SQL: &str = "CREATE TABLE IF NOT EXISTS team_outbox (
    call_id   TEXT PRIMARY KEY,
    record    TEXT NOT NULL,
    queued_at TEXT NOT NULL
);";

/// The embedded store.
pub struct SqliteHistory {
    conn: Connection,
    path: PathBuf,
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
            .and_then(|_| conn.execute_batch(OUTBOX_SQL))
            .and_then(|_| add_crm_columns(&conn))
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
        let sqlite = |sql: &str| sql.replace('$', "?");
        tx.execute(
            &sqlite(UPSERT_CALL_SQL),
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
                call.crm.contact,
                call.crm.next_step,
                call.crm.crm_note,
            ],
        )
        .map_err(e)?;
        tx.execute(&sqlite(DELETE_CAUSES_SQL), params![call.call_id]).map_err(e)?;
        for (rank, category) in call.root_causes.iter().enumerate() {
            tx.execute(&sqlite(INSERT_CAUSE_SQL), params![call.call_id, rank as i64, category.as_str()])
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
        let sqlite = |sql: &str| sql.replace("::TEXT", "").replace('$', "?");
        let mut stmt = self.conn.prepare(&sqlite(CALLS_SQL)).map_err(self.err())?;
        let rows: Vec<CallRow> = stmt
            .query_map(params![rep, since], |r| {
                Ok(CallRow {
                    call_id: r.get(0)?,
                    rep: r.get(1)?,
                    account: r.get(2)?,
                    started_at: r.get(3)?,
                    outcome: r.get(4)?,
                    talk_ratio_rep: r.get(5)?,
                    duration_s: r.get(6)?,
                    salvage_action: r.get(7)?,
                    crm: CrmFields { contact: r.get(8)?, next_step: r.get(9)?, crm_note: r.get(10)? },
                })
            })
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut stmt = self.conn.prepare(&sqlite(CAUSES_SQL)).map_err(self.err())?;
        let cause_rows: Vec<(String, i64, String)> = stmt
            .query_map(params![rep, since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        assemble(&self.path.display().to_string(), rows, cause_rows)
    }
}

impl SqliteHistory {
    /// Queues a call for the team store (a rerun replaces the queued record). Written
    /// before each push, removed only after the team store confirmed the commit.
    pub fn queue_for_team(&mut self, call: &PastCall) -> Result<(), HistoryError> {
        let record = serde_json::to_string(call).expect("a PastCall serialises");
        self.conn
            .execute(
                "INSERT INTO team_outbox (call_id, record, queued_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (call_id) DO UPDATE SET record = excluded.record, queued_at = excluded.queued_at",
                params![call.call_id, record, stamp(&Utc::now())],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Calls waiting for the team store, oldest first.
    pub fn team_queue(&self) -> Result<Vec<PastCall>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT call_id, record FROM team_outbox ORDER BY queued_at, call_id")
            .map_err(self.err())?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        rows.into_iter()
            .map(|(id, record)| {
                serde_json::from_str(&record).map_err(|e| HistoryError::Corrupt {
                    path: self.path.clone(),
                    problem: format!("queued call {id}: {e}"),
                })
            })
            .collect()
    }

    /// Drops a call from the queue once the team store holds it.
    pub fn unqueue(&mut self, call_id: &str) -> Result<(), HistoryError> {
        self.conn
            .execute("DELETE FROM team_outbox WHERE call_id = ?1", params![call_id])
            .map_err(self.err())?;
        Ok(())
    }
}

/// A file from before the CRM export lacks its columns: add them (empty).
fn add_crm_columns(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('calls')")?;
    let have: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for column in CRM_COLUMNS {
        if !have.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE calls ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"))?;
        }
    }
    Ok(())
}
