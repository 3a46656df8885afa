// The class view: every person as a tile (thumbnail, time seen, dominant emotion, a strip of their
// emotion over time), the group's emotion mix over time and the moments its mood changed.
// Fed frame by frame (live results) or with binned samples (a finished video's class.json).
import { COLORS, element } from "./common.js";
import { clock, emotionStrip, stackedChart } from "./charts.js";

const MOOD_HOLD = 3;   // bins a new group mood must last to count as a change

export class ClassModel {
  constructor(labels, binSeconds = 1) {
    this.labels = labels;
    this.binSeconds = binSeconds;
    this.people = new Map();   // id -> {id, first, last, seconds, emotionSeconds, bins: Map(bin -> summed probabilities), thumbnail}
    this.group = new Map();    // bin -> {emotion: faces showing it}
    this.start = null;
    this.end = 0;
    this.lastTime = null;
  }

  // A finished video's class.json (emoscope.class_report): binned samples and thumbnails.
  static fromData(data) {
    const model = new ClassModel(data.labels, data.bin_seconds);
    for (const [time, id, seconds, probabilities] of data.samples) {
      model.addSample(time, id, Object.fromEntries(data.labels.map((l, i) => [l, probabilities[i]])), seconds);
    }
    for (const [id, thumbnail] of Object.entries(data.thumbnails)) model.people.get(+id).thumbnail = thumbnail;
    if (data.end !== undefined) model.touch(data.end);
    return model;
  }

  // One frame: time in seconds, faces with track_id and (smoothed) probabilities.
  addFrame(time, faces) {
    const interval = this.lastTime === null ? 0 : Math.min(time - this.lastTime, 2);
    this.lastTime = time;
    for (const face of faces) this.addSample(time, face.track_id, face.probabilities, interval);
    this.touch(time);
  }

  // One person at one time; weight: the seconds this sample stands for.
  addSample(time, id, probabilities, weight = this.binSeconds) {
    this.touch(time);
    let person = this.people.get(id);
    if (!person) this.people.set(id, person = { id, first: time, last: time, seconds: 0, emotionSeconds: {}, bins: new Map(), thumbnail: null });
    const emotion = dominant(probabilities);
    person.last = time;
    person.seconds += weight;
    person.emotionSeconds[emotion] = (person.emotionSeconds[emotion] || 0) + weight;
    const bin = Math.floor(time / this.binSeconds);
    const sums = person.bins.get(bin) || {};
    for (const label of this.labels) sums[label] = (sums[label] || 0) + (probabilities[label] || 0);
    person.bins.set(bin, sums);
    const counts = this.group.get(bin) || {};
    counts[emotion] = (counts[emotion] || 0) + 1;
    this.group.set(bin, counts);
  }

  touch(time) {
    if (this.start === null || time < this.start) this.start = time;
    this.end = Math.max(this.end, time);
  }

  personView(person) {
    const cells = [...person.bins].map(([bin, sums]) => ({ t: bin * this.binSeconds, emotion: dominant(sums) }));
    const share = Object.fromEntries(Object.entries(person.emotionSeconds).map(([e, s]) => [e, s / Math.max(person.seconds, 1e-9)]));
    return { id: person.id, first: person.first, last: person.last, seconds: person.seconds,
      dominant: dominant(person.emotionSeconds), share, cells, thumbnail: person.thumbnail };
  }

  groupMix() {
    const bins = [...this.group.keys()].sort((a, b) => a - b);
    return bins.map((bin) => {
      const counts = this.group.get(bin), total = Object.values(counts).reduce((a, b) => a + b, 0);
      return { t: bin * this.binSeconds, shares: Object.fromEntries(Object.entries(counts).map(([e, n]) => [e, n / total])) };
    });
  }

  // Times where the group's most shown emotion changed and held for MOOD_HOLD bins.
  moodChanges(mix = this.groupMix()) {
    const changes = [];
    let mood = null, candidate = null, held = 0, since = 0;
    for (const point of mix) {
      const top = dominant(point.shares);
      if (top === mood) { candidate = null; held = 0; continue; }
      if (top !== candidate) { candidate = top; held = 0; since = point.t; }
      held += 1;
      if (held >= MOOD_HOLD || mood === null) {
        if (mood !== null) changes.push({ time: since, from: mood, to: top });
        mood = top; candidate = null; held = 0;
      }
    }
    return changes;
  }

