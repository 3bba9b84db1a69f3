//! The event hub: folds every published event into a [`Snapshot`] for late
//! joiners and fans the exact JSON lines out to each WebSocket client through
//! its own bounded queue.
//!
//! Threads: [`Hub::publish`] runs on the pipeline thread (a plain
//! `std::thread`); subscriptions are drained by the server's tokio tasks.
//! `publish` never blocks: it takes one std mutex for a few microseconds
//! (clone an `Arc`, push onto a few `VecDeque`s, wake the clients) and never
//! awaits, writes a socket or serialises anything. A client whose queue is
//! full is never waited for: its queue is cleared and it is marked for a
//! resync, so a stuck browser tab cannot stall the pipeline or anyone else.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::events::{Event, PROTOCOL_VERSION};
use crate::pipeline::EventSink;

/// Messages one client may have waiting before it is dropped-and-resynced.
pub const DEFAULT_QUEUE_CAPACITY: usize = 256;
/// Prompts kept for late joiners.
pub const PROMPTS_KEPT: usize = 20;
/// Final transcript segments kept for late joiners.
pub const TRANSCRIPT_KEPT: usize = 30;
/// Device trouble reports (health events with an `event`) kept for late joiners.
pub const DEVICE_EVENTS_KEPT: usize = 5;

/// Fan-out point between the pipeline and the WebSocket clients. Cheap to
/// clone; every clone is the same hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    queue_capacity: usize,
    published: AtomicU64,
    overflows: AtomicU64,
    dropped_messages: AtomicU64,
    stalled_disconnects: AtomicU64,
}

#[derive(Default)]
struct State {
    snapshot: Snapshot,
    clients: HashMap<u64, ClientQueue>,
    next_client_id: u64,
}

struct ClientQueue {
    messages: VecDeque<Arc<str>>,
    /// Set when the queue overflowed: the client gets a fresh snapshot
    /// instead of what it missed, and nothing is queued for it meanwhile.
    resync: bool,
    wake: Arc<Notify>,
}

/// What a late joiner needs to draw the overlay: the call, the latest
/// figures and the recent tails. Every item is the exact JSON line that was
/// published, so a client applies a snapshot with the same code as the live
/// stream.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub call: Option<Arc<str>>,
    pub call_ended: Option<Arc<str>>,
    pub metrics: Option<Arc<str>>,
    pub health: Option<Arc<str>>,
    pub device_events: VecDeque<Arc<str>>,
    pub prompts: VecDeque<Arc<str>>,
    pub transcript: VecDeque<Arc<str>>,
    /// The live partial per speaker (rep, prospect), cleared by its final.
    pub partials: [Option<Arc<str>>; 2],
    /// The latest `objection_detected` prompt, and what became of it
    /// (`objection_handled` / `objection_unanswered`).
    pub objection: Option<Arc<str>>,
    pub objection_status: Option<Arc<str>>,
    /// The latest `next_step_secured` / `no_next_step` prompt.
    pub next_step: Option<Arc<str>>,
    pub brief: Option<Arc<str>>,
}

/// Why a snapshot is sent: on connect, or after the client fell behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotReason {
    Connect,
    Resync,
}

impl SnapshotReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotReason::Connect => "connect",
            SnapshotReason::Resync => "resync",
        }
    }
}

/// Counters for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubStats {
    /// Events published since the hub was made.
    pub published: u64,
    /// Clients subscribed right now.
    pub clients: usize,
    /// Times a client's queue overflowed and it was marked for a resync.
    pub overflows: u64,
    /// Messages not queued for a client because it was (or became) out of sync.
    pub dropped_messages: u64,
    /// Clients the server disconnected because their socket stayed stuck.
    pub stalled_disconnects: u64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(DEFAULT_QUEUE_CAPACITY)
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("queue_capacity", &self.inner.queue_capacity).field("stats", &self.stats()).finish()
    }
}

