"""Memory over a long stream: RSS sampled while a looping video is processed for N minutes.

Growth is measured from the end of the first minute (after warm-up) to the end.

    python benchmarks/memory_soak.py [--minutes 30]
"""
from __future__ import annotations

import argparse
import itertools
import resource
import tempfile
import time
from pathlib import Path

from _data import DATA, MODELS, require
from emoscope import Analyzer
from emoscope.io.video import VideoFileSource
from video_throughput import build_video


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1e6


def looping(video: Path):
    """Frames of the video over and over, with timestamps that keep increasing."""
    offset, index = 0.0, 0
    for _ in itertools.count():
        with VideoFileSource(video) as source:
            for frame in source:
                frame.index, frame.timestamp = index, offset + frame.timestamp
                index += 1
                yield frame
        offset = frame.timestamp + 1 / 30


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    require(MODELS / "yunet")
    with tempfile.TemporaryDirectory() as tmp:
        video = build_video(Path(tmp) / "soak.mp4", 10, require(DATA / "faces"))
        analyzer = Analyzer("yunet")
        started = time.monotonic()
        baseline, samples, frames = None, [], 0
        for _ in analyzer.stream(looping(video), fps=30):
            frames += 1
            elapsed = time.monotonic() - started
            if frames % 100 == 0:
                samples.append((elapsed, rss_mb()))
                if baseline is None and elapsed >= 60:
                    baseline = samples[-1][1]
            if elapsed >= args.minutes * 60:
                break
    end = samples[-1][1]
    baseline = baseline or samples[0][1]
    print(f"{frames} frames in {args.minutes:g} min; RSS after 1 min {baseline:.1f} MB, at the end {end:.1f} MB, "
          f"growth {100 * (end - baseline) / baseline:+.2f}% (peak {max(s for _, s in samples):.1f} MB)")


if __name__ == "__main__":
    main()
