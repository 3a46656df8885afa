"""A batch on a Dask cluster, local or by address: images in chunks, a video in one task, a long video
in segments (one task each, stitched here); results written as they complete, the manifest after
each, so that a killed job resumes where it stopped."""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from ..detection import check_options
from ..errors import InputError
from ..models import AUTO_CHOICES, AUTO_EMOTION_MODEL, EMOTION_MODELS, emotion_model_for, resolve_emotion_model
from ..settings import BatchSettings
from .inputs import expand_inputs, is_video, output_key
from .long_video import SegmentedVideo
from .manifest import MANIFEST, is_finished, prepare_output, save_faces, write_json
from .report import BatchReport, write_aggregate
from .segment_rows import SegmentRows
from .segment_tasks import VideoPlan, analyze_segment, segment_outcome, start_video
from .tasks import analyze_images, video_sinks

IMAGE_CHUNK = 16
SCHEDULER = re.compile(r"^((tcp|tls|ws|wss)://)?[\w.\-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$")
_SETTINGS = BatchSettings()


def check_cluster_options(scheduler: str | None, workers: int = _SETTINGS.workers) -> None:
    if workers < 1:
        raise InputError("workers must be at least 1")
    if scheduler is not None and not SCHEDULER.match(scheduler):
        raise InputError(f"--scheduler {scheduler!r}: not a Dask address such as tcp://10.0.0.5:8786")


@contextmanager
def dask_client(scheduler: str | None, workers: int = _SETTINGS.workers, show_dashboard: bool = False):
    """A client of the cluster at ``scheduler``, or of a local one of ``workers`` single-threaded
    processes, each held to a core of its own where there are enough (closed with the client)."""
    from dask.distributed import Client, LocalCluster

    check_cluster_options(scheduler, workers)
    cluster, environment, set_by_dask = None, dict(os.environ), set()
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as error:
                raise InputError(f"could not reach the Dask scheduler at {scheduler}: {error}") from None
        else:
            try:
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
            finally:
                set_by_dask = restore_environment(environment)
            client = Client(cluster)
        with client:
            from .worker_cores import OneCorePerWorker
            from .worker_memory import FrameMemory

            try:
                client.register_plugin(FrameMemory())
            except ImportError as error:    # raised on a worker that lacks this EmoScope version
                raise InputError(f"the Dask workers cannot load EmoScope's worker code ({error}); install this "
                                 "EmoScope version on every worker") from None
            if cluster is not None:
                client.register_plugin(OneCorePerWorker(workers))
            if show_dashboard:
                print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
            yield client
    finally:
        try:
            if cluster is not None:
                cluster.close()
        finally:
            restore_environment(environment, set_by_dask)   # a worker restarted meanwhile set them again


def restore_environment(before: dict[str, str], names: set[str] | None = None) -> set[str]:
    """Put back ``names`` (default: every one that differs) as they were ``before`` a local cluster started;
    returns the names. Dask's nanny sets its workers' variables (``MALLOC_TRIM_THRESHOLD_``, ``OMP_NUM_THREADS``
    and the other libraries' thread counts at 1, ``PYTHONHASHSEED``) here, in the process that starts them, and
    leaves them: every program started from here afterwards would inherit them (a video analysed about a third
    slower with the first, batch/worker_memory.py; one thread for the others)."""
    if names is None:
        names = {name for name in set(os.environ) | set(before) if os.environ.get(name) != before.get(name)}
    for name in names:
        if name in before:
            os.environ[name] = before[name]
        else:
            os.environ.pop(name, None)
    return names


