"""``manifest.json`` in a batch's output folder: every finished input with its sha256 and outputs, and
the segments of long videos done so far, so that running the same command again does only what is
missing (a killed job resumes). A folder holding files that the batch did not write is refused."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..models import sha256_of
from .inputs import output_key

MANIFEST = "manifest.json"


def prepare_output(out_dir: Path) -> dict:
    """The manifest of earlier runs (a new one written in a new or empty folder); refuses a folder with files
    that are not ours."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: is a file, not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or not isinstance(manifest.get("inputs"), dict) or \
                    not isinstance(manifest.setdefault("segments", {}), dict):
                raise ValueError("no inputs")
            return manifest
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"{manifest_path}: damaged (not an emoscope batch manifest); move it away to "
                             "start over") from None
    if any(out_dir.iterdir()):
        raise InputError(f"{out_dir} holds files that emoscope batch did not write; choose an empty or new folder")
    manifest = {"version": 1, "inputs": {}, "segments": {}}
    write_json(manifest_path, manifest)   # at once: the folder is ours from here, whatever stops the run
    return manifest


def is_finished(entry: dict | None, path: Path, out_dir: Path, model: str) -> bool:
    """Whether an earlier run finished this input: no error, no missing stretch, the same file read by the same
    emotion ``model`` (an entry of a version that did not record it is done again), every output there."""
    return bool(entry) and "error" not in entry and "missing" not in entry and entry.get("model") == model and \
        entry.get("sha256") == sha256_or_none(path) and all((out_dir / o).exists() for o in entry.get("outputs", ()))


def sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def write_json(path: Path, data) -> None:
    """Written whole or not at all: a kill leaves the previous version."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)


def faces_file(out_dir: Path, raw: str) -> Path:
    """Where an input's face rows are kept, so that a resumed run can rebuild the table of every face."""
    return out_dir / "faces" / f"{output_key(Path(raw))}.json"


def save_faces(out_dir: Path, entry: dict) -> None:
    """An image's face rows, from its manifest entry, beside its outputs."""
    target = faces_file(out_dir, entry["input"])
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(entry["faces"]))
    entry["outputs"] = entry["outputs"] + [str(target.relative_to(out_dir))]