impl Hub {
    /// A hub whose clients may each have `queue_capacity` messages waiting.
    pub fn new(queue_capacity: usize) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                queue_capacity: queue_capacity.max(1),
                published: AtomicU64::new(0),
                overflows: AtomicU64::new(0),
                dropped_messages: AtomicU64::new(0),
                stalled_disconnects: AtomicU64::new(0),
            }),
        }
    }

    pub fn queue_capacity(&self) -> usize {
        self.inner.queue_capacity
    }

    /// Folds `event` into the snapshot and queues `json_line` (which must be
    /// `events::to_json_line(event)`) for every client. Never blocks.
    pub fn publish(&self, event: &Event, json_line: &str) {
        let line: Arc<str> = Arc::from(json_line);
        let capacity = self.inner.queue_capacity;
        let mut dropped = 0u64;
        let mut overflows = 0u64;
        {
            let mut state = self.lock();
            state.snapshot.fold(event, &line);
            for client in state.clients.values_mut() {
                if client.resync {
                    dropped += 1;
                    continue;
                }
                if client.messages.len() >= capacity {
                    // Drop-and-resync: what it missed is in the next snapshot.
                    dropped += client.messages.len() as u64 + 1;
                    client.messages.clear();
                    client.resync = true;
                    overflows += 1;
                    client.wake.notify_one();
                } else {
                    // Its task drains the whole queue before it waits again,
                    // so only the first message needs to wake it (a wake-up
                    // costs a syscall when the task's thread is parked).
                    if client.messages.is_empty() {
                        client.wake.notify_one();
                    }
                    client.messages.push_back(line.clone());
                }
            }
        }
        self.inner.published.fetch_add(1, Ordering::Relaxed);
        if dropped > 0 {
            self.inner.dropped_messages.fetch_add(dropped, Ordering::Relaxed);
        }
        if overflows > 0 {
            self.inner.overflows.fetch_add(overflows, Ordering::Relaxed);
        }
    }

    /// Registers a client. The snapshot and the queue are taken under the
    /// same lock, so the client sees every event exactly once: either in the
    /// snapshot or in its queue.
    pub fn subscribe(&self) -> (Subscription, Snapshot) {
        let wake = Arc::new(Notify::new());
        let mut state = self.lock();
        let id = state.next_client_id;
        state.next_client_id += 1;
        state.clients.insert(id, ClientQueue { messages: VecDeque::new(), resync: false, wake: wake.clone() });
        let snapshot = state.snapshot.clone();
        drop(state);
        (Subscription { hub: self.clone(), id, wake }, snapshot)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
    }

    pub fn stats(&self) -> HubStats {
        let clients = self.lock().clients.len();
        HubStats {
            published: self.inner.published.load(Ordering::Relaxed),
            clients,
            overflows: self.inner.overflows.load(Ordering::Relaxed),
            dropped_messages: self.inner.dropped_messages.load(Ordering::Relaxed),
            stalled_disconnects: self.inner.stalled_disconnects.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn note_stalled_disconnect(&self) {
        self.inner.stalled_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated
        // in a way that matters more than losing the overlay: keep serving.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl EventSink for Hub {
    fn publish(&mut self, event: &Event, json_line: &str) {
        Hub::publish(self, event, json_line)
    }
}

/// One client's place in the hub; unsubscribes on drop.
pub struct Subscription {
    hub: Hub,
    id: u64,
    wake: Arc<Notify>,
}

/// What a client should send next.
#[derive(Debug)]
pub enum Delivery {
    /// Queued messages, oldest first (possibly none).
    Messages,
    /// The client fell behind: send this snapshot instead of what it missed.
    Resync(Box<Snapshot>),
}

impl Subscription {
    /// Moves everything queued for this client into `out`, or returns a
    /// fresh snapshot if the client overflowed since the last take.
    pub fn take(&self, out: &mut Vec<Arc<str>>) -> Delivery {
        let mut state = self.hub.lock();
        let State { snapshot, clients, .. } = &mut *state;
        let Some(client) = clients.get_mut(&self.id) else { return Delivery::Messages };
        if client.resync {
            client.resync = false;
            client.messages.clear();
            return Delivery::Resync(Box::new(snapshot.clone()));
        }
        out.extend(client.messages.drain(..));
        Delivery::Messages
    }

    /// Resolves when something was queued into an empty queue (or a resync
    /// became due) since this was last awaited; a wake-up that came before
    /// this call is not lost. Call it only after `take` found nothing: the
    /// hub does not wake a client whose queue already held messages.
    pub async fn changed(&self) {
        self.wake.notified().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().clients.remove(&self.id);
    }
}

impl Snapshot {
    fn fold(&mut self, event: &Event, line: &Arc<str>) {
        // The snapshot is assembled from raw lines; anything that is not a
        // JSON object would make it invalid, so it is forwarded but not kept.
        if !(line.starts_with('{') && line.ends_with('}')) {
            return;
        }
        match event {
            Event::CallStarted { .. } => {
                *self = Snapshot { call: Some(line.clone()), ..Snapshot::default() };
            }
            Event::Segment { speaker, is_final, .. } => {
                let channel = speaker.channel();
                if *is_final {
                    push_bounded(&mut self.transcript, line.clone(), TRANSCRIPT_KEPT);
                    self.partials[channel] = None;
                } else {
                    self.partials[channel] = Some(line.clone());
                }
            }
            Event::Metrics(_) => self.metrics = Some(line.clone()),
            Event::Health(health) => {
                if health.event.is_some() {
                    push_bounded(&mut self.device_events, line.clone(), DEVICE_EVENTS_KEPT);
                }
                self.health = Some(line.clone());
            }
            Event::Prompt(prompt) => {
                push_bounded(&mut self.prompts, line.clone(), PROMPTS_KEPT);
                match prompt.get("kind").and_then(|kind| kind.as_str()) {
                    Some("objection_detected") => {
                        self.objection = Some(line.clone());
                        self.objection_status = None;
                    }
                    Some("objection_handled" | "objection_unanswered") => self.objection_status = Some(line.clone()),
                    // The card a late joiner would show was taken back.
                    Some("objection_withdrawn") => {
                        let shown = self.objection.as_deref().and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok()).and_then(|o| o["id"].as_u64());
                        if shown.is_some() && shown == prompt.get("revises").and_then(|r| r.as_u64()) {
                            self.objection = None;
                            self.objection_status = None;
                        }
                    }
                    Some("next_step_secured" | "no_next_step") => self.next_step = Some(line.clone()),
                    _ => {}
                }
            }
            Event::CallEnded { .. } => {
                self.call_ended = Some(line.clone());
                self.partials = [None, None];
            }
            Event::BriefReady { .. } => self.brief = Some(line.clone()),
        }
    }

    /// `{"v":1,"type":"snapshot","reason":…,…}`: every field is either
    /// `null`, a published message, or a list of them, oldest first.
    pub fn to_json_line(&self, reason: SnapshotReason) -> String {
        let mut out = String::with_capacity(self.approximate_len() + 256);
        out.push_str(&format!("{{\"v\":{PROTOCOL_VERSION},\"type\":\"snapshot\",\"reason\":\"{}\"", reason.as_str()));
        let one = |out: &mut String, name: &str, item: &Option<Arc<str>>| {
            out.push_str(&format!(",\"{name}\":"));
            out.push_str(item.as_deref().unwrap_or("null"));
        };
        let many = |out: &mut String, name: &str, items: &mut dyn Iterator<Item = &Arc<str>>| {
            out.push_str(&format!(",\"{name}\":["));
            for (i, item) in items.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(item);
            }
            out.push(']');
        };
        one(&mut out, "call", &self.call);
        one(&mut out, "call_ended", &self.call_ended);
        one(&mut out, "metrics", &self.metrics);
        one(&mut out, "health", &self.health);
        many(&mut out, "device_events", &mut self.device_events.iter());
        many(&mut out, "prompts", &mut self.prompts.iter());
        many(&mut out, "transcript", &mut self.transcript.iter());
        many(&mut out, "partials", &mut self.partials.iter().flatten());
        one(&mut out, "objection", &self.objection);
        one(&mut out, "objection_status", &self.objection_status);
        one(&mut out, "next_step", &self.next_step);
        one(&mut out, "brief", &self.brief);
        out.push('}');
        out
    }

    fn approximate_len(&self) -> usize {
        let one = |item: &Option<Arc<str>>| item.as_ref().map_or(4, |line| line.len() + 1);
        [&self.call, &self.call_ended, &self.metrics, &self.health, &self.objection, &self.objection_status, &self.next_step, &self.brief]
            .into_iter()
            .map(one)
            .sum::<usize>()
            + self.partials.iter().map(one).sum::<usize>()
            + [&self.device_events, &self.prompts, &self.transcript].into_iter().flatten().map(|line| line.len() + 1).sum::<usize>()
    }
}

