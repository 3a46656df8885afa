"""Batches on Dask: throughput with 1 and 2 local workers, and one long video cut into segments.

``--part inputs``: 200 images (the shared face photos, repeated) and 4 short videos built from them, on 1 and 2
workers, and the time of a 1-image batch from the command line (needs the YuNet model).

``--part long-video``: a video of ``--minutes`` (default 10) of real faces (the shared photos' boxed faces and
ExpW test crops, as portrait tiles drifting on a plain background, one tile showing the next person every 30 s;
640x480, 30 fps, H.264 with its encoder's keyframes), analysed sequentially with one thread and in segments on
a local cluster of 2 workers x 1 thread (each held to a core of its own), once per ``--segment-seconds``; the
sequential runs: as ``emoscope video`` runs, one frame at a time (as each segment's task runs), and that again with
the process held to one core, as a worker is; every run writes the same timeline and summary. Reported: the
speed-up, each segment's overhead (the seek to its warm-up start, the warm-up frames analysed twice, the stitching
and writing on the driver, done as the segments arrive: in all, and what is left after the last one) and how the
segmented run agrees with the sequential one (rows of the timeline matched by frame and box, with the same ID mapping and
emotion; people counted; extra IDs per boundary). Where the time goes: the segments' tasks in all (their
seconds summed) against the one-core run, and with ``--tasks-alone`` the same tasks run one after another in a
new process held to one core, with nothing beside them: the difference is what the two workers and the driver
(stitching and writing beside them) cost each other on the machine.

Everything is written to a temporary folder (never committed). A smoke test: ``--part long-video --minutes 0.5``.

    python benchmarks/batch_scaling.py [--part all|inputs|long-video] [--images 200] [--videos 4]
        [--video-seconds 4] [--minutes 10] [--segment-seconds 60 ...] [--tasks-alone] [--json FILE]
"""
from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from _data import DATA, MODELS, require
from _faces import portraits, write_tiled_video
from emoscope.batch import SegmentedVideo, dask_client, run_batch
from emoscope.batch.segment_tasks import SegmentFailure, analyze_segment, plan_video
from emoscope.batch.tasks import worker_analyzer
from emoscope.batch.worker_cores import TASKS, hold_threads
from emoscope.io.video import VideoFileSource
from emoscope.pipeline import Analyzer
from emoscope.settings import BatchSettings
from emoscope.sinks import SummaryFile, TimelineFile
from emoscope.streaming import run_stream, stream_video_file
from emoscope.tracking import greedy_pairs, iou_matrix
from video_throughput import build_video

OPTIONS = {"detector": "yunet", "threads": 1}
LONG_OPTIONS = {"detector": "auto", "threads": 1}    # the bundled detector: no download needed
WORKERS = 2


def many_inputs(args) -> dict:
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
        single = time.perf_counter() - started
        print(f"1-image batch from the command line, process and cluster start included: {single:.2f} s")
    return {"inputs": total, "seconds_by_workers": seconds, "speedup": seconds[1] / seconds[2],
            "one_image_batch_seconds": single}


def timed_segment(*args):
    """A segment's task, with its time on the worker (the worker's Analyzer and its stream model loaded before the
    clock starts)."""
    worker_analyzer(args[3]).load_models("stream")
    started = time.perf_counter()
    outcome = analyze_segment(*args)
    return outcome, time.perf_counter() - started


def seek_seconds(path: Path, plan) -> float:
    """Mean time from opening the file to a segment's first analysed frame (the seek to its keyframe and the
    frames decoded from there), beyond the time to the file's first frame."""
    def first_frame(segment=None) -> float:
        started = time.perf_counter()
        where = {} if segment is None else {"start": segment.warmup_start, "end": segment.end,
                                            "seek_from": segment.seek_from}
        with VideoFileSource(path, 1, **where) as source:
            next(iter(source))
        return time.perf_counter() - started

    later = [first_frame(segment) for segment in plan.segments[1:] if segment.warmup_start > 0]
    return max(0.0, float(np.mean(later)) - first_frame()) if later else 0.0


