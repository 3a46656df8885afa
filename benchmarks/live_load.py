"""Live WebSocket load: clients each send 640x480 JPEG frames of a real face, one in flight at a
time (as the live page does), against a server started here on loopback.

Reports results/s per client, the server's own time per frame (p50/p95), errors, and the server
process's memory before and after.

    python benchmarks/live_load.py --clients 1 --seconds 30
    python benchmarks/live_load.py --clients 20 --seconds 120
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import threading
import time

import cv2
import numpy as np
import uvicorn
import websockets

from _data import MODELS, ROOT, require
from emoscope import Analyzer
from emoscope.web import create_app


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1e6


def frame_jpeg() -> bytes:
    face = cv2.imread(str(ROOT / "examples" / "astronaut.png"))
    frame = np.full((480, 640, 3), 80, np.uint8)
    frame[:, 80:560] = cv2.resize(face, (480, 480))
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


async def client(url: str, seconds: float, jpeg: bytes, stats: dict) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await ws.send(jpeg)
            reply = json.loads(await ws.recv())
            if "error" in reply:
                stats["errors"] += 1
                continue
            stats["results"] += 1
            stats["server_ms"].append(reply["timings_ms"]["server"])


async def run_clients(url: str, count: int, seconds: float) -> list[dict]:
    jpeg = frame_jpeg()
    stats = [{"results": 0, "errors": 0, "server_ms": []} for _ in range(count)]
    await asyncio.gather(*(client(url, seconds, jpeg, s) for s in stats))
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    require(MODELS / "yunet")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Analyzer("yunet", threads=args.threads)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    before = rss_mb()
    stats = asyncio.run(run_clients(f"ws://127.0.0.1:{port}/ws/live", args.clients, args.seconds))
    after = rss_mb()
    server.should_exit = True
    rates = [s["results"] / args.seconds for s in stats]
    times = [t for s in stats for t in s["server_ms"]]
    print(f"{args.clients} client(s), {args.seconds:g} s, {args.threads} inference threads: "
          f"results/s per client min {min(rates):.1f} / median {statistics.median(rates):.1f} / max {max(rates):.1f} "
          f"(total {sum(rates):.1f}); server ms per frame p50 {np.percentile(times, 50):.1f}, "
          f"p95 {np.percentile(times, 95):.1f}; errors {sum(s['errors'] for s in stats)}; "
          f"memory {before:.0f} -> {after:.0f} MB")


if __name__ == "__main__":
    main()
