"""Face detection: EmoScope's own detector beside YuNet and Haar in one run, each with its own defaults
(``DetectorSettings()``: min face 20 px, max side 1280), on every set below. Sets a to d, f to h, j and k are
photos and are detected as photos; e's frames as a stream's frames (EmoScope's detector sees a photo larger than a
frame: ``photo_max_side`` against ``input_max_side`` in its model file; YuNet and Haar see both alike).

A detection matches a face at IoU >= 0.4, greedily by score (``_faces.assign``). Face size is sqrt(w * h),
in px (bins 8-24, 24-48, 48-96, 96-192, >= 192) and as a share of the image's shorter side (bins < 10 %: a
face in a crowd, 10-30 %: in a group, 30-60 %: a portrait, >= 60 %: a face crop). Recall of a bin counts
the faces of that size; precision of a bin counts the detections of that size (their own box), a detection
being true when it matches a labelled face of any size, false when it matches nothing, and neither when it
matches a face the set does not ask about (said per set).

a. WIDER (``--wider-part``, default ``test``): the shared WIDER FACE photos (max side 512) of that part of
   ``emoscope.data.widerface.load_widerface``: ``test`` (reported) and ``val`` (for choosing thresholds) are the
   two halves, by hash, of ``held_out``, which ``emoscope train-detector`` never sees; ``train`` is what it
   learns from. Headline recall over the faces of at least ``--min-size`` px (default 24), precision over
   detections of at least 0.8 x ``--min-size``, and the share bins over those same faces and detections;
   the px bins start at 8 px. A detection on a smaller face or on an invalid-flagged region counts as true.
b. The 43 boxed faces of the 9 shared multi-person photos (``faces/training.xml`` + ``testing.xml``, faces
   37-109 px): recall and precision, every unmatched detection false; and the faces found on ``dogs.jpg``
   (no human face: should be 0).
c. Each of those 43 faces cut out of its photo with a margin of 0, 10, 25, 50, 75 and 100 % of its box's
   width (height) on each side (0: the face fills the crop; 100 %: the face is a third of it), at the photo's
   own resolution, edges replicated where the crop leaves the photo: recall at each margin, and false
   detections (a detection on another boxed face that shows in the crop is neither).
d. The ExpW test crops (``expw/test/*/*.jpg``, 112 x 112, one labelled face box each in ``faces.csv``): share
   of crops whose face is found, and precision, where a detection matching nothing is false -- an unlabelled
   neighbour's face in a crop counts as false too. As a diagnostic of box conventions (ExpW's boxes are
   squares, some looser than a detector's), also the share of crops with a detection centred on the box.
e. A video of tiled portraits (``_faces.tiled_portrait_video``): 640 x 480, 30 fps, ``--video-seconds`` long,
   written as H.264 and decoded; a 3 x 2 grid of portrait tiles on a plain background, each cut from one of the
   43 boxed faces or an ExpW test crop, its face 80-130 px, drifting and breathing in size, one tile showing
   the next person every 2 s. Share of the true faces found per frame by the detector on every frame; then the
   library's stream (``Analyzer(detector).stream(frames)`` with its defaults, as ``emoscope video`` runs: detection
   every 3rd frame, tracking in between) and the share of true faces present in its timeline (a record matching
   a true box at IoU >= 0.4 in that frame). Another boxed face of a tile's photo showing in the tile is neither
   true nor false; an unlabelled face (an ExpW neighbour) is false. Both detect as a stream does.
f. JAFFE (213 posed photos): share of photos with a face found, and the fast emotion model's accuracy (the one
   every detector version was measured with; photos get the accurate one by default)
   through ``Analyzer`` (detect -> crop -> classify) as ``model_accuracy.py`` scores it (``pipeline_set``: the
   most confident face; a photo without a face counts as wrong).
g. Landmarks, for a detector that gives them: on the 43 faces found both by it and by YuNet, the distance of
   each of its 5 points from YuNet's, as a share of the boxed face's side (mean and 95th percentile; target
   within 5 %); "n/a" for a detector without landmarks.
h. FER2013 PrivateTest faces as close-ups (``_faces.fer2013_close_up``): each 48 x 48 face padded by half its
   side and upscaled 4x to 384 x 384, so that a soft grey face fills the middle half of the image, as in a
   movie frame or a webcam's close-up (the crop of FER2013 is the box: 192 px, a face box inside it of
   at least 122 px matches at IoU >= 0.4). Share found, precision (every unmatched detection false), and the
   share with a detection centred on the crop, as for the ExpW crops.
i. ms per 640 x 480 image: median over 5 passes of 9 frames cut from the shared photos, the detector and
   OpenCV limited to 1 or 2 threads, detected as a stream's frames (the time budget) and, for EmoScope's
   detector, as photos; and photos without a face (40 background patches of WIDER val photos, enlarged to
   640 x 480: ``second_look.background_patches``), which EmoScope's detector looks at twice.
j. Big photos, as cameras take them (the shared sets are small): the ExpW test crops enlarged 12x to 1344 px
   portraits (the face two thirds of the photo: found / precision, as set d), and the WIDER test photos enlarged
   2x to at most 1024 px (recall / precision of faces >= ``--min-size`` px in the enlarged photo, as set a).
k. Low light, as a night scene or a dark film frame (``_faces.LOW_LIGHT``: levels x0.35; x0.2 with sensor noise
   of 4 grey levels, seeded per image): the WIDER photos (as set a), the ExpW test crops (as set d) and the FER2013
   close-ups (as set h), darkened (``--skip`` name: ``dark``).

    python benchmarks/detection.py [--detectors emoscope yunet haar] [--detector-model FILE]
        [--threshold 0.35 0.4 0.45] [--wider-part test|val|held_out|train|all] [--min-size 24] [--limit N]
        [--video-seconds 10] [--threads 2] [--skip SET ...] [--json detection.json]

``--threshold`` sweeps the ``emoscope`` detector's score threshold (the others keep theirs); ``--limit N``
takes at most N WIDER photos, N ExpW crops and N FER2013 faces (every k-th), for quick checks.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from _data import DATA, MODELS, require
from _faces import (FER_CLOSE_UP_BOX, LOW_LIGHT, PX_BINS, SHARE_BINS, SizeTally, assign, bin_name, boxed_photos,
                    cut_out, every_kth, expw_crops, fer2013_close_up, fer2013_faces, in_light, inside, low_light,
                    portraits, side, write_tiled_video)
from emoscope import Analyzer
from emoscope.data.widerface import PARTS, load_widerface
from emoscope.detection import DetectorSettings, create_detector
from emoscope.detection.yunet import SCORE_THRESHOLD as YUNET_SCORE_THRESHOLD
from emoscope.io.images import read_image
from emoscope.io.video import VideoFileSource
from emoscope.types import Detections

MARGINS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
POINTS = ("right eye", "left eye", "nose tip", "right mouth corner", "left mouth corner")
SETS = ("wider", "boxed", "margins", "expw", "video", "stream", "jaffe", "landmarks", "fer", "speed", "big", "dark")
BIG_PORTRAIT_SCALE = 12     # set j: ExpW's 112-px crops as 1344-px portraits
BIG_PHOTO_SCALE = 2         # set j: WIDER's photos (at most 512 px here) at about their original size


def wider_scores(detector, entries, min_size: float, enlarge: float = 1.0, light: tuple | None = None) -> dict:
    """Recall and precision on WIDER photos (``enlarge``: each enlarged by that factor, bicubic; ``light``: each
    darkened, a (gain, noise) of ``LOW_LIGHT``), overall (faces of at least ``min_size`` px) and by size."""
    tally = SizeTally(min_size)
    for index, entry in enumerate(entries):
        image = cv2.imread(str(entry.path))
        if image is None:
            continue
        if enlarge != 1.0:
            image = cv2.resize(image, None, fx=enlarge, fy=enlarge, interpolation=cv2.INTER_CUBIC)
        if light:
            image = low_light(image, *light, seed=index)
        counted = np.r_[np.ones(len(entry.boxes), bool), np.zeros(len(entry.ignore), bool)]
        tally.add(np.concatenate([entry.boxes, entry.ignore]) * enlarge, detector.detect(image),
                  min(image.shape[:2]), counted=counted)
    return tally.summary()


def boxed_scores(photos, found: list[Detections], dogs: Detections) -> dict:
    """Recall and precision on the 43 boxed faces (every unmatched detection false), and faces on dogs.jpg."""
    tally = SizeTally()
    for photo, detections in zip(photos, found):
        tally.add(photo.boxes, detections, min(photo.image.shape[:2]))
    return {**tally.summary(), "dogs": len(dogs)}


def margin_scores(detector, photos) -> dict:
    """Recall of each boxed face cut out with each margin; a detection on another boxed face is neither."""
    result = {}
    for margin in MARGINS:
        tally = SizeTally()
        for photo in photos:
            for k, box in enumerate(photo.boxes):
                crop, corner = cut_out(photo.image, box, margin)
                others = inside(np.delete(photo.boxes, k, axis=0) - corner, crop.shape[1], crop.shape[0])
                tally.add((box - corner)[None], detector.detect(crop), min(crop.shape[:2]), others)
        result[f"{margin:.0%}"] = tally.summary()
    return result


def crop_scores(detector, crops) -> dict:
    """Share of face crops, given as (image, its one face box), whose face is found; precision with
    every unmatched detection false; the share with a detection centred on the box (at any IoU)."""
    tally, centred, count = SizeTally(), 0, 0
    for image, box in crops:
        count += 1
        detections = detector.detect(image)
        tally.add(box[None], detections, min(image.shape[:2]))
        middle = detections.boxes[:, :2] + detections.boxes[:, 2:] / 2
        centred += bool((np.abs(middle - (box[:2] + box[2:] / 2)) <= box[2:] / 4).all(axis=1).any())
    return {**tally.summary(), "centred": centred / max(count, 1)}


def video_scores(detect, video: Path, boxes: list) -> dict:
    """Share of the true faces of each frame that ``detect(source)``'s per-frame detections find."""
    tally = SizeTally()
    with VideoFileSource(video) as source:
        for index, detections in detect(source):
            truth, neutral = boxes[index]
            tally.add(truth, detections, min(source.size), neutral)
    return {**tally.summary(), "frames": len(boxes)}


