"""Batch analysis of many images and videos on a Dask cluster ([distributed] extra).

Images go in chunks, each video is one task. Every worker builds one Analyzer, once, when its
first task arrives (never pickled). Results are written as they complete: per input a JSON
(images) or a timeline + summary (videos), then one table of every face and an aggregate report.
``manifest.json`` in the output folder records each finished input with its sha256, so running
the same command again skips what is done and a killed job resumes.
"""
from __future__ import annotations

import csv
import functools
import glob
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .detection import check_options
from .errors import InputError
from .io.images import IMAGE_SUFFIXES, walk_files
from .models import sha256_of
from .sinks import Sink, SummaryFile, TimelineFile
from .types import FrameResult

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
MANIFEST = "manifest.json"
IMAGE_CHUNK = 16
KEY_STEM = 60  # characters of an input's name kept in its output names (file names stop at 255 bytes)
SCHEDULER = re.compile(r"^((tcp|tls|ws|wss)://)?[\w.\-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$")


@dataclass
class BatchReport:
    done: dict = field(default_factory=dict)      # input -> manifest entry
    failed: dict = field(default_factory=dict)    # input -> error
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


def expand_inputs(inputs) -> tuple[list[Path], dict[str, str]]:
    """Image and video files from folders (recursive), glob patterns and manifest files (.txt or .csv
    with one path per line or a ``path`` column). Returns (files, failures)."""
    files, failed = [], {}
    for raw in map(str, inputs):
        path = Path(raw)
        if path.is_dir():
            files += walk_files(path, IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        elif path.is_file() and path.suffix.lower() in (".txt", ".csv"):
            try:
                files += [Path(p) for p in _read_list(path)]
            except InputError as error:
                failed[raw] = str(error)
        elif path.is_file():
            files.append(path)
        elif any(ch in raw for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(raw, recursive=True) if Path(p).is_file())
            files += matches
            if not matches:
                failed[raw] = "the pattern matches no file"
        else:
            failed[raw] = "no such file or folder"
    resolved = []
    for path in files:
        try:
            resolved.append(path.resolve())
        except (OSError, RuntimeError, ValueError) as error:  # a link loop, a NUL byte in a listed name
            failed[str(path)] = f"cannot be resolved ({error})"
    return list(dict.fromkeys(resolved)), failed


def _read_list(path: Path) -> list[str]:
    """The paths in a .txt (one per line) or .csv (a ``path`` column) list; InputError when the
    file is not such a list."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            if path.suffix.lower() == ".csv":
                rows = list(csv.DictReader(handle))
                if rows and "path" not in rows[0]:
                    raise InputError(f"{path}: a CSV manifest needs a 'path' column")
                entries = [row["path"] for row in rows if row["path"]]
            else:
                entries = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"not a list of paths in UTF-8 text ({type(error).__name__})") from None
    except OSError as error:
        raise InputError(f"cannot be read ({error.strerror or error})") from None
    return [str((path.parent / e) if not Path(e).is_absolute() else Path(e)) for e in entries]


def output_key(path: Path) -> str:
    """A file name for one input's outputs, unique even for equal names in different folders, and
    short enough for any file system whatever the input's name."""
    return f"{path.stem[:KEY_STEM]}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


@functools.lru_cache(maxsize=2)
def _worker_analyzer(options: tuple):
    """The worker process's one Analyzer for these options (built on first use, then reused)."""
    from .pipeline import Analyzer

    return Analyzer(**dict(options))


def analyze_images(paths: list[str], out_dir: str, options: tuple) -> list[dict]:
    """Task: a chunk of images -> one JSON per image; returns a manifest entry per input."""
    analyzer = _worker_analyzer(options)
    return [_analyze_image(analyzer, raw, out_dir) for raw in paths]


def _analyze_image(analyzer, raw: str, out_dir: str) -> dict:
    """One image's manifest entry; whatever goes wrong with it stays its own error."""
    path = Path(raw)
    entry = {"input": raw, "kind": "image"}
    try:
        result = next(analyzer.analyze_many([path]))
        if result.error:
            return {**entry, "error": result.error}
        target = Path(out_dir) / "images" / f"{output_key(path)}.json"
        target.write_text(json.dumps(result.to_dict()))
        return {**entry, "sha256": sha256_of(path), "outputs": [str(target.relative_to(out_dir))],
                "faces": [_face_row(raw, None, None, face, analyzer.labels) for face in result.faces]}
    except OSError as error:
        return {**entry, "error": f"{error.strerror or error}"}


class FaceRows(Sink):
    """Every face of a video as rows of the batch's table (:func:`_face_row`)."""

    def __init__(self, raw: str):
        self.raw = raw
        self.rows: list[dict] = []

    def add(self, result: FrameResult) -> None:
        self.rows += [_face_row(self.raw, result.index, result.timestamp, face, self.stream.labels)
                      for face in result.faces]


def analyze_video(raw: str, out_dir: str, options: tuple, every: int) -> dict:
    """Task: one video -> its timeline CSV and summary JSON; returns its manifest entry."""
    from .streaming import stream_video_file

    analyzer = _worker_analyzer(options)
    path = Path(raw)
    folder = Path(out_dir) / "videos" / output_key(path)
    faces = FaceRows(raw)
    try:
        files = [TimelineFile(folder / "timeline.csv"), SummaryFile(folder / "summary.json")]
        summary = stream_video_file(path, analyzer, [*files, faces], every=every)
    except InputError as error:
        return {"input": raw, "kind": "video", "error": str(error)}
    except OSError as error:
        return {"input": raw, "kind": "video", "error": f"{error.strerror or error}"}
    if summary.stopped_at and summary.frames == 0:
        return {"input": raw, "kind": "video", "error": summary.stopped_at}
    entry = {"input": raw, "kind": "video", "sha256": sha256_of(path), "faces": faces.rows,
             "outputs": [str(file.path.relative_to(out_dir)) for file in files]}
    if summary.stopped_at:
        entry["warning"] = summary.stopped_at
    return entry


def _face_row(raw, frame, time, face, labels) -> dict:
    from .io.writers import face_row

    return {"input": raw, "frame": frame, "time": None if time is None else round(time, 4),
            "track_id": face.track_id, **face_row(face, labels)}


def prepare_output(out_dir: Path) -> dict:
    """The manifest of earlier runs; refuses a folder with files that are not ours."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: is a file, not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or not isinstance(manifest.get("inputs"), dict):
                raise ValueError("no inputs")
            return manifest
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"{manifest_path}: damaged (not an emoscope batch manifest); move it away to "
                             "start over") from None
    if any(out_dir.iterdir()):
        raise InputError(f"{out_dir} holds files that emoscope batch did not write; choose an empty or new folder")
    return {"version": 1, "inputs": {}}


def run_batch(inputs, out_dir, scheduler: str | None = None, workers: int = 2, every: int = 1,
              analyzer_options: dict | None = None, progress: bool = True, retries: int = 2) -> BatchReport:
    """Analyse every input on a Dask cluster (a local one unless ``scheduler`` is an address)."""
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    if workers < 1:
        raise InputError("workers must be at least 1")
    if scheduler is not None and not SCHEDULER.match(scheduler):
        raise InputError(f"--scheduler {scheduler!r}: not a Dask address such as tcp://10.0.0.5:8786")
    options = analyzer_options or {}
    check_options(options.get("detector", "auto"), options.get("score_threshold"), options.get("detector_model"))
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
        if entry and "error" not in entry and entry.get("sha256") == _sha256_or_none(path) and \
                all((out_dir / o).exists() for o in entry.get("outputs", ())):
            report.done[str(path)] = entry
            report.skipped += 1
        else:
            todo.append(path)
    options = tuple(sorted((analyzer_options or {}).items()))

    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as error:
                raise InputError(f"could not reach the Dask scheduler at {scheduler}: {error}") from None
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=40)
            client = Client(cluster)
        with client:
            if progress:
                print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
            images = [str(p) for p in todo if p.suffix.lower() not in VIDEO_SUFFIXES]
            videos = [str(p) for p in todo if p.suffix.lower() in VIDEO_SUFFIXES]
            futures = {client.submit(analyze_images, chunk, str(out_dir), options, retries=retries, pure=False): chunk
                       for chunk in (images[i: i + IMAGE_CHUNK] for i in range(0, len(images), IMAGE_CHUNK))}
            futures.update({client.submit(analyze_video, v, str(out_dir), options, every, retries=retries,
                                          pure=False): [v] for v in videos})
            bar = tqdm(total=len(todo), unit="input", disable=not progress)
            pending = as_completed(futures)
            for future in pending:
                try:
                    entries = future.result()
                except Exception as error:  # failed on every retry
                    if len(futures[future]) > 1:  # a chunk: retry its images one by one, so only the culprit fails
                        for raw in futures[future]:
                            single = client.submit(analyze_images, [raw], str(out_dir), options, retries=retries,
                                                   pure=False)
                            futures[single] = [raw]
                            pending.add(single)
                        continue
                    entries = [{"input": raw, "error": f"task failed: {error}"} for raw in futures[future]]
                for entry in entries if isinstance(entries, list) else [entries]:
                    if "error" in entry:
                        report.failed[entry["input"]] = entry["error"]
                    else:
                        _save_faces(out_dir, entry)
                        report.done[entry["input"]] = entry
                        manifest["inputs"][entry["input"]] = {k: v for k, v in entry.items() if k != "faces"}
                    bar.update(1)
                _write_json(out_dir / MANIFEST, manifest)
            bar.close()
    finally:
        if cluster is not None:
            cluster.close()
    _write_aggregate(out_dir, report, manifest)
    return report


def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def _write_json(path: Path, data) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)


def _save_faces(out_dir: Path, entry: dict) -> None:
    """Each finished input's face rows, kept beside its outputs so a resumed run can rebuild the table."""
    faces_dir = out_dir / "faces"
    faces_dir.mkdir(exist_ok=True)
    target = faces_dir / f"{output_key(Path(entry['input']))}.json"
    target.write_text(json.dumps(entry["faces"]))
    entry["outputs"] = entry["outputs"] + [str(target.relative_to(out_dir))]


def _write_aggregate(out_dir: Path, report: BatchReport, manifest: dict) -> None:
    """faces.csv (every face of every finished input) and report.json (+ report.png when matplotlib is there)."""
    rows = []
    for raw in sorted(manifest["inputs"]):
        faces_file = out_dir / "faces" / f"{output_key(Path(raw))}.json"
        if faces_file.exists():
            rows += json.loads(faces_file.read_text())
    fields = list(dict.fromkeys(["input", "frame", "time", "track_id", *(k for row in rows for k in row)]))
    with open(out_dir / "faces.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    per_input: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = per_input.setdefault(row["input"], {})
        counts[row["emotion"]] = counts.get(row["emotion"], 0) + 1
    overall: dict[str, int] = {}
    for counts in per_input.values():
        for emotion, n in counts.items():
            overall[emotion] = overall.get(emotion, 0) + n
    summary = {"inputs_done": len(manifest["inputs"]), "inputs_failed": report.failed, "faces": len(rows),
               "emotion_counts_overall": overall, "emotion_counts_per_input": per_input}
    _write_json(out_dir / "report.json", summary)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(list(overall), list(overall.values()), color="#4a7fb5")
    ax.set(title=f"Emotions over {len(rows)} face observations in {len(per_input)} inputs", ylabel="faces")
    fig.tight_layout()
    fig.savefig(out_dir / "report.png", dpi=100)
    plt.close(fig)
