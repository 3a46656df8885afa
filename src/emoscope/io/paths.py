"""Output paths checked before any work starts, so a long run never ends in an unwritable file and
never writes over what it reads.

An output must have the right suffix, not be a folder or a device, be writable, and be neither an
input nor another output of the same run. Missing parent folders are created here, up front.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

SUFFIXES = {  # what each kind of output is written as
    "video": (".mp4",),
    "timeline": (".csv", ".json"),
    "json": (".json",),
    "csv": (".csv",),
    "chart": (".png",),
    "html": (".html", ".htm"),
}


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except (OSError, RuntimeError):  # a link loop is no file of ours
        return False


def check_outputs(outputs: dict[str, tuple[str, str | Path | None]], inputs=()) -> None:
    """Check every output ``{option: (kind, path or None)}`` (:func:`check_output`), then against the
    others and the ``inputs`` (:func:`check_distinct`); InputError naming the option at the first problem."""
    paths = {option: Path(raw) for option, (_, raw) in outputs.items() if raw is not None and raw != "-"}
    for option, path in paths.items():
        check_output(path, SUFFIXES[outputs[option][0]], option)
    check_distinct(paths, inputs)


def check_distinct(outputs: dict[str, Path], inputs=()) -> None:
    """No output ``{option: path}`` is one of the ``inputs`` or another output; InputError naming the option."""
    seen: dict[Path, str] = {}
    inputs = [Path(p) for p in inputs]
    for option, path in outputs.items():
        for source in inputs:
            if _same_file(path, source):
                raise InputError(f"{option} {path}: is an input; writing it would destroy it")
        for other, other_option in seen.items():
            if _same_file(path, other):
                raise InputError(f"{option} and {other_option} are the same file: {path}")
        seen[path] = option


def check_output(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    """One output file: suffix, not a folder or device, parent folder made and writable."""
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{option} {path}: must end in {' or '.join(suffixes)}")
    if len(path.name.encode()) > 255:
        raise InputError(f"{option} {path.name[:40]}...: file name too long")
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise InputError(f"{option} {path}: not a regular file")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{option} {path}: cannot create its folder ({error.strerror or error})") from None
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        raise InputError(f"{option} {path}: not writable")


def check_output_folder(folder: str | Path | None, inputs, option: str = "--out") -> None:
    """A folder for annotated copies: a folder (made here) that holds none of the ``inputs``, since
    copies take their input's name."""
    if folder is None:
        return
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {folder}: is a file, not a folder")
    for source in inputs:
        if _same_file(Path(source).parent, folder):
            raise InputError(f"{option} {folder}: holds the inputs, and annotated copies would replace them; "
                             "choose another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{option} {folder}: cannot create it ({error.strerror or error})") from None
    if not os.access(folder, os.W_OK):
        raise InputError(f"{option} {folder}: not writable")
