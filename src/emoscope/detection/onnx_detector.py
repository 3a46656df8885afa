"""EmoScope's own face detector: a small anchor-free ONNX model decoded with NumPy and OpenCV.

The model (trained by ``emoscope train-detector``, shipped in ``emoscope/weights/``) gives, for
each of its strides, a face score per grid point, the distances from the point to the four edges
of the face's box and, from 2.0 on, the offsets of five landmarks from the point. Everything the
decoder needs — strides, whether there are landmarks, input policy, default score and NMS
thresholds — is read from the model's ONNX metadata (``DetectorInfo``); a model without landmark
outputs (1.x) gives boxes only.

Input policy: the model sees a copy of a stream's frame no longer than ``input_max_side`` on its
longer side (the size its time budget per frame allows), and a copy of a photo no longer than
``photo_max_side`` (where no frame follows, more pixels find more small faces), except that it never
shrinks a face of ``min_face`` (the caller's setting) below ``min_face_input`` pixels; the copy is
padded to a multiple of ``pad_multiple``. A photo in which no face is found gets a second look (2.3.1 on): framed
by a grey border ``second_look_border`` of its longer side wide, as close-ups were in training, where only a face
scoring ``second_look_threshold`` or more is kept. A copy darker than ``dark_level`` (a mean grey level; 2.3.2 on) is
looked at twice, as it is and brightened, and the faces of both looks merged.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ..errors import ModelNotFoundError
from ..models import is_number, is_whole, refuse_unusable
from ..types import Detections
from .base import DetectorSettings, FaceDetector, scaled_copy


# A dark copy (under the model's ``dark_level``) is also seen brightened to this mean grey level, by a gain of at
# most DARK_MAX_GAIN (the noise is amplified with it): a darker copy stays under the target.
DARK_TARGET_LEVEL = 110.0
DARK_MAX_GAIN = 4.0

# A big photo is also seen at the photo side for its large faces (_detect); the smaller faces of that look are
# left to the first, which sees them larger (chosen on validation photos enlarged 2-12x, BENCHMARKS.md).
WHOLE_LOOK_MIN_FACE = 128


class NotAnEmoScopeDetector(ModelNotFoundError):
    """A loadable model whose metadata does not say it is an EmoScope face detector (YuNet's, for one)."""


@dataclass(frozen=True)
class DetectorInfo:
    """The facts of a detector model, stored as JSON values in its ONNX metadata."""

    strides: tuple[int, ...] = (8, 16, 32)
    landmarks: bool = False             # outputs come in triples (score, box, landmarks) per stride
    input_max_side: int = 320          # a stream's frame
    photo_max_side: int | None = None   # a photo; None: input_max_side (models before 2.1)
    min_face_input: float = 10.0
    pad_multiple: int = 32
    pad_value: int = 114
    score_threshold: float = 0.5
    nms_threshold: float = 0.3
    second_look_border: float = 0.0     # share of a faceless photo's longer side; 0: no second look
    second_look_threshold: float = 1.0
    dark_level: float = 0.0             # mean grey level (0-255) under which a copy is also seen brightened; 0: never
    version: str = "0"
    trained_on: str = ""
    metrics: dict = field(default_factory=dict)

    KIND = "emoscope-face-detector"

    def to_metadata(self) -> dict[str, str]:
        return {"kind": json.dumps(self.KIND), **{key: json.dumps(value) for key, value in asdict(self).items()}}

    @property
    def photo_side(self) -> int:
        """The longer side of a photo's copy."""
        return self.input_max_side if self.photo_max_side is None else self.photo_max_side

    @classmethod
    def from_metadata(cls, raw: dict[str, str], source: str = "model") -> "DetectorInfo":
        if raw.get("kind") != json.dumps(cls.KIND):    # other models' metadata need not be JSON
            raise NotAnEmoScopeDetector(f"{source}: not an EmoScope face detector (metadata 'kind' missing)")
        try:
            meta = {key: json.loads(value) for key, value in raw.items() if key != "kind"}
        except json.JSONDecodeError as error:
            raise ModelNotFoundError(f"{source}: metadata is not JSON ({error})") from None
        known = {key: value for key, value in meta.items() if key in cls.__dataclass_fields__}
        info = cls(**known)
        info.check(source)
        return replace(info, strides=tuple(info.strides))

    def check(self, source: str) -> None:
        """Every value the decoder reads, checked (:func:`~emoscope.models.refuse_unusable`)."""
        pixels, fraction = "a whole number of pixels", "a number from 0 to 1"
        strides = isinstance(self.strides, (list, tuple)) and len(self.strides) > 0 and all(map(is_whole, self.strides))
        refuse_unusable(source, [
            ("input_max_side", self.input_max_side, is_whole(self.input_max_side), pixels),
            ("photo_max_side", self.photo_side, is_whole(self.photo_side), pixels),
            ("pad_multiple", self.pad_multiple, is_whole(self.pad_multiple), pixels),
            ("min_face_input", self.min_face_input, is_number(self.min_face_input, 1e-3, 1e4), "a size in pixels"),
            ("score_threshold", self.score_threshold, is_number(self.score_threshold, 0, 1), fraction),
            ("nms_threshold", self.nms_threshold, is_number(self.nms_threshold, 0, 1), fraction),
            ("second_look_border", self.second_look_border, is_number(self.second_look_border, 0, 1),
             "a share of the photo's side from 0 to 1"),
            ("second_look_threshold", self.second_look_threshold, is_number(self.second_look_threshold, 0, 1),
             fraction),
            ("dark_level", self.dark_level, is_number(self.dark_level, 0, 255), "a grey level from 0 to 255"),
            ("strides", self.strides, strides, "a list of whole numbers of pixels")])


def decode(outputs: list[np.ndarray], strides, size_hw: tuple[int, int], score_threshold: float,
           nms_threshold: float, landmarks: bool = False) -> Detections:
    """Per-stride (scores (1, P), distances (1, P, 4)[, landmark offsets (1, P, 10)]) of a
    ``size_hw`` input -> the faces after NMS (boxes x, y, w, h; landmarks (N, 5, 2) when given)."""
    per_stride = 3 if landmarks else 2
    if len(outputs) != per_stride * len(strides):
        raise ValueError(f"{len(outputs)} outputs for {len(strides)} strides, expected {per_stride} each")
    boxes, scores, points = [], [], []
    for level, stride in enumerate(strides):
        score, distance = outputs[per_stride * level], outputs[per_stride * level + 1]
        rows, cols = -(-size_hw[0] // stride), -(-size_hw[1] // stride)
        score = score.reshape(-1)
        if len(score) != rows * cols:
            raise ValueError(f"stride {stride}: {len(score)} points for a {rows}x{cols} grid")
        keep = np.flatnonzero(score >= score_threshold)
        if not len(keep):
            continue
        ys, xs = np.divmod(keep, cols)
        d = distance.reshape(-1, 4)[keep]
        x1, y1 = xs * stride - d[:, 0], ys * stride - d[:, 1]
        boxes.append(np.stack([x1, y1, d[:, 0] + d[:, 2], d[:, 1] + d[:, 3]], axis=1))
        scores.append(score[keep])
        if landmarks:
            offsets = outputs[per_stride * level + 2].reshape(-1, 5, 2)[keep]
            points.append(offsets + np.stack([xs, ys], axis=1)[:, None, :] * stride)
    if not boxes:
        return Detections.empty(with_landmarks=landmarks)
    boxes, scores = np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)
    kept = nms_kept(boxes, scores, score_threshold, nms_threshold)
    return Detections(boxes[kept], scores[kept], np.concatenate(points)[kept] if landmarks else None)


def nms_kept(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, nms_threshold: float) -> np.ndarray:
    """Indices of the boxes (x, y, w, h) that non-maximum suppression keeps, best score first."""
    return np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), score_threshold, nms_threshold),
                      np.int64).reshape(-1)


