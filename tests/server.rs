//! The coach server for real: a `Server` on 127.0.0.1 port 0, real
//! tokio-tungstenite clients and raw HTTP over TCP. Covers the protocol
//! (hello, snapshot, stream), the security bar (token, Origin, Host, size
//! limits), slow and stuck clients, the control API and shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcoach::call::Speaker;
use callcoach::events::{self, Event, Health, Metrics};
use callcoach::server::{load_or_create_token, CallPrep, ControlCommand, Hub, Server, ServerConfig, Token};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;
type RawClient = WebSocketStream<TcpStream>;

struct TestServer {
    addr: SocketAddr,
    token: Token,
    hub: Hub,
    shutdown: CancellationToken,
    control: mpsc::Receiver<ControlCommand>,
    task: JoinHandle<()>,
}

impl TestServer {
    async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let token = Token::generate().unwrap();
        let mut config = ServerConfig::new(token.clone());
        tweak(&mut config);
        let hub = Hub::default();
        let shutdown = CancellationToken::new();
        let (bound, control) = Server::bind(config, hub.clone(), shutdown.clone()).expect("binding 127.0.0.1:0");
        let addr = bound.local_addr();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        let task = tokio::spawn(async move { bound.run().await.expect("server runs") });
        TestServer { addr, token, hub, shutdown, control, task }
    }

    fn ws_url(&self, query: &str) -> String {
        format!("ws://127.0.0.1:{}/ws{query}", self.addr.port())
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Connects with the token in the query and the page's own Origin.
    async fn connect(&self) -> Client {
        let query = format!("?token={}", self.token.as_str());
        connect(&self.ws_url(&query), &[("Origin", &self.origin())]).await.expect("accepted")
    }

    fn publish(&self, event: Event) -> String {
        let line = events::to_json_line(&event);
        self.hub.publish(&event, &line);
        line
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task).await.expect("server stops within 5 s").unwrap();
    }
}

async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Client, WsError> {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(request)).await.expect("handshake answered").map(|(socket, _)| socket)
}

fn refusal_status(result: Result<Client, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the upgrade was accepted"),
    }
}

/// The next text message as JSON, within `limit`.
async fn next_json<S>(socket: &mut WebSocketStream<S>, limit: Duration) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = tokio::time::timeout(limit, socket.next()).await.expect("a message in time").expect("stream open").expect("no error");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("server sends JSON");
        }
    }
}

/// Reads hello and the connect snapshot; returns the snapshot.
async fn handshake<S>(socket: &mut WebSocketStream<S>) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let hello = next_json(socket, Duration::from_secs(5)).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["v"], 1);
    assert_eq!(hello["protocol"], 1);
    let snapshot = next_json(socket, Duration::from_secs(5)).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["reason"], "connect");
    snapshot
}

/// One HTTP/1.1 request over a fresh connection: (status, headers, body).
async fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: 127.0.0.1:{}\r\n", addr.port()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await.expect("response in time").unwrap();
    let response = String::from_utf8(response).expect("text response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|line| line.split_once(':')).map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn prompt(kind: &str, id: u64, severity: &str) -> Event {
    Event::Prompt(serde_json::json!({
        "id": id, "kind": kind, "severity": severity, "title": format!("{kind} title"),
        "body": "Acknowledge the budget concern, then tie the price to the cost of the manual process.",
        "evidence": "that's way more than we budgeted", "t_trigger_s": 10.0, "t_emit_s": 10.4,
    }))
}

