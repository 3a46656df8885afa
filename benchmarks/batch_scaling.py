"""Batch throughput with 1 and 2 local Dask workers, and the time of a 1-image batch.

The batch: 200 images (the shared face photos, repeated) and 4 short videos built from them,
written to a temporary folder (never committed).

    python benchmarks/batch_scaling.py [--images 200] [--videos 4] [--video-seconds 4]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _data import DATA, MODELS, require
from emoscope.batch import run_batch
from video_throughput import build_video

OPTIONS = {"detector": "yunet", "threads": 1}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--video-seconds", type=float, default=4.0)
    args = parser.parse_args()
    faces = require(DATA / "faces")
    require(MODELS / "yunet")
    photos = sorted(faces.glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs"
        inputs.mkdir()
        for i in range(args.images):
            source = photos[i % len(photos)]
            shutil.copy(source, inputs / f"{i:04d}-{source.name}")
        for i in range(args.videos):
            build_video(inputs / f"video{i}.mp4", args.video_seconds, faces)
        seconds = {}
        for workers in (1, 2):
            started = time.perf_counter()
            report = run_batch([inputs], Path(tmp) / f"out{workers}", workers=workers, analyzer_options=OPTIONS,
                               progress=False)
            seconds[workers] = time.perf_counter() - started
            assert not report.failed, report.failed
        total = args.images + args.videos
        for workers, s in seconds.items():
            print(f"{workers} worker(s): {total} inputs in {s:.1f} s = {total / s:.2f} inputs/s (cluster start included)")
        print(f"speed-up 2 vs 1 workers: {seconds[1] / seconds[2]:.2f}x")
        one = next(inputs.glob("0000-*"))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "emoscope.cli", "batch", str(one), "--out", str(Path(tmp) / "one"),
                        "--detector", "yunet", "--quiet"], check=True)
        print(f"1-image batch from the command line, process and cluster start included: "
              f"{time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