  toJSON() {
    return { labels: this.labels, bin_seconds: this.binSeconds, start: this.start, end: this.end,
      people: [...this.people.values()].map((p) => { const v = this.personView(p); delete v.thumbnail; return v; }),
      group: this.groupMix(), mood_changes: this.moodChanges() };
  }

  toCSV() {
    const rows = [["person", "first_seen", "last_seen", "seconds_seen", "dominant_emotion", ...this.labels.map((l) => `share_${l}`)].join(",")];
    for (const p of this.people.values()) {
      const v = this.personView(p);
      rows.push([v.id, v.first.toFixed(2), v.last.toFixed(2), v.seconds.toFixed(2), v.dominant,
        ...this.labels.map((l) => (v.share[l] || 0).toFixed(4))].join(","));
    }
    return rows.join("\n") + "\n";
  }
}

function dominant(values) {
  let best = null;
  for (const [k, v] of Object.entries(values)) if (best === null || v > values[best]) best = k;
  return best;
}

// Draws the model into the page's elements: tiles, group chart, mood changes. `present`: ids on screen now.
export function renderClassView(model, { tiles, group, moods, count }, present = null) {
  const t0 = model.start ?? 0, t1 = Math.max(model.end, t0 + model.binSeconds);
  const people = [...model.people.values()].sort((a, b) => a.id - b.id);
  const seen = new Set();
  for (const person of people) {
    const view = model.personView(person);
    seen.add(String(view.id));
    let tile = tiles.querySelector(`[data-person="${view.id}"]`);
    if (!tile) {
      tile = document.createElement("div");
      tile.className = "tile"; tile.dataset.person = view.id;
      tile.innerHTML = `<div class="who"><div class="nothumb"></div><div><div class="name">#${view.id}</div><div class="seen muted"></div></div></div><div class="emotion"></div><div class="strip-box"></div>`;
      tiles.append(tile);
    }
    if (view.thumbnail && tile.dataset.thumbnail !== view.thumbnail) {
      const img = document.createElement("img");
      img.src = view.thumbnail; img.alt = `person #${view.id}`;
      tile.querySelector(".who").firstElementChild.replaceWith(img);
      tile.dataset.thumbnail = view.thumbnail;
    }
    tile.classList.toggle("away", present !== null && !present.has(view.id));
    tile.querySelector(".seen").textContent = `seen ${clock(view.seconds)}`;
    const dot = element("span", "dot");
    dot.style.background = COLORS[view.dominant] || "#888";
    tile.querySelector(".emotion").replaceChildren(
      dot, `mostly ${view.dominant} (${Math.round((view.share[view.dominant] || 0) * 100)}%)`);
    tile.querySelector(".strip-box").replaceChildren(emotionStrip({ cells: view.cells, t0, t1, binSeconds: model.binSeconds }));
  }
  for (const tile of [...tiles.children]) if (!seen.has(tile.dataset.person)) tile.remove();
  const mix = model.groupMix();
  group.replaceChildren(stackedChart({ title: "Group: share of faces showing each emotion", points: coarser(mix, 240),
    labels: model.labels, t0, t1, gap: 3 * model.binSeconds * Math.ceil(mix.length / 240) }));
  const changes = model.moodChanges(mix);
  moods.replaceChildren(...(changes.length ? changes : [null]).map((c) => {
    const li = document.createElement("li");
    li.textContent = c ? `${clock(c.time)}: ${c.from} → ${c.to}` : "no change of the group's mood yet";
    return li;
  }));
  if (count) count.textContent = `${people.length} people${present ? `, ${present.size} on screen` : ""}`;
}

// At most `most` points: neighbouring points averaged (a long session still draws quickly).
function coarser(points, most) {
  const size = Math.ceil(points.length / most);
  if (size <= 1) return points;
  const out = [];
  for (let i = 0; i < points.length; i += size) {
    const group = points.slice(i, i + size), shares = {};
    for (const p of group) for (const [e, v] of Object.entries(p.shares)) shares[e] = (shares[e] || 0) + v / group.length;
    out.push({ t: group[0].t, shares });
  }
  return out;
}
