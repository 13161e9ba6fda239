// Clawgate chat page: one WebSocket to /v1/ws (docs/protocol.md, "WebSocket hub").
// Sends `chat` frames with the conversation so far, streams `delta` text into the
// assistant bubble, shows `done` stats and `error` frames, and can `cancel`.
"use strict";

const $ = (sel) => document.querySelector(sel);
const els = {
  model: $("#model"),
  status: $("#status"),
  messages: $("#messages"),
  composer: $("#composer"),
  prompt: $("#prompt"),
  send: $("#send"),
  cancel: $("#cancel"),
  newChat: $("#new-chat"),
};

let ws = null;
let reconnectDelay = 500;
let nextId = 1;
/** The conversation sent with each chat: [{role, content}]. */
let conversation = [];
/** The request in flight: {id, bubble, text, userIndex} or null. */
let current = null;

function setStatus(state, text) {
  els.status.dataset.state = state;
  els.status.textContent = text;
}

function updateButtons() {
  const open = ws !== null && ws.readyState === WebSocket.OPEN;
  els.send.disabled = !open || current !== null || els.model.options.length === 0;
  els.cancel.hidden = current === null;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  setStatus("connecting", "connecting…");
  ws = new WebSocket(`${scheme}//${location.host}/v1/ws`);
  ws.addEventListener("open", () => {
    reconnectDelay = 500;
    setStatus("open", "connected");
    updateButtons();
  });
  ws.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      notice("the gateway sent a frame that is not JSON");
      return;
    }
    handle(frame);
  });
  ws.addEventListener("close", () => {
    if (current) failCurrent("connection lost");
    setStatus("closed", "disconnected; retrying");
    updateButtons();
    setTimeout(connect, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 10000);
  });
}

function handle(frame) {
  switch (frame.type) {
    case "welcome": return onWelcome(frame);
    case "start": return onStart(frame);
    case "delta": return onDelta(frame);
    case "done": return onDone(frame);
    case "error": return onError(frame);
    default: return; // pong and frames this page does not use
  }
}

function onWelcome(frame) {
  const previous = els.model.value;
  els.model.replaceChildren();
  for (const m of frame.models || []) {
    if (m.kinds && !m.kinds.includes("chat")) continue;
    const option = document.createElement("option");
    option.value = option.textContent = m.id;
    els.model.append(option);
  }
  if ([...els.model.options].some((o) => o.value === previous)) els.model.value = previous;
  els.model.disabled = els.model.options.length === 0;
  if (els.model.options.length === 0) notice("the gateway has no chat models configured");
  updateButtons();
}

function onStart(frame) {
  if (!current || frame.id !== current.id) return;
  current.bubble.querySelector(".meta").textContent = `${frame.model} · ${frame.deployment || frame.provider}`;
}

function onDelta(frame) {
  if (!current || frame.id !== current.id) return;
  const textEl = current.bubble.querySelector(".text");
  if (frame.text) {
    current.text += frame.text;
    textEl.textContent += frame.text;
  }
  for (const call of frame.tool_calls || []) {
    const fn = call.function || {};
    textEl.textContent += `${fn.name ? `\n[tool call ${fn.name}] ` : ""}${fn.arguments || ""}`;
  }
  scrollDown();
}

function onDone(frame) {
  if (!current || frame.id !== current.id) return;
  const u = frame.usage || {};
  const parts = [
    `${u.prompt_tokens ?? "?"} in / ${u.completion_tokens ?? "?"} out tokens`,
    typeof frame.cost_usd === "number" ? `$${frame.cost_usd.toFixed(6)}` : null,
    typeof frame.ttft_ms === "number" ? `first token ${Math.round(frame.ttft_ms)} ms` : null,
    typeof frame.latency_ms === "number" ? `total ${Math.round(frame.latency_ms)} ms` : null,
    frame.attempts > 1 ? `${frame.attempts} attempts` : null,
  ].filter(Boolean);
  const stats = current.bubble.querySelector(".stats");
  stats.textContent = parts.join(" · ");
  stats.hidden = false;
  conversation.push({ role: "assistant", content: current.text });
  finish();
}

function onError(frame) {
  if (current && frame.id === current.id) {
    failCurrent(`${frame.code}: ${frame.message}`);
  } else {
    notice(`error ${frame.code}: ${frame.message}`);
  }
}

function failCurrent(message) {
  const { bubble, text, userIndex } = current;
  bubble.classList.add("error");
  const err = bubble.querySelector(".error-text");
  err.textContent = message;
  err.hidden = false;
  // Keep a partial answer in the history; with none, forget the question so it can be asked again.
  if (text) conversation.push({ role: "assistant", content: text });
  else conversation.splice(userIndex, 1);
  finish();
}

function finish() {
  current.bubble.classList.remove("pending");
  current = null;
  updateButtons();
  els.prompt.focus();
}

function bubble(role, text) {
  const el = document.createElement("div");
  el.className = `message ${role}`;
  if (role === "assistant") {
    el.innerHTML = '<span class="meta"></span><span class="text"></span>' +
      '<span class="stats" hidden></span><span class="error-text" hidden></span>';
  } else {
    el.textContent = text;
  }
  els.messages.append(el);
  scrollDown();
  return el;
}

function notice(text) {
  const el = document.createElement("div");
  el.className = "notice";
  el.textContent = text;
  els.messages.append(el);
  scrollDown();
}

function scrollDown() {
  els.messages.scrollTop = els.messages.scrollHeight;
}

function send() {
  const text = els.prompt.value.trim();
  if (!text || current || !ws || ws.readyState !== WebSocket.OPEN) return;
  els.prompt.value = "";
  bubble("user", text);
  conversation.push({ role: "user", content: text });
  const assistant = bubble("assistant");
  assistant.classList.add("pending");
  current = { id: `c${nextId++}`, bubble: assistant, text: "", userIndex: conversation.length - 1 };
  ws.send(JSON.stringify({ type: "chat", id: current.id, model: els.model.value, messages: conversation }));
  updateButtons();
}

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
els.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    send();
  }
});
els.cancel.addEventListener("click", () => {
  if (current && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "cancel", id: current.id }));
});
els.newChat.addEventListener("click", () => {
  if (current) return;
  conversation = [];
  els.messages.replaceChildren();
  els.prompt.focus();
});

connect();
