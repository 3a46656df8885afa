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

from conftest import EXAMPLE, make_clip  # noqa: E402
from emoscope import Analyzer  # noqa: E402
from emoscope.web import WebSettings, create_app  # noqa: E402

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Analyzer(), WebSettings(jobs_dir=tmp_path_factory.mktemp("jobs")))  # as users get it
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


class CheckedBrowser:
    """The browser, whose pages record what the Content-Security-Policy refused (checked after every test)."""

    def __init__(self, browser):
        self._browser, self.refused = browser, []

    def new_page(self, **kwargs):
        page = self._browser.new_page(**kwargs)
        page.on("console", lambda message: self.refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        return page


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    camera = fake_camera_file(tmp_path_factory.mktemp("camera") / "face.y4m")
    flags = CHROMIUM_FLAGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                              f"--use-file-for-fake-video-capture={camera}"]
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        yield CheckedBrowser(instance)
        instance.close()


@pytest.fixture(autouse=True)
def nothing_refused_by_the_csp(browser):
    browser.refused.clear()
    yield
    assert browser.refused == []


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


def test_the_api_docs_page_lists_the_routes(server, browser):
    page = browser.new_page()
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=30000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/analyze" in p for p in paths) and any("/api/videos" in p for p in paths)


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
    page.wait_for_selector("#charts svg.chart", timeout=15000)
    assert page.locator("#downloads a").count() == 5  # 4 files and the class view
    assert page.evaluate("document.querySelector('#player').src").endswith("/annotated.mp4")
    assert page.evaluate("document.querySelector('#processing').value") == 1
    check_chart(page, "#charts svg.chart")
    screenshot(page, "video.png")


def check_chart(page, selector: str) -> None:
    """A chart a person can read: a title, a y axis in %, an x axis in m:ss, a legend of the emotions in their colours."""
    chart = page.evaluate(f"""(() => {{
        const svg = document.querySelector({selector!r});
        const texts = (s) => [...svg.querySelectorAll(s)].map((e) => e.textContent);
        return {{ title: texts(".chart-title")[0], y: texts(".y-tick"), x: texts(".x-tick"), axis: texts(".axis-label"),
                 legend: [...svg.querySelectorAll(".legend-item")].map((g) => [g.dataset.emotion, g.querySelector("rect").getAttribute("fill"), g.textContent]),
                 areas: svg.querySelectorAll("path[data-emotion]").length }};
    }})()""")
    assert chart["title"] and chart["y"] == ["0%", "50%", "100%"] and chart["axis"] == ["time (m:ss)"]
    assert chart["x"] and all(":" in t for t in chart["x"])
    colors = page.evaluate("import('/static/common.js').then((m) => m.COLORS)")
    assert {e for e, _, _ in chart["legend"]} == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert all(fill == colors[e] and text.startswith(e) and text.endswith("%") for e, fill, text in chart["legend"])
    assert chart["areas"] >= 1


