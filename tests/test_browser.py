"""End to end in a real headless Chromium (Debian's, driven by Playwright): the photo, video and
live pages against a running server. Set EMOSCOPE_SCREENSHOTS=DIR to keep the pages' screenshots."""
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (Debian package chromium)", allow_module_level=True)

import uvicorn  # noqa: E402

from conftest import EXAMPLE  # noqa: E402
from emoscope import Analyzer  # noqa: E402
from emoscope.web import WebSettings, create_app  # noqa: E402
from test_video import make_clip  # noqa: E402

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Analyzer("haar"), WebSettings(jobs_dir=tmp_path_factory.mktemp("jobs")))
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def fake_camera_file(path: Path, seconds: float = 2.0) -> Path:
    """A Y4M video of the real example face, for Chromium's fake camera."""
    face = cv2.imread(str(EXAMPLE))
    frame = np.full((480, 640, 3), 70, np.uint8)
    frame[:, 80:560] = cv2.resize(face, (480, 480))
    planes = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as handle:
        handle.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(int(seconds * 15)):
            handle.write(b"FRAME\n" + planes)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    camera = fake_camera_file(tmp_path_factory.mktemp("camera") / "face.y4m")
    flags = CHROMIUM_FLAGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                              f"--use-file-for-fake-video-capture={camera}"]
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        yield instance
        instance.close()


def screenshot(page, name: str) -> None:
    folder = os.environ.get("EMOSCOPE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_photo_page_shows_labelled_faces(server, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(server + "/")
    page.set_input_files("#picker", str(EXAMPLE))
    page.wait_for_selector(".face", timeout=30000)
    assert page.locator(".face").count() == 1
    assert page.locator(".face").first.get_attribute("data-emotion") in ("angry", "disgust", "fear", "happy", "sad",
                                                                          "surprise", "neutral")
    assert page.evaluate("document.querySelector('#annotated').naturalWidth") == 512
    assert "1 face(s) found" in page.inner_text("#status")
    screenshot(page, "photo.png")


def test_a_bad_photo_shows_the_error(server, browser, tmp_path):
    bad = tmp_path / "fake.jpg"
    bad.write_text("<html>not a photo</html>")
    page = browser.new_page()
    page.goto(server + "/")
    page.set_input_files("#picker", str(bad))
    page.wait_for_selector("#status.error", timeout=15000)
    assert "not a readable image" in page.inner_text("#status")


def test_video_page_runs_a_job_to_the_end(server, browser, tmp_path, example_image):
    clip = make_clip(tmp_path / "lesson.mp4", example_image, frames=18)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/video")
    page.set_input_files("#picker", str(clip))
    page.click("#start")
    page.wait_for_selector("#result:not([hidden])", timeout=60000)
    page.wait_for_selector("canvas.chart", timeout=15000)
    assert page.locator("#downloads a").count() == 3
    assert page.evaluate("document.querySelector('#player').src").endswith("/annotated.mp4")
    assert page.evaluate("document.querySelector('#processing').value") == 1
    screenshot(page, "video.png")


def test_live_page_draws_labelled_boxes_from_the_fake_camera(server, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/live")
    page.click("#camera-start")
    page.wait_for_function("Number(document.querySelector('#overlay').dataset.faces || 0) >= 1", timeout=30000)
    labels = page.evaluate("document.querySelector('#overlay').dataset.labels")
    assert labels.startswith("#1 ")
    page.wait_for_function("document.querySelector('#status').textContent.includes('results/s')", timeout=10000)
    time.sleep(1.0)
    screenshot(page, "live.png")
    page.click("#stop")
    page.wait_for_selector("#summary:not([hidden])")
    assert "#1" in page.inner_text("#summary-table") and "overall" in page.inner_text("#summary-table")