fn started(call_id: &str) -> Event {
    Event::CallStarted {
        call_id: call_id.into(),
        started_at: "2025-01-01T00:00:00.000Z".into(),
        source: "test".into(),
        prep: Some(serde_json::json!({"account": "ACME", "contact": "Dana Lee"})),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_gets_hello_and_a_snapshot_of_the_call_so_far() {
    let server = TestServer::start().await;
    server.publish(started("call-1"));
    for i in 0..35 {
        server.publish(Event::Segment { speaker: Speaker::Rep, start_s: i as f64, end_s: i as f64 + 0.5, text: format!("final {i}"), is_final: true });
    }
    server.publish(Event::Segment { speaker: Speaker::Prospect, start_s: 40.0, end_s: 41.0, text: "way more than".into(), is_final: false });
    server.publish(prompt("objection_detected", 7, "alert"));
    server.publish(prompt("talk_ratio_high", 8, "warn"));
    server.publish(Event::Metrics(Metrics { t_s: 42.0, talk_s_rep: 30.0, talk_s_prospect: 10.0, talk_ratio_rep: 0.75, coach: Some(serde_json::json!({"talk_ratio_rep_window": 0.8})) }));
    server.publish(Event::Health(Health { t_s: 42.0, level_db_rep: -18.0, level_db_prospect: -24.0, ..Default::default() }));

    let mut client = server.connect().await;
    let snapshot = handshake(&mut client).await;
    assert_eq!(snapshot["v"], 1);
    assert_eq!(snapshot["call"]["type"], "call_started");
    assert_eq!(snapshot["call"]["call_id"], "call-1");
    let transcript = snapshot["transcript"].as_array().unwrap();
    assert_eq!(transcript.len(), 30, "the last 30 finals");
    assert_eq!(transcript[0]["text"], "final 5");
    assert_eq!(transcript[29]["text"], "final 34");
    assert_eq!(snapshot["partials"][0]["text"], "way more than");
    assert_eq!(snapshot["objection"]["kind"], "objection_detected");
    assert!(snapshot["objection"]["body"].as_str().unwrap().starts_with("Acknowledge"));
    assert_eq!(snapshot["prompts"].as_array().unwrap().len(), 2);
    assert_eq!(snapshot["metrics"]["talk_ratio_rep"], 0.75);
    assert_eq!(snapshot["metrics"]["talk_ratio_rep_window"], 0.8);
    assert_eq!(snapshot["health"]["level_db_rep"], -18.0);
    assert!(snapshot["call_ended"].is_null() && snapshot["brief"].is_null());

    // Then the live stream: the exact lines the pipeline published.
    let line = server.publish(Event::CallEnded { t_s: 50.0, reason: "end of audio".into() });
    let message = tokio::time::timeout(Duration::from_secs(5), client.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(message, Message::Text(line));
    let line = server.publish(Event::BriefReady { path: "/tmp/brief".into() });
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), client.next()).await.unwrap().unwrap().unwrap(), Message::Text(line));

    // Ping and pong.
    client.send(Message::Text(r#"{"type":"ping"}"#.into())).await.unwrap();
    assert_eq!(next_json(&mut client, Duration::from_secs(5)).await["type"], "pong");
    // A malformed message gets an error reply and the connection stays.
    client.send(Message::Text("{nope".into())).await.unwrap();
    assert_eq!(next_json(&mut client, Duration::from_secs(5)).await["type"], "error");
    client.send(Message::Text(r#"{"type":"ping"}"#.into())).await.unwrap();
    assert_eq!(next_json(&mut client, Duration::from_secs(5)).await["type"], "pong");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_refuses_foreign_origins_wrong_hosts_and_bad_tokens() {
    let server = TestServer::start().await;
    let port = server.addr.port();
    let good = format!("?token={}", server.token.as_str());
    let url = server.ws_url(&good);

    // Another site's page must never read a call, token or not.
    for origin in ["https://evil.example", "http://127.0.0.1:1", "null", "http://localhost.evil.example"] {
        assert_eq!(refusal_status(connect(&url, &[("Origin", origin)]).await), 403, "Origin {origin}");
    }
    // DNS rebinding: our address under another name.
    assert_eq!(refusal_status(connect(&url, &[("Host", &format!("evil.example:{port}"))]).await), 403);
    // Token missing or wrong.
    assert_eq!(refusal_status(connect(&server.ws_url(""), &[("Origin", &server.origin())]).await), 401);
    let mut wrong = server.token.as_str().to_string();
    wrong.replace_range(..1, if wrong.starts_with('a') { "b" } else { "a" });
    assert_eq!(refusal_status(connect(&server.ws_url(&format!("?token={wrong}")), &[]).await), 403);
    assert_eq!(refusal_status(connect(&server.ws_url("?token="), &[]).await), 403);
    assert_eq!(refusal_status(connect(&server.ws_url("?token=short"), &[]).await), 403);
    assert_eq!(server.hub.stats().clients, 0, "no refused client was subscribed");

    // Accepted: the page's own origins, and CLI clients without an Origin.
    for origin in [Some(format!("http://127.0.0.1:{port}")), Some(format!("http://localhost:{port}")), None] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", o.as_str())).collect();
        let mut client = connect(&url, &headers).await.unwrap_or_else(|e| panic!("Origin {origin:?} refused: {e}"));
        handshake(&mut client).await;
    }
    let mut client = connect(&url, &[("Host", &format!("localhost:{port}")), ("Origin", &format!("http://localhost:{port}"))]).await.expect("localhost accepted");
    handshake(&mut client).await;

    // The token as a subprotocol; the server selects callcoach.v1 and never echoes the token.
    let protocols = format!("callcoach.v1, callcoach.token.{}", server.token.as_str());
    let mut request = server.ws_url("").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    let (mut client, response) = tokio_tungstenite::connect_async(request).await.expect("subprotocol token accepted");
    assert_eq!(response.headers().get("sec-websocket-protocol").unwrap(), "callcoach.v1");
    handshake(&mut client).await;
    let wrong_protocols = format!("callcoach.v1, callcoach.token.{wrong}");
    let mut request = server.ws_url("").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", wrong_protocols.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("wrong subprotocol token accepted: {:?}", other.map(|_| ())),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_closes_the_connection_with_1009() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    handshake(&mut client).await;
    client.send(Message::Text("x".repeat(100 * 1024))).await.expect("sent");
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.expect("close frame has a code").code, CloseCode::Size);
    // The server is still fine for everyone else; a message at the limit is allowed.
    let mut other = server.connect().await;
    handshake(&mut other).await;
    let at_limit = format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "y".repeat(64 * 1024 - 30));
    assert!(at_limit.len() <= 64 * 1024);
    other.send(Message::Text(at_limit)).await.unwrap();
    assert_eq!(next_json(&mut other, Duration::from_secs(5)).await["type"], "pong");
    // Binary messages are refused with 1003.
    other.send(Message::Binary(vec![1, 2, 3])).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), other.next()).await.unwrap() {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Unsupported),
        other => panic!("expected close 1003, got {other:?}"),
    }
    server.stop().await;
}