def every_frame(detector):
    def detect(source):
        return ((frame.index, detector.detect(frame.image, stream=True)) for frame in source)
    return detect


def library_stream(analyzer: Analyzer):
    """What ``emoscope video`` records: the timeline of ``Analyzer.stream`` with its default settings."""
    def detect(source):
        for result in analyzer.stream(source, source.fps):
            yield result.index, Detections(np.array([f.box for f in result.faces], np.float32).reshape(-1, 4),
                                           [f.score for f in result.faces])
    return detect


def jaffe_scores(analyzer: Analyzer) -> dict:
    """JAFFE through detect -> crop -> classify, as model_accuracy.py measures it (the most confident face;
    a photo without one counts as wrong), and the share of photos with a face found."""
    from _emotion_sets import jaffe_images
    from model_accuracy import pipeline_set

    report = pipeline_set(analyzer, jaffe_images(require(DATA / "jaffe" / "jaffe_128px_png.zip"),
                                                    analyzer.photo_classifier.labels))
    return {**report, "found": report.get("faces_found", report["faces"]) / max(report["faces"], 1)}


def landmark_offsets(photos, found: list[Detections], reference: list[Detections]) -> dict | None:
    """Distance of each landmark from YuNet's on the boxed faces both found, as a share of the face's side."""
    if any(d.landmarks is None for d in found):
        return None
    offsets = []
    for photo, own, theirs in zip(photos, found, reference):
        mine, yunet = assign(photo.boxes, own.boxes, own.scores), assign(photo.boxes, theirs.boxes, theirs.scores)
        for face in range(len(photo.boxes)):
            if face in mine and face in yunet:
                distance = own.landmarks[list(mine).index(face)] - theirs.landmarks[list(yunet).index(face)]
                offsets.append(np.linalg.norm(distance, axis=1) / side(photo.boxes[face:face + 1])[0])
    offsets = np.array(offsets).reshape(-1, len(POINTS))
    if not len(offsets):
        return {"faces": 0}
    return {"faces": len(offsets), "mean": dict(zip(POINTS, offsets.mean(0).tolist())),
            "p95": dict(zip(POINTS, np.percentile(offsets, 95, 0).tolist())),
            "mean_all": float(offsets.mean()), "p95_all": float(np.percentile(offsets, 95))}