def run_batch(inputs, out_dir, scheduler: str | None = None, workers: int = _SETTINGS.workers, every: int = 1,
              analyzer_options: dict | None = None, progress: bool = True, retries: int = _SETTINGS.retries,
              segment_seconds: float = _SETTINGS.segment_seconds) -> BatchReport:
    """Analyse every input on a Dask cluster (a local one unless ``scheduler`` is an address); a video
    longer than ``segment_seconds`` is cut into segments of about that long, one task each."""
    from dask.distributed import as_completed   # a missing extra is named before any other check
    from tqdm import tqdm

    check_cluster_options(scheduler, workers)
    options = dict(analyzer_options or {})
    check_options(options.get("detector", "auto"), options.get("score_threshold"), options.get("detector_model"))
    model = options.get("model") or AUTO_EMOTION_MODEL
    if scheduler is None or model in (AUTO_EMOTION_MODEL, *EMOTION_MODELS):
        for use in AUTO_CHOICES:   # a mistyped name is one error here, not one per input
            resolve_emotion_model(emotion_model_for(model, use))
    # a path given may exist on a remote cluster's workers only; the default goes by its name, so that a run
    # with it and one naming it are the same run
    options["model"] = model
    out_dir = Path(out_dir).resolve()
    files, failed = expand_inputs(inputs)
    if not files and not failed:
        raise InputError("no images or videos found in the inputs")
    manifest = prepare_output(out_dir)
    (out_dir / "images").mkdir(exist_ok=True)
    report = BatchReport(failed=dict(failed))
    todo = []
    for path in files:
        entry = manifest["inputs"].get(str(path))
        if is_finished(entry, path, out_dir, model_of(model, str(path))):
            report.done[str(path)] = entry
            report.skipped += 1
        else:
            todo.append(path)
    if todo:   # nothing to do (every input done before, or none readable) needs no cluster
        with dask_client(scheduler, workers, show_dashboard=progress) as client, \
                tqdm(total=len(todo), unit="input", disable=not progress) as bar:
            _Run(client, as_completed(), out_dir, manifest, report, tuple(sorted(options.items())), every, retries,
                 segment_seconds, bar).run(todo)
    write_aggregate(out_dir, report, manifest)
    return report


def model_of(model: str, raw: str) -> str:
    """The emotion model an input is read with when the analyzer is given ``model`` (a photo's or a stream's)."""
    return str(emotion_model_for(model, "stream" if is_video(raw) else "photo"))


