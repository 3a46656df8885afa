// The class view page: live (camera or shared screen, through /ws/live) or a finished video
// (?job=ID: the job's class.json). window.emoscopeClassView.feed(result) takes a live result from a script.
import { download, errorText } from "./common.js";
import { ClassModel, renderClassView } from "./classview.js";
import { LiveSocket } from "./live-socket.js";

const status = document.querySelector("#status");
const view = { tiles: document.querySelector("#tiles"), group: document.querySelector("#group"),
  moods: document.querySelector("#moods"), count: document.querySelector("#count") };
const THUMBNAIL_EVERY = 5;   // seconds between fresh thumbnails of a person
let model = null, present = null, pending = false;
const thumbnailTimes = new Map();
const live = new LiveSocket(document.querySelector("#camera"), {
  onResult: (result, frame) => { feed(result, frame); },
  onError: (text) => { status.textContent = text; status.className = "error"; },
  onClose: () => { document.querySelector("#stop").disabled = true; },
});

function feed(result, frame = null) {
  model ??= new ClassModel(Object.keys(result.faces[0]?.probabilities || {}), 1);
  if (!model.labels.length && result.faces.length) model.labels = Object.keys(result.faces[0].probabilities);
  model.addFrame(result.time, result.faces);
  present = new Set(result.faces.map((f) => f.track_id));
  if (frame) for (const face of result.faces) takeThumbnail(face, frame, result.time);
  status.textContent = `${result.faces.length} face(s) · ${result.timings_ms.server?.toFixed(0) ?? "–"} ms on the server`;
  if (!pending) { pending = true; requestAnimationFrame(draw); }
}

function draw() {
  pending = false;
  renderClassView(model, view, present);
}

function takeThumbnail(face, frame, time) {
  if (time - (thumbnailTimes.get(face.track_id) ?? -Infinity) < THUMBNAIL_EVERY) return;
  thumbnailTimes.set(face.track_id, time);
  const [x, y, w, h] = face.box, side = 64, cut = document.createElement("canvas");
  cut.width = cut.height = side;
  cut.getContext("2d").drawImage(frame, x, y, w, h, 0, 0, side, side);
  model.people.get(face.track_id).thumbnail = cut.toDataURL("image/jpeg", 0.8);
}

async function loadJob(id) {
  document.querySelector("#controls").hidden = true;
  const response = await fetch(`/api/videos/${id}/class.json`);
  if (!response.ok) { view.count.textContent = await errorText(response); view.count.className = "error"; return; }
  const data = await response.json();
  document.querySelector("#title").textContent = `Class view: ${data.title}`;
  model = ClassModel.fromData(data);
  renderClassView(model, view);
}

async function begin(getStream) {
  model = null; present = null; thumbnailTimes.clear();
  view.tiles.replaceChildren();
  status.className = "muted";
  if (await live.start(getStream)) document.querySelector("#stop").disabled = false;
}

document.querySelector("#camera-start").addEventListener("click", () => begin(LiveSocket.camera));
document.querySelector("#screen-start").addEventListener("click", () => begin(LiveSocket.screen));
document.querySelector("#stop").addEventListener("click", () => live.stop());
document.querySelector("#export-csv").addEventListener("click", () => model && download("emoscope-class.csv", model.toCSV(), "text/csv"));
document.querySelector("#export-json").addEventListener("click", () => model && download("emoscope-class.json", JSON.stringify(model.toJSON(), null, 2)));
window.emoscopeClassView = { feed };

const job = new URLSearchParams(location.search).get("job");
if (job) loadJob(job);
