"""Emotion-over-time charts (matplotlib, imported only when a chart is asked for)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .errors import InputError
from .render import EMOTION_COLORS
from .types import FrameResult


class EmotionTimeline:
    """Collects each track's smoothed probabilities over time and draws them, one panel per person."""

    def __init__(self, labels, max_tracks: int = 8):
        self.labels = tuple(labels)
        self.max_tracks = max_tracks
        self._times = defaultdict(list)
        self._values = defaultdict(list)

    def add(self, result: FrameResult) -> None:
        for face in result.faces:
            self._times[face.track_id].append(result.timestamp)
            self._values[face.track_id].append([face.probabilities[k] for k in self.labels])

    def save(self, path: str | Path) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise InputError("charts need matplotlib: pip install matplotlib") from None
        tracks = sorted(self._times, key=lambda t: -len(self._times[t]))[: self.max_tracks] or [None]
        fig, axes = plt.subplots(len(tracks), 1, figsize=(10, 1.8 + 1.6 * len(tracks)), sharex=True, squeeze=False)
        colors = [tuple(c / 255 for c in reversed(EMOTION_COLORS.get(k, (0, 200, 0)))) for k in self.labels]
        for ax, track in zip(axes[:, 0], tracks):
            if track is None:
                ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax.transAxes)
                continue
            values = list(zip(*self._values[track]))
            ax.stackplot(self._times[track], values, labels=self.labels, colors=colors)
            ax.set(ylim=(0, 1), ylabel=f"person {track}")
        axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        axes[-1, 0].set_xlabel("time (s)")
        fig.suptitle("Emotion over time (smoothed probabilities)")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
