//! Offline first: every call is recorded in the laptop's store and queued in its
//! `team_outbox` before the team store is tried; it leaves the queue only after
//! the team store confirmed the commit. A failed push costs at most the connect
//! timeout and a warning; the next call end, daemon start or `callcoach history
//! sync` pushes the backlog. Upserts by call id make a repeated push harmless.
//!
//! Thread: blocking, like the stores (call thread or CLI).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::{HistoryError, HistoryStore, PastCall, PgHistory, SqliteHistory, TeamUrl};

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncReport {
    /// Calls the team store confirmed.
    pub pushed: usize,
    /// Calls still waiting.
    pub waiting: usize,
}

/// The laptop's store, and the team's when configured and reachable: where the
/// brief reads history from, and where the call-end write goes.
pub struct Team {
    pub url: TeamUrl,
    /// `None` when it did not answer (the reason was logged once).
    pub store: Option<PgHistory>,
}

impl Team {
    /// Connects once (bounded by the connect timeout); a failure is logged, not returned.
    pub fn reach(url: &TeamUrl) -> Team {
        let store = match PgHistory::connect(url) {
            Ok(store) => Some(store),
            Err(e) => {
                tracing::warn!("{e}; calls wait in the local outbox");
                None
            }
        };
        Team { url: url.clone(), store }
    }
}

/// Pushes every queued call, oldest first; stops at the first failure (what is
/// left stays queued).
pub fn push_outbox(local: &mut SqliteHistory, team: &mut PgHistory) -> Result<SyncReport, HistoryError> {
    let queue = local.team_queue()?;
    let mut pushed = 0;
    for call in &queue {
        team.record_call(call)?;
        local.unqueue(&call.call_id)?;
        pushed += 1;
    }
    Ok(SyncReport { pushed, waiting: queue.len() - pushed })
}

/// `callcoach history sync` and daemon start: connect and push the backlog.
pub fn sync(local_db: &Path, url: &TeamUrl) -> Result<SyncReport, HistoryError> {
    let mut local = SqliteHistory::open(local_db)?;
    let mut team = PgHistory::connect(url)?;
    push_outbox(&mut local, &mut team)
}

/// The calls the brief and the pattern report read: the team store's (every
/// machine's) merged with this laptop's, so a call still in the outbox counts too.
/// Without a reachable team store, the laptop's alone.
pub fn read_history(
    local: &SqliteHistory,
    team: Option<&Team>,
    rep: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<PastCall>, HistoryError> {
    let mine = local.calls(rep, since)?;
    let Some(store) = team.and_then(|t| t.store.as_ref()) else { return Ok(mine) };
    let theirs = match store.calls(rep, since) {
        Ok(calls) => calls,
        Err(e) => {
            tracing::warn!("{e}; reading this laptop's history only");
            return Ok(mine);
        }
    };
    let mut by_id: BTreeMap<String, PastCall> = theirs.into_iter().map(|c| (c.call_id.clone(), c)).collect();
    for call in mine {
        by_id.entry(call.call_id.clone()).or_insert(call);
    }
    let mut calls: Vec<PastCall> = by_id.into_values().collect();
    calls.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.call_id.cmp(&b.call_id)));
    Ok(calls)
}

/// The call-end write: the laptop's store, then (with a team) the outbox, then a
/// push of everything queued. Only the local write can fail the call end.
pub fn record_after_call(local: &mut SqliteHistory, team: Option<&mut Team>, call: &PastCall) -> Result<(), HistoryError> {
    local.record_call(call)?;
    let Some(team) = team else { return Ok(()) };
    local.queue_for_team(call)?;
    let Some(store) = team.store.as_mut() else { return Ok(()) };
    match push_outbox(local, store) {
        Ok(report) => tracing::info!("team history {}: {} call(s) pushed", team.url.target(), report.pushed),
        Err(e) => tracing::warn!("{e}; the call waits in the local outbox"),
    }
    Ok(())
}
