"""Video files in and out through PyAV (FFmpeg): frames with their real timestamps, and an
H.264 MP4 that browsers play, carrying the source's audio when it has any.

Sources are iterables of :class:`Frame`; a file that breaks mid-way ends the iteration and
records where in ``stopped_at``, so everything decoded so far is still processed and written.
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError
from ..settings import STREAM_FPS
from ..types import Frame
from .images import MAX_PIXELS

try:
    import av
except ImportError:  # pragma: no cover - the message names the extra
    av = None


def _require_av():
    if av is None:
        raise InputError("video needs PyAV: pip install 'emoscope[video]'")


class VideoFileSource:
    """Decoded frames of a video file; every ``stride``-th frame is yielded.

    A segment of a long video (:mod:`emoscope.segments`) is read with ``start``, its first frame's time,
    ``seek_from``, the time of the keyframe at or before it to seek to (default ``start``; frames before
    ``start`` are decoded and dropped), ``end`` (frames from there on are not read) and ``frames_before``
    (the file's frames before ``start``), so that frames are numbered, and every ``stride``-th picked, as
    when the whole file is read; ``own_start``: where the segment's own frames begin, after its warm-up.
    Damage before it is not reported: those frames are an earlier segment's, and the keyframe at
    ``own_start`` ends what the damage does to the decoding.
    """

    def __init__(self, path: str | Path, stride: int = 1, start: float = 0.0, end: float = math.inf,
                 frames_before: int = 0, own_start: float | None = None, seek_from: float | None = None):
        _require_av()
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        if stride < 1:
            raise InputError("the frame stride must be at least 1")
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
            raise InputError(f"{self.path}: not a readable video "
                             f"({getattr(error, 'strerror', None) or error})") from None
        try:
            self._stream = self._check_stream()
        except InputError:
            self._container.close()
            raise
        self._stream.thread_type = "AUTO"
        self.stride = stride
        self.start, self.end, self.frames_before = start, end, frames_before
        self.own_start = start if own_start is None else own_start
        self.seek_from = start if seek_from is None else seek_from
        self.stopped_at: str | None = None
        self._skipped = 0
        self.has_audio = bool(self._container.streams.audio)

    def _check_stream(self):
        """The first video stream, checked before any frame is decoded: a decoder for its codec
        and a frame size within the image pixel limit."""
        if not self._container.streams.video:
            raise InputError(f"{self.path}: has no video stream")
        stream = self._container.streams.video[0]
        context = stream.codec_context
        if context is None or not context.name:
            raise InputError(f"{self.path}: its video codec cannot be decoded here")
        width, height = context.width, context.height
        if width <= 0 or height <= 0:
            raise InputError(f"{self.path}: its video stream has no frame size")
        if width * height > MAX_PIXELS:
            raise InputError(f"{self.path}: frames of {width:,} x {height:,} pixels are over the limit of {MAX_PIXELS:,}")
        return stream

    @property
    def fps(self) -> float:
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else STREAM_FPS

    @property
    def frame_count(self) -> int | None:
        """Frames in the file when its header says; None when unknown."""
        return self._stream.frames or None

    @property
    def frames_to_yield(self) -> int | None:
        """Frames the iteration yields (every ``stride``-th) when the header says how many; None when unknown."""
        return -(-self.frame_count // self.stride) if self.frame_count else None

    @property
    def size(self) -> tuple[int, int]:
        return self._stream.codec_context.width, self._stream.codec_context.height

    def __iter__(self) -> Iterator[Frame]:
        index, last_time = self.frames_before, self.start
        self._skipped = 0
        try:
            for timestamp, decoded in self._decoded():
                if timestamp >= self.end:
                    break
                last_time = timestamp
                if index % self.stride == 0:
                    yield Frame(index, timestamp, decoded.to_ndarray(format="bgr24"))
                index += 1
        except av.FFmpegError as error:
            self.stopped_at = f"reading stopped at frame {index} ({last_time:.2f} s): {error.strerror or error}"
        expected = self.frame_count if self.end == math.inf else None  # a middle segment's count is not known
        nothing = index == self.frames_before
        if self.stopped_at is None and (self._skipped or nothing or (expected and index < expected)):
            self.stopped_at = (f"decoded {index} of {expected or 'an unknown number of'} frames "
                               f"(ends at {last_time:.2f} s; {self._skipped} damaged packets skipped)")

    def _decoded(self) -> Iterator[tuple[float, "av.VideoFrame"]]:
        """(time, frame) of each frame from ``start`` on, in order; a damaged packet is skipped (the next
        keyframe recovers) and, from ``own_start`` on, counted in ``_skipped``."""
        seeking = self.start > 0
        if seeking:   # to the keyframe at seek_from, at or before start
            self._container.seek(round(self.seek_from / self._stream.time_base), stream=self._stream)
        count = 0
        for packet in self._container.demux(self._stream):
            try:
                decoded_frames = packet.decode()
            except av.FFmpegError:
                if self.own_start <= 0 or packet.pts is None or packet.pts * self._stream.time_base >= self.own_start:
                    self._skipped += 1
                continue
            for decoded in decoded_frames:
                timestamp = self._time_of(decoded, count)
                count += 1
                if not (seeking and timestamp < self.start):
                    yield timestamp, decoded

    def _time_of(self, decoded, count: int) -> float:
        """A decoded frame's time: its own, else its packet's (as the index reads it), else counted as the
        ``count``-th frame decoded (a file without either is never cut into segments: reading began at its start)."""
        if decoded.time is not None:
            return float(decoded.time)
        if decoded.dts is not None:
            return float(decoded.dts * self._stream.time_base)
        return (self.frames_before + count) / self.fps

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "VideoFileSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoSink:
    """Writes BGR frames to an H.264 MP4 (yuv420p, +faststart) and, with ``audio_from``, copies
    that file's first audio stream in. Closing (or leaving the ``with`` block) finalises the file."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], audio_from: str | Path | None = None,
                 crf: int = 23):
        _require_av()
        self.path = Path(path)
        if audio_from is not None and self.path.resolve() == Path(audio_from).resolve():
            raise InputError(f"{self.path}: is the input; writing it would destroy it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        width, height = size
        try:
            self._container = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        except (av.FFmpegError, OSError) as error:
            raise InputError(f"{self.path}: cannot be written ({getattr(error, 'strerror', None) or error})") from None
        self._stream = self._container.add_stream("libx264", rate=_rate(fps))
        self._stream.width, self._stream.height = width - width % 2, height - height % 2  # yuv420p needs even sides
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": "veryfast"}
        self._audio_source = None
        if audio_from is not None:
            source = av.open(str(audio_from))
            if source.streams.audio:
                self._audio_source = source
                self._audio_out = self._container.add_stream_from_template(source.streams.audio[0])
            else:
                source.close()
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        height, width = self._stream.height, self._stream.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:height, :width]), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        if self._audio_source is not None:
            _copy_audio(self._audio_source, self._container, self._audio_out)
            self._audio_source.close()
        self._container.close()

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _copy_audio(source, container, audio_out) -> None:
    """``source``'s first audio stream into ``container``'s ``audio_out``, packet by packet (no re-encoding)."""
    try:
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = audio_out
                container.mux(packet)
    except av.FFmpegError:
        pass  # a damaged audio track ends the copy; the video is already complete


