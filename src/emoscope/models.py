"""Where model files come from, and what the emotion model's ONNX metadata says.

Emotion models and EmoScope's face detector: the ones bundled in the package
(``emoscope/weights/``), or any ONNX file that carries EmoScope's metadata. The YuNet face
detector is not ours to redistribute: it is found from an explicit path, the ``EMOSCOPE_MODELS``
folder, or the user cache, where ``emoscope models download yunet`` puts it after checking its sha256.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ModelNotFoundError

EMOTION_MODELS = {"fast": "emoscope-fer-mnv2.onnx", "accurate": "emoscope-fer-accurate.onnx"}   # bundled, by name
DEFAULT_EMOTION_MODEL = "fast"   # a classifier's when none is named; training and the data's crop rule start from it
# The analyzer's default, "auto", picks by what it reads: a photo gets the accurate model, whose 3-4 ms more per
# face go unnoticed there; a stream's frames get the fast one, which keeps up with the video (BENCHMARKS.md).
AUTO_EMOTION_MODEL = "auto"
AUTO_CHOICES = {"photo": "accurate", "stream": "fast"}
DEFAULT_FACE_DETECTOR = "emoscope-face-v1.onnx"


@dataclass(frozen=True)
class DownloadableModel:
    name: str
    filename: str
    url: str
    sha256: str
    licence: str


YUNET = DownloadableModel(
    name="yunet",
    filename="face_detection_yunet_2023mar.onnx",
    url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    licence="MIT (OpenCV zoo)",
)
DOWNLOADABLE = {YUNET.name: YUNET}


def bundled_models_dir() -> Path:
    return Path(str(resources.files("emoscope") / "weights"))


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emoscope" / "models"


def _search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("EMOSCOPE_MODELS"):
        root = Path(os.environ["EMOSCOPE_MODELS"])
        dirs += [root, root / "yunet"]
    dirs.append(user_cache_dir())
    return dirs


def find_downloadable(name: str, explicit: str | Path | None = None) -> Path | None:
    """The file of a downloadable model: the explicit path, else EMOSCOPE_MODELS, else the user cache."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ModelNotFoundError(f"{path}: no such model file")
        return path
    model = DOWNLOADABLE[name]
    return next((d / model.filename for d in _search_dirs() if (d / model.filename).is_file()), None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(name: str, target_dir: Path | None = None, timeout: float = 30.0) -> Path:
    """Fetch a downloadable model over HTTPS into the user cache and check its sha256."""
    if name not in DOWNLOADABLE:
        raise ModelNotFoundError(f"unknown model {name!r}; downloadable: {', '.join(DOWNLOADABLE)}")
    model = DOWNLOADABLE[name]
    target_dir = target_dir or user_cache_dir()
    target = target_dir / model.filename
    if target.is_file() and sha256_of(target) == model.sha256:
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(model.url, timeout=timeout) as response, \
                tempfile.NamedTemporaryFile(dir=target_dir, delete=False) as handle:
            shutil.copyfileobj(response, handle)
            partial = Path(handle.name)
    except OSError as error:
        raise ModelNotFoundError(f"could not download {name} from {model.url}: {error}") from None
    if sha256_of(partial) != model.sha256:
        partial.unlink()
        raise ModelNotFoundError(f"downloaded {name} does not match its sha256; not installed")
    partial.replace(target)
    return target


def resolve_emotion_model(model: str | Path | None) -> Path:
    """An emotion model file: a bundled model by name (:data:`EMOTION_MODELS`; the default when None),
    else the given path (a ``Path`` always is one; a file named like a bundled model is ``./accurate``)."""
    model = DEFAULT_EMOTION_MODEL if model is None else model
    path = bundled_models_dir() / EMOTION_MODELS[model] if model in EMOTION_MODELS else Path(model)
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no such emotion model file (bundled: {', '.join(EMOTION_MODELS)})")
    return path


def emotion_model_for(model: str | Path | None, use: str) -> str | Path:
    """The emotion model an analyzer given ``model`` uses for ``use`` (``photo`` or ``stream``): the choice of
    :data:`AUTO_CHOICES` for ``auto`` or None, else ``model`` itself."""
    return AUTO_CHOICES[use] if model is None or model == AUTO_EMOTION_MODEL else model


def resolve_face_detector(model: str | Path | None) -> Path:
    """EmoScope's face detector file: the bundled one when None, else the given path."""
    path = bundled_models_dir() / DEFAULT_FACE_DETECTOR if model is None else Path(model)
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no such face detector file")
    return path


@dataclass(frozen=True)
class CropSpec:
    """Face framing a model expects: a square around the detector box, grown by ``margin``
    (fraction of the box side, each side), its centre moved down by ``shift_y`` (fraction of the
    side), and rotated level with the eyes when ``align_eyes`` and landmarks are present."""

    margin: float = 0.1
    shift_y: float = 0.0
    align_eyes: bool = True


@dataclass(frozen=True)
class ModelInfo:
    """What inference needs to know about an emotion model, read from its ONNX metadata."""

    labels: tuple[str, ...]
    input_size: tuple[int, int]
    channels: int
    color: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop: CropSpec
    outputs: str
    temperature: float
    metadata: dict

    REQUIRED = ("labels", "input_size", "channels", "color", "mean", "std", "crop", "outputs")

    @property
    def prior_correction(self) -> dict | None:
        """The logit bias the graph adds to take the training label prior out (tau, prior, bias per label) and,
        where chosen, to answer "neutral" less often (neutral_offset), as its metadata records it; None for a model
        without one. Inference needs nothing from it."""
        return self.metadata.get("prior_correction")

    @classmethod
    def from_metadata(cls, raw: dict[str, str], source: str = "model") -> "ModelInfo":
        missing = [key for key in cls.REQUIRED if key not in raw]
        if missing:
            raise ModelNotFoundError(f"{source}: ONNX metadata lacks {', '.join(missing)}; not an EmoScope model")
        try:
            meta = {key: json.loads(value) for key, value in raw.items()}
        except json.JSONDecodeError as error:
            raise ModelNotFoundError(f"{source}: metadata is not JSON ({error})") from None
        if meta["color"] not in ("gray", "rgb", "bgr") or meta["outputs"] not in ("logits", "probabilities"):
            raise ModelNotFoundError(f"{source}: unsupported color {meta['color']!r} or outputs {meta['outputs']!r}")
        _check_values(meta, source)
        return cls(
            labels=tuple(meta["labels"]), input_size=tuple(meta["input_size"]), channels=int(meta["channels"]),
            color=meta["color"], mean=tuple(meta["mean"]), std=tuple(meta["std"]), crop=CropSpec(**meta["crop"]),
            outputs=meta["outputs"], temperature=float(meta.get("temperature", 1.0)), metadata=meta,
        )


def is_whole(value) -> bool:
    """A whole number above 0 (not a bool, not a float)."""
    return type(value) is int and value > 0


def is_number(value, low: float = -math.inf, high: float = math.inf) -> bool:
    """A finite int or float from ``low`` to ``high``."""
    return type(value) in (int, float) and math.isfinite(value) and low <= value <= high


def refuse_unusable(source: str, rules) -> None:
    """ModelNotFoundError naming the first metadata value that fails its check; ``rules``: (name, value,
    usable, what it must be)."""
    for name, value, usable, what in rules:
        if not usable:
            raise ModelNotFoundError(f"{source}: metadata {name!r} must be {what}, not {value!r}")


def _check_values(meta: dict, source: str) -> None:
    """Every emotion-model metadata value inference reads, checked (:func:`refuse_unusable`)."""
    def per_channel(value, usable) -> bool:
        return isinstance(value, list) and len(value) in (1, meta["channels"]) and all(map(usable, value))

    labels, size, crop, temperature = meta["labels"], meta["input_size"], meta["crop"], meta.get("temperature", 1.0)
    refuse_unusable(source, [
        ("labels", labels, isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) for x in labels),
         "a list of at least two names"),
        ("input_size", size, isinstance(size, list) and len(size) == 2 and all(map(is_whole, size)),
         "two whole numbers of pixels"),
        ("channels", meta["channels"], meta["channels"] in (1, 3) and type(meta["channels"]) is int, "1 or 3"),
        ("mean", meta["mean"], per_channel(meta["mean"], is_number), "a number per channel"),
        ("std", meta["std"], per_channel(meta["std"], lambda v: is_number(v) and v > 0),
         "a positive number per channel"),
        ("crop", crop, isinstance(crop, dict) and set(crop) <= set(CropSpec.__dataclass_fields__)
         and all(is_number(crop.get(k, 0)) for k in ("margin", "shift_y")) and crop.get("margin", 0) > -0.5
         and isinstance(crop.get("align_eyes", True), bool),
         "margin and shift_y numbers (margin above -0.5), align_eyes true or false"),
        ("temperature", temperature, is_number(temperature) and temperature > 0, "a positive number")])
