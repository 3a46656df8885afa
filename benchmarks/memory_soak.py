"""Memory over a long run: RSS sampled for N minutes while

- ``--target video``: a looping video is processed continuously (the stream loop, in process);
- ``--target live``: a server on loopback answers ``--clients`` WebSocket clients, each sending
  640x480 JPEG frames one in flight at a time (as the live page does), while ``/health`` is timed
  once a second; ``--uploaders K`` adds K clients posting big photos to ``/api/analyze`` meanwhile.

Growth is measured from the end of the first minute (after warm-up) to the end. Every loop is
bounded by the clock; errors are counted (error replies, dropped connections, failed requests).

    python benchmarks/memory_soak.py --target video --minutes 30
    python benchmarks/memory_soak.py --target live --clients 20 --minutes 30
    python benchmarks/memory_soak.py --target live --clients 2 --uploaders 2 --minutes 2
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _data import DATA, MODELS, require
from emoscope import Analyzer


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1e6


class Samples:
    """RSS over time; the baseline is the first sample taken after ``warmup`` seconds."""

    def __init__(self, warmup: float = 60.0):
        self.started, self.warmup = time.monotonic(), warmup
        self.values: list[tuple[float, float]] = []
        self.baseline: float | None = None

    def take(self) -> None:
        elapsed = time.monotonic() - self.started
        self.values.append((elapsed, rss_mb()))
        if self.baseline is None and elapsed >= self.warmup:
            self.baseline = self.values[-1][1]

    def report(self) -> str:
        end, baseline = self.values[-1][1], self.baseline or self.values[0][1]
        return (f"RSS after 1 min {baseline:.1f} MB, at the end {end:.1f} MB, growth "
                f"{100 * (end - baseline) / baseline:+.2f}% (peak {max(v for _, v in self.values):.1f} MB)")


def looping(video: Path):
    """Frames of the video over and over, with timestamps that keep increasing."""
    from emoscope.io.video import VideoFileSource

    offset, index = 0.0, 0
    for _ in itertools.count():
        with VideoFileSource(video) as source:
            for frame in source:
                frame.index, frame.timestamp = index, offset + frame.timestamp
                index += 1
                yield frame
        offset = frame.timestamp + 1 / 30


def soak_video(analyzer: Analyzer, minutes: float) -> str:
    from video_throughput import build_video

    with tempfile.TemporaryDirectory() as tmp:
        video = build_video(Path(tmp) / "soak.mp4", 10, require(DATA / "faces"))
        samples, frames = Samples(), 0
        for _ in analyzer.stream(looping(video), fps=30):
            frames += 1
            if frames % 100 == 0:
                samples.take()
            if time.monotonic() - samples.started >= minutes * 60:
                break
    return f"video: {frames} frames in {minutes:g} min, 0 errors; {samples.report()}"


async def live_client(url: str, end: float, jpeg: bytes, stats: dict) -> None:
    import websockets

    while time.monotonic() < end:
        try:
            async with websockets.connect(url, max_size=None) as ws:
                while time.monotonic() < end:
                    await ws.send(jpeg)
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    stats["errors" if "error" in reply else "results"] += 1
        except Exception as error:  # a dropped connection is an error; reconnect and go on
            stats["errors"] += 1
            stats["last_error"] = repr(error)
            await asyncio.sleep(1)


async def uploader(base: str, end: float, photo: bytes, stats: dict) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=120) as http:
        while time.monotonic() < end:
            response = await http.post(f"{base}/api/analyze", files={"image": ("big.jpg", photo, "image/jpeg")})
            stats["errors" if response.status_code != 200 else "uploads"] += 1


async def health_probe(base: str, end: float, stats: dict, samples: Samples) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=60) as http:
        while time.monotonic() < end:
            started = time.perf_counter()
            response = await http.get(f"{base}/health")
            stats["health_ms"].append((time.perf_counter() - started) * 1e3)
            if response.status_code != 200:
                stats["errors"] += 1
            samples.take()
            await asyncio.sleep(1)


def big_photo() -> bytes:
    import cv2
    import numpy as np

    from live_load import frame_jpeg

    frame = cv2.imdecode(np.frombuffer(frame_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.imencode(".jpg", cv2.resize(frame, (6000, 4500)), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def soak_live(analyzer: Analyzer, minutes: float, clients: int, uploaders: int) -> str:
    import numpy as np
    import uvicorn

    from emoscope.web import create_app
    from live_load import frame_jpeg

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(analyzer), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    samples = Samples()
    end = samples.started + minutes * 60
    stats = [{"results": 0, "errors": 0} for _ in range(clients)]
    loads = [{"uploads": 0, "errors": 0} for _ in range(uploaders)]
    health = {"health_ms": [], "errors": 0}
    jpeg, photo = frame_jpeg(), big_photo() if uploaders else b""

    async def everything():
        await asyncio.gather(*(live_client(f"ws://127.0.0.1:{port}/ws/live", end, jpeg, s) for s in stats),
                             *(uploader(f"http://127.0.0.1:{port}", end, photo, s) for s in loads),
                             health_probe(f"http://127.0.0.1:{port}", end, health, samples))

    asyncio.run(everything())
    server.should_exit = True
    errors = sum(s["errors"] for s in stats + loads) + health["errors"]
    last = next((s["last_error"] for s in stats if "last_error" in s), "")
    ms = health["health_ms"]
    return (f"live: {clients} clients, {sum(s['results'] for s in stats)} frames answered"
            + (f", {sum(s['uploads'] for s in loads)} {len(photo) / 1e6:.1f} MB photos analysed by {uploaders} "
               "uploaders" if uploaders else "")
            + f" in {minutes:g} min, {errors} errors {last}; /health p50 {statistics.median(ms):.1f} ms, "
            f"p95 {np.percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms; {samples.report()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("video", "live"), default="video")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20, help="live: WebSocket clients")
    parser.add_argument("--uploaders", type=int, default=0, help="live: clients posting 27-megapixel photos")
    parser.add_argument("--threads", type=int, default=1, help="inference threads")
    args = parser.parse_args()
    require(MODELS / "yunet")
    analyzer = Analyzer("yunet", threads=args.threads)
    if args.target == "video":
        print(soak_video(analyzer, args.minutes))
    else:
        print(soak_live(analyzer, args.minutes, args.clients, args.uploaders))


if __name__ == "__main__":
    main()
