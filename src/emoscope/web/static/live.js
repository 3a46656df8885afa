// Live: camera or shared screen -> WebSocket, one frame in flight at a time (back-pressure),
// overlays drawn from the JSON results, a live chart of the last minute, a session summary at the end.
import { COLORS, download } from "./common.js";

const video = document.querySelector("#camera"), overlay = document.querySelector("#overlay");
const grab = document.createElement("canvas"), status = document.querySelector("#status");
const chart = document.querySelector("#mix"), summaryBox = document.querySelector("#summary");
let socket = null, stream = null, running = false, lastTime = 0, session = null, history = [];

document.querySelector("#camera-start").addEventListener("click", () => start(() => navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } })));
document.querySelector("#screen-start").addEventListener("click", () => start(() => navigator.mediaDevices.getDisplayMedia({ video: true })));
document.querySelector("#stop").addEventListener("click", stop);
document.querySelector("#summary-json").addEventListener("click", () => session && download("emoscope-session.json", JSON.stringify(summarise(), null, 2)));
document.querySelector("#summary-csv").addEventListener("click", () => session && download("emoscope-session.csv", toCsv(summarise()), "text/csv"));

async function start(getStream) {
  try { stream = await getStream(); } catch (error) { status.textContent = `No video: ${error.message}`; status.className = "error"; return; }
  video.srcObject = stream;
  await video.play();
  session = { started: performance.now(), tracks: {}, frames: 0 };
  history = [];
  summaryBox.hidden = true;
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
  socket.onmessage = (event) => { handle(JSON.parse(event.data)); if (running) sendFrame(); };
  socket.onopen = () => { running = true; lastTime = performance.now(); sendFrame(); };
  socket.onclose = () => { if (running) stop(); };
  document.querySelector("#stop").disabled = false;
  status.className = "muted";
}

function sendFrame() {
  if (!running || video.videoWidth === 0) { if (running) setTimeout(sendFrame, 50); return; }
  const scale = Math.min(1, 640 / video.videoWidth);
  grab.width = Math.round(video.videoWidth * scale); grab.height = Math.round(video.videoHeight * scale);
  grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
  grab.toBlob((blob) => blob && socket.readyState === WebSocket.OPEN && socket.send(blob), "image/jpeg", 0.8);
}

function handle(result) {
  if (result.error) { status.textContent = result.error; return; }
  const now = performance.now(), interval = (now - lastTime) / 1000;
  lastTime = now;
  session.frames += 1;
  status.textContent = `${(1 / Math.max(interval, 1e-3)).toFixed(1)} results/s · server ${result.timings_ms.server.toFixed(0)} ms · ${result.faces.length} face(s)`;
  draw(result);
  const counts = {};
  for (const face of result.faces) {
    const track = (session.tracks[face.track_id] ??= { seconds: 0, emotions: {} });
    track.seconds += interval;
    track.emotions[face.emotion] = (track.emotions[face.emotion] || 0) + interval;
    counts[face.emotion] = (counts[face.emotion] || 0) + 1;
  }
  history.push({ time: now, counts });
  history = history.filter((h) => now - h.time < 60000);
  drawMix(now);
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
    g.fillStyle = "#000a"; g.fillRect(x, y - 24, g.measureText(label).width + 8, 22);
    g.fillStyle = color; g.fillText(label, x + 4, y - 7);
  }
  overlay.dataset.faces = result.faces.length;
  overlay.dataset.labels = result.faces.map((f) => `#${f.track_id} ${f.emotion}`).join(";");
}

function drawMix(now) {
  const g = chart.getContext("2d"), buckets = Array.from({ length: 60 }, () => ({}));
  for (const h of history) {
    const bucket = buckets[59 - Math.min(59, Math.floor((now - h.time) / 1000))];
    for (const [emotion, n] of Object.entries(h.counts)) bucket[emotion] = (bucket[emotion] || 0) + n;
  }
  g.clearRect(0, 0, chart.width, chart.height);
  const width = chart.width / 60;
  buckets.forEach((bucket, i) => {
    const total = Object.values(bucket).reduce((a, b) => a + b, 0);
    let y = chart.height;
    for (const [emotion, n] of Object.entries(bucket)) {
      const height = (n / total) * chart.height;
      g.fillStyle = COLORS[emotion]; g.fillRect(i * width, y - height, width - 1, height); y -= height;
    }
  });
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

function stop() {
  running = false;
  socket && socket.close();
  stream && stream.getTracks().forEach((t) => t.stop());
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