def image_ms(name: str, model, threads: int, frames: list[np.ndarray], stream: bool = True) -> float:
    """Median ms of one detection on a 640x480 frame of a stream (``stream``) or photo, the detector and
    OpenCV limited to ``threads``."""
    cv2.setNumThreads(threads)
    detector = create_detector(name, model, DetectorSettings(), threads=threads)
    for frame in frames[:3]:
        detector.detect(frame, stream=stream)
    times = []
    for _ in range(5):
        for frame in frames:
            started = time.perf_counter()
            detector.detect(frame, stream=stream)
            times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times))


def faceless_frames(count: int = 40) -> list[np.ndarray]:
    """640x480 photos without a face: background patches of WIDER val photos, enlarged."""
    from second_look import background_patches

    patches = background_patches(load_widerface(require(DATA / "widerface"), "val"))[:count]
    return [cv2.resize(patch, (640, 480), interpolation=cv2.INTER_LINEAR) for patch in patches]


def timing_frames(faces_dir) -> list[np.ndarray]:
    """640x480 frames cut from the shared photos (scaled to cover 640x480, centre-cropped)."""
    frames = []
    for path in sorted(faces_dir.glob("*.jpg")):
        image = read_image(path)
        scale = max(640 / image.shape[1], 480 / image.shape[0])
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
        y, x = (image.shape[0] - 480) // 2, (image.shape[1] - 640) // 2
        frames.append(np.ascontiguousarray(image[y:y + 480, x:x + 640]))
    return frames


