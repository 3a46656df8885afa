"""The REST API and the live WebSocket through FastAPI's test client."""
import base64
import threading
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("av")

from fastapi.testclient import TestClient  # noqa: E402

from conftest import EXAMPLE, make_clip  # noqa: E402
from emoscope import Analyzer  # noqa: E402
from emoscope.web import WebSettings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = WebSettings(max_image_bytes=2 * 1024 * 1024, max_video_bytes=5 * 1024 * 1024,
                           jobs_dir=tmp_path_factory.mktemp("jobs"))
    with TestClient(create_app(Analyzer("haar"), settings)) as test_client:
        yield test_client


def photo_bytes():
    return EXAMPLE.read_bytes()


def test_health_and_models(client):
    assert client.get("/health").json()["status"] == "ok"
    models = client.get("/api/models").json()
    assert models["detector"] == "haar" and "labels" in models["emotion_model"]
    assert (models["emotion_model"]["file"], models["stream_emotion_model"]["file"]) == (
        "emoscope-fer-accurate.onnx", "emoscope-fer-mnv2.onnx")   # the client fixture's analyzer is on "auto"


def test_a_server_started_with_the_accurate_model_says_so(tmp_path):
    with TestClient(create_app(Analyzer("haar", "accurate"), WebSettings(jobs_dir=tmp_path))) as accurate:
        models = accurate.get("/api/models").json()
    model = models["emotion_model"]
    assert model["file"] == "emoscope-fer-accurate.onnx" and model["input_size"] == [96, 96]
    assert models["stream_emotion_model"] == model


def test_analyze_returns_the_cli_json_and_an_annotated_image(client):
    response = client.post("/api/analyze?annotated=true", files={"image": ("me.png", photo_bytes(), "image/png")})
    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "me.png" and len(body["faces"]) == 1 and body["faces"][0]["emotion"]
    png = base64.b64decode(body["annotated_image"].split(",", 1)[1])
    assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape == (512, 512, 3)


def test_analyze_takes_a_face_crop_without_detection(client):
    response = client.post("/api/analyze?crop=true", files={"image": ("face.png", photo_bytes(), "image/png")})
    assert response.status_code == 200 and [f["box"] for f in response.json()["faces"]] == [[0, 0, 512, 512]]


@pytest.mark.parametrize("name, payload, status, message", [
    ("photo.jpg", b"<html>not an image</html>", 415, "not a readable image"),  # checked by content, not name
    ("empty.png", b"", 415, "not a readable image"),
    ("big.png", b"0" * (3 * 1024 * 1024), 413, "larger than"),
])
def test_bad_uploads_get_json_errors(client, name, payload, status, message):
    response = client.post("/api/analyze", files={"image": (name, payload, "image/png")})
    assert response.status_code == status and message in response.json()["error"]
    assert "Traceback" not in response.text


def test_missing_field_and_unknown_route_are_json(client):
    response = client.post("/api/analyze")
    assert response.status_code == 422 and "error" in response.json()
    assert client.get("/api/nothing").json() == {"error": "Not Found"}


