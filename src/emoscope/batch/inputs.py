"""What a batch is given: folders, glob patterns, files and lists of paths, expanded to image and
video files; and the name each input's outputs take."""
from __future__ import annotations

import csv
import glob
import hashlib
from pathlib import Path

from ..errors import InputError
from ..io.images import IMAGE_SUFFIXES, walk_files

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
KEY_STEM = 60  # characters of an input's name kept in its output names (file names stop at 255 bytes)


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
                    raise InputError("a CSV manifest needs a 'path' column")
                entries = [row["path"] for row in rows if row["path"]]
            else:
                entries = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    except (UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"not a list of paths in UTF-8 text ({type(error).__name__})") from None
    except OSError as error:
        raise InputError(f"cannot be read ({error.strerror or error})") from None
    return [str((path.parent / e) if not Path(e).is_absolute() else Path(e)) for e in entries]


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def output_key(path: Path) -> str:
    """A file name for one input's outputs, unique even for equal names in different folders, and
    short enough for any file system whatever the input's name."""
    return f"{path.stem[:KEY_STEM]}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