# ---- the tables ----

def fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def r_p(scores: dict) -> str:
    return "-" if not scores["faces"] and scores["precision"] is None else \
        f"{fmt(scores['recall'])} / {fmt(scores['precision'])}"


def table(title: str, header: list[str], lines: list[list[str]], note: str = "") -> None:
    print(f"\n### {title}\n" + (f"\n{note}\n" if note else ""))
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for line in lines:
        print("| " + " | ".join(line) + " |")


def bins_header(first: dict, unit: str, bins) -> list[str]:
    return [f"{bin_name(low, high, unit)} (n={first[f'by_{unit}'][bin_name(low, high, unit)]['faces']})"
            for low, high in bins]


def landmark_cells(offsets: dict | None, reference: bool) -> list[str]:
    if offsets is None:
        return ["n/a"] * (len(POINTS) + 2)
    if not offsets["faces"]:
        return ["0"] + ["-"] * (len(POINTS) + 1)
    return ([f"{offsets['faces']}{' (the reference)' if reference else ''}"] +
            [f"{fmt(offsets['mean'][p])} / {fmt(offsets['p95'][p])}" for p in POINTS] +
            [f"{fmt(offsets['mean_all'])} / {fmt(offsets['p95_all'])}"])


def print_tables(results: list[dict], args) -> None:
    def rows_with(key):
        return [(row["label"], row[key]) for row in results if key in row]

    if wider := rows_with("wider"):
        first = wider[0][1]
        table(f"WIDER {args.wider_part}: recall / precision, by size in px",
              ["detector", f"all >= {args.min_size:g} px (n={first['faces']})", "false"] +
              bins_header(first, "px", PX_BINS),
              [[label, r_p(s), str(s["false"])] + [r_p(s["by_px"][bin_name(*b)]) for b in PX_BINS]
               for label, s in wider],
              "Recall of a bin over its faces, precision over detections of that size (their own box).")
        table(f"WIDER {args.wider_part}: recall / precision, by face side as a share of the photo's shorter side",
              ["detector"] + bins_header(first, "share", SHARE_BINS),
              [[label] + [r_p(s["by_share"][bin_name(*b, "share")]) for b in SHARE_BINS] for label, s in wider],
              f"Faces of at least {args.min_size:g} px, detections of at least {0.8 * args.min_size:g} px.")
    if boxed := rows_with("boxed_43"):
        table("43 boxed faces of the shared photos", ["detector", "recall", "precision", "false", "faces on dogs.jpg"],
              [[label, fmt(s["recall"]), fmt(s["precision"]), str(s["false"]), str(s["dogs"])] for label, s in boxed])
    if margins := rows_with("margins"):
        table("The 43 faces cut out with a margin of x % of the box on each side: recall (false detections)",
              ["detector"] + list(margins[0][1]),
              [[label] + [f"{fmt(m['recall'])} ({m['false']})" for m in s.values()] for label, s in margins],
              "0 %: the face fills the crop; 100 %: the face is a third of it. Another boxed face in the crop "
              "is neither true nor false.")
    if expw := rows_with("expw_test"):
        table(f"ExpW test crops (n={expw[0][1]['faces']})",
              ["detector", "found", "precision", "false", "a detection centred on the box"],
              [[label, fmt(s["recall"]), fmt(s["precision"]), str(s["false"]), fmt(s["centred"])] for label, s in expw],
              "A detection matching nothing is false: an unlabelled neighbour's face in a crop counts as false. "
              "The last column (a detection whose centre is within a quarter of the labelled box's side of its "
              "centre, at any IoU) shows where a face was seen but framed unlike ExpW's box.")
    if big := rows_with("big_portraits"):
        wider_big = dict(rows_with("big_wider"))
        table(f"Big photos: ExpW test crops as {112 * BIG_PORTRAIT_SCALE}-px portraits (n={big[0][1]['faces']}), "
              f"WIDER {args.wider_part} photos enlarged {BIG_PHOTO_SCALE}x",
              ["detector", "portraits: found", "precision", f"WIDER x{BIG_PHOTO_SCALE}: recall", "precision", "false"],
              [[label, fmt(s["recall"]), fmt(s["precision"]), fmt(wider_big[label]["recall"]),
                fmt(wider_big[label]["precision"]), str(wider_big[label]["false"])] for label, s in big],
              "A camera's photo is larger than these sets' (ExpW's crops are 112 px, WIDER's photos here at most "
              "512): enlarged, the faces are as large in pixels as in such photos (and softer).")
    video = {label: s for label, s in rows_with("video")}
    stream = {label: s for label, s in rows_with("video_stream")}
    if video or stream:
        some = next(iter((video or stream).values()))
        table(f"Tiled portrait video ({some['frames']} frames, {some['faces'] / some['frames']:.1f} true faces "
              "per frame)", ["detector", "found, every frame", "precision", "false per frame",
                             "in the timeline, library defaults", "false per frame"],
              [[label, fmt(video.get(label, {}).get("recall")), fmt(video.get(label, {}).get("precision")),
                fmt(video[label]["false"] / video[label]["frames"], 2) if label in video else "-",
                fmt(stream.get(label, {}).get("recall")),
                fmt(stream[label]["false"] / stream[label]["frames"], 2) if label in stream else "-"]
               for label in dict.fromkeys([*video, *stream])],
              "Found: a detection (or timeline record) matching a true box at IoU >= 0.4 in that frame. "
              "An unlabelled face in a tile (an ExpW neighbour) counts as false.")
    if jaffe := rows_with("jaffe"):
        table("JAFFE through the pipeline", ["detector", "photos with a face", "emotion accuracy"],
              [[label, fmt(s["found"]), f"{s['accuracy']:.1%}"] for label, s in jaffe])
    if landmarks := rows_with("landmarks"):
        table("Landmarks: distance from YuNet's, share of the face's side, mean / p95 (target <= 0.05)",
              ["detector", "faces"] + list(POINTS) + ["all"],
              [[label] + landmark_cells(s, label == "yunet") for label, s in landmarks])
    if fer := rows_with("fer_close_ups"):
        table(f"FER2013 PrivateTest faces as close-ups, 4x upscaled (n={fer[0][1]['faces']})",
              ["detector", "found", "precision", "false", "a detection centred on the face"],
              [[label, fmt(s["recall"]), fmt(s["precision"]), str(s["false"]), fmt(s["centred"])] for label, s in fer],
              "The face fills the middle half of a 384-px image, grey and soft: a close-up of a movie frame or a "
              "webcam. Its box is FER2013's 48-px crop, scaled.")
    if dark := rows_with("low_light"):
        table(f"Low light: WIDER {args.wider_part} recall / precision, ExpW test crops and FER2013 close-ups found / "
              "precision",
              ["detector"] + [f"{name}, {form}" for form in LOW_LIGHT for name in ("WIDER", "ExpW", "FER")],
              [[label] + [r_p(s[form][name]) for form in LOW_LIGHT for name in ("wider", "expw", "fer")]
               for label, s in dark],
              "Each image's levels scaled by the gain, then Gaussian noise (seeded per image) added. The sets as they "
              "are: sets a, d and h.")
    if speed := rows_with("ms_640x480"):
        photo, faceless = dict(rows_with("ms_640x480_photo")), dict(rows_with("ms_640x480_faceless_photo"))

        def pair(times: dict, label: str) -> list[str]:
            return [fmt(times[label]["1_threads"], 2), fmt(times[label]["2_threads"], 2)] if label in times \
                else ["as a frame", "as a frame"]
        table("ms per 640x480 image (median)", ["detector", "stream frame, 1 thread", "2 threads",
                                                 "photo, 1 thread", "2 threads", "photo without a face, 1 thread",
                                                 "2 threads"],
              [[label, fmt(s["1_threads"], 2), fmt(s["2_threads"], 2), *pair(photo, label), *pair(faceless, label)]
               for label, s in speed])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector-model", help="EmoScope detector ONNX file (default: the bundled one)")
    parser.add_argument("--detectors", nargs="+", default=["emoscope", "yunet", "haar"],
                        choices=("emoscope", "yunet", "haar"))
    parser.add_argument("--threshold", type=float, nargs="+", default=[None],
                        help="score thresholds to try for emoscope (default: its own)")
    parser.add_argument("--min-size", type=float, default=24, help="smallest WIDER face counted, px (sqrt(w*h))")
    parser.add_argument("--wider-part", choices=PARTS, default="test",
                        help="test: reported; val: for choosing thresholds (test + val = held_out); "
                             "train: photos the detector learnt from")
    parser.add_argument("--limit", type=int, help="at most this many WIDER photos and ExpW crops (every k-th)")
    parser.add_argument("--video-seconds", type=float, default=10.0, help="length of the tiled portrait video")
    parser.add_argument("--threads", type=int, default=2, help="threads of the detectors in the accuracy sets")
    parser.add_argument("--skip", nargs="*", default=[], choices=SETS)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    run = [s for s in SETS if s not in args.skip]
    faces_dir = require(DATA / "faces")
    photos = boxed_photos(faces_dir)
    wider = every_kth(load_widerface(require(DATA / "widerface"), args.wider_part), args.limit) \
        if {"wider", "big", "dark"} & set(run) else []
    crops = expw_crops(require(DATA / "expw"), limit=args.limit) if {"expw", "big", "dark"} & set(run) else []
    fer_faces = fer2013_faces(require(DATA / "fer2013" / "fer2013.csv.gz"), limit=args.limit) \
        if {"fer", "dark"} & set(run) else []
    reference = None
    if "landmarks" in run:
        require(MODELS / "yunet")
        yunet = create_detector("yunet", None, DetectorSettings(), threads=args.threads)
        reference = [yunet.detect(photo.image) for photo in photos]
    frames = timing_frames(faces_dir) if "speed" in run else []
    faceless = faceless_frames() if "speed" in run and "emoscope" in args.detectors else []
    tmp = tempfile.TemporaryDirectory()
    video, boxes = Path(tmp.name) / "portraits.mp4", []
    if {"video", "stream"} & set(run):
        boxes = write_tiled_video(video, portraits(faces_dir, require(DATA / "expw")), args.video_seconds)
    results = []
    for name in args.detectors:
        model = args.detector_model if name == "emoscope" else None
        for threshold in (args.threshold if name == "emoscope" else [None]):
            settings = DetectorSettings(score_threshold=threshold)
            detector = create_detector(name, model, settings, threads=args.threads)
            row = {"detector": name, "threshold": threshold if threshold is not None else
                   getattr(detector, "score_threshold", "-" if name == "haar" else YUNET_SCORE_THRESHOLD)}
            row["label"] = name if len(args.threshold) == 1 or name != "emoscope" else f"{name} @ {row['threshold']}"
            print(f"{row['label']}: {', '.join(run)}", file=sys.stderr, flush=True)
            if "wider" in run:
                row["wider"] = wider_scores(detector, wider, args.min_size)
            if {"boxed", "landmarks"} & set(run):
                found = [detector.detect(photo.image) for photo in photos]
                if "boxed" in run:
                    row["boxed_43"] = boxed_scores(photos, found, detector.detect(read_image(faces_dir / "dogs.jpg")))
                if "landmarks" in run:
                    row["landmarks"] = landmark_offsets(photos, found, reference)
            if "margins" in run:
                row["margins"] = margin_scores(detector, photos)
            if "expw" in run:
                row["expw_test"] = crop_scores(detector, ((cv2.imread(str(path)), box) for path, box in crops))
            if "big" in run:
                row["big_portraits"] = crop_scores(detector, (
                    (cv2.resize(cv2.imread(str(path)), None, fx=BIG_PORTRAIT_SCALE, fy=BIG_PORTRAIT_SCALE,
                                interpolation=cv2.INTER_LINEAR), box * BIG_PORTRAIT_SCALE) for path, box in crops))
                row["big_wider"] = wider_scores(detector, wider, args.min_size, BIG_PHOTO_SCALE)
            if "fer" in run:
                row["fer_close_ups"] = crop_scores(detector, ((fer2013_close_up(face), FER_CLOSE_UP_BOX)
                                                              for face, _ in fer_faces))
            if "dark" in run:
                row["low_light"] = {form: {
                    "wider": wider_scores(detector, wider, args.min_size, light=light),
                    "expw": crop_scores(detector, zip(in_light((cv2.imread(str(path)) for path, _ in crops), *light),
                                                      (box for _, box in crops))),
                    "fer": crop_scores(detector, ((image, FER_CLOSE_UP_BOX) for image in in_light(
                        (fer2013_close_up(face) for face, _ in fer_faces), *light)))}
                    for form, light in LOW_LIGHT.items()}
            if "video" in run:
                row["video"] = video_scores(every_frame(detector), video, boxes)
            if {"stream", "jaffe"} & set(run):
                analyzer = Analyzer(name, "fast", detector_model=model, score_threshold=threshold,
                                    threads=args.threads)
                if "stream" in run:
                    row["video_stream"] = video_scores(library_stream(analyzer), video, boxes)
                if "jaffe" in run:
                    row["jaffe"] = jaffe_scores(analyzer)
            if "speed" in run and threshold == args.threshold[0]:
                row["ms_640x480"] = {f"{t}_threads": image_ms(name, model, t, frames) for t in (1, 2)}
                if name == "emoscope":   # the others see a photo as they see a frame
                    row["ms_640x480_photo"] = {f"{t}_threads": image_ms(name, model, t, frames, stream=False)
                                               for t in (1, 2)}
                    row["ms_640x480_faceless_photo"] = {f"{t}_threads": image_ms(name, model, t, faceless,
                                                                                  stream=False) for t in (1, 2)}
            results.append(row)
    tmp.cleanup()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; command: python benchmarks/detection.py "
          f"{' '.join(sys.argv[1:])}; WIDER {args.wider_part}: {len(wider)} photos")
    print_tables(results, args)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": sys.argv[1:],
                       "wider_photos": len(wider), "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