class _Run:
    """The driver's loop: every task's future with what to do with its outcome; ``pending``: Dask's
    ``as_completed``, which takes new futures while it is iterated."""

    def __init__(self, client, pending, out_dir: Path, manifest: dict, report: BatchReport, options: tuple,
                 every: int, retries: int, segment_seconds: float, bar):
        self.client, self.pending, self.out_dir, self.manifest, self.report = client, pending, out_dir, manifest, report
        self.options, self.every, self.retries, self.segment_seconds, self.bar = \
            options, every, retries, segment_seconds, bar
        self.model = dict(options)["model"]   # as the analyzer is given it; an input's own: model_of(self.model, raw)
        self.handlers: dict = {}
        # what stored segment rows depend on besides the file (JSON's own form, to compare with the manifest's);
        # the model as the stream reads it, so that "auto" and "fast" share them
        stream_options = tuple((k, str(emotion_model_for(v, "stream")) if k == "model" else v) for k, v in options)
        self.key = json.loads(json.dumps({"options": stream_options, "every": every,
                                          "segment_seconds": segment_seconds,
                                          "overlap_seconds": _SETTINGS.overlap_seconds,
                                          "rows_format": SegmentRows.FORMAT}))

    def submit(self, handler: Callable, function: Callable, *args) -> None:
        future = self.client.submit(function, *args, retries=self.retries, pure=False)
        self.handlers[future] = handler
        self.pending.add(future)

    def run(self, todo: list[Path]) -> None:
        images = [str(p) for p in todo if not is_video(p)]
        for chunk in (images[i: i + IMAGE_CHUNK] for i in range(0, len(images), IMAGE_CHUNK)):
            self.submit(functools.partial(self.images_done, chunk), analyze_images, chunk, str(self.out_dir),
                        self.options)
        for path in todo:
            if is_video(path):
                self.start_video(str(path))
        for future in self.pending:
            self.handlers.pop(future)(future)
            write_json(self.out_dir / MANIFEST, self.manifest)
        write_json(self.out_dir / MANIFEST, self.manifest)   # videos finished from stored segments alone

    def finish(self, entry: dict) -> None:
        """One input done (or failed) for good."""
        raw = entry["input"]
        if "error" in entry:   # an InputError's message names the file, as the report does already
            self.report.failed[raw] = entry["error"].removeprefix(f"{raw}: ")
        else:
            if "faces" in entry:
                save_faces(self.out_dir, entry)
            self.report.done[raw] = entry
            self.manifest["inputs"][raw] = {**{k: v for k, v in entry.items() if k != "faces"},
                                            "model": model_of(self.model, raw)}
            if "missing" in entry:
                self.report.missing[raw] = entry["missing"]
            if "notice" in entry:
                self.report.notices[raw] = entry["notice"]
        self.bar.update(1)

    def images_done(self, chunk: list[str], future) -> None:
        try:
            entries = future.result()
        except Exception as error:  # failed on every retry
            if len(chunk) > 1:  # retry its images one by one, so that only the culprit fails
                for raw in chunk:
                    self.submit(functools.partial(self.images_done, [raw]), analyze_images, [raw],
                                str(self.out_dir), self.options)
                return
            entries = [{"input": chunk[0], "error": f"task failed: {error}"}]
        for entry in entries:
            self.finish(entry)

    def start_video(self, raw: str) -> None:
        """A video with segments stored by an earlier run goes on with the others; any other is planned
        on a worker (and analysed there at once when it is one segment)."""
        record = self.manifest["segments"].get(raw)
        video = record and SegmentedVideo.resume(raw, record, self._folder(raw), self.key)
        if video:
            self.run_segments(video)
        else:
            shutil.rmtree(self._folder(raw), ignore_errors=True)  # rows of another version of the file, if any
            self.submit(functools.partial(self.video_started, raw), start_video, raw, str(self.out_dir),
                        self.options, self.every, self.segment_seconds, _SETTINGS.overlap_seconds)

    def video_started(self, raw: str, future) -> None:
        try:
            entry = future.result()
        except Exception as error:  # failed on every retry
            entry = {"input": raw, "kind": "video", "error": f"task failed: {error}"}
        if "plan" not in entry:
            self.manifest["segments"].pop(raw, None)
            return self.finish(entry)
        self.run_segments(SegmentedVideo(raw, VideoPlan.from_dict(entry["plan"]), self._folder(raw), self.key,
                                         entry["sha256"]))

    def run_segments(self, video: SegmentedVideo) -> None:
        self.manifest["segments"][video.raw] = video.record()
        for n in video.todo:
            self.submit(functools.partial(self.segment_done, video, n), analyze_segment, video.raw, video.plan, n,
                        self.options, self.every)
        if not video.todo:  # every segment was stored before the last run stopped
            self.video_done(video)

    def segment_done(self, video: SegmentedVideo, n: int, future) -> None:
        if self.manifest["segments"].get(video.raw) is None:
            return  # the video failed already
        outcome = segment_outcome(future)
        try:
            video.take(n, outcome)
        except InputError:   # the file changed
            return self.video_failed(video, outcome.error)
        if n in video.done:
            self.manifest["segments"][video.raw] = video.record()
        if not video.todo:
            self.video_done(video)

    def video_done(self, video: SegmentedVideo) -> None:
        """Every segment is in: stitched into the video's outputs."""
        sinks = video_sinks(self.out_dir, video.raw)
        try:
            video.write(sinks, self.every)
        except InputError as error:  # no segment gave rows
            return self.video_failed(video, str(error))
        except (OSError, ValueError) as error:  # an output that cannot be written, stored rows that cannot be read
            return self.video_failed(video, f"{type(error).__name__}: {error}")
        entry = {"input": video.raw, "kind": "video", "sha256": video.sha256,
                 "outputs": [str(sink.path.relative_to(self.out_dir)) for sink in sinks]}
        if video.plan.notices:
            entry["notice"] = "; ".join(video.plan.notices)
        if video.missing:  # kept to be tried again by the next run, with the stored segments
            entry["missing"] = video.missing
        else:
            del self.manifest["segments"][video.raw]
            video.remove_rows()
        self.finish(entry)

    def video_failed(self, video: SegmentedVideo, error: str) -> None:
        del self.manifest["segments"][video.raw]
        video.remove_rows()
        self.finish({"input": video.raw, "kind": "video", "error": error})

    def _folder(self, raw: str) -> Path:
        """Where a long video's segment rows wait to be stitched."""
        return self.out_dir / "videos" / output_key(Path(raw)) / "segments"

