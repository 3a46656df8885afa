"""Every default in one place: the library, the CLI and the web app read these dataclasses.

Plain data with no imports beyond the standard library, so any layer may read them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INFERENCE_THREADS = 2       # ONNX Runtime and OpenCV threads of an Analyzer (one per core of a small machine)
STREAM_FPS = 30.0           # frame rate assumed for a stream whose source does not say
ANNOTATION_STYLE = "bars"   # what annotated output shows on each face: box, label or bars (render.STYLES)


@dataclass(frozen=True)
class DetectorSettings:
    score_threshold: float | None = None    # None: the detector's own (YuNet 0.8; ours from its model file)
    nms_threshold: float | None = None      # None: the detector's own (YuNet 0.3; ours from its model file)
    min_face: int = 20          # pixels, in the original image
    max_side: int = 1280        # detect on a copy whose longer side is at most this


@dataclass(frozen=True)
class StreamSettings:
    """How a stream follows faces over frames (video, camera, screen, the live socket, batch videos)."""

    smooth: int = 5                 # smooth probabilities over about this many processed frames; 1 = off
    # Speed: chosen by measurement on benchmarks/video_throughput.py (BENCHMARKS.md, "Video throughput").
    detect_every: int = 3           # run the detector on every N-th frame; follow the tracks in between
    detect_face_px: int | None = None   # detect on a copy shrunk to keep the smallest known face this big; None: full size
    full_detect_every: int = 30     # a full-size detection once in every this many frames (faces smaller than the known)
    # the two memories below count detection frames (every detect_every-th processed frame, and each scene cut)
    max_missed: int = 30            # a track survives this many unseen and may still be matched by position
    iou_threshold: float = 0.25     # least overlap of a box with a track's predicted box to continue it
    reid_frames: int = 3600         # a lost face can still be recognised by its look (3600: 6 min at 30 fps)
    # Looks: chosen on benchmarks/tracking.py's generated videos (BENCHMARKS.md, "Tracking").
    same_look: float = 0.65         # appearance similarity (0..1) needed to continue a track by position
    same_moment: float = 0.8        # similarity to a track's look of a moment ago below which a face is in doubt;
                                    # twice in a row: another person shown in its place (a video-call tile)
    same_person: float = 0.85       # appearance similarity needed to give a lost face its old ID back
    scene_cut: float = 0.1          # frame-to-frame colour change (0..1) read as a cut: no track continues by position


@dataclass(frozen=True)
class BatchSettings:
    """How ``emoscope batch`` (and ``emoscope video --scheduler``) spreads work over Dask workers."""

    workers: int = 2                # workers of the local cluster started when no scheduler is given
    retries: int = 2                # times a task runs again after it raised or its worker was lost
    # A video longer than one segment is cut at keyframes into segments of about this many seconds, one task
    # each. 60 s, measured (benchmarks/batch_scaling.py, BENCHMARKS.md): each segment costs a seek and the warm-up
    # below (3% more frames at 60 s; 30-s segments took 5-13% longer and gave one extra person), and a 3-hour
    # lecture still gives 180 tasks to share.
    segment_seconds: float = 60.0
    # Frames before each segment that warm its tracker and smoother up and join its track IDs to the earlier
    # segment's (emoscope.stitching): at least a few detection frames, and the smoother's memory (1/3 per frame).
    overlap_seconds: float = 2.0


@dataclass
class WebSettings:
    max_image_bytes: int = 20 * 1024 * 1024
    max_video_bytes: int = 500 * 1024 * 1024
    retention_seconds: float = 3600.0
    jobs_dir: Path | None = None   # default: a private temporary folder
    tokens: tuple[str, ...] = ()   # access tokens (web.security); none: open to whoever reaches the port