def segmented_run(path: Path, folder: Path, client, segment_seconds: float) -> dict:
    """The video in segments on the cluster, into a timeline and a summary, with the time of each part."""
    from dask.distributed import as_completed

    started = time.perf_counter()
    plan = plan_video(path, segment_seconds, BatchSettings.overlap_seconds)
    planned = time.perf_counter()
    video = SegmentedVideo(str(path), plan, folder / "rows", key={})
    options = tuple(sorted(LONG_OPTIONS.items()))
    futures = {client.submit(timed_segment, str(path), plan, n, options, 1, pure=False,
                             retries=BatchSettings.retries): n for n in video.todo}
    task_seconds, tally = [], Counter()   # warm-up and own frames; the driver's waits and last take
    finished = as_completed(futures)

    def arrive():
        """One more finished segment in, as analyze_on_cluster takes them, with its time and frames. The
        driver takes a segment when the write needs the next one in time order, so the last take is
        at most one segment's stitching after the last segment finished."""
        waiting = time.perf_counter()
        future = next(finished)
        tally["waited"] += time.perf_counter() - waiting
        n = futures[future]
        outcome, seconds = future.result()
        task_seconds.append(seconds)
        tally["last_taken"] = time.perf_counter()
        video.take(n, outcome)
        if not isinstance(outcome, SegmentFailure):
            warmup = sum(plan.segments[n].warms_up_on(t) for t in outcome.frame_time.tolist())
            tally["warmup"] += warmup
            tally["own"] += len(outcome.frame_time) - warmup

    # stitched and written as the segments arrive in time order, while the later ones are analysed
    video.write([TimelineFile(folder / "timeline.csv"), SummaryFile(folder / "summary.json")], every=1,
                arrive=arrive)
    written = time.perf_counter()
    return {"segments": len(plan.segments), "missing": video.missing, "seconds": written - started,
            "plan_seconds": planned - started, "tasks_seconds": tally["last_taken"] - planned,
            "stitch_write_seconds": written - tally["last_taken"],
            "driver_seconds": written - planned - tally["waited"], "task_seconds_max": max(task_seconds),
            "task_seconds_sum": sum(task_seconds),
            "warmup_frames": tally["warmup"], "own_frames": tally["own"], "seek_seconds": seek_seconds(path, plan)}


def read_timeline(path: Path) -> dict[int, list[tuple[int, list[float], str]]]:
    frames = defaultdict(list)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            frames[int(row["frame"])].append(
                (int(row["track_id"]), [float(row[k]) for k in "xywh"], row["emotion"]))
    return frames


def agreement(segmented: Path, sequential: Path) -> dict:
    """Rows of the sequential timeline whose face the segmented one has on the same frame (box IoU >= 0.5)
    under the ID that most of that segmented track's rows map to, and with the same emotion."""
    ours, theirs = read_timeline(segmented), read_timeline(sequential)
    pairs, partners = [], Counter()
    for frame, want in theirs.items():
        got = ours.get(frame, [])
        overlap = iou_matrix(np.array([b for _, b, _ in want], np.float32).reshape(-1, 4),
                             np.array([b for _, b, _ in got], np.float32).reshape(-1, 4))
        for r, c in greedy_pairs(np.where(overlap >= 0.5, overlap, 0.0), 1e-6):
            pairs.append((want[r], got[c]))
            partners[(got[c][0], want[r][0])] += 1
    mapping = {}
    for (ours_id, theirs_id), _ in partners.most_common():
        mapping.setdefault(ours_id, theirs_id)
    rows = sum(len(want) for want in theirs.values())
    same_id = sum(mapping[got[0]] == want[0] for want, got in pairs)
    same_both = sum(mapping[got[0]] == want[0] and got[2] == want[2] for want, got in pairs)
    return {"rows": rows, "rows_segmented": sum(len(got) for got in ours.values()),
            "same_id": same_id / max(rows, 1), "same_id_and_emotion": same_both / max(rows, 1)}


def holdable_cores() -> set[int]:
    """The cores this process may use, where its threads can be held to one of them (Linux); else none."""
    if not (hasattr(os, "sched_getaffinity") and os.path.isdir(TASKS)):
        return set()
    return os.sched_getaffinity(0)


def one_frame_at_a_time(video: Path, folder: Path, pinned: bool = False) -> float | None:
    """Seconds for the video one frame at a time, as each segment's task runs it, into a timeline and a summary
    in ``folder`` (the segmented runs' outputs); ``pinned``: with this process and its threads held to one core,
    as a cluster's worker is (None where that cannot be done)."""
    cores = holdable_cores()
    if pinned and not cores:
        return None
    if pinned:
        hold_threads({min(cores)})
    try:
        started = time.perf_counter()
        with VideoFileSource(video) as source:
            run_stream(Analyzer(**LONG_OPTIONS), source, source.fps,
                       [TimelineFile(folder / "timeline.csv"), SummaryFile(folder / "summary.json")], realtime=True)
        return time.perf_counter() - started
    finally:
        if pinned:
            hold_threads(cores)


