// callcoach overlay: connects to the daemon's WebSocket (protocol v1, see
// src/server/mod.rs), applies the snapshot on every (re)connect, then the live
// event stream. Vanilla JS, no dependencies; all text goes in via textContent.
"use strict";

(function () {
  const PROTOCOL = 1;
  const MAX_PROMPT_CARDS = 12;
  const MAX_TRANSCRIPT = 30;
  const TALK_RATIO_LIMIT = 0.65;
  const MONOLOGUE_WARN_S = 60;
  const MONOLOGUE_ALERT_S = 90;
  const PING_EVERY_MS = 20000;
  const STALE_AFTER_MS = 45000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;

  const $ = (selector) => document.querySelector(selector);
  const token = (document.querySelector('meta[name="callcoach-token"]') || {}).content || "";

  const state = {
    socket: null,
    attempts: 0,
    lastMessageAt: 0,
    callActive: false,
    prospectName: "",
    messagesReceived: 0,
    snapshots: 0,
    dismissed: loadDismissed(),
  };
  // For tests and debugging in the console; read-only use.
  window.callcoachOverlay = state;

  // ---------- helpers ----------
  function num(value) {
    return typeof value === "number" && isFinite(value) ? value : null;
  }
  function str(value) {
    return value === undefined || value === null ? "" : String(value);
  }
  function clock(seconds) {
    const s = Math.max(0, Math.floor(num(seconds) || 0));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function loadDismissed() {
    try {
      return new Set(JSON.parse(sessionStorage.getItem("callcoach-dismissed") || "[]"));
    } catch (_) {
      return new Set();
    }
  }
  function saveDismissed() {
    try {
      sessionStorage.setItem("callcoach-dismissed", JSON.stringify([...state.dismissed].slice(-200)));
    } catch (_) {
      /* storage may be unavailable; dismissals then last until reload */
    }
  }
  function promptKey(prompt) {
    return prompt.id !== undefined && prompt.id !== null ? String(prompt.id) : `${prompt.kind}@${prompt.t_emit_s}`;
  }

  // ---------- call lifecycle ----------
  function resetCall() {
    $("#prompts").replaceChildren();
    $("#transcript").replaceChildren();
    $("#objection-card").hidden = true;
    $("#objection-card").dataset.state = "none";
    setNextStep("pending", "not yet");
    setRatio("#talk-ratio-window", null);
    setRatio("#talk-ratio-overall", null);
    setMonologue(null);
    $("#call-clock").textContent = "0:00";
    $("#brief").hidden = true;
    $("#health-alert").hidden = true;
    setCallActive(false);
    $("#call-title").textContent = "No call";
  }

  function setCallActive(active) {
    state.callActive = active;
    $("#overlay").dataset.call = active ? "active" : "idle";
    const recording = $("#recording");
    recording.dataset.state = active ? "recording" : "idle";
    recording.querySelector(".label").textContent = active ? "rec" : "idle";
    $("#start-call").disabled = active;
    $("#end-call").disabled = !active;
  }

  function onCallStarted(message) {
    resetCall();
    setCallActive(true);
    const prep = message.prep || {};
    // The pipeline sends the coach's prep (`contact_name`); a hand-made event may say `contact`.
    const contact = str(prep.contact_name || prep.contact);
    state.prospectName = contact;
    const title = [prep.account, contact].filter(Boolean).join(" · ");
    $("#call-title").textContent = title || str(message.call_id) || "Call";
  }

  function onCallEnded(message) {
    setCallActive(false);
    if (num(message.t_s) !== null) $("#call-clock").textContent = clock(message.t_s);
    clearPartials();
  }

  function onBriefReady(message) {
    const brief = $("#brief");
    brief.textContent = `Brief ready: ${str(message.path)}`;
    brief.hidden = false;
  }

  // ---------- metrics ----------
  function setRatio(selector, ratio) {
    const gauge = $(selector);
    const value = num(ratio);
    if (value === null) {
      gauge.dataset.level = "none";
      gauge.querySelector(".value").textContent = "—";
      gauge.querySelector(".rep").style.width = "0%";
      return;
    }
    const pct = Math.round(Math.min(1, Math.max(0, value)) * 100);
    gauge.dataset.level = value >= TALK_RATIO_LIMIT ? "high" : "ok";
    gauge.querySelector(".value").textContent = `${pct}% / ${100 - pct}%`;
    gauge.querySelector(".rep").style.width = `${pct}%`;
  }

  function setMonologue(seconds) {
    const box = $("#monologue");
    const s = num(seconds);
    $("#monologue-timer").textContent = s === null ? "0:00" : clock(s);
    box.dataset.level = s === null ? "ok" : s >= MONOLOGUE_ALERT_S ? "alert" : s >= MONOLOGUE_WARN_S ? "warn" : "ok";
  }

  function onMetrics(m) {
    const talked = (num(m.talk_s_rep) || 0) + (num(m.talk_s_prospect) || 0);
    setRatio("#talk-ratio-overall", talked > 0 ? m.talk_ratio_rep : null);
    const windowRatio = num(m.talk_ratio_rep_window);
    setRatio("#talk-ratio-window", windowRatio !== null ? windowRatio : talked > 0 ? m.talk_ratio_rep : null);
    setMonologue(m.current_rep_monologue_s);
    if (num(m.t_s) !== null) $("#call-clock").textContent = clock(m.t_s);
    if (m.next_step_secured === true && $("#next-step").dataset.state !== "secured") {
      setNextStep("secured", "secured");
    }
  }

  // ---------- health ----------
  function setLevel(selector, db) {
    const meter = $(selector);
    const value = num(db);
    const pct = value === null ? 0 : Math.round(Math.min(1, Math.max(0, (value + 60) / 60)) * 100);
    meter.querySelector(".fill").style.width = `${pct}%`;
    meter.querySelector(".db").textContent = value === null || value <= -100 ? "—" : `${Math.round(value)} dB`;
    meter.dataset.level = value === null || value < -55 ? "silent" : value > -3 ? "hot" : "ok";
  }

  function onHealth(h) {
    setLevel("#level-rep", h.level_db_rep);
    setLevel("#level-prospect", h.level_db_prospect);
    const problems = [];
    if (h.far_end_silent) problems.push("Far end silent: check the call audio source");
    if ((num(h.backlog) || 0) > 4) problems.push(`Transcription behind (${h.backlog} waiting)`);
    const event = h.event;
    if (event && event.kind === "device_lost") problems.push(`${str(event.speaker) === "rep" ? "Mic" : "Call audio"} lost: ${str(event.reason || event.device)}`);
    const alert = $("#health-alert");
    alert.textContent = problems.join(" · ");
    alert.hidden = problems.length === 0;
  }

  // ---------- transcript ----------
  function speakerLabel(speaker) {
    return speaker === "rep" ? "You" : state.prospectName || "Them";
  }

  function clearPartials(speaker) {
    const selector = speaker ? `.segment.partial[data-speaker="${speaker === "rep" ? "rep" : "prospect"}"]` : ".segment.partial";
    document.querySelectorAll(`#transcript ${selector}`).forEach((node) => node.remove());
  }

  function onSegment(segment) {
    const transcript = $("#transcript");
    const speaker = segment.speaker === "rep" ? "rep" : "prospect";
    const text = str(segment.text).trim();
    const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 30;
    clearPartials(speaker);
    if (!text) return;
    const line = el("div", `segment ${segment.final ? "final" : "partial"}`);
    line.dataset.speaker = speaker;
    if (num(segment.start_s) !== null) line.dataset.start = String(segment.start_s);
    line.append(el("span", "who", speakerLabel(speaker)), el("span", "text", text));
    // Finals go before any live partial of the other speaker.
    const partial = transcript.querySelector(".segment.partial");
    if (segment.final && partial) transcript.insertBefore(line, partial);
    else transcript.append(line);
    const finals = transcript.querySelectorAll(".segment.final");
    for (let i = 0; i < finals.length - MAX_TRANSCRIPT; i++) finals[i].remove();
    if (atBottom) transcript.scrollTop = transcript.scrollHeight;
  }

  // ---------- prompts ----------
  function onPrompt(prompt) {
    if (str(prompt.kind) === "objection_withdrawn") return withdrawCard(prompt);
    applyPromptState(prompt);
    addPromptCard(prompt);
  }

  // An early objection card the final transcript did not bear out: take it down.
  function withdrawCard(prompt) {
    const key = String(prompt.revises);
    const card = [...$("#prompts").children].find((c) => c.dataset.id === key);
    if (card) card.remove();
    const objection = $("#objection-card");
    if (objection.dataset.promptId === key) {
      objection.hidden = true;
      objection.dataset.state = "none";
    }
  }

  // What a prompt says about the objection card and the next step.
  function applyPromptState(prompt) {
    const kind = str(prompt.kind);
    if (kind === "objection_detected") showObjection(prompt);
    else if (kind === "objection_handled") setObjectionState("handled", "handled ✓");
    else if (kind === "objection_unanswered") setObjectionState("unanswered", "not answered yet");
    else if (kind === "next_step_secured") setNextStep("secured", str(prompt.body || prompt.evidence) || "secured");
    else if (kind === "no_next_step") setNextStep("missing", str(prompt.title) || "none agreed yet");
  }

  function addPromptCard(prompt) {
    const key = promptKey(prompt);
    // A prompt that revises an earlier card (the final words confirming an
    // early one) takes its place, and stays dismissed if that one was.
    const replaces = prompt.revises !== undefined && prompt.revises !== null ? String(prompt.revises) : key;
    if (replaces !== key && state.dismissed.has(replaces)) state.dismissed.add(key);
    if (state.dismissed.has(key)) return;
    const list = $("#prompts");
    const existing = [...list.children].find((card) => card.dataset.id === replaces || card.dataset.id === key);
    const severity = ["info", "warn", "alert", "positive"].includes(prompt.severity) ? prompt.severity : "info";
    const card = el("article", "prompt-card");
    card.dataset.id = key;
    card.dataset.kind = str(prompt.kind) || "info";
    card.dataset.severity = severity;
    card.append(
      el("div", "title", str(prompt.title) || str(prompt.kind).replace(/_/g, " ")),
      el("div", "body", str(prompt.body)),
      el("div", "evidence", str(prompt.evidence)),
      el("span", "time", num(prompt.t_emit_s) !== null ? clock(prompt.t_emit_s) : ""),
    );
    const dismiss = el("button", "dismiss", "×");
    dismiss.type = "button";
    dismiss.title = "Dismiss";
    dismiss.setAttribute("aria-label", "Dismiss");
    dismiss.addEventListener("click", () => {
      state.dismissed.add(key);
      saveDismissed();
      card.remove();
    });
    card.append(dismiss);
    if (existing) existing.replaceWith(card);
    else list.prepend(card);
    while (list.children.length > MAX_PROMPT_CARDS) list.lastElementChild.remove();
  }

  function showObjection(prompt) {
    const card = $("#objection-card");
    const type = str(prompt.objection_type || prompt.objection || prompt.category);
    card.querySelector(".objection-type").textContent = type ? `${type} objection` : str(prompt.title) || "Objection";
    card.querySelector(".objection-quote").textContent = str(prompt.evidence);
    card.querySelector(".prepared-answer").textContent = str(prompt.body || prompt.response);
    card.dataset.kind = "objection_detected";
    card.dataset.objection = type;
    card.dataset.promptId = String(prompt.id);
    card.dataset.early = prompt.early ? "true" : "false";
    setObjectionState("open", "open");
    card.hidden = false;
  }

  function setObjectionState(which, label) {
    const card = $("#objection-card");
    if (card.hidden && which !== "open") return;
    card.dataset.state = which;
    card.querySelector(".objection-state").textContent = label;
  }

  function setNextStep(which, label) {
    const box = $("#next-step");
    box.dataset.state = which;
    box.querySelector(".value").textContent = label;
  }

  // ---------- snapshot ----------
  function applySnapshot(snapshot) {
    state.snapshots += 1;
    resetCall();
    if (snapshot.call) onCallStarted(snapshot.call);
    // Oldest first, so later prompts win: the objection before the prompt
    // tail, what became of it after.
    if (snapshot.objection) showObjection(snapshot.objection);
    (snapshot.prompts || []).forEach(onPrompt);
    if (snapshot.objection_status) applyPromptState(snapshot.objection_status);
    if (snapshot.next_step) applyPromptState(snapshot.next_step);
    (snapshot.transcript || []).forEach(onSegment);
    (snapshot.partials || []).forEach(onSegment);
    if (snapshot.metrics) onMetrics(snapshot.metrics);
    (snapshot.device_events || []).forEach(onHealth);
    if (snapshot.health) onHealth(snapshot.health);
    if (snapshot.call_ended) onCallEnded(snapshot.call_ended);
    if (snapshot.brief) onBriefReady(snapshot.brief);
  }

  // ---------- messages ----------
  const handlers = {
    hello(message) {
      if (message.protocol !== PROTOCOL) setControlStatus(`server speaks protocol ${message.protocol}; this page ${PROTOCOL}`, false);
    },
    snapshot: applySnapshot,
    call_started: onCallStarted,
    call_ended: onCallEnded,
    brief_ready: onBriefReady,
    metrics: onMetrics,
    health: onHealth,
    segment: onSegment,
    prompt: onPrompt,
    pong() {},
    control_ack(message) {
      const action = str(message.action).replace(/_/g, " ");
      setControlStatus(message.ok ? `${action}: sent` : `${action}: ${str(message.error)}`, !!message.ok);
    },
    error(message) {
      setControlStatus(str(message.message), false);
    },
  };

  function onMessage(event) {
    state.lastMessageAt = Date.now();
    state.messagesReceived += 1;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    const handler = message && handlers[message.type];
    if (!handler) return; // newer server, unknown message: ignore
    try {
      handler(message);
    } catch (error) {
      console.error("callcoach: could not apply", message.type, error);
    }
  }

  // ---------- connection ----------
  function setConnection(which, label) {
    $("#overlay").dataset.connection = which;
    const badge = $("#connection");
    badge.dataset.state = which;
    badge.textContent = label;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`;
    setConnection("connecting", state.attempts ? "reconnecting…" : "connecting…");
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.attempts = 0;
      state.lastMessageAt = Date.now();
      setConnection("open", "live");
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      state.socket = null;
      setConnection("closed", "offline");
      scheduleReconnect();
    });
    socket.addEventListener("error", () => {
      /* a close event follows */
    });
  }

  function scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempts);
    state.attempts += 1;
    setTimeout(connect, base / 2 + Math.random() * (base / 2));
  }

  // Keep-alive, and reconnect if the server went quiet without closing.
  setInterval(() => {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - state.lastMessageAt > STALE_AFTER_MS) {
      socket.close();
      return;
    }
    socket.send(JSON.stringify({ type: "ping" }));
  }, PING_EVERY_MS);

  // ---------- controls ----------
  function setControlStatus(text, ok) {
    const status = $("#control-status");
    status.textContent = text;
    status.dataset.ok = ok ? "true" : "false";
  }

  function send(message) {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      setControlStatus("not connected to the coach", false);
      return false;
    }
    socket.send(JSON.stringify(message));
    return true;
  }

  function prepFromForm() {
    const message = { type: "control", action: "start_call" };
    const text = (id) => $(id).value.trim();
    if (text("#prep-account")) message.account = text("#prep-account");
    if (text("#prep-contact")) message.contact = text("#prep-contact");
    if (text("#prep-role")) message.role = text("#prep-role");
    const agenda = $("#prep-agenda").value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (agenda.length) message.agenda = agenda;
    const minutes = parseInt(text("#prep-minutes"), 10);
    if (minutes > 0) message.minutes = minutes;
    return message;
  }

  $("#start-call").addEventListener("click", () => {
    if (send(prepFromForm())) setControlStatus("starting…", true);
  });
  $("#end-call").addEventListener("click", () => {
    if (send({ type: "control", action: "end_call" })) setControlStatus("ending…", true);
  });

  resetCall();
  connect();
})();
