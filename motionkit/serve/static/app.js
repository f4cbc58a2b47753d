// motionkit's web page: video jobs over HTTP and live sessions over a WebSocket (protocol: docs/serve.md).
// Live frames are scheduled against the audio clock: the audio sample the page sent at AudioContext time t0 + a
// belongs to the frames whose audio_time is a, and is heard (file mode: played through a delay of `delay` seconds)
// at t0 + a + delay; each frame is drawn at the first display refresh at or after that time.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const tokenQuery = token ? "?token=" + encodeURIComponent(token) : "";
const headers = token ? { Authorization: "Bearer " + token } : {};
const CHUNK_SECONDS = 0.02; // audio is sent in 20 ms chunks
const FRAME_MAGIC = "MKF1";

const live = {
  ws: null, ctx: null, source: null, stream: null, t0: null, delay: 0.5, fps: 25,
  queue: [], pending: [], pendingLength: 0, chunk: 960,
  errors: [], late: 0, skipped: 0, shown: 0, received: 0, applied: [], messages: [], stats: null, done: null,
  running: false,
};
window.motionkitLive = live; // the page's live state, for the curious and for tests

function $(id) { return document.getElementById(id); }

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers, ...(options.headers || {}) } });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.message || body?.detail || response.statusText);
  return body;
}

async function init() {
  const info = await api("/v1/info");
  for (const select of [$("live-portrait"), $("job-portrait")]) {
    for (const name of info.presets) select.add(new Option(name, name));
  }
  for (const select of [$("live-emotion"), $("job-emotion")]) {
    select.add(new Option("(model default)", ""));
    for (const name of info.emotions) select.add(new Option(name, name));
  }
  $("live-start").onclick = () => startLive().catch((error) => liveStatus("error: " + error.message));
  $("live-stop").onclick = () => stopLive();
  for (const button of document.querySelectorAll("[data-control]")) {
    button.onclick = () => control(JSON.parse(button.dataset.control));
  }
  for (const box of document.querySelectorAll("[data-toggle]")) {
    box.onchange = () => control({ type: box.dataset.toggle, on: box.checked });
  }
  // during a session the emotion changes live, from the next chunk
  $("live-emotion").onchange = () => { if ($("live-emotion").value) control({ type: "emotion", emotion: $("live-emotion").value }); };
  $("job-form").onsubmit = (event) => { event.preventDefault(); submitJob().catch((e) => jobStatus("error: " + e.message)); };
  requestAnimationFrame(tick);
}

// ------------------------------------------------------------------------------------------------------ live

function liveStatus(text) { $("live-status").textContent = text; }

function control(message) {
  if (live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify(message));
}

async function livePortrait() {
  const file = $("live-upload").files[0];
  if (!file) return $("live-portrait").value;
  const form = new FormData();
  form.append("image", file);
  return (await api("/v1/portraits", { method: "POST", body: form })).id;
}

async function startLive() {
  if (live.running) return;
  Object.assign(live, { queue: [], pending: [], pendingLength: 0, errors: [], late: 0, skipped: 0, shown: 0,
    received: 0, applied: [], messages: [], stats: null, done: null, t0: null, running: true });
  live.delay = Number($("live-delay").value) / 1000;
  const portrait = await livePortrait();
  const ctx = live.ctx = new AudioContext();
  await ctx.audioWorklet.addModule("/static/capture-worklet.js");
  const capture = new AudioWorkletNode(ctx, "motionkit-capture");
  const silent = ctx.createGain();
  silent.gain.value = 0;
  capture.connect(silent).connect(ctx.destination); // keeps the capture node running, inaudibly
  live.chunk = Math.round(ctx.sampleRate * CHUNK_SECONDS);
  capture.port.onmessage = ({ data }) => sendAudio(data.time, data.samples);

  const fromFile = document.querySelector("input[name=source]:checked").value === "file";
  if (fromFile) {
    const file = $("live-audio").files[0];
    if (!file) throw new Error("choose an audio file, or the microphone");
    const buffer = await ctx.decodeAudioData(await file.arrayBuffer());
    live.source = ctx.createBufferSource();
    live.source.buffer = buffer;
    const delay = ctx.createDelay(5);
    delay.delayTime.value = live.delay; // heard when its frames are shown
    live.source.connect(delay).connect(ctx.destination);
    live.source.onended = () => stopLive();
  } else {
    live.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    live.source = ctx.createMediaStreamSource(live.stream);
  }

  const ws = live.ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/live" + tokenQuery);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    const emotion = $("live-emotion").value || null;
    ws.send(JSON.stringify({ type: "start", portrait, emotion, audio: { encoding: "f32", sample_rate: ctx.sampleRate } }));
  };
  ws.onmessage = (event) => (typeof event.data === "string" ? onText(JSON.parse(event.data), capture) : onFrame(event.data));
  ws.onclose = (event) => {
    live.running = false;
    $("live-start").disabled = false;
    $("live-stop").disabled = true;
    if (!live.done) liveStatus(`closed (${event.code}${event.reason ? ": " + event.reason : ""})`);
    teardownAudio();
  };
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  liveStatus("connecting ...");
}