def tasks_alone(video: Path, segment_seconds: float) -> float | None:
    """Seconds for every segment's task, one after another in a new process held to one core, with nothing
    beside it (None where it cannot be held)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_tasks_alone, video, segment_seconds).result()


def _tasks_alone(video: Path, segment_seconds: float) -> float | None:
    cores = holdable_cores()
    if not cores:
        return None
    plan = plan_video(video, segment_seconds, BatchSettings.overlap_seconds)
    options = tuple(sorted(LONG_OPTIONS.items()))
    hold_threads({min(cores)})
    timed = [timed_segment(str(video), plan, n, options, 1) for n in range(len(plan.segments))]
    failed = [f"{plan.span(n)}: {outcome.error}" for n, (outcome, _) in enumerate(timed)
              if isinstance(outcome, SegmentFailure)]
    if failed:
        raise RuntimeError(f"segments failed on their own: {'; '.join(failed)}")
    return sum(seconds for _, seconds in timed)


def long_video(args) -> dict:
    faces = require(DATA / "faces")
    expw = DATA / "expw"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = tmp / "lecture.mp4"
        print(f"writing {args.minutes:g} minutes of video ...", file=sys.stderr)
        write_tiled_video(video, portraits(faces, expw if expw.exists() else None), args.minutes * 60,
                          change_every=30.0)
        started = time.perf_counter()
        summary = stream_video_file(video, Analyzer(**LONG_OPTIONS), [TimelineFile(tmp / "sequential.csv"),
                                                                      SummaryFile(tmp / "sequential.json")])
        sequential = time.perf_counter() - started
        sequential_one_core = one_frame_at_a_time(video, tmp)
        sequential_pinned = one_frame_at_a_time(video, tmp, pinned=True)
        people = json.loads((tmp / "sequential.json").read_text())["people"]
        result = {"minutes": args.minutes, "frames": summary.frames, "sequential_seconds": sequential,
                  "sequential_one_core_seconds": sequential_one_core, "sequential_pinned_seconds": sequential_pinned,
                  "people": people, "runs": []}
        started = time.perf_counter()
        with dask_client(None, WORKERS) as client:
            result["cluster_start_seconds"] = time.perf_counter() - started
            for seconds in args.segment_seconds:
                folder = tmp / f"segments-{seconds:g}"
                run = {"segment_seconds": seconds, **segmented_run(video, folder, client, seconds)}
                run["people"] = json.loads((folder / "summary.json").read_text())["people"]
                run["speedup"] = sequential / run["seconds"]
                run["speedup_one_core"] = sequential_one_core / run["seconds"]
                if sequential_pinned is not None:
                    run["speedup_pinned"] = sequential_pinned / run["seconds"]
                run.update(agreement(folder / "timeline.csv", tmp / "sequential.csv"))
                if args.tasks_alone:
                    run["tasks_alone_seconds"] = tasks_alone(video, seconds)
                result["runs"].append(run)
    return result


def long_video_table(result: dict) -> str:
    per_frame = result["sequential_seconds"] / max(result["frames"], 1)
    lines = [f"{result['minutes']:g} min, {result['frames']} frames; sequential (1 thread): "
             f"{result['sequential_seconds']:.1f} s, {result['people']} people; cluster start "
             f"{result['cluster_start_seconds']:.1f} s (not counted below); one frame at a time (as each "
             f"segment's task): {result['sequential_one_core_seconds']:.1f} s; the same held to one core: "
             f"{result['sequential_pinned_seconds'] or float('nan'):.1f} s", "",
             "| segment s | segments | seconds | speed-up | speed-up vs one frame at a time | vs one core | seek ms | "
             "warm-up frames (s at 1 thread) | "
             "stitch + write after the last segment s | driver's stitch + write in all s | tasks summed s (alone) | "
             "same ID | same ID + emotion | people | extra IDs per boundary |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in result["runs"]:
        boundaries = max(run["segments"] - 1, 1)
        alone = "" if run.get("tasks_alone_seconds") is None else f" ({run['tasks_alone_seconds']:.1f})"
        lines.append(
            f"| {run['segment_seconds']:g} | {run['segments']} | {run['seconds']:.1f} | {run['speedup']:.2f}x | "
            f"{run['speedup_one_core']:.2f}x | {run.get('speedup_pinned', float('nan')):.2f}x | "
            f"{run['seek_seconds'] * 1e3:.0f} | {run['warmup_frames']} ({run['warmup_frames'] * per_frame:.1f}) | "
            f"{run['stitch_write_seconds']:.1f} | {run['driver_seconds']:.1f} | {run['task_seconds_sum']:.1f}{alone} | "
            f"{run['same_id']:.1%} | {run['same_id_and_emotion']:.1%} | "
            f"{run['people']} | {(run['people'] - result['people']) / boundaries:+.2f} |")
        if run["missing"]:
            lines.append(f"\nmissing in the {run['segment_seconds']:g}-s run: {'; '.join(run['missing'])}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "inputs", "long-video"), default="all")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--video-seconds", type=float, default=4.0)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long video")
    parser.add_argument("--segment-seconds", type=float, nargs="+", default=[BatchSettings.segment_seconds])
    parser.add_argument("--tasks-alone", action="store_true",
                        help="also time each segment length's tasks one after another on one core, nothing beside them")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    results = {}
    if args.part in ("all", "inputs"):
        results["inputs"] = many_inputs(args)
    if args.part in ("all", "long-video"):
        results["long_video"] = long_video(args)
        print(long_video_table(results["long_video"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
