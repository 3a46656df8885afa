"""Live sources: a camera (OpenCV index, URL or RTSP) and the screen (mss), as iterables of Frames.

In real-time mode a camera is read on a background thread that keeps only the newest frame, so
a slow consumer drops frames instead of falling ever further behind the live picture.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError
from ..settings import STREAM_FPS
from ..types import Frame


class CameraSource:
    """Frames from ``cv2.VideoCapture(device)``; ``device`` is an index ("0") or a URL/path."""

    def __init__(self, device: int | str = 0, realtime: bool = True):
        target = int(device) if str(device).isdigit() else str(device)
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            raise InputError(f"camera {device!r} could not be opened")
        self.device = device
        self.realtime = realtime
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or STREAM_FPS
        self.size = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.stopped_at: str | None = None
        self.frames_read = 0
        self.frames_dropped = 0
        self._latest: tuple[int, float, np.ndarray] | None = None
        self._condition = threading.Condition()
        self._ended = False
        self._closing = False
        self._thread: threading.Thread | None = None

    def _read_loop(self, started: float) -> None:
        while not self._closing:
            ok, image = self._capture.read()
            with self._condition:
                if not ok:
                    self._ended = True
                    self._condition.notify_all()
                    return
                if self._latest is not None:
                    self.frames_dropped += 1
                self._latest = (self.frames_read, time.monotonic() - started, image)
                self.frames_read += 1
                self._condition.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        started = time.monotonic()
        if not self.realtime:
            while True:
                ok, image = self._capture.read()
                if not ok:
                    break
                yield Frame(self.frames_read, time.monotonic() - started, image)
                self.frames_read += 1
        else:
            self._thread = threading.Thread(target=self._read_loop, args=(started,), daemon=True)
            self._thread.start()
            while True:
                with self._condition:
                    self._condition.wait_for(lambda: self._latest is not None or self._ended)
                    if self._latest is None:
                        break
                    index, timestamp, image = self._latest
                    self._latest = None
                yield Frame(index, timestamp, image)
        if self.frames_read == 0:
            self.stopped_at = f"camera {self.device!r} delivered no frame"
        elif not self._closing:
            self.stopped_at = f"camera {self.device!r} stopped delivering frames after {self.frames_read}"

    def close(self) -> None:
        self._closing = True
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._capture.release()

    def __enter__(self) -> "CameraSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ScreenSource:
    """Screenshots of a monitor, or of a region ``(x, y, w, h)`` of it, at up to ``fps`` per second."""

    realtime = True   # live: each frame is analysed before the next is taken

    def __init__(self, region: tuple[int, int, int, int] | None = None, monitor: int = 1, fps: float = 10.0):
        try:
            import mss
        except ImportError:
            raise InputError("screen capture needs mss: pip install 'emoscope[live]'") from None
        if os.name == "posix" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise InputError("no display for the screen source (DISPLAY is not set)")
        try:
            self._grabber = mss.mss()
        except Exception as error:  # mss raises its own ScreenShotError on a broken display
            raise InputError(f"the screen cannot be captured: {error}") from None
        monitors = self._grabber.monitors
        if not 1 <= monitor < len(monitors):
            raise InputError(f"monitor {monitor} does not exist; this display has {len(monitors) - 1}")
        area = monitors[monitor]
        if region is not None:
            x, y, w, h = region
            if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > area["width"] or y + h > area["height"]:
                raise InputError(f"region {region} is not inside monitor {monitor} ({area['width']}x{area['height']})")
            area = {"left": area["left"] + x, "top": area["top"] + y, "width": w, "height": h}
        self._area = area
        self.fps = fps
        self.size = (area["width"], area["height"])
        self.stopped_at: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        started = time.monotonic()
        index = 0
        while True:
            due = started + index / self.fps
            time.sleep(max(0.0, due - time.monotonic()))
            shot = np.asarray(self._grabber.grab(self._area))
            yield Frame(index, time.monotonic() - started, cv2.cvtColor(shot, cv2.COLOR_BGRA2BGR))
            index += 1

    def close(self) -> None:
        self._grabber.close()

    def __enter__(self) -> "ScreenSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
