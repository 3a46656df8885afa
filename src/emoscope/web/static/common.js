// Shared by every page: emotion colours, probability bars, downloads.
export const COLORS = { angry: "#dc3030", disgust: "#3c8c3c", fear: "#963c96", happy: "#fac828", sad: "#2878c8",
  surprise: "#fa8c14", neutral: "#aaaaaa", contempt: "#286e6e" };

export function probabilityBars(probabilities) {
  const box = document.createElement("div");
  for (const [label, p] of Object.entries(probabilities).sort((a, b) => b[1] - a[1])) {
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = `<span>${label}</span><span class="track"><span class="fill" style="display:block;width:${(p * 100).toFixed(1)}%;background:${COLORS[label] || "#3563e9"}"></span></span><span>${(p * 100).toFixed(0)}%</span>`;
    box.append(row);
  }
  return box;
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
