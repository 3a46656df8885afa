"""Single-image latency: one 640x480 image with one face, detect + align + classify.

Median and p90 over repeated runs at 1 and 2 threads, per stage, for each emotion model named (by default
``auto``, what a photo gets: the accurate model, and ``fast``, what a live frame gets); and process start to
first result (a fresh interpreter that imports emoscope, loads the models and analyses one image).

    python benchmarks/latency.py [--repeat 200] [--detector auto|emoscope|yunet|haar] [--models auto fast]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np

from _data import MODELS, ROOT, require
from emoscope import Analyzer


def test_image() -> np.ndarray:
    """The bundled example photo fitted into a 640x480 frame."""
    photo = cv2.imread(str(ROOT / "examples" / "astronaut.png"))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:64 + 480] = cv2.resize(photo, (480, 480), interpolation=cv2.INTER_AREA)
    return frame


def measure(detector: str, model: str, threads: int, repeat: int) -> dict[str, list[float]]:
    analyzer = Analyzer(detector, model, threads=threads)
    image = test_image()
    for _ in range(10):
        analyzer.analyze_array(image)
    stages: dict[str, list[float]] = {}
    for _ in range(repeat):
        result = analyzer.analyze_array(image)
        assert len(result.faces) == 1, "the test image must hold exactly one detected face"
        for name, ms in result.timings_ms.items():
            stages.setdefault(name, []).append(ms)
    return stages


def cold_start(detector: str) -> float:
    code = (f"import time; t = time.perf_counter(); import emoscope; "
            f"r = emoscope.Analyzer({detector!r}).analyze({str(ROOT / 'examples' / 'astronaut.png')!r}); "
            f"assert r.faces")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--detector", default="auto", choices=("auto", "emoscope", "yunet", "haar"),
                        help="default: auto, what users get (the bundled detector)")
    parser.add_argument("--models", nargs="+", default=["auto", "fast"],
                        help="emotion models, one after the other (default: auto fast)")
    args = parser.parse_args()
    if args.detector == "yunet":
        require(MODELS / "yunet")
    print("| model | threads | stage | median ms | p90 ms |")
    print("|---|---|---|---|---|")
    for model in args.models:
        for threads in (1, 2):
            stages = measure(args.detector, model, threads, args.repeat)
            for name, values in stages.items():
                p90 = float(np.percentile(values, 90))
                print(f"| {model} | {threads} | {name} | {statistics.median(values):.2f} | {p90:.2f} |")
    starts = [cold_start(args.detector) for _ in range(3)]
    print(f"\nprocess start to first result ({args.detector}): median {statistics.median(starts):.2f} s of 3")


if __name__ == "__main__":
    main()
