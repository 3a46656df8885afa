import { COLORS, errorText } from "./common.js";

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
  const csv = await (await fetch(job.files["timeline.csv"])).text();
  drawCharts(csv);
  if (job.error) status.textContent += ` (${job.error})`;
}

function drawCharts(csv) {
  const [header, ...lines] = csv.trim().split("\n");
  const columns = header.split(",");
  const smooth = columns.filter((c) => c.startsWith("p_"));
  const tracks = new Map();
  for (const line of lines) {
    const cells = line.split(","), row = Object.fromEntries(columns.map((c, i) => [c, cells[i]]));
    if (!tracks.has(row.track_id)) tracks.set(row.track_id, []);
    tracks.get(row.track_id).push(row);
  }
  const charts = document.querySelector("#charts");
  charts.replaceChildren();
  for (const [track, rows] of tracks) {
    const title = document.createElement("h3");
    title.textContent = `Person #${track}`;
    const canvas = document.createElement("canvas");
    canvas.width = 900; canvas.height = 160; canvas.className = "chart"; canvas.style.maxWidth = "100%";
    charts.append(title, canvas);
    const g = canvas.getContext("2d"), t0 = +rows[0].time, t1 = Math.max(+rows[rows.length - 1].time, t0 + 1e-3);
    for (const column of smooth) {
      g.strokeStyle = COLORS[column.slice(2)] || "#000";
      g.lineWidth = 2;
      g.beginPath();
      rows.forEach((r, i) => {
        const x = ((+r.time - t0) / (t1 - t0)) * (canvas.width - 20) + 10, y = canvas.height - 10 - +r[column] * (canvas.height - 20);
        i ? g.lineTo(x, y) : g.moveTo(x, y);
      });
      g.stroke();
    }
  }
}
