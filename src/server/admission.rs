//! Which connections the server keeps when it is full.
//!
//! A connection costs a slot from accept until it upgrades or closes. A
//! client that opens sockets and never sends a request would otherwise hold
//! every slot for the header timeout and lock the rep's own overlay and CLI
//! out. So when all slots are taken, a new connection closes the one that has
//! been idle longest (no request in flight) instead of being refused; a
//! request being served is never cut. Other local users never get this far:
//! their connections are closed before admission (`peer.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

pub(crate) struct Admission {
    limit: usize,
    slots: Mutex<Slots>,
    /// Connections closed unread because too many owner checks were waiting.
    unchecked_closed: AtomicU64,
}

#[derive(Default)]
struct Slots {
    next_id: u64,
    open: Vec<Slot>,
    evicted: u64,
}

struct Slot {
    id: u64,
    close: CancellationToken,
    in_flight: usize,
    idle_since: Instant,
}

/// A connection's slot; dropping it frees the slot.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    close: CancellationToken,
}

impl Admission {
    pub(crate) fn new(limit: usize) -> Arc<Admission> {
        Arc::new(Admission { limit: limit.max(1), slots: Mutex::new(Slots::default()), unchecked_closed: AtomicU64::new(0) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // Held for a few list operations only, never across an await.
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for a new connection. When every slot is taken, the connection
    /// idle longest is told to close and gives up its slot; `None` when every
    /// connection is in the middle of a request.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut slots = self.lock();
        if slots.open.len() >= self.limit {
            let victim = slots
                .open
                .iter()
                .enumerate()
                .filter(|(_, slot)| slot.in_flight == 0)
                .min_by_key(|(_, slot)| slot.idle_since)
                .map(|(index, _)| index)?;
            let slot = slots.open.swap_remove(victim);
            slot.close.cancel();
            slots.evicted += 1;
        }
        let id = slots.next_id;
        slots.next_id += 1;
        let close = CancellationToken::new();
        slots.open.push(Slot { id, close: close.clone(), in_flight: 0, idle_since: Instant::now() });
        Some(Ticket { admission: self.clone(), id, close })
    }

    /// Connections holding a slot now.
    pub(crate) fn open(&self) -> usize {
        self.lock().open.len()
    }

    /// Idle connections closed to make room, since start.
    pub(crate) fn evicted(&self) -> u64 {
        self.lock().evicted
    }

    /// Counts a connection closed before its owner check (too many checks waiting).
    pub(crate) fn closed_unchecked(&self) {
        self.unchecked_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections closed unread because the owner checks were full, since start.
    pub(crate) fn unchecked(&self) -> u64 {
        self.unchecked_closed.load(Ordering::Relaxed)
    }
}

impl Ticket {
    /// Cancelled when the server wants this connection closed to make room.
    pub(crate) fn close_requested(&self) -> &CancellationToken {
        &self.close
    }

    /// Marks a request in flight until the guard is dropped.
    pub(crate) fn request(&self) -> RequestGuard {
        self.update(|slot| slot.in_flight += 1);
        RequestGuard { admission: self.admission.clone(), id: self.id }
    }

    fn update(&self, change: impl FnOnce(&mut Slot)) {
        update(&self.admission, self.id, change);
    }
}

fn update(admission: &Admission, id: u64, change: impl FnOnce(&mut Slot)) {
    if let Some(slot) = admission.lock().open.iter_mut().find(|slot| slot.id == id) {
        change(slot);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut slots = self.admission.lock();
        if let Some(index) = slots.open.iter().position(|slot| slot.id == self.id) {
            slots.open.swap_remove(index);
        }
    }
}

/// A request being served; its connection cannot be evicted meanwhile.
pub(crate) struct RequestGuard {
    admission: Arc<Admission>,
    id: u64,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        update(&self.admission, self.id, |slot| {
            slot.in_flight = slot.in_flight.saturating_sub(1);
            slot.idle_since = Instant::now();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_server_closes_the_longest_idle_connection_not_a_busy_one() {
        let admission = Admission::new(2);
        let first = admission.admit().unwrap();
        let second = admission.admit().unwrap();
        let busy = first.request();
        let third = admission.admit().expect("room is made");
        assert!(second.close_requested().is_cancelled(), "the idle one goes");
        assert!(!first.close_requested().is_cancelled(), "a request in flight is never cut");
        drop(second);
        assert_eq!(admission.open(), 2);
        let _also_busy = third.request();
        assert!(admission.admit().is_none(), "every connection busy: the new one waits its turn");
        drop(busy);
        assert!(admission.admit().is_some());
        assert!(first.close_requested().is_cancelled());
        assert_eq!(admission.evicted(), 2);
    }
}
