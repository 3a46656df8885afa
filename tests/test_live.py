"""Live sources and the camera/screen commands, with a video file standing in for a camera."""
import json
import shutil
import subprocess
import time

import cv2
import pytest

pytest.importorskip("av")

from emoscope import InputError  # noqa: E402
from emoscope.io.live import CameraSource, ScreenSource  # noqa: E402
from test_cli import emoscope  # noqa: E402
from conftest import make_clip  # noqa: E402


@pytest.fixture
def camera_file(tmp_path, example_image):
    return make_clip(tmp_path / "camera.mp4", example_image, frames=36)


def test_a_camera_that_does_not_exist():
    with pytest.raises(InputError, match="could not be opened"):
        CameraSource("/nonexistent/camera")


def test_every_frame_mode_reads_all_frames_then_reports_the_disconnect(camera_file):
    with CameraSource(camera_file, realtime=False) as camera:
        frames = list(camera)
    assert len(frames) == 36 and [f.index for f in frames[:3]] == [0, 1, 2]
    assert "stopped delivering frames after 36" in camera.stopped_at


def test_realtime_mode_drops_frames_for_a_slow_consumer(camera_file):
    with CameraSource(camera_file, realtime=True) as camera:
        frames = []
        for frame in camera:
            frames.append(frame)
            time.sleep(0.05)  # a consumer far slower than the decoder
    assert len(frames) < 36 and camera.frames_dropped > 0
    assert len(frames) + camera.frames_dropped == camera.frames_read == 36
    assert [f.index for f in frames] == sorted(f.index for f in frames)


def test_camera_command_headless_keeps_outputs_when_the_stream_ends(camera_file, tmp_path):
    run = emoscope("camera", "--device", camera_file, "--no-window", "--every-frame", "--detector", "haar",
                   "--record", tmp_path / "rec.mp4", "--timeline", tmp_path / "t.csv", "--summary", tmp_path / "s.json",
                   "--quiet")
    assert run.returncode == 2 and "stopped delivering frames" in run.stderr and "Traceback" not in run.stderr
    assert json.loads((tmp_path / "s.json").read_text())["frames_processed"] == 36
    assert (tmp_path / "rec.mp4").stat().st_size > 1000 and len((tmp_path / "t.csv").read_text().splitlines()) > 10


def test_camera_command_duration_limit(camera_file, tmp_path):
    run = emoscope("camera", "--device", camera_file, "--no-window", "--detector", "haar", "--duration", "0.01",
                   "--summary", tmp_path / "s.json", "--quiet")
    assert run.returncode == 0, run.stderr
    assert 1 <= json.loads((tmp_path / "s.json").read_text())["frames_processed"] < 36


def test_screen_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(InputError, match="no display"):
        ScreenSource()
    run = emoscope("screen", "--no-window", "--detector", "haar")
    assert run.returncode == 1 and "no display" in run.stderr and "Traceback" not in run.stderr


def test_screen_region_must_be_four_numbers():
    run = emoscope("screen", "--region", "1,2,3", "--detector", "haar")
    assert run.returncode == 1 and "x,y,w,h" in run.stderr


@pytest.fixture
def xvfb(monkeypatch):
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb)")
    display = ":97"
    server = subprocess.Popen([binary, display, "-screen", "0", "800x600x24"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    monkeypatch.setenv("DISPLAY", display)
    yield display
    server.terminate()


def test_screen_source_and_tk_viewer_on_a_virtual_display(xvfb, example_image):
    from emoscope.viewer import TkViewer

    viewer = TkViewer()
    viewer.show(cv2.resize(example_image, (400, 300)))
    with ScreenSource(region=(0, 0, 400, 300), fps=20) as screen:
        frame = next(iter(screen))
    viewer.close()
    assert frame.image.shape == (300, 400, 3) and frame.image.std() > 10  # the viewer's picture was on screen


@pytest.mark.parametrize("options, realtime", [([], True), (["--every-frame"], False)])
def test_the_camera_command_reads_no_frame_ahead_unless_every_frame_is_asked(camera_file, monkeypatch, options,
                                                                            realtime):
    from emoscope import cli, streaming
    from emoscope.summary import StreamSummary

    passed = {}

    def run_stream(analyzer, frames, *args, realtime=None, **kwargs):
        passed["realtime"] = realtime
        return StreamSummary(analyzer.stream_classifier.labels, 0.1)

    monkeypatch.setattr(streaming, "run_stream", run_stream)
    cli.main(["camera", "--device", str(camera_file), "--no-window", "--detector", "haar", "--quiet", *options])
    assert passed == {"realtime": realtime}  # seen through the progress bar that wraps the source
