"""Does the web app answer a photo while a video job runs? The video is processed frame by frame
under the analyzer's lock, so ``POST /api/analyze`` waits for at most one frame, not the job.

Builds the throughput benchmark's 640x480 clip from the shared photos, starts a job on it, and
times ``/api/analyze`` on the bundled example photo again and again until the job ends.

    python benchmarks/web_responsiveness.py [--seconds 20]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from _data import DATA, ROOT, require
from emoscope import Analyzer
from emoscope.web import WebSettings, create_app
from video_throughput import build_video


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the test video")
    args = parser.parse_args()
    photo = (ROOT / "examples" / "astronaut.png").read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        video = build_video(Path(tmp) / "bench.mp4", args.seconds, require(DATA / "faces"))
        app = create_app(Analyzer(), WebSettings(jobs_dir=Path(tmp) / "jobs"))
        with TestClient(app) as client:
            job = client.post("/api/videos", files={"video": ("bench.mp4", video.read_bytes(), "video/mp4")}).json()
            latencies = []
            while client.get(f"/api/videos/{job['id']}").json()["status"] in ("queued", "running"):
                started = time.perf_counter()
                response = client.post("/api/analyze", files={"image": ("a.png", photo, "image/png")})
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            final = client.get(f"/api/videos/{job['id']}").json()
    latencies.sort()
    print(f"video job: {final['frames_done']} frames, {final['status']}; /api/analyze answered {len(latencies)} "
          f"times while it ran: median {statistics.median(latencies) * 1e3:.0f} ms, "
          f"p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1e3:.0f} ms, max {latencies[-1] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
