"""Processed frames per second on a 640x480, 30 fps video with 1-4 real faces.

The video is built here, reproducibly, from the shared face photos (panning and zooming over
them; never committed), then processed by the video pipeline (decode, detect, crop, classify,
track, smooth; no output files) in several settings, with a Haar + small-CNN baseline in the
same run for the ratio.

    python benchmarks/video_throughput.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from _data import DATA, MODELS, require
from emoscope import Analyzer
from emoscope.io.video import VideoFileSource
from emoscope.settings import StreamSettings

PHOTOS = ["2008_001322.jpg", "Tom_Cruise_avp_2014_4.jpg", "2008_002470.jpg", "2009_004587.jpg"]


def build_video(path: Path, seconds: float, faces_dir: Path) -> Path:
    """Pan and zoom over each photo in turn; 640x480 at 30 fps, H.264."""
    photos = [cv2.imread(str(faces_dir / name)) for name in PHOTOS]
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
    frames = int(seconds * 30)
    per_photo = max(1, frames // len(photos))
    for i in range(frames):
        photo = photos[min(i // per_photo, len(photos) - 1)]
        t = (i % per_photo) / per_photo
        h, w = photo.shape[:2]
        zoom = 1.0 + 0.3 * np.sin(np.pi * t)           # in and back out
        crop_w, crop_h = min(w, int(h * 4 / 3)) / zoom, min(h, int(w * 3 / 4)) / zoom
        x = (w - crop_w) * t                             # pan left to right
        y = (h - crop_h) / 2
        view = photo[int(y): int(y + crop_h), int(x): int(x + crop_w)]
        frame = cv2.resize(view, (640, 480), interpolation=cv2.INTER_LINEAR)
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def processed_fps(analyzer: Analyzer, video: Path, every: int = 1, detect_every: int = 1) -> tuple[float, float]:
    with VideoFileSource(video, stride=every) as source:
        started = time.perf_counter()
        frames = faces = 0
        for result in analyzer.stream(source, source.fps / every, StreamSettings(detect_every=detect_every)):
            frames += 1
            faces += len(result.faces)
        elapsed = time.perf_counter() - started
    return frames / elapsed, faces / max(frames, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline-model", help="ONNX model for the Haar baseline (default: the bundled model)")
    args = parser.parse_args()
    faces_dir = require(DATA / "faces")
    require(MODELS / "yunet")
    with tempfile.TemporaryDirectory() as tmp:
        video = build_video(Path(tmp) / "bench.mp4", args.seconds, faces_dir)
        print(f"test video: 640x480, 30 fps, {args.seconds:.0f} s, photos {', '.join(PHOTOS)}\n")
        print("| pipeline | threads | frame stride | detector every | processed frames/s | faces per frame |")
        print("|---|---|---|---|---|---|")
        settings = [("yunet", 1, 1, 1), ("yunet", 2, 1, 1), ("yunet", 2, 3, 1), ("yunet", 2, 1, 3), ("haar", 2, 1, 1)]
        for detector, threads, every, detect_every in settings:
            analyzer = Analyzer(detector, args.baseline_model if detector == "haar" else None, threads=threads)
            fps, faces = processed_fps(analyzer, video, every, detect_every)
            print(f"| {detector} + bundled model | {threads} | {every} | {detect_every} | {fps:.1f} | {faces:.2f} |")


if __name__ == "__main__":
    main()
