"""A long video cut into segments that separate workers analyse, each starting at a keyframe.

Times are seconds on the stream's own clock, as :class:`~emoscope.types.Frame` ``timestamp`` gives
them (``pts * time_base``, never rounded), so that a frame's time compares exactly with a boundary.
A segment owns the frames in the half-open interval ``[start, end)``: the frame on a boundary is
the first of the later segment. The first segment starts at 0 and the last one ends at infinity,
so every frame belongs to exactly one segment even where the file's duration is a little off.

Before its own frames a worker analyses those from ``warmup_start`` (``overlap`` seconds earlier), so
that its tracker and smoother are warm when its own frames begin; it seeks to ``seek_from``, the keyframe
at or before that, and decodes the frames in between without analysing them. The results of the
warm-up frames serve only to join its track IDs to the earlier segment's (:mod:`emoscope.stitching`).
Smoothed probabilities then match a sequential run's up to the part the warm-up forgot (an
exponential average forgets ``(1 - alpha) ** frames`` of what came before).
"""
from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from .errors import InputError

_SAME_TIME = 1e-6          # seconds: a keyframe this close before a multiple of the segment length counts as on it
_STEADY_RATE = 0.1         # frame intervals within this share of the usual one: a constant frame rate


@dataclass(frozen=True)
class Segment:
    """A part of a video: its own frames are those in ``[start, end)``; a worker analyses from
    ``warmup_start`` (at or before ``start``) to warm up on the frames before them, decoding from
    ``seek_from``, a keyframe at or before ``warmup_start``."""

    index: int
    start: float
    end: float
    warmup_start: float
    seek_from: float

    def owns(self, time: float) -> bool:
        """Whether the frame at ``time`` is one of this segment's own (not a warm-up frame)."""
        return self.start <= time < self.end

    def warms_up_on(self, time: float) -> bool:
        """Whether the frame at ``time`` is a warm-up frame, owned by an earlier segment."""
        return self.warmup_start <= time < self.start


@dataclass(frozen=True)
class VideoIndex:
    """What the packets of a video's first stream tell without decoding them.

    ``frame_times``: every frame's time, ascending; ``keyframes``: those of the keyframes;
    ``duration``: where the last frame ends; ``fps``: the average frame rate (None: unknown);
    ``variable_rate``: the intervals between frames differ (a variable frame rate, or dropped frames).
    """

    frame_times: tuple[float, ...]
    keyframes: tuple[float, ...]
    duration: float
    fps: float | None
    variable_rate: bool

    def frames_before(self, time: float) -> int:
        """How many frames come before ``time``: the stream index of the first frame a worker decodes
        from there, so that it counts frames (and picks those to detect on) as a sequential run does."""
        return bisect.bisect_left(self.frame_times, time)


def index_video(path: str | Path) -> VideoIndex:
    """Read the keyframes, frame times, duration and frame rate of a video file by demuxing its
    packets (no frame is decoded). A file that breaks mid-way is indexed as far as it reads."""
    try:
        import av
    except ImportError:
        raise InputError("splitting a video needs PyAV: pip install 'emoscope[video]'") from None
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable video ({getattr(error, 'strerror', None) or error})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stamps, keys, end = [], [], 0
        try:
            for packet in container.demux(stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None or packet.is_discard:
                    continue  # the flush packet, a stream without timestamps, or a frame the decoder drops
                stamps.append(stamp)
                if packet.is_keyframe:
                    keys.append(stamp)
                end = max(end, stamp + (packet.duration or 0))
        except av.FFmpegError:
            pass  # a damaged file: what was read is what a sequential run will reach too
        time_base = stream.time_base
        rate = stream.average_rate or stream.guessed_rate
        if stamps:
            duration = float(end * time_base)
        elif stream.duration is not None:
            duration = float(stream.duration * time_base)
        else:
            duration = container.duration / av.time_base if container.duration else 0.0
    stamps.sort()
    return VideoIndex(frame_times=tuple(float(s * time_base) for s in stamps),
                      keyframes=tuple(sorted(float(k * time_base) for k in keys)),
                      duration=duration, fps=float(rate) if rate else None,
                      variable_rate=_intervals_vary(stamps))


def _intervals_vary(stamps: Sequence[int]) -> bool:
    gaps = [b - a for a, b in pairwise(stamps) if b > a]
    if len(gaps) < 2:
        return False
    usual = sorted(gaps)[len(gaps) // 2]
    return max(gaps) - min(gaps) > _STEADY_RATE * usual


def plan_segments(keyframes: Sequence[float], duration: float, segment_seconds: float,
                  overlap_seconds: float) -> list[Segment]:
    """Segments of about ``segment_seconds`` covering the video, each starting at a keyframe: a
    boundary is the first keyframe at or after the next multiple of ``segment_seconds`` past the
    previous boundary, and none lies at or after ``duration``. Each segment warms up from
    ``start - overlap_seconds`` (0 at the least), decoded from the keyframe at or before it.

    A video shorter than one segment is one segment. So is one without keyframes, with a warning:
    a broken index leaves nothing to seek to."""
    _check_seconds("segment length", segment_seconds, zero_allowed=False)
    _check_seconds("overlap", overlap_seconds, zero_allowed=True)
    _check_seconds("video duration", duration, zero_allowed=True)
    keyframes = sorted(set(keyframes))
    if not keyframes:
        warnings.warn("the video's index lists no keyframe: it is analysed as one segment, not split", stacklevel=2)
    starts = [0.0]
    for keyframe in keyframes:
        if keyframe >= duration:
            break
        next_multiple = (math.floor((starts[-1] + _SAME_TIME) / segment_seconds) + 1) * segment_seconds
        if keyframe > starts[-1] and keyframe >= next_multiple - _SAME_TIME:
            starts.append(keyframe)
    ends = [*starts[1:], math.inf]
    warmups = [max(0.0, start - overlap_seconds) for start in starts]
    return [Segment(index, start, end, warmup, _keyframe_at_or_before(keyframes, warmup))
            for index, (start, end, warmup) in enumerate(zip(starts, ends, warmups))]


def _check_seconds(name: str, value: float, zero_allowed: bool) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
        least = "0 or more" if zero_allowed else "more than 0"
        raise InputError(f"the {name} must be a finite number of seconds, {least} (got {value})")


def _keyframe_at_or_before(keyframes: list[float], time: float) -> float:
    at = bisect.bisect_right(keyframes, time + _SAME_TIME)
    return max(0.0, keyframes[at - 1]) if at else 0.0