def test_video_job_runs_to_the_end_and_is_deleted(client, tmp_path, example_image):
    clip = make_clip(tmp_path / "clip.mp4", example_image, frames=12)
    created = client.post("/api/videos", files={"video": ("lesson.mp4", clip.read_bytes(), "video/mp4")})
    assert created.status_code == 202
    job_id = created.json()["id"]
    assert len(job_id) >= 20  # unguessable
    deadline = time.monotonic() + 60
    while (job := client.get(f"/api/videos/{job_id}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["status"] == "done" and job["frames_done"] == 12 and job["progress"] == 1
    assert set(job["files"]) == {"annotated.mp4", "timeline.csv", "summary.json", "class.json"}
    class_view = client.get(job["files"]["class.json"]).json()
    assert class_view["title"] == "lesson.mp4" and class_view["samples"] and "1" in class_view["thumbnails"]
    video = client.get(job["files"]["annotated.mp4"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and len(video.content) > 1000
    assert client.get(job["files"]["summary.json"]).json()["frames_processed"] == 12
    assert job_id in [j["id"] for j in client.get("/api/videos").json()["jobs"]]
    assert client.delete(f"/api/videos/{job_id}").status_code == 200
    assert client.get(f"/api/videos/{job_id}").status_code == 404


class OneCallerDetector:
    """Wraps a detector and counts the times two callers were inside it at once (OpenCV's cascade and an
    ONNX session shared by a server are not safe to use from two threads)."""

    def __init__(self, detector):
        self._detector, self._inside, self._guard = detector, 0, threading.Lock()
        self.overlaps = self.calls = 0

    def __getattr__(self, name):
        return getattr(self._detector, name)

    def detect(self, *args, **kwargs):
        with self._guard:
            self._inside += 1
            self.calls += 1
            self.overlaps += self._inside > 1
        try:
            time.sleep(0.005)  # widen the window in which a second caller would be caught
            return self._detector.detect(*args, **kwargs)
        finally:
            with self._guard:
                self._inside -= 1


def test_photos_beside_a_video_job_never_share_a_detector_between_threads(tmp_path, example_image):
    analyzer = Analyzer("haar")
    detectors = [OneCallerDetector(analyzer.detector)]
    analyzer.detector = detectors[0]
    make = analyzer.new_detector
    analyzer.new_detector = lambda: detectors.append(OneCallerDetector(make())) or detectors[-1]
    clip = make_clip(tmp_path / "clip.mp4", example_image, frames=40)
    with TestClient(create_app(analyzer, WebSettings(jobs_dir=tmp_path / "jobs"))) as client:
        job_id = client.post("/api/videos", files={"video": ("v.mp4", clip.read_bytes(), "video/mp4")}).json()["id"]
        answered = 0
        while client.get(f"/api/videos/{job_id}").json()["status"] in ("queued", "running"):
            response = client.post("/api/analyze", files={"image": ("me.png", photo_bytes(), "image/png")})
            answered += response.status_code == 200
        assert client.get(f"/api/videos/{job_id}").json()["frames_done"] == 40
    assert answered >= 1 and detectors[0].calls >= answered and sum(d.calls for d in detectors[1:]) >= 40 // 3
    assert [d.overlaps for d in detectors] == [0] * len(detectors)


@pytest.mark.parametrize("path", ["/api/videos/nope/summary.json", "/api/videos/nope/..%2F..%2Fetc%2Fpasswd",
                                  "/api/videos/../../etc/passwd"])
def test_no_path_traversal_in_file_routes(client, path):
    response = client.get(path)
    assert response.status_code == 404 and "root:" not in response.text


def test_a_non_video_upload_is_refused_and_not_kept(client, tmp_path):
    response = client.post("/api/videos", files={"video": ("x.mp4", b"not a video at all", "video/mp4")})
    assert response.status_code == 415 and "x.mp4" in response.json()["error"]
    assert all(job["filename"] != "x.mp4" for job in client.get("/api/videos").json()["jobs"])


def test_live_websocket_tracks_faces_and_survives_bad_messages(client):
    jpeg = cv2.imencode(".jpg", cv2.imread(str(EXAMPLE)))[1].tobytes()
    data_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    with client.websocket_connect("/ws/live") as socket:
        socket.send_json({"image": data_url})
        first = socket.receive_json()
        socket.send_text("this is not json")
        assert "error" in socket.receive_json()
        socket.send_json({"image": base64.b64encode(b"not an image").decode()})
        assert "not a readable image" in socket.receive_json()["error"]
        socket.send_bytes(jpeg)
        second = socket.receive_json()
    assert first["faces"][0]["track_id"] == second["faces"][0]["track_id"] == 1
    assert "raw_probabilities" in second["faces"][0] and second["timings_ms"]["server"] > 0
    assert client.get("/health").status_code == 200  # the server lives on


def test_live_results_carry_frame_number_and_time_and_can_detect_every_n(client):
    jpeg = cv2.imencode(".jpg", cv2.imread(str(EXAMPLE)))[1].tobytes()
    with client.websocket_connect("/ws/live?detect_every=3") as socket:
        results = []
        for _ in range(4):
            socket.send_bytes(jpeg)
            results.append(socket.receive_json())
    assert [r["frame"] for r in results] == [0, 1, 2, 3]
    assert results[0]["time"] == 0 and results[3]["time"] > results[1]["time"] > 0
    assert all(r["faces"][0]["track_id"] == 1 for r in results)


def test_openapi_documents_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/analyze", "/api/videos", "/api/models", "/health"} <= set(paths)


@pytest.mark.parametrize("path, marker", [("/", "photo.js"), ("/video", "video.js"), ("/live", "live.js"),
                                          ("/docs", "/swagger/swagger-ui-bundle.js")])
def test_pages_are_served_from_local_files(client, path, marker):
    response = client.get(path)
    assert response.status_code == 200 and marker in response.text
    assert "cdn" not in response.text.lower() and "https://" not in response.text


def test_static_assets_and_no_traversal(client):
    assert client.get("/static/common.js").status_code == 200
    assert client.get("/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


def test_jobs_past_their_retention_time_are_deleted_with_their_files(tmp_path, example_image):
    settings = WebSettings(retention_seconds=0.5, jobs_dir=tmp_path / "jobs")
    with TestClient(create_app(Analyzer("haar"), settings)) as short_lived:
        clip = make_clip(tmp_path / "clip.mp4", example_image, frames=6)
        job_id = short_lived.post("/api/videos", files={"video": ("c.mp4", clip.read_bytes(), "video/mp4")}).json()["id"]
        deadline = time.monotonic() + 60
        while short_lived.get(f"/api/videos/{job_id}").json().get("status") not in ("done", "failed", None):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.6)
        assert short_lived.get(f"/api/videos/{job_id}").status_code == 404
        assert not (tmp_path / "jobs" / job_id).exists()
