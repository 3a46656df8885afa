"""Model files: the YuNet download (served from a local HTTP server) and the search order."""
import dataclasses
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from emoscope import ModelNotFoundError, models


@pytest.fixture
def served(tmp_path):
    """An HTTP server on loopback serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(www), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _fake_yunet(monkeypatch, url, payload):
    fake = dataclasses.replace(models.YUNET, url=url, sha256=hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(models.DOWNLOADABLE, "yunet", fake)
    return fake


def test_download_checks_sha256_and_installs_into_the_cache(served, monkeypatch, tmp_path):
    www, base = served
    (www / "m.onnx").write_bytes(b"model bytes")
    _fake_yunet(monkeypatch, f"{base}/m.onnx", b"model bytes")
    monkeypatch.delenv("EMOSCOPE_MODELS", raising=False)
    path = models.download("yunet")
    assert path.read_bytes() == b"model bytes" and path.parent == models.user_cache_dir()
    assert models.find_downloadable("yunet") == path


def test_a_corrupted_download_is_not_installed(served, monkeypatch):
    www, base = served
    (www / "m.onnx").write_bytes(b"tampered")
    _fake_yunet(monkeypatch, f"{base}/m.onnx", b"the real bytes")
    with pytest.raises(ModelNotFoundError, match="sha256"):
        models.download("yunet")
    assert not list(models.user_cache_dir().glob("*"))


def test_unreachable_download_says_so(monkeypatch):
    _fake_yunet(monkeypatch, "http://127.0.0.1:9/none.onnx", b"x")
    with pytest.raises(ModelNotFoundError, match="could not download"):
        models.download("yunet", timeout=2)


def test_explicit_path_wins_and_must_exist(tmp_path):
    file = tmp_path / "y.onnx"
    file.write_bytes(b"x")
    assert models.find_downloadable("yunet", file) == file
    with pytest.raises(ModelNotFoundError):
        models.find_downloadable("yunet", tmp_path / "missing.onnx")


@pytest.mark.parametrize("model, photo, stream", [
    (None, "accurate", "fast"), ("auto", "accurate", "fast"), ("fast", "fast", "fast"),
    ("accurate", "accurate", "accurate"), ("my.onnx", "my.onnx", "my.onnx"),
])
def test_auto_names_the_accurate_model_for_photos_and_the_fast_one_for_streams(model, photo, stream):
    assert (models.emotion_model_for(model, "photo"), models.emotion_model_for(model, "stream")) == (photo, stream)


def test_a_file_named_auto_is_a_file():
    assert models.emotion_model_for(Path("auto"), "photo") == Path("auto")