def join_videos(parts: list[tuple[Path, int]], path: str | Path, fps: float,
                audio_from: str | Path | None = None) -> None:
    """MP4 parts that :class:`VideoSink` encoded alike at ``fps`` (one frame size) joined into one MP4
    without re-encoding, with ``audio_from``'s audio. ``parts``: (file, number of the whole video's first
    frame in it) in order; each part's packets are moved to their frame's time, so that a missing stretch
    stays a gap and the audio keeps in step. InputError when the parts' encodings differ (they would not
    play as one) or the file cannot be written."""
    _require_av()
    path = Path(path)
    if audio_from is not None and path.resolve() == Path(audio_from).resolve():
        raise InputError(f"{path}: is the input; writing it would destroy it")
    try:
        _join(parts, path, _rate(fps), audio_from)
    except (av.FFmpegError, OSError) as error:
        raise InputError(f"{path}: the parts could not be joined ({getattr(error, 'strerror', None) or error})") \
            from None


def _rate(fps: float) -> Fraction:
    """The frame rate as :class:`VideoSink` writes it."""
    return Fraction(fps).limit_denominator(1001)


def _join(parts: list[tuple[Path, int]], path: Path, rate: Fraction, audio_from: str | Path | None) -> None:
    containers = [av.open(str(part)) for part, _ in parts]
    try:
        streams = [container.streams.video[0] for container in containers]
        first = streams[0].codec_context
        for (part, _), stream in zip(parts[1:], streams[1:]):
            context = stream.codec_context
            if (context.extradata, context.width, context.height) != (first.extradata, first.width, first.height):
                raise InputError(f"{path}: {part.name} was encoded unlike the first part; the parts cannot be "
                                 "joined as they are")
        audio_source = av.open(str(audio_from)) if audio_from is not None else None
        try:
            with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
                video_out = container.add_stream_from_template(streams[0])
                audio_out = (container.add_stream_from_template(audio_source.streams.audio[0])
                             if audio_source is not None and audio_source.streams.audio else None)
                for (_, first_frame), stream, part in zip(parts, streams, containers):
                    shift = round(Fraction(first_frame) / rate / stream.time_base)
                    for packet in part.demux(stream):
                        if packet.dts is None:   # the demuxer's end-of-stream packet
                            continue
                        packet.pts += shift
                        packet.dts += shift
                        packet.stream = video_out
                        container.mux(packet)
                if audio_out is not None:
                    _copy_audio(audio_source, container, audio_out)
        finally:
            if audio_source is not None:
                audio_source.close()
    finally:
        for container in containers:
            container.close()
