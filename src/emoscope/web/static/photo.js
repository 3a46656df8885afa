import { COLORS, download, errorText, probabilityBars } from "./common.js";

const drop = document.querySelector("#drop"), picker = document.querySelector("#picker");
const output = document.querySelector("#output"), status = document.querySelector("#status");
let lastResult = null;

drop.addEventListener("click", () => picker.click());
picker.addEventListener("change", () => picker.files[0] && analyze(picker.files[0]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); e.dataTransfer.files[0] && analyze(e.dataTransfer.files[0]); });
document.querySelector("#json").addEventListener("click", () => lastResult && download("emoscope.json", JSON.stringify(lastResult, null, 2)));

async function analyze(file) {
  status.textContent = `Analysing ${file.name}…`;
  status.className = "muted";
  const form = new FormData();
  form.append("image", file);
  const response = await fetch("/api/analyze?annotated=true", { method: "POST", body: form });
  if (!response.ok) { status.textContent = await errorText(response); status.className = "error"; return; }
  const result = await response.json();
  const { annotated_image: picture, ...json } = result;
  lastResult = json;
  output.hidden = false;
  document.querySelector("#annotated").src = picture;
  const faces = document.querySelector("#faces");
  faces.replaceChildren();
  result.faces.forEach((face, i) => {
    const card = document.createElement("div");
    card.className = "face";
    card.dataset.emotion = face.emotion;
    card.style.borderColor = COLORS[face.emotion];
    card.innerHTML = `<strong>Face ${i + 1}: ${face.emotion} ${(face.confidence * 100).toFixed(0)}%</strong>`;
    card.append(probabilityBars(face.probabilities));
    faces.append(card);
  });
  status.textContent = `${result.faces.length} face(s) found in ${result.timings_ms.total.toFixed(0)} ms`;
  document.querySelector("#json").disabled = false;
}
