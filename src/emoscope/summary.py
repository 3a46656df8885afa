"""Per-person and overall summaries of a stream of frame results: time seen, share of time in
each emotion, dominant emotion and how often it changed."""
from __future__ import annotations

from collections import defaultdict

from .types import FrameResult


class StreamSummary:
    """Accumulates frame results; each processed frame counts for the time until the next one."""

    def __init__(self, labels, frame_interval: float):
        self.labels = tuple(labels)
        self.frame_interval = frame_interval
        self._seconds = defaultdict(lambda: dict.fromkeys(self.labels, 0.0))
        self._first, self._last, self._changes, self._current = {}, {}, defaultdict(int), {}
        self.frames = 0
        self.stopped_at: str | None = None   # why the source ended early, if it did (set by run_stream; not JSON)

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        for face in result.faces:
            track = face.track_id
            self._seconds[track][face.emotion] += self.frame_interval
            self._first.setdefault(track, result.timestamp)
            self._last[track] = result.timestamp
            if track in self._current and self._current[track] != face.emotion:
                self._changes[track] += 1
            self._current[track] = face.emotion

    @staticmethod
    def _shares(seconds: dict[str, float]) -> tuple[float, dict[str, float], str | None]:
        total = sum(seconds.values())
        shares = {k: (round(v / total, 4) if total else 0.0) for k, v in seconds.items()}
        return total, shares, (max(seconds, key=seconds.get) if total else None)

    def to_dict(self) -> dict:
        tracks = []
        overall = dict.fromkeys(self.labels, 0.0)
        for track, seconds in sorted(self._seconds.items()):
            total, shares, dominant = self._shares(seconds)
            for label, value in seconds.items():
                overall[label] += value
            tracks.append({"track_id": track, "first_seen": round(self._first[track], 3),
                           "last_seen": round(self._last[track], 3), "seconds_seen": round(total, 3),
                           "emotion_share": shares, "dominant_emotion": dominant, "changes": self._changes[track]})
        total, shares, dominant = self._shares(overall)
        return {"frames_processed": self.frames, "people": len(tracks),
                "overall": {"face_seconds": round(total, 3), "emotion_share": shares, "dominant_emotion": dominant},
                "tracks": tracks}