/// A WebSocket client over a socket with a tiny receive buffer, so that not
/// reading it backs up into the server quickly.
async fn stuck_client(server: &TestServer) -> RawClient {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let request = server.ws_url(&format!("?token={}", server.token.as_str())).into_client_request().unwrap();
    let (socket, _) = tokio_tungstenite::client_async(request, stream).await.expect("stuck client connects");
    socket
}

/// Waits until the hub has `count` subscribed clients (a session subscribes
/// just after the upgrade, a moment after the client sees the 101).
async fn wait_for_clients(hub: &Hub, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while hub.stats().clients != count {
        assert!(Instant::now() < deadline, "expected {count} clients, have {:?}", hub.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A 1 KB partial segment: the bulk of a flood.
fn filler(i: usize) -> Event {
    Event::Segment { speaker: Speaker::Prospect, start_s: i as f64, end_s: i as f64 + 1.0, text: format!("{i:05} {}", "w".repeat(1000)), is_final: false }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_delay_others_and_is_resynced() {
    let server = TestServer::start_with(|config| config.limits.send_stall_timeout = Duration::from_secs(30)).await;
    server.publish(started("flood"));
    let mut stuck = stuck_client(&server).await;
    let mut good = server.connect().await;
    handshake(&mut good).await;
    wait_for_clients(&server.hub, 2).await;

    // The reading client records when each prompt arrives.
    let base = Instant::now();
    let arrivals: Arc<Mutex<Vec<(u64, f64)>>> = Arc::default();
    let reader_arrivals = arrivals.clone();
    let reader = tokio::spawn(async move {
        let mut received = 0usize;
        let mut resyncs = 0usize;
        while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(10), good.next()).await {
            let Message::Text(text) = message else { continue };
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            received += 1;
            match value["type"].as_str() {
                Some("prompt") => {
                    let latency_ms = base.elapsed().as_secs_f64() * 1e3 - value["sent_ms"].as_f64().unwrap();
                    let id = value["id"].as_u64().unwrap();
                    reader_arrivals.lock().unwrap().push((id, latency_ms));
                    if id == u64::MAX {
                        break;
                    }
                }
                Some("snapshot") => resyncs += 1,
                _ => {}
            }
        }
        (received, resyncs, good)
    });

    // The pipeline: 2000 events of ~1 KB at ~1 kHz from a plain thread,
    // a prompt every 100th.
    let hub = server.hub.clone();
    let publisher = std::thread::spawn(move || {
        let mut publish_times = Vec::with_capacity(2001);
        let mut prompts = 0u64;
        for i in 0..2000usize {
            let event = if i % 100 == 50 {
                prompts += 1;
                Event::Prompt(serde_json::json!({"id": i, "kind": "talk_ratio_high", "severity": "warn", "title": "Talk less", "sent_ms": base.elapsed().as_secs_f64() * 1e3}))
            } else {
                filler(i)
            };
            let line = events::to_json_line(&event);
            let started = Instant::now();
            hub.publish(&event, &line);
            publish_times.push(started.elapsed());
            std::thread::sleep(Duration::from_micros(900));
        }
        let last = Event::Prompt(serde_json::json!({"id": u64::MAX, "kind": "talk_ratio_high", "severity": "warn", "sent_ms": base.elapsed().as_secs_f64() * 1e3}));
        hub.publish(&last, &events::to_json_line(&last));
        publish_times.sort();
        (prompts + 1, publish_times)
    });
    let (prompts_sent, publish_times) = tokio::task::spawn_blocking(move || publisher.join().unwrap()).await.unwrap();
    let flood_s = base.elapsed().as_secs_f64();
    let (received, resyncs, mut good) = reader.await.unwrap();

    let arrivals = arrivals.lock().unwrap().clone();
    let mut latencies: Vec<f64> = arrivals.iter().map(|(_, ms)| *ms).collect();
    latencies.sort_by(f64::total_cmp);
    let max = *latencies.last().unwrap();
    let p50 = latencies[latencies.len() / 2];
    let stats = server.hub.stats();
    eprintln!(
        "flood: 2001 events in {flood_s:.2} s; good client got {received} messages, {} prompts, prompt latency p50 {p50:.2} ms max {max:.2} ms; \
         publish p50 {:.1} µs p99 {:.1} µs max {:.1} µs; stuck client overflows {} dropped {}",
        arrivals.len(),
        publish_times[publish_times.len() / 2].as_secs_f64() * 1e6,
        publish_times[publish_times.len() * 99 / 100].as_secs_f64() * 1e6,
        publish_times.last().unwrap().as_secs_f64() * 1e6,
        stats.overflows,
        stats.dropped_messages,
    );
    assert_eq!(arrivals.len() as u64, prompts_sent, "the reading client got every prompt");
    assert_eq!(resyncs, 0, "the reading client never fell behind");
    assert!(received >= 2001, "the reading client got every event ({received})");
    assert!(max <= 100.0, "a prompt took {max:.1} ms to reach the reading client");
    assert!(stats.overflows >= 1, "the stuck client's queue overflowed: {stats:?}");
    assert_eq!(stats.clients, 2);

    // The stuck client starts reading: it gets a resync snapshot, then the live stream.
    let mut saw_resync = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let value = next_json(&mut stuck, Duration::from_secs(5)).await;
        if value["type"] == "snapshot" && value["reason"] == "resync" {
            assert_eq!(value["call"]["call_id"], "flood");
            assert_eq!(value["prompts"].as_array().unwrap().len(), 20);
            saw_resync = true;
            break;
        }
    }
    assert!(saw_resync, "the stuck client was resynced when it drained");
    let line = server.publish(prompt("monologue_long", 9999, "alert"));
    let message = loop {
        let message = tokio::time::timeout(Duration::from_secs(5), stuck.next()).await.unwrap().unwrap().unwrap();
        if message.to_text().unwrap().contains("9999") {
            break message;
        }
    };
    assert_eq!(message, Message::Text(line.clone()));
    assert_eq!(next_json(&mut good, Duration::from_secs(5)).await["id"], 9999);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stays_stuck_is_disconnected() {
    let server = TestServer::start_with(|config| config.limits.send_stall_timeout = Duration::from_millis(300)).await;
    let _stuck = stuck_client(&server).await;
    let mut good = server.connect().await;
    handshake(&mut good).await;
    wait_for_clients(&server.hub, 2).await;
    // The reading client keeps reading until the marker prompt arrives.
    let marker = prompt("ask_and_wait", 1, "info");
    let marker_line = events::to_json_line(&marker);
    let expected = marker_line.clone();
    let reader = tokio::spawn(async move {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), good.next()).await.unwrap().unwrap().unwrap();
            if message == Message::Text(expected.clone()) {
                return;
            }
        }
    });
    for i in 0..1000 {
        server.publish(filler(i));
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.hub.stats().clients > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = server.hub.stats();
    assert_eq!(stats.clients, 1, "the stuck client was dropped: {stats:?}");
    assert_eq!(stats.stalled_disconnects, 1);
    // The reading client is still served.
    server.hub.publish(&marker, &marker_line);
    tokio::time::timeout(Duration::from_secs(10), reader).await.expect("the reading client got everything").unwrap();
    server.stop().await;
}

#[test]
fn publish_stays_fast_with_a_stuck_client() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = runtime.block_on(TestServer::start());
    let _stuck = runtime.block_on(stuck_client(&server));
    runtime.block_on(wait_for_clients(&server.hub, 1));
    // Publishing from a plain thread, as the pipeline does.
    let events: Vec<(Event, String)> = (0..10_000).map(|i| {
        let event = filler(i);
        let line = events::to_json_line(&event);
        (event, line)
    }).collect();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for (event, line) in &events {
        let one = Instant::now();
        server.hub.publish(event, line);
        slowest = slowest.max(one.elapsed());
    }
    let total = started.elapsed();
    let stats = server.hub.stats();
    eprintln!("10k publishes of 1 KB with a stuck client: {:.1} ms total, slowest {:.1} µs; {stats:?}", total.as_secs_f64() * 1e3, slowest.as_secs_f64() * 1e6);
    assert!(total < Duration::from_millis(500), "10k publishes took {total:?}");
    assert!(stats.overflows >= 1);
    runtime.block_on(server.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_carries_the_token_and_the_security_headers() {
    let server = TestServer::start().await;
    let (status, headers, body) = http(server.addr, "GET", "/", &[], "").await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!(r#"<meta name="callcoach-token" content="{}">"#, server.token.as_str())));
    assert!(body.contains(r#"id="talk-ratio""#) && body.contains(r#"id="prompts""#) && body.contains(r#"id="objection-card""#));
    assert!(!body.contains("http://") && !body.contains("https://"), "no CDN or remote asset");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
    assert!(header(&headers, "content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    assert!(header(&headers, "content-type").unwrap().starts_with("text/html"));
    assert!(headers.iter().all(|(name, _)| !name.starts_with("access-control-")), "no CORS headers: {headers:?}");

    for (path, content_type) in [("/overlay.js", "text/javascript"), ("/overlay.css", "text/css")] {
        let (status, headers, body) = http(server.addr, "GET", path, &[], "").await;
        assert_eq!(status, 200, "{path}");
        assert!(header(&headers, "content-type").unwrap().starts_with(content_type));
        assert!(!body.contains(server.token.as_str()));
    }
    let (status, _, body) = http(server.addr, "GET", "/healthz", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["ok"], true);

    // Another site (or another name for this address) gets nothing.
    let port = server.addr.port();
    for headers in [vec![("Host", format!("evil.example:{port}"))], vec![("Origin", "https://evil.example".to_string())], vec![("Host", "127.0.0.1".to_string())]] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, _, body) = http(server.addr, "GET", "/", &headers, "").await;
        assert_eq!(status, 403, "{headers:?}");
        assert!(!body.contains(server.token.as_str()));
    }
    let (status, _, _) = http(server.addr, "GET", "/nope", &[], "").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_needs_the_token_and_yields_commands() {
    let mut server = TestServer::start().await;
    let bearer = format!("Bearer {}", server.token.as_str());
    let json = ("Content-Type", "application/json");
    let body = r#"{"account":"ACME","contact":"Dana Lee","role":"VP Operations","agenda":["pricing","timeline"],"minutes":30}"#;

    let (status, _, reply) = http(server.addr, "POST", "/api/call/start", &[("Authorization", &bearer), json], body).await;
    assert_eq!(status, 202, "{reply}");
    let command = tokio::time::timeout(Duration::from_secs(1), server.control.recv()).await.unwrap().unwrap();
    assert_eq!(
        command,
        ControlCommand::StartCall(CallPrep {
            account: Some("ACME".into()),
            contact: Some("Dana Lee".into()),
            role: Some("VP Operations".into()),
            agenda: vec!["pricing".into(), "timeline".into()],
            minutes: Some(30),
        })
    );
    let (status, _, _) = http(server.addr, "POST", "/api/call/end", &[("Authorization", &bearer)], "").await;
    assert_eq!(status, 202);
    assert_eq!(server.control.recv().await, Some(ControlCommand::EndCall));

    let (status, headers, _) = http(server.addr, "POST", "/api/call/start", &[json], body).await;
    assert_eq!(status, 401);
    assert_eq!(header(&headers, "www-authenticate"), Some("Bearer"));
    let (status, _, _) = http(server.addr, "POST", "/api/call/end", &[("Authorization", "Bearer 0123")], "").await;
    assert_eq!(status, 403);
    let (status, _, _) = http(server.addr, "POST", "/api/call/end", &[("Authorization", &bearer), ("Origin", "https://evil.example")], "").await;
    assert_eq!(status, 403, "a foreign page cannot end the call even with the token");
    let (status, _, reply) = http(server.addr, "POST", "/api/call/start", &[("Authorization", &bearer), json], r#"{"acount":"typo"}"#).await;
    assert_eq!(status, 400);
    assert!(reply.contains("acount"), "{reply}");
    let big = format!(r#"{{"account":"{}"}}"#, "a".repeat(70 * 1024));
    let (status, _, _) = http(server.addr, "POST", "/api/call/start", &[("Authorization", &bearer), json], &big).await;
    assert_eq!(status, 413);
    let (status, _, _) = http(server.addr, "GET", "/api/call/start", &[("Authorization", &bearer)], "").await;
    assert_eq!(status, 405);
    assert!(server.control.try_recv().is_err(), "refused requests sent no command");

    // The overlay's buttons: the same commands over the WebSocket.
    let mut client = server.connect().await;
    handshake(&mut client).await;
    client.send(Message::Text(r#"{"type":"control","action":"start_call","account":"Globex"}"#.into())).await.unwrap();
    let ack = next_json(&mut client, Duration::from_secs(5)).await;
    assert_eq!((ack["type"].as_str(), ack["action"].as_str(), ack["ok"].as_bool()), (Some("control_ack"), Some("start_call"), Some(true)));
    assert_eq!(server.control.recv().await, Some(ControlCommand::StartCall(CallPrep { account: Some("Globex".into()), ..CallPrep::default() })));
    client.send(Message::Text(r#"{"type":"control","action":"end_call"}"#.into())).await.unwrap();
    assert_eq!(next_json(&mut client, Duration::from_secs(5)).await["ok"], true);
    assert_eq!(server.control.recv().await, Some(ControlCommand::EndCall));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websockets_and_stops_the_server() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    handshake(&mut client).await;
    let reader = tokio::spawn(async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), client.next()).await.expect("closed in time") {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    });
    let _stuck = stuck_client(&server).await;
    wait_for_clients(&server.hub, 2).await;
    // Enough to wedge the stuck client's session in a write.
    for i in 0..1000 {
        server.publish(filler(i));
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    assert!(server.hub.stats().overflows >= 1, "the stuck client is stuck");
    let addr = server.addr;
    let started = Instant::now();
    server.shutdown.cancel();
    let close = reader.await.unwrap();
    assert_eq!(close.expect("close frame has a code").code, CloseCode::Away, "the reading client is told why");
    tokio::time::timeout(Duration::from_secs(5), server.task).await.expect("run() returns").unwrap();
    let took = started.elapsed();
    eprintln!("shutdown with a reading and a stuck client took {:.1} ms", took.as_secs_f64() * 1e3);
    assert!(took < Duration::from_secs(1), "a stuck client held up shutdown for {took:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
}

#[test]
fn token_file_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config/callcoach/token");
    let token = load_or_create_token(&path).unwrap();
    assert_eq!(token.as_str().len(), 64);
    assert!(token.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(load_or_create_token(&path).unwrap(), token, "the same token on every start");
}
