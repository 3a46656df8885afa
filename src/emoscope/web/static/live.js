// Live: camera or shared screen -> WebSocket (live-socket.js); overlays drawn from the JSON results,
// the emotion mix of the last minute (SVG, with percentages), a session summary at the end.
import { COLORS, download } from "./common.js";
import { stackedChart } from "./charts.js";
import { LiveSocket } from "./live-socket.js";

const video = document.querySelector("#camera"), overlay = document.querySelector("#overlay");
const status = document.querySelector("#status"), mix = document.querySelector("#mix");
const summaryBox = document.querySelector("#summary");

let session = null, history = [], lastTime = 0;
const live = new LiveSocket(video, { onResult: handle, onError: (text) => { status.textContent = text; status.className = "error"; }, onClose: finish });

document.querySelector("#camera-start").addEventListener("click", () => begin(LiveSocket.camera));
document.querySelector("#screen-start").addEventListener("click", () => begin(LiveSocket.screen));
document.querySelector("#stop").addEventListener("click", () => live.stop());
document.querySelector("#summary-json").addEventListener("click", () => session && download("emoscope-session.json", JSON.stringify(summarise(), null, 2)));
document.querySelector("#summary-csv").addEventListener("click", () => session && download("emoscope-session.csv", toCsv(summarise()), "text/csv"));

async function begin(getStream) {
  session = { started: performance.now(), tracks: {}, frames: 0, labels: null };
  history = [];
  summaryBox.hidden = true;
  status.className = "muted";
  lastTime = performance.now();
  if (await live.start(getStream)) document.querySelector("#stop").disabled = false;
}

function handle(result) {
  const now = performance.now(), interval = (now - lastTime) / 1000;
  lastTime = now;
  session.frames += 1;
  status.textContent = `${(1 / Math.max(interval, 1e-3)).toFixed(1)} results/s · server ${result.timings_ms.server.toFixed(0)} ms · ${result.faces.length} face(s)`;
  draw(result);
  const counts = {};
  for (const face of result.faces) {
    session.labels ??= Object.keys(face.probabilities);
    const track = (session.tracks[face.track_id] ??= { seconds: 0, emotions: {} });
    track.seconds += interval;
    track.emotions[face.emotion] = (track.emotions[face.emotion] || 0) + interval;
    counts[face.emotion] = (counts[face.emotion] || 0) + 1;
  }
  history.push({ time: result.time, counts });
  history = history.filter((h) => result.time - h.time <= 60);
  drawMix(result.time);
}

function draw(result) {
  overlay.width = result.width; overlay.height = result.height;
  const g = overlay.getContext("2d"), line = Math.max(2, result.width / 320);
  g.clearRect(0, 0, overlay.width, overlay.height);
  g.font = `${Math.max(14, result.width / 40)}px system-ui`;
  for (const face of result.faces) {
    const [x, y, w, h] = face.box, color = COLORS[face.emotion] || "#0c0";
    g.strokeStyle = color; g.lineWidth = line; g.strokeRect(x, y, w, h);
    const label = `#${face.track_id} ${face.emotion} ${(face.confidence * 100).toFixed(0)}%`;
    const top = y >= 24 ? y - 24 : y + h + 2;
    g.fillStyle = "#000a"; g.fillRect(x, top, g.measureText(label).width + 8, 22);
    g.fillStyle = color; g.fillText(label, x + 4, top + 17);
  }
  overlay.dataset.faces = result.faces.length;
  overlay.dataset.labels = result.faces.map((f) => `#${f.track_id} ${f.emotion}`).join(";");
}

// The share of faces showing each emotion, per second of the last minute.
function drawMix(now) {
  const seconds = new Map();
  for (const h of history) {
    const s = Math.floor(h.time), bucket = seconds.get(s) || {};
    for (const [emotion, n] of Object.entries(h.counts)) bucket[emotion] = (bucket[emotion] || 0) + n;
    seconds.set(s, bucket);
  }
  const points = [...seconds].sort((a, b) => a[0] - b[0]).map(([t, counts]) => {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return { t, shares: total ? Object.fromEntries(Object.entries(counts).map(([e, n]) => [e, n / total])) : null };
  });
  mix.replaceChildren(stackedChart({ title: "Emotion mix, last minute (share of faces)", points,
    labels: session.labels || Object.keys(COLORS).slice(0, 7), t0: Math.max(0, now - 60), t1: Math.max(now, 1), gap: 3,
    width: 480, height: 200 }));
}

function summarise() {
  const overall = {}, people = [];
  for (const [id, track] of Object.entries(session.tracks)) {
    const share = Object.fromEntries(Object.entries(track.emotions).map(([e, s]) => [e, +(s / track.seconds).toFixed(4)]));
    people.push({ track_id: +id, seconds_seen: +track.seconds.toFixed(2), emotion_share: share });
    for (const [e, s] of Object.entries(track.emotions)) overall[e] = (overall[e] || 0) + s;
  }
  const total = Object.values(overall).reduce((a, b) => a + b, 0) || 1;
  return { duration_seconds: +((performance.now() - session.started) / 1000).toFixed(1), frames: session.frames,
    overall: Object.fromEntries(Object.entries(overall).map(([e, s]) => [e, +(s / total).toFixed(4)])), people };
}

function toCsv(summary) {
  const emotions = Object.keys(COLORS);
  const rows = [["person", "seconds_seen", ...emotions].join(",")];
  for (const p of summary.people) rows.push([p.track_id, p.seconds_seen, ...emotions.map((e) => p.emotion_share[e] || 0)].join(","));
  rows.push(["overall", "", ...emotions.map((e) => summary.overall[e] || 0)].join(","));
  return rows.join("\n") + "\n";
}

function finish() {
  document.querySelector("#stop").disabled = true;
  if (!session) return;
  const summary = summarise();
  summaryBox.hidden = false;
  const table = document.querySelector("#summary-table");
  const emotions = Object.keys(COLORS).filter((e) => e in summary.overall);
  table.innerHTML = `<tr><th>person</th><th>seconds</th>${emotions.map((e) => `<th>${e}</th>`).join("")}</tr>` +
    summary.people.map((p) => `<tr><td>#${p.track_id}</td><td>${p.seconds_seen}</td>${emotions.map((e) => `<td>${((p.emotion_share[e] || 0) * 100).toFixed(0)}%</td>`).join("")}</tr>`).join("") +
    `<tr><td><strong>overall</strong></td><td></td>${emotions.map((e) => `<td>${(summary.overall[e] * 100).toFixed(0)}%</td>`).join("")}</tr>`;
}
