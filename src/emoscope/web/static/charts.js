// Charts in plain SVG (no library, no CDN), the same reading as the PNG charts (emoscope.charts):
// time in m:ss, one colour per emotion (the overlays'), a legend, a title, breaks where nobody was seen.
import { COLORS } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";

export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, v);
  if (text !== undefined) element.textContent = text;
  return element;
}

function niceStep(span) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  return steps.find((s) => span / s <= 6) || 7200;
}

// Stacked shares over time. points: [{t, shares: {emotion: 0..1}}] (null shares = nobody there).
// Draws a title, a y axis in %, an x axis in m:ss, and a legend with each emotion's share of the
// whole span. Returns the <svg>.
export function stackedChart({ title, points, labels, t0, t1, gap = 3, width = 900, height = 200 }) {
  const left = 44, right = 10, bottom = 30;
  const key = legend(labels, totals(points, labels), left, 32, width - left - right);
  const top = 26 + 16 * key.rows;
  const plotW = width - left - right, plotH = height - top - bottom;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  const span = Math.max(t1 - t0, 1e-3), x = (t) => left + ((t - t0) / span) * plotW, y = (v) => top + plotH * (1 - v);
  root.append(svg("text", { x: 0, y: 14, class: "chart-title" }, title));
  // runs of consecutive points without gaps
  const runs = [];
  let run = [];
  for (const p of points) {
    if (!p.shares || (run.length && p.t - run[run.length - 1].t > gap)) { if (run.length) runs.push(run); run = []; }
    if (p.shares) run.push(p);
  }
  if (run.length) runs.push(run);
  const plot = svg("g", { class: "plot" });
  for (const r of runs) {
    const base = r.map(() => 0);
    const ends = r.length === 1 ? [r[0].t, r[0].t + Math.min(gap, span / 50)] : null;
    for (const label of labels) {
      const upper = r.map((p, i) => base[i] + (p.shares[label] || 0));
      if (upper.every((v, i) => v === base[i])) continue;
      const xs = ends || r.map((p) => p.t), ups = ends ? [upper[0], upper[0]] : upper, lows = ends ? [base[0], base[0]] : base;
      const path = xs.map((t, i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(ups[i]).toFixed(1)}`).join("") +
        xs.map((t, i) => [t, lows[i]]).reverse().map(([t, v]) => `L${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("") + "Z";
      plot.append(svg("path", { d: path, fill: COLORS[label] || "#888", "data-emotion": label }));
      upper.forEach((v, i) => { base[i] = v; });
    }
  }
  root.append(plot);
  const axes = svg("g", { class: "axes" });
  for (const v of [0, 0.5, 1]) {
    axes.append(svg("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: "grid" }));
    axes.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick y-tick" }, `${v * 100}%`));
  }
  const step = niceStep(span);
  for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-6; t += step) {
    axes.append(svg("line", { x1: x(t), x2: x(t), y1: top + plotH, y2: top + plotH + 4, class: "axis" }));
    axes.append(svg("text", { x: x(t), y: top + plotH + 17, "text-anchor": "middle", class: "tick x-tick" }, clock(t)));
  }
  axes.append(svg("line", { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, class: "axis" }));
  axes.append(svg("text", { x: left + plotW, y: height - 1, "text-anchor": "end", class: "axis-label" }, "time (m:ss)"));
  root.append(axes, key.element);
  return root;
}

function totals(points, labels) {
  const sum = Object.fromEntries(labels.map((l) => [l, 0]));
  let n = 0;
  for (const p of points) if (p.shares) { n += 1; for (const l of labels) sum[l] += p.shares[l] || 0; }
  return Object.fromEntries(labels.map((l) => [l, n ? sum[l] / n : 0]));
}

// Colour keys with each emotion's share, in rows no wider than maxWidth: {element, rows}.
function legend(labels, shares, x0, y0, maxWidth) {
  const g = svg("g", { class: "legend" });
  let x = x0, y = y0, rows = 1;
  for (const label of labels) {
    const text = `${label} ${Math.round(shares[label] * 100)}%`, itemWidth = 26 + text.length * 6.6;
    if (x > x0 && x + itemWidth > x0 + maxWidth) { x = x0; y += 16; rows += 1; }
    const item = svg("g", { class: "legend-item", "data-emotion": label });
    item.append(svg("rect", { x, y: y - 9, width: 10, height: 10, fill: COLORS[label] || "#888" }));
    item.append(svg("text", { x: x + 14, y, class: "legend-text" }, text));
    g.append(item);
    x += itemWidth;
  }
  return { element: g, rows };
}

// One person's emotion over time as coloured cells (blank while away), with start and end times.
export function emotionStrip({ cells, t0, t1, binSeconds, width = 220, height = 26 }) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "strip", role: "img", "aria-label": "emotion over time" });
  const span = Math.max(t1 - t0, binSeconds), plotH = height - 11, scale = width / span;
  root.append(svg("rect", { x: 0, y: 0, width, height: plotH, class: "strip-bg" }));
  const runs = [];   // touching cells of one emotion drawn as one rectangle
  for (const c of cells) {
    const last = runs[runs.length - 1];
    if (last && last.emotion === c.emotion && c.t - last.end < binSeconds * 1.01) last.end = c.t + binSeconds;
    else runs.push({ start: c.t, end: c.t + binSeconds, emotion: c.emotion });
  }
  for (const r of runs) {
    root.append(svg("rect", { x: ((r.start - t0) * scale).toFixed(2), y: 0, width: Math.max(1, (r.end - r.start) * scale).toFixed(2),
      height: plotH, fill: COLORS[r.emotion] || "#888", "data-emotion": r.emotion }));
  }
  root.append(svg("text", { x: 0, y: height - 1, class: "tick" }, clock(t0)));
  root.append(svg("text", { x: width, y: height - 1, "text-anchor": "end", class: "tick" }, clock(t1)));
  return root;
}