fn push_bounded(items: &mut VecDeque<Arc<str>>, item: Arc<str>, kept: usize) {
    if items.len() >= kept {
        items.pop_front();
    }
    items.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Speaker;
    use crate::events::{self, Health, Metrics};

    fn publish(hub: &Hub, event: Event) -> String {
        let line = events::to_json_line(&event);
        hub.publish(&event, &line);
        line
    }

    fn prompt(kind: &str, id: u32) -> Event {
        Event::Prompt(serde_json::json!({"id": id, "kind": kind, "severity": "warn", "title": kind, "body": "b"}))
    }

    fn segment(speaker: Speaker, text: &str, is_final: bool) -> Event {
        Event::Segment { speaker, start_s: 1.0, end_s: 2.0, text: text.into(), is_final }
    }

    fn parse(line: &str) -> serde_json::Value {
        serde_json::from_str(line).expect("valid JSON")
    }

    #[test]
    fn snapshot_folds_the_call_so_far() {
        let hub = Hub::default();
        publish(&hub, Event::CallStarted { call_id: "c1".into(), started_at: "t".into(), source: "test".into(), prep: None });
        for i in 0..40 {
            publish(&hub, segment(Speaker::Rep, &format!("line {i}"), true));
        }
        publish(&hub, segment(Speaker::Prospect, "partial words", false));
        for i in 0..25 {
            publish(&hub, prompt("talk_ratio_high", i));
        }
        publish(&hub, prompt("objection_detected", 100));
        publish(&hub, prompt("next_step_secured", 101));
        publish(&hub, Event::Metrics(Metrics { t_s: 3.0, talk_ratio_rep: 0.7, ..Default::default() }));
        publish(&hub, Event::Health(Health { t_s: 3.0, level_db_rep: -20.0, ..Default::default() }));

        let snapshot = parse(&hub.snapshot().to_json_line(SnapshotReason::Connect));
        assert_eq!(snapshot["type"], "snapshot");
        assert_eq!(snapshot["v"], 1);
        assert_eq!(snapshot["reason"], "connect");
        assert_eq!(snapshot["call"]["call_id"], "c1");
        assert_eq!(snapshot["transcript"].as_array().unwrap().len(), TRANSCRIPT_KEPT);
        assert_eq!(snapshot["transcript"][TRANSCRIPT_KEPT - 1]["text"], "line 39");
        assert_eq!(snapshot["partials"][0]["text"], "partial words");
        assert_eq!(snapshot["prompts"].as_array().unwrap().len(), PROMPTS_KEPT);
        assert_eq!(snapshot["prompts"][PROMPTS_KEPT - 1]["id"], 101);
        assert_eq!(snapshot["objection"]["id"], 100);
        assert_eq!(snapshot["next_step"]["kind"], "next_step_secured");
        assert_eq!(snapshot["metrics"]["talk_ratio_rep"], 0.7);
        assert_eq!(snapshot["health"]["level_db_rep"], -20.0);
        assert!(snapshot["brief"].is_null() && snapshot["call_ended"].is_null());

        // A final for the prospect replaces the partial; a new call starts clean.
        publish(&hub, segment(Speaker::Prospect, "final words", true));
        assert!(parse(&hub.snapshot().to_json_line(SnapshotReason::Connect))["partials"].as_array().unwrap().is_empty());
        publish(&hub, Event::CallStarted { call_id: "c2".into(), started_at: "t".into(), source: "test".into(), prep: None });
        let snapshot = parse(&hub.snapshot().to_json_line(SnapshotReason::Resync));
        assert_eq!(snapshot["reason"], "resync");
        assert_eq!(snapshot["call"]["call_id"], "c2");
        assert!(snapshot["prompts"].as_array().unwrap().is_empty() && snapshot["objection"].is_null());
    }

    /// An early card taken back leaves a late joiner no objection card; a
    /// withdrawal of another card leaves the one shown.
    #[test]
    fn a_withdrawn_early_card_leaves_the_snapshot() {
        let hub = Hub::default();
        publish(&hub, Event::CallStarted { call_id: "c1".into(), started_at: "t".into(), source: "test".into(), prep: None });
        publish(&hub, prompt("objection_detected", 7));
        publish(&hub, Event::Prompt(serde_json::json!({"id": 8, "kind": "objection_withdrawn", "revises": 6})));
        assert_eq!(parse(&hub.snapshot().to_json_line(SnapshotReason::Connect))["objection"]["id"], 7);
        publish(&hub, Event::Prompt(serde_json::json!({"id": 9, "kind": "objection_withdrawn", "revises": 7})));
        let snapshot = parse(&hub.snapshot().to_json_line(SnapshotReason::Connect));
        assert!(snapshot["objection"].is_null() && snapshot["objection_status"].is_null(), "{snapshot}");
        // The prompt tail keeps the withdrawal, so a replaying overlay takes the card down too.
        assert_eq!(snapshot["prompts"].as_array().unwrap().last().unwrap()["kind"], "objection_withdrawn");
    }

    #[test]
    fn a_full_queue_is_cleared_and_resynced_without_touching_others() {
        let hub = Hub::new(4);
        let (slow, _) = hub.subscribe();
        let (fast, _) = hub.subscribe();
        let mut out = Vec::new();
        for i in 0..10 {
            publish(&hub, prompt("talk_ratio_high", i));
            assert!(matches!(fast.take(&mut out), Delivery::Messages));
        }
        assert_eq!(out.len(), 10, "the reading client got every message");
        let stats = hub.stats();
        assert_eq!(stats.overflows, 1);
        assert_eq!(stats.clients, 2);
        let mut slow_out = Vec::new();
        match slow.take(&mut slow_out) {
            Delivery::Resync(snapshot) => assert_eq!(snapshot.prompts.len(), 10),
            Delivery::Messages => panic!("the slow client should be resynced"),
        }
        assert!(slow_out.is_empty());
        publish(&hub, prompt("monologue_long", 11));
        assert!(matches!(slow.take(&mut slow_out), Delivery::Messages));
        assert_eq!(slow_out.len(), 1, "after the resync the stream resumes");
        drop(slow);
        assert_eq!(hub.stats().clients, 1);
    }
}