function onText(message, capture) {
  live.messages.push(message);
  if (message.type === "ready") {
    live.fps = message.fps;
    const canvas = $("live-canvas");
    canvas.width = message.width;
    canvas.height = message.height;
    live.source.connect(capture);
    if (live.source.start) live.source.start();
    liveStatus("live");
  } else if (message.type === "applied") {
    live.applied.push(message);
  } else if (message.type === "stats") {
    live.stats = message;
    const l = message.latency_ms;
    liveStatus(`latency p50 ${l.p50} ms, p95 ${l.p95} ms | real-time factor ${message.realtime_factor} | ` +
      `frames ${message.frames_sent} sent, ${message.frames_dropped} dropped by the server, ${live.late} late here | ` +
      `schedule error p95 ${percentile(live.errors, 95).toFixed(1)} ms`);
  } else if (message.type === "error") {
    liveStatus("error: " + message.message);
  } else if (message.type === "done") {
    live.done = message;
    liveStatus(`done: ${message.frames_sent} frames for ${message.audio_seconds} s of audio, latency p95 ` +
      `${message.latency_ms.p95} ms, ${message.frames_dropped} dropped`);
  }
}

function sendAudio(time, samples) {
  if (!live.ws || live.ws.readyState !== WebSocket.OPEN) return;
  if (live.t0 === null) live.t0 = time; // audio time 0 is this block's first sample
  live.pending.push(samples);
  live.pendingLength += samples.length;
  if (live.pendingLength < live.chunk) return;
  const chunk = new Float32Array(live.pendingLength);
  let offset = 0;
  for (const part of live.pending) { chunk.set(part, offset); offset += part.length; }
  live.pending = [];
  live.pendingLength = 0;
  live.ws.send(chunk.buffer);
}

async function onFrame(data) {
  const view = new DataView(data);
  const magic = String.fromCharCode(...new Uint8Array(data, 0, 4));
  if (magic !== FRAME_MAGIC) return;
  const index = view.getUint32(4, true);
  const audioTime = view.getFloat64(8, true);
  live.received++;
  const bitmap = await createImageBitmap(new Blob([new Uint8Array(data, 16)], { type: "image/jpeg" }));
  const due = live.t0 + audioTime + live.delay;
  const late = due < audioNow(); // arrived after its time: shown at once, counted, not a scheduling error
  if (late) live.late++;
  let at = live.queue.length;
  while (at > 0 && live.queue[at - 1].index > index) at--;
  live.queue.splice(at, 0, { index, due, bitmap, late });
}

function audioNow() {
  // the audio clock at the output, interpolated between audio callbacks with performance.now()
  const ctx = live.ctx;
  if (!ctx) return 0;
  const stamp = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
  if (stamp && stamp.contextTime > 0) return stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000;
  return ctx.currentTime;
}

function tick() {
  if (live.ctx && live.t0 !== null) {
    const now = audioNow();
    let show = null;
    while (live.queue.length && live.queue[0].due <= now) {
      if (show) { show.bitmap.close(); live.skipped++; }
      show = live.queue.shift();
    }
    if (show) {
      const canvas = $("live-canvas");
      canvas.getContext("2d").drawImage(show.bitmap, 0, 0, canvas.width, canvas.height);
      show.bitmap.close();
      live.shown++;
      if (!show.late) live.errors.push((now - show.due) * 1000);
    }
  }
  requestAnimationFrame(tick);
}

function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function stopLive() {
  if (live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: "end" }));
  teardownAudio();
}

function teardownAudio() {
  if (live.source) { try { live.source.disconnect(); if (live.source.stop) live.source.stop(); } catch (e) { /* already stopped */ } }
  if (live.stream) for (const track of live.stream.getTracks()) track.stop();
  live.source = null;
  live.stream = null;
}

// ------------------------------------------------------------------------------------------------------ jobs

function jobStatus(text) { $("job-status").textContent = text; }

async function submitJob() {
  const form = new FormData($("job-form"));
  if (!form.get("image") || !form.get("image").size) form.delete("image");
  const emotion = $("job-emotion").value || null;
  form.append("options", JSON.stringify({ emotion, seed: Number($("job-seed").value) }));
  $("job-video").hidden = true;
  $("job-download").hidden = true;
  let job = await api("/v1/jobs", { method: "POST", body: form });
  const cancel = $("job-cancel");
  cancel.disabled = false;
  cancel.onclick = () => api(`/v1/jobs/${job.id}`, { method: "DELETE" });
  while (job.state === "queued" || job.state === "running") {
    const p = job.progress;
    jobStatus(`${job.state}: ${p.stage} ${p.done}/${p.total}`);
    $("job-progress").value = p.total ? p.done / p.total : 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
    job = await api(`/v1/jobs/${job.id}`);
  }
  cancel.disabled = true;
  $("job-progress").value = job.state === "done" ? 1 : 0;
  jobStatus(job.state + (job.error ? ": " + job.error : ""));
  if (job.state === "done") {
    const url = job.video + tokenQuery;
    $("job-video").src = url;
    $("job-video").hidden = false;
    $("job-download").href = url;
    $("job-download").hidden = false;
  }
}

init().catch((error) => liveStatus("cannot reach the server: " + error.message));
