"""Charts a person can read: time in m:ss, a legend in the overlays' colours, titles, breaks where a person was away."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from emoscope import EMOTIONS  # noqa: E402
from emoscope.charts import EmotionTimeline, clock, emotion_color, split_at_gaps  # noqa: E402
from emoscope.types import Face, FrameResult  # noqa: E402


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (59.6, "1:00"), (75, "1:15"), (3725, "1:02:05")])
def test_clock(seconds, text):
    assert clock(seconds) == text


def test_split_at_gaps():
    runs = split_at_gaps(np.array([0, 0.1, 0.2, 5.0, 5.1]), gap=1.0)
    assert [(r.start, r.stop) for r in runs] == [(0, 3), (3, 5)]


def _timeline(seconds=90, away=(30, 50)):
    rng = np.random.default_rng(0)
    chart = EmotionTimeline(EMOTIONS)
    for i in range(seconds * 5):
        t = i / 5
        faces = [Face((0, 0, 10, 10), 1.0, dict(zip(EMOTIONS, rng.dirichlet(np.ones(7)))), track_id=track)
                 for track in (1, 2) if not (track == 2 and away[0] < t < away[1])]
        chart.add(FrameResult(None, 10, 10, faces, index=i, timestamp=t))
    return chart


def test_the_chart_has_titles_a_clock_axis_a_legend_and_a_break_where_a_person_was_away():
    import matplotlib.pyplot as plt

    fig = _timeline().figure()
    group, first, second = fig.axes
    assert fig._suptitle.get_text() == "Emotion over time" and group.get_title(loc="left").startswith("Group")
    fig.canvas.draw()
    ticks = [t.get_text() for t in second.get_xticklabels() if t.get_text()]
    assert second.get_xlabel() == "time (m:ss)" and "1:00" in ticks and all(":" in t for t in ticks)
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == list(EMOTIONS)
    assert [h.get_facecolor()[:3] for h in legend.legend_handles] == [
        tuple(int(emotion_color(k)[i:i + 2], 16) / 255 for i in (1, 3, 5)) for k in EMOTIONS]
    assert len(first.collections) == len(EMOTIONS)            # seen all along: one run
    assert len(second.collections) == 2 * len(EMOTIONS)       # away from 0:30 to 0:50: two runs
    assert [a.get_ylabel() for a in (first, second)] == ["#1", "#2"]
    plt.close(fig)


def test_an_empty_stream_still_gives_a_chart(tmp_path):
    EmotionTimeline(EMOTIONS).save(tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0
