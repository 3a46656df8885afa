"""Emotion-over-time charts for files (matplotlib, imported only when a chart is drawn).

The web pages draw the same charts in SVG (``web/static/charts.js``): time in m:ss, one colour
per emotion (the overlays' colours), a legend, a title, and a break wherever a person was away.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .errors import InputError
from .render import EMOTION_COLORS
from .types import FrameResult


def clock(seconds: float) -> str:
    """Seconds as m:ss (h:mm:ss from an hour)."""
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def clock_step(span: float) -> float:
    """Whole seconds or minutes between time ticks, at most about 8 of them."""
    return next((step for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800) if span / step <= 8), 3600)


def emotion_color(label: str) -> str:
    """The overlays' colour of an emotion, as #rrggbb."""
    blue, green, red = EMOTION_COLORS.get(label, (0, 200, 0))
    return f"#{red:02x}{green:02x}{blue:02x}"


def split_at_gaps(times: np.ndarray, gap: float) -> list[slice]:
    """Runs of ``times`` (sorted) with no step longer than ``gap`` seconds."""
    breaks = np.flatnonzero(np.diff(times) > gap) + 1
    edges = [0, *breaks.tolist(), len(times)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


class EmotionTimeline:
    """Collects each track's smoothed probabilities over time; draws the group's mix and one panel
    per person (the ``max_tracks`` seen longest)."""

    def __init__(self, labels, max_tracks: int = 8):
        self.labels = tuple(labels)
        self.max_tracks = max_tracks
        self._times = defaultdict(list)
        self._values = defaultdict(list)
        self._frame_times: list[float] = []

    def add(self, result: FrameResult) -> None:
        self._frame_times.append(result.timestamp)
        for face in result.faces:
            self._times[face.track_id].append(result.timestamp)
            self._values[face.track_id].append([face.probabilities[k] for k in self.labels])

    def _gap(self) -> float:
        """A person unseen for longer than this was away (three processed frames, at least 1 s)."""
        steps = np.diff(self._frame_times)
        return max(1.0, 3 * float(np.median(steps))) if len(steps) else 1.0

    def figure(self):
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from matplotlib.patches import Patch
            from matplotlib.ticker import FuncFormatter, MultipleLocator, PercentFormatter
        except ImportError:
            raise InputError("charts need matplotlib: pip install matplotlib") from None
        tracks = sorted(self._times, key=lambda t: -len(self._times[t]))[: self.max_tracks]
        colors = [emotion_color(k) for k in self.labels]
        fig, axes = plt.subplots(1 + len(tracks), 1, figsize=(11, 2.4 + 1.5 * len(tracks)), sharex=True, squeeze=False)
        axes = axes[:, 0]
        gap = self._gap()
        self._draw_group(axes[0], colors)
        for ax, track in zip(axes[1:], tracks):
            times, values = np.asarray(self._times[track]), np.asarray(self._values[track])
            for run in split_at_gaps(times, gap):
                ax.stackplot(times[run], values[run].T, colors=colors, linewidth=0)
            ax.set_ylabel(f"#{track}", rotation=0, ha="right", va="center", fontsize=11)
        for ax in axes:
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.set_yticks([0, 0.5, 1])
            ax.grid(axis="x", alpha=0.3)
        end = max(self._frame_times, default=0.0)
        axes[-1].set_xlim(min(self._frame_times, default=0.0), max(end, 1.0))
        axes[-1].xaxis.set_major_locator(MultipleLocator(clock_step(end - min(self._frame_times, default=0.0))))
        axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: clock(value)))
        axes[-1].set_xlabel("time (m:ss)")
        axes[1 if tracks else 0].set_title("Each person: probability of each emotion (smoothed; blank while away)",
                                           loc="left", fontsize=10)
        fig.legend(handles=[Patch(color=c, label=k) for k, c in zip(self.labels, colors)], loc="upper right",
                   ncol=len(self.labels), frameon=False, fontsize=9)
        fig.suptitle("Emotion over time", x=0.01, ha="left", fontsize=13, fontweight="bold")
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        return fig

    def _draw_group(self, ax, colors) -> None:
        """The share of faces showing each emotion, per time bin."""
        ax.set_title("Group: share of faces showing each emotion" if self._times else "No face found",
                     loc="left", fontsize=10)
        if not self._times:
            return
        start, end = min(self._frame_times), max(self._frame_times)
        edges = np.linspace(start, max(end, start + 1e-3), min(120, max(2, len(self._frame_times))) + 1)
        counts = np.zeros((len(edges) - 1, len(self.labels)))
        for track, times in self._times.items():
            bins = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, len(edges) - 2)
            np.add.at(counts, (bins, np.argmax(self._values[track], axis=1)), 1)
        totals = counts.sum(1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        centres = (edges[:-1] + edges[1:]) / 2
        present = totals[:, 0] > 0
        for run in split_at_gaps(np.where(present, centres, np.inf)[present], self._gap()):
            ax.stackplot(centres[present][run], shares[present][run].T, colors=colors, linewidth=0)

    def save(self, path: str | Path) -> None:
        import matplotlib.pyplot as plt

        fig = self.figure()
        fig.savefig(path, dpi=100)
        plt.close(fig)