class OnnxFaceDetector(FaceDetector):
    """EmoScope's bundled detector: boxes, scores and (2.0 on) five landmarks."""

    name = "emoscope"

    def __init__(self, model_path: Path, settings: DetectorSettings, threads: int = 1):
        super().__init__(settings)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelNotFoundError(f"{model_path}: not a loadable ONNX model ({error})") from None
        self.info = DetectorInfo.from_metadata(self._session.get_modelmeta().custom_metadata_map, str(model_path))
        expected = (3 if self.info.landmarks else 2) * len(self.info.strides)
        if len(self._session.get_outputs()) != expected:
            raise ModelNotFoundError(f"{model_path}: {len(self._session.get_outputs())} outputs, but its metadata "
                                     f"promises {expected} ({len(self.info.strides)} strides"
                                     f"{' with landmarks' if self.info.landmarks else ''})")
        self.score_threshold = self.info.score_threshold if settings.score_threshold is None else settings.score_threshold
        self.nms_threshold = self.info.nms_threshold if settings.nms_threshold is None else settings.nms_threshold
        self.whole_look_min_face: float | None = WHOLE_LOOK_MIN_FACE   # None: a big photo is seen once

    def input_scale(self, height: int, width: int, *, stream: bool = False, small_faces: bool = True) -> float:
        """How much to shrink a ``height`` x ``width`` image (a stream's frame with ``stream``, else a
        photo) before the model sees it (1 = not at all). ``small_faces``: never so much that a ``min_face``
        face falls under ``min_face_input`` px."""
        by_size = (self.info.input_max_side if stream else self.info.photo_side) / max(height, width)
        by_faces = self.info.min_face_input / max(self.settings.min_face, 1e-6) if small_faces else 0.0
        return min(1.0, max(by_size, by_faces))

    def detect(self, image: np.ndarray, scale: float = 1.0, *, stream: bool = False) -> Detections:
        small, shrink = self._within_max_side(image, scale)
        found = self._in_image(self._detect(small, stream), shrink)
        if stream or len(found) or not self.info.second_look_border:
            return found
        return self._second_look(small, shrink)

    def _second_look(self, small: np.ndarray, shrink: float) -> Detections:
        """A photo with no face (of ``min_face`` or more) framed by a grey border: a face filling the photo (a
        close-up, a cut-out, a portrait) then looks like the close-ups of training. The frame goes around
        ``small``, the copy the first look started from (the photo shrunk by ``shrink``), and the framed copy is
        kept within ``max_side`` too; it is looked at as a photo (:meth:`_detect`: twice where it is big), without
        the dark look: the grey frame sets most of the framed copy's mean level, and brightening would lighten the
        frame too. Faces come back in the photo's coordinates, cut to it."""
        border = int(round(self.info.second_look_border * max(small.shape[:2])))
        value = (self.info.pad_value,) * 3
        framed = cv2.copyMakeBorder(small, border, border, border, border, cv2.BORDER_CONSTANT, value=value)
        framed, frame_shrink = scaled_copy(framed, min(1.0, self.settings.max_side / max(framed.shape[:2])))
        found = self._detect(framed, False, max(self.score_threshold, self.info.second_look_threshold),
                             dark_look=False)
        if not len(found):
            return found
        height, width = small.shape[:2]
        corners = np.concatenate([found.boxes[:, :2], found.boxes[:, :2] + found.boxes[:, 2:]], axis=1)
        corners = corners / np.float32(frame_shrink) - border
        corners = np.clip(corners, 0, [width, height, width, height]).astype(np.float32) / np.float32(shrink)
        boxes = np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)
        landmarks = None if found.landmarks is None else \
            (found.landmarks / np.float32(frame_shrink) - np.float32(border)) / np.float32(shrink)
        sides = np.minimum(boxes[:, 2], boxes[:, 3])
        return Detections(boxes, found.scores, landmarks).select((sides > 0) & (sides >= self.settings.min_face))

    def _detect(self, image: np.ndarray, stream: bool, score_threshold: float | None = None,
                dark_look: bool = True) -> Detections:
        """``score_threshold``: this look's, instead of the detector's own; ``dark_look``: see :meth:`_look`. A
        photo whose copy the min-face rule keeps larger than the photo side is also seen at the photo side: a face
        filling much of a big photo would otherwise be larger than any the model learnt, and be found as parts of
        itself. The faces of that look of at least :attr:`whole_look_min_face` px are kept, and the first look's
        whose centre is not inside one of them (no suppression across the two looks beyond that; the whole look's
        faces come first)."""
        score_threshold = self.score_threshold if score_threshold is None else score_threshold
        scale = self.input_scale(*image.shape[:2], stream=stream)
        found = self._look(image, scale, score_threshold, dark_look)
        if stream or self.whole_look_min_face is None:
            return found
        whole = self.input_scale(*image.shape[:2], small_faces=False)
        if whole >= scale:
            return found
        large = self._look(image, whole, score_threshold, dark_look)
        large = large.select(np.minimum(large.boxes[:, 2], large.boxes[:, 3]) * whole >= self.whole_look_min_face)
        if not len(large) or not len(found):
            return large if len(large) else found
        centres = found.boxes[:, :2] + found.boxes[:, 2:] / 2
        x, y, w, h = (large.boxes[:, k][None] for k in range(4))
        inside = ((centres[:, :1] > x) & (centres[:, :1] < x + w) & (centres[:, 1:] > y) & (centres[:, 1:] < y + h))
        return Detections.concatenate([large, found.select(~inside.any(axis=1))])

    def _look(self, image: np.ndarray, scale: float, score_threshold: float, dark_look: bool) -> Detections:
        """The network's faces in ``image`` shrunk by ``scale``, in the image's coordinates. With ``dark_look``, a
        copy darker than the model's ``dark_level`` is seen twice, as it is and brightened (:func:`brightened`), and
        the faces of both passes merged: the gain finds the dim faces of a night scene, but the noise it amplifies
        hides some that the copy as it is shows, a noisy close-up's (BENCHMARKS.md, detector 2.3.2)."""
        small, scale = scaled_copy(image, scale)
        found = self._pass(small, score_threshold)
        if dark_look and self.info.dark_level and (level := mean_level(small)) < self.info.dark_level:
            lit = self._pass(brightened(small, DARK_TARGET_LEVEL, level), score_threshold)
            found = merged([found, lit], score_threshold, self.nms_threshold)
        if not len(found):
            return found
        size = (small.shape[1], small.shape[0])
        boxes = found.boxes
        x1 = np.clip(boxes[:, 0], 0, size[0])
        y1 = np.clip(boxes[:, 1], 0, size[1])
        x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, size[0])
        y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, size[1])
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1) / np.float32(scale)
        landmarks = None if found.landmarks is None else found.landmarks / np.float32(scale)
        return Detections(boxes, found.scores, landmarks)

    def _pass(self, small: np.ndarray, score_threshold: float) -> Detections:
        """One pass of the network over ``small``, padded to the model's multiple, in ``small``'s coordinates."""
        size = (small.shape[1], small.shape[0])
        multiple = self.info.pad_multiple
        padded_hw = (-(-size[1] // multiple) * multiple, -(-size[0] // multiple) * multiple)
        canvas = np.full((*padded_hw, 3), self.info.pad_value, np.uint8)
        canvas[:size[1], :size[0]] = small if small.ndim == 3 else small[..., None]
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        outputs = self._session.run(None, {"input": blob})
        return decode(outputs, self.info.strides, padded_hw, score_threshold, self.nms_threshold, self.info.landmarks)


def mean_level(image: np.ndarray) -> float:
    """The mean grey level of a uint8 image over all its pixels and channels."""
    channels = image.shape[2] if image.ndim == 3 else 1
    return float(np.mean(cv2.mean(image)[:channels]))


def brightened(image: np.ndarray, target_level: float, level: float | None = None) -> np.ndarray:
    """``image`` times the gain that brings its mean level (``level``, where the caller has it; else
    :func:`mean_level`) to ``target_level``, from 1 (never darker) to :data:`DARK_MAX_GAIN`; levels saturate at
    255."""
    gain = target_level / max(mean_level(image) if level is None else level, 1.0)
    return cv2.convertScaleAbs(image, alpha=min(DARK_MAX_GAIN, max(1.0, gain)))


def merged(parts: list[Detections], score_threshold: float, nms_threshold: float) -> Detections:
    """The faces of several passes over one copy, the overlapping ones suppressed as within a pass."""
    faces = Detections.concatenate(parts)
    if not len(faces):
        return faces
    return faces.select(nms_kept(faces.boxes, faces.scores, score_threshold, nms_threshold))
