// Shared by every page: emotion colours, probability bars, downloads.
export const COLORS = { angry: "#dc3030", disgust: "#3c8c3c", fear: "#963c96", happy: "#fac828", sad: "#2878c8",
  surprise: "#fa8c14", neutral: "#aaaaaa", contempt: "#286e6e" };

export function probabilityBars(probabilities) {
  const box = document.createElement("div");
  for (const [label, p] of Object.entries(probabilities).sort((a, b) => b[1] - a[1])) {
    const row = document.createElement("div");
    row.className = "bar";
    const fill = element("span", "fill");
    fill.style.width = `${(p * 100).toFixed(1)}%`;  // set through the CSSOM: the CSP allows no inline style
    fill.style.background = COLORS[label] || "#3563e9";
    const track = element("span", "track");
    track.append(fill);
    row.append(element("span", "", label), track, element("span", "", `${(p * 100).toFixed(0)}%`));
    box.append(row);
  }
  return box;
}

/** A new element with a class and text (text, not HTML: nothing is parsed). */
export function element(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

export function download(name, text, type = "application/json") {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

export async function errorText(response) {
  try { return (await response.json()).error || response.statusText; } catch { return response.statusText; }
}