def test_live_page_draws_labelled_boxes_from_the_fake_camera(server, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/live")
    page.click("#camera-start")
    page.wait_for_function("() => Number(document.querySelector('#overlay').dataset.faces || 0) >= 1", timeout=30000)
    labels = page.evaluate("document.querySelector('#overlay').dataset.labels")
    assert labels.startswith("#1 ")
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('results/s')", timeout=10000)
    time.sleep(1.0)
    check_chart(page, "#mix svg.chart")
    screenshot(page, "live.png")
    page.click("#stop")
    page.wait_for_selector("#summary:not([hidden])")
    assert "#1" in page.inner_text("#summary-table") and "overall" in page.inner_text("#summary-table")


def test_class_view_live_from_the_fake_camera(server, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/class")
    page.click("#camera-start")
    page.wait_for_selector('.tile[data-person="1"] img', timeout=30000)
    time.sleep(2.0)
    tile = page.inner_text('.tile[data-person="1"]')
    assert "#1" in tile and "seen 0:0" in tile and "mostly " in tile
    assert page.locator('.tile[data-person="1"] svg.strip rect[data-emotion]').count() >= 1
    check_chart(page, "#group svg.chart")
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename == "emoscope-class.csv"
    page.click("#stop")


def test_class_view_lists_the_moments_the_group_mood_changed(server, browser):
    page = browser.new_page()
    page.goto(server + "/class")
    page.wait_for_function("() => window.emoscopeClassView !== undefined")
    page.evaluate("""() => {
        const labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
        for (let t = 0; t < 20; t += 0.5) {
            const mood = t < 10 ? "happy" : "sad";
            const faces = [1, 2, 3].map((id) => ({ track_id: id, box: [0, 0, 10, 10], emotion: mood, confidence: 0.8,
                probabilities: Object.fromEntries(labels.map((l) => [l, l === mood ? 0.8 : 0.2 / 6])) }));
            window.emoscopeClassView.feed({ time: t, faces, timings_ms: {} });
        }
    }""")
    page.wait_for_selector(".tile >> nth=2")
    assert page.inner_text("#moods").strip() == "0:10: happy → sad"
    tile = page.inner_text('.tile[data-person="1"]')
    assert page.locator(".tile").count() == 3 and "seen 0:20" in tile and "mostly sad (51%)" in tile  # 10 s of 19.5


def video_call_gallery(path: Path, faces_dir: Path, people: int = 30, seconds: float = 6.0) -> Path:
    """A video call's gallery view: ``people`` real faces (the shared photos' boxed faces) in a 6x5 grid,
    each tile drifting a little, at 10 fps."""
    import xml.etree.ElementTree as ET

    from emoscope.io.video import VideoSink

    crops = []
    for listing in ("testing.xml", "training.xml"):
        for image in ET.parse(faces_dir / listing).getroot().iter("image"):
            photo = cv2.imread(str(faces_dir / image.get("file")))
            for box in image.iter("box"):
                x, y, w, h = (int(box.get(k)) for k in ("left", "top", "width", "height"))
                m = w // 2
                crops.append(photo[max(0, y - m): y + h + m, max(0, x - m): x + w + m])
    tile_w, tile_h = 192, 144
    with VideoSink(path, 10, (tile_w * 6, tile_h * 5)) as sink:
        for i in range(int(seconds * 10)):
            frame = np.full((tile_h * 5, tile_w * 6, 3), 40, np.uint8)
            for k in range(people):
                row, col = divmod(k, 6)
                side = 132 + int(6 * np.sin(i / 7 + k))
                face = cv2.resize(crops[k % len(crops)], (side, side))
                x0, y0 = col * tile_w + (tile_w - side) // 2, row * tile_h + (tile_h - side) // 2
                frame[y0:y0 + side, x0:x0 + side] = face
            sink.write(frame)
    return path


def test_class_view_of_a_finished_video_call_with_30_people(server, browser, tmp_path, data_dir):
    clip = video_call_gallery(tmp_path / "call.mp4", data_dir / "faces")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/video")
    page.set_input_files("#picker", str(clip))
    page.click("#start")
    page.wait_for_selector("#downloads a[href^='/class?job=']", timeout=300000)
    page.click("#downloads a[href^='/class?job=']")
    page.wait_for_selector(".tile img", timeout=30000)
    people = page.locator(".tile").count()
    assert 28 <= people <= 36, f"{people} people"   # 30 faces, and neighbours cut by some tiles (real faces too)
    assert page.locator(".tile svg.strip").count() == people
    assert "Class view: call.mp4" in page.inner_text("#title")
    check_chart(page, "#group svg.chart")
    screenshot(page, "class.png")


def test_the_class_report_opens_offline_as_one_file(browser, tmp_path, example_image):
    import base64

    from emoscope.web.class_page import class_page

    labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    jpeg = cv2.imencode(".jpg", cv2.resize(example_image, (64, 64)))[1]
    thumbnail = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    mood = lambda t: "happy" if t < 10 else "sad"  # noqa: E731
    data = {"title": "lesson.mp4", "labels": labels, "bin_seconds": 1.0, "end": 19.0, "thumbnails": {"1": thumbnail},
            "samples": [[t, person, 1.0, [0.8 if label == mood(t) else 0.2 / 6 for label in labels]]
                        for t in range(20) for person in (1, 2)]}
    report = tmp_path / "class.html"
    report.write_text(class_page(data), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    page.wait_for_selector('.tile[data-person="2"]')
    assert "Class view: lesson.mp4" in page.inner_text("#title") and errors == []
    assert page.locator('.tile[data-person="1"] img').count() == 1
    assert page.inner_text("#moods").strip() == "0:10: happy → sad"
    assert all(url.startswith(("file:", "data:")) for url in requests), requests   # no server, no network
    assert page.locator("#group svg.chart path[data-emotion]").count() >= 2
