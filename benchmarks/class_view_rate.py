"""Class view updates per second in one browser with 30 faces on screen.

Opens the class page in headless Chromium (Debian's, through Playwright) against a server started
here, loads it with ``--minutes`` of history for 30 people (10 results/s, each person's emotion
drifting), then feeds live results of 30 faces as fast as the page shows them: each update is
one result taken in and the whole view drawn again (30 tiles with their strips, the group chart,
the mood changes). Reports updates/s and the page's time per update.

    python benchmarks/class_view_rate.py [--minutes 10] [--seconds 10]
"""
from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from emoscope import Analyzer
from emoscope.web import create_app

FEED = """async ([minutes, seconds]) => {
  const labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
  const result = (t) => ({ time: t, width: 1280, height: 720, timings_ms: { server: 0 },
    faces: Array.from({ length: 30 }, (_, i) => {
      const top = labels[Math.floor((t / 20 + i) % 7)];
      const probabilities = Object.fromEntries(labels.map((l) => [l, l === top ? 0.7 : 0.05]));
      return { track_id: i + 1, box: [40 * i, 100, 40, 40], emotion: top, confidence: 0.7, probabilities };
    }) });
  let t = 0;
  for (; t < minutes * 60; t += 0.1) window.emoscopeClassView.feed(result(t));
  await new Promise(requestAnimationFrame);
  let updates = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    window.emoscopeClassView.feed(result(t));
    t += 0.1;
    await new Promise(requestAnimationFrame);   // the view is drawn in this frame, before we go on
    updates += 1;
  }
  return { updates, elapsed: (performance.now() - start) / 1000, tiles: document.querySelectorAll(".tile").length };
}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="history already in the view")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to measure")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Analyzer("haar")), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/class")
        page.wait_for_function("() => window.emoscopeClassView !== undefined")
        measured = page.evaluate(FEED, [args.minutes, args.seconds])
        browser.close()
    server.should_exit = True
    rate = measured["updates"] / measured["elapsed"]
    print(f"class view, {measured['tiles']} people, {args.minutes:g} min of history: {rate:.1f} updates/s "
          f"({1000 / rate:.0f} ms per update) over {measured['elapsed']:.0f} s")


if __name__ == "__main__":
    main()
