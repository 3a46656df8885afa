import { errorText } from "./common.js";
import { stackedChart } from "./charts.js";

const picker = document.querySelector("#picker"), start = document.querySelector("#start");
const upload = document.querySelector("#upload"), processing = document.querySelector("#processing");
const status = document.querySelector("#status"), result = document.querySelector("#result");

picker.addEventListener("change", () => { start.disabled = !picker.files[0]; });
start.addEventListener("click", () => send(picker.files[0]));

function send(file) {
  start.disabled = true;
  const form = new FormData();
  form.append("video", file);
  const request = new XMLHttpRequest();
  request.open("POST", `/api/videos?every=${document.querySelector("#every").value}`);
  request.upload.onprogress = (e) => { if (e.lengthComputable) upload.value = e.loaded / e.total; };
  request.onload = () => {
    const body = JSON.parse(request.responseText || "{}");
    if (request.status !== 202) { status.textContent = body.error || request.statusText; status.className = "error"; start.disabled = false; return; }
    upload.value = 1;
    poll(body.id);
  };
  request.onerror = () => { status.textContent = "upload failed"; status.className = "error"; };
  status.textContent = "Uploading…";
  request.send(form);
}

async function poll(id) {
  const response = await fetch(`/api/videos/${id}`);
  if (!response.ok) { status.textContent = await errorText(response); status.className = "error"; return; }
  const job = await response.json();
  processing.value = job.progress ?? 0;
  status.textContent = `${job.status}: ${job.frames_done}${job.frames_total ? " / " + job.frames_total : ""} frames`;
  if (job.status === "done") return show(job);
  if (job.status === "failed") { status.textContent = job.error; status.className = "error"; return; }
  setTimeout(() => poll(id), 500);
}

async function show(job) {
  result.hidden = false;
  document.querySelector("#player").src = job.files["annotated.mp4"];
  const links = document.querySelector("#downloads");
  links.replaceChildren(...Object.entries(job.files).map(([name, url]) => {
    const a = document.createElement("a");
    a.href = url; a.textContent = name; a.className = "button"; a.download = name; a.style.marginRight = ".5rem";
    return a;
  }));
  const classView = document.createElement("a");
  classView.href = `/class?job=${job.id}`; classView.textContent = "Class view"; classView.className = "button";
  links.append(classView);
  const csv = await (await fetch(job.files["timeline.csv"])).text();
  drawCharts(csv);
  if (job.error) status.textContent += ` (${job.error})`;
}

// One chart per person (the 8 seen longest): the probability of each emotion over time, with a
// break wherever the person was away.
function drawCharts(csv) {
  const [header, ...lines] = csv.trim().split("\n");
  const columns = header.split(",");
  const labels = columns.filter((c) => c.startsWith("p_")).map((c) => c.slice(2));
  const tracks = new Map(), times = new Set();
  for (const line of lines) {
    const cells = line.split(","), row = Object.fromEntries(columns.map((c, i) => [c, cells[i]]));
    times.add(+row.time);
    if (!tracks.has(row.track_id)) tracks.set(row.track_id, []);
    tracks.get(row.track_id).push({ t: +row.time, shares: Object.fromEntries(labels.map((l) => [l, +row[`p_${l}`]])) });
  }
  const sorted = [...times].sort((a, b) => a - b), steps = sorted.slice(1).map((t, i) => t - sorted[i]).sort((a, b) => a - b);
  const gap = Math.max(1, 3 * (steps[Math.floor(steps.length / 2)] || 0));
  const t0 = sorted[0] ?? 0, t1 = Math.max(sorted[sorted.length - 1] ?? 0, t0 + 1);
  const charts = document.querySelector("#charts");
  charts.replaceChildren(...[...tracks].sort((a, b) => b[1].length - a[1].length).slice(0, 8).map(([track, points]) =>
    stackedChart({ title: `Person #${track}: probability of each emotion (smoothed)`, points, labels, t0, t1, gap })));
}
