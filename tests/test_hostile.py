"""Hostile input on every surface: the library, the CLI (in process, and a few subprocesses), the
REST API and the live WebSocket. Each input gets a clear error or a right result; never a
traceback, a hang, or a lost or overwritten file. The inputs come from tests/hostile_inputs.py."""
import argparse
import hashlib
import io
import json
import math
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emoscope import InputError
from emoscope.cli import main as cli_main
from emoscope.cli_types import float_in, int_in
from emoscope.io.image_header import image_size
from emoscope.io.images import MAX_PIXELS, decode_image, read_image
from hostile_inputs import (TRAVERSALS, image_cases, jpeg_claiming, png_claiming, video_cases,
                            websocket_messages)

CASES = image_cases()
LIMIT = 2 * 1024 * 1024  # the web app's image limit in these tests
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_generator_makes_enough_distinct_cases():
    assert len(CASES) >= 200 and len({c.name for c in CASES}) == len(CASES)
    assert {c.expect for c in CASES} == {"ok", "error", "either"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    paths = {case.name: case.make(root) for case in CASES}
    return root, paths


def fingerprint(root: Path) -> dict:
    """Every regular file under root with its sha256: proof that nothing was lost or overwritten."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def check_outcome(case, width: int | None, height: int | None, error: str | None):
    if error is not None:
        assert case.expect != "ok", f"{case.name}: {error}"
        assert error.strip() and "Traceback" not in error
    else:
        assert case.expect != "error", f"{case.name} was accepted"
        if case.size:
            assert (width, height) == case.size


# ---- the library -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.encode("unicode_escape").decode()[:60])
def test_library_reads_or_refuses_each_file(folder, case):
    path = folder[1][case.name]
    try:
        image = read_image(path)
    except InputError as error:
        check_outcome(case, None, None, str(error))
        if case.kind == "file":
            assert "\n" not in str(error).replace(str(path), "")  # one line, whatever the file name
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    check_outcome(case, image.shape[1], image.shape[0], None)


# ---- the CLI, in process -----------------------------------------------------------------------

def run_cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = cli_main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def test_cli_goes_through_the_whole_folder_and_reports_each_bad_file(folder, tmp_path):
    root, paths = folder
    before = fingerprint(root)
    status, stdout, stderr = run_cli("image", root, "--detector", "haar", "--out", tmp_path / "annotated",
                                     "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv")
    assert status == 2 and "Traceback" not in stderr
    records = json.loads((tmp_path / "r.json").read_text())
    by_name = {Path(r["path"]).name: r for r in records}
    assert set(by_name) == {c.name for c in CASES if c.kind != "folder"}  # none stopped the run
    for case in (c for c in CASES if c.kind != "folder"):
        record = by_name[case.name]
        check_outcome(case, record["width"], record["height"], record.get("error"))
    failed = [r for r in records if r.get("error")]
    assert stderr.count("emoscope: error:") == len(failed)
    assert len(list((tmp_path / "annotated").iterdir())) == len(records) - len(failed)
    assert fingerprint(root) == before


@pytest.mark.parametrize("options, message", [
    (["--out", "{root}"], "annotated copies would replace them"),
    (["--json", "{root}/png-named.jpg"], "must end in .json"),
    (["--json", "{root}"], "must end in .json"),
    (["--csv", "{root}/with space.png"], "must end in .csv"),
    (["--json", "{root}/zero.jpg/x.json"], "cannot create its folder"),
    (["--csv", "{root}/pipe.png"], "must end in .csv"),
    (["--max-side", "0"], None), (["--max-side", "-5"], None), (["--min-face", "-1"], None),
    (["--threads", "0"], None), (["--score-threshold", "1.5"], None), (["--score-threshold", "nan"], None),
    (["--max-side", "1e9"], None), (["--detector", "evil"], None),
])
def test_cli_refuses_bad_outputs_and_options_before_any_work(folder, options, message, capsys):
    root, _ = folder
    before = fingerprint(root)
    args = ["image", root, "--detector", "haar", *[o.replace("{root}", str(root)) for o in options]]
    if message is None:  # refused by argparse: its usage line and exit status 2
        with pytest.raises(SystemExit) as exit_:
            cli_main([str(a) for a in args])
        assert exit_.value.code == 2 and "error: argument" in capsys.readouterr().err
    else:
        status, _, stderr = run_cli(*args)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert status == 1 and len(lines) == 1 and message in lines[0], stderr
    assert fingerprint(root) == before


# ---- videos: library, CLI output protection ----------------------------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory, example_image):
    pytest.importorskip("av")
    from conftest import make_clip

    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", example_image, frames=8)


@pytest.fixture(scope="module")
def videos(tmp_path_factory, clip):
    root = tmp_path_factory.mktemp("videos")
    return [(case, case.make(root)) for case in video_cases(clip.read_bytes())]


def test_library_reads_or_refuses_each_video(videos):
    from emoscope.io.video import VideoFileSource

    assert len(videos) >= 10
    for case, path in videos:
        try:
            with VideoFileSource(path) as source:
                frames = sum(1 for _ in source)
        except InputError as error:
            check_outcome(case, None, None, str(error))
            continue
        assert case.expect != "error", case.name
        assert frames > 0 or source.stopped_at  # a damaged file says where it stopped


@pytest.mark.parametrize("options, message", [
    (["--out", "{input}"], "is an input"),
    (["--out", "{dir}/x.gif"], "must end in .mp4"),
    (["--out", "{dir}"], "must end in .mp4"),
    (["--out", "{dir}/sub.mp4/"], None),
    (["--out", "/dev/full/x.mp4"], "cannot create its folder"),
    (["--timeline", "{input}"], "must end in .csv or .json"),
    (["--summary", "{dir}/s.json", "--timeline", "{dir}/s.json"], "same file"),
    (["--chart", "{dir}/chart.svg"], "must end in .png"),
    (["--every", "0"], "argument"), (["--smooth", "-1"], "argument"), (["--detect-every", "x"], "argument"),
])
def test_video_outputs_are_checked_before_the_video_is_read(clip, tmp_path, options, message, capsys):
    source = tmp_path / "in.mp4"
    source.write_bytes(clip.read_bytes())
    (tmp_path / "sub.mp4").mkdir()
    args = ["video", source, "--detector", "haar", "--quiet",
            *[o.replace("{input}", str(source)).replace("{dir}", str(tmp_path)) for o in options]]
    if message == "argument":
        with pytest.raises(SystemExit):
            cli_main([str(a) for a in args])
        assert "error: argument" in capsys.readouterr().err
    else:
        status, _, stderr = run_cli(*args)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert status == 1 and len(lines) == 1 and "Traceback" not in stderr
        assert message is None or message in lines[0], stderr
    assert source.read_bytes() == clip.read_bytes()


def test_video_outputs_into_a_missing_folder_are_made_up_front(clip, tmp_path):
    status, _, stderr = run_cli("video", clip, "--detector", "haar", "--quiet", "--every", "4",
                                "--summary", tmp_path / "new" / "deeper" / "s.json", "--chart", tmp_path / "c" / "c.png")
    assert status == 0, stderr
    assert json.loads((tmp_path / "new" / "deeper" / "s.json").read_text())["frames_processed"] == 2


@pytest.mark.parametrize("name", ["zero.mp4", "text.mp4", "random.mkv", "header-only.mp4"])
def test_cli_refuses_broken_videos_in_one_line(videos, name):
    path = next(path for case, path in videos if case.name == name)
    status, _, stderr = run_cli("video", path, "--detector", "haar", "--quiet")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert status == 1 and len(lines) == 1 and lines[0].startswith("emoscope: error:")


# ---- the CLI as a user runs it: a few subprocesses ---------------------------------------------

def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    child = subprocess.Popen([sys.executable, "-m", "emoscope.cli", "models", "info"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    child.stdout.close()  # as `| head` does once it has its lines
    _, stderr = child.communicate(timeout=600)  # a hang guard, not a speed check
    assert child.returncode == 0 and stderr == b"", stderr


@pytest.mark.parametrize("command, extra", [("serve", "web"), ("batch", "distributed"), ("video", "video")])
def test_a_missing_extra_names_the_right_one(tmp_path, command, extra):
    blocker = tmp_path / "block"
    blocker.mkdir()
    for module in ("fastapi", "uvicorn", "dask", "distributed", "av"):
        (blocker / module).mkdir()
        (blocker / module / "__init__.py").write_text("raise ImportError('hidden', name=__name__)\n")
    args = {"serve": ["serve", "--detector", "haar"], "batch": ["batch", tmp_path, "--out", tmp_path / "o"],
            "video": ["video", tmp_path / "x.mp4"]}[command]
    run = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(blocker)!r}); "
                          "from emoscope.cli import main; sys.exit(main(sys.argv[1:]))", *map(str, args)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and f"pip install 'emoscope[{extra}]'" in run.stderr, run.stderr


# ---- the REST API and the WebSocket ------------------------------------------------------------

@pytest.fixture(scope="module")
def client(analyzer_haar, tmp_path_factory):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from emoscope.settings import WebSettings
    from emoscope.web import create_app

    settings_ = WebSettings(max_image_bytes=LIMIT, max_video_bytes=4 * LIMIT, jobs_dir=tmp_path_factory.mktemp("j"))
    with TestClient(create_app(analyzer_haar, settings_)) as test_client:
        yield test_client


def assert_json_error(response, statuses):
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.json()["error"] and "Traceback" not in response.text


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "file"],
                         ids=lambda c: c.name.encode("unicode_escape").decode()[:60])
def test_api_answers_each_upload(client, case):
    response = client.post("/api/analyze", files={"image": (case.name, case.data, "image/png")})
    if response.status_code == 200:
        body = response.json()
        check_outcome(case, body["width"], body["height"], None)
    else:
        assert_json_error(response, {413, 415})
        check_outcome(case, None, None, response.json()["error"])


def test_api_answers_each_broken_video(client, videos):
    for case, path in videos:
        response = client.post("/api/videos", files={"video": (case.name, path.read_bytes(), "video/mp4")})
        if case.expect == "error":
            assert_json_error(response, {415})
            assert str(path.parent) not in response.text  # server paths stay private
        else:
            assert response.status_code in (202, 415)


@pytest.mark.parametrize("method, url, kwargs, statuses", [
    ("POST", "/api/analyze", {}, {422}),
    ("POST", "/api/analyze", {"files": {"file": ("a.png", b"x")}}, {422}),
    ("POST", "/api/analyze", {"data": {"image": "not a file"}}, {422}),
    ("POST", "/api/analyze", {"json": {"image": "abc"}}, {422}),
    ("POST", "/api/analyze", {"content": b"\x00" * 100, "headers": {"Content-Type": "multipart/form-data"}}, {400, 422}),
    ("POST", "/api/analyze", {"content": b"--x\r\n\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
     {400, 422}),
    ("POST", "/api/analyze?annotated=maybe", {"files": {"image": ("a.png", b"x")}}, {422}),
    ("POST", "/api/analyze", {"files": {"image": ("a.png", b"x" * (LIMIT + 1))}}, {413}),
    ("POST", "/api/analyze", {"files": [("image", ("a.png", b"x")), ("image", ("b.png", b"y"))]}, {415, 422}),
    ("POST", "/api/videos?every=0", {"files": {"video": ("v.mp4", b"x")}}, {422}),
    ("POST", "/api/videos?every=-3", {"files": {"video": ("v.mp4", b"x")}}, {422}),
    ("POST", "/api/videos?every=abc", {"files": {"video": ("v.mp4", b"x")}}, {422}),
    ("POST", "/api/videos?every=99999999999999999999", {"files": {"video": ("v.mp4", b"x")}}, {415, 422}),
    ("POST", "/api/videos", {"files": {"video": ("../../etc/passwd", b"x")}}, {415}),
    ("POST", "/api/videos", {"files": {"video": ("v.mp4", b"x" * (4 * LIMIT + 1))}}, {413}),
    ("GET", "/api/analyze", {}, {405}),
    ("PUT", "/api/videos", {}, {405}),
    ("DELETE", "/api/videos/" + "a" * 5000, {}, {404, 414}),
    ("GET", "/health", {"headers": {"Content-Length": "abc"}}, {413}),
])
def test_api_wrong_requests_get_4xx_json(client, method, url, kwargs, statuses):
    assert_json_error(client.request(method, url, **kwargs), statuses)


@pytest.mark.parametrize("url", TRAVERSALS)
def test_no_traversal_reaches_a_file(client, url):
    response = client.get(url)
    assert 400 <= response.status_code < 500
    assert "root:" not in response.text and "import" not in response.text and "def " not in response.text


def test_websocket_answers_every_garbage_message_and_stays_up(client, example_image):
    import cv2

    messages = websocket_messages(png_claiming(65500, 65500), LIMIT)
    assert len(messages) >= 25
    with client.websocket_connect("/ws/live") as socket:
        for kind, payload in messages:
            (socket.send_text if kind == "text" else socket.send_bytes)(payload)
            reply = socket.receive_json()
            assert reply.get("error"), (kind, str(payload)[:60], reply)
        socket.send_bytes(cv2.imencode(".jpg", example_image)[1].tobytes())
        assert len(socket.receive_json()["faces"]) == 1  # still serving
    assert client.get("/health").status_code == 200


# ---- the parsers, by Hypothesis ----------------------------------------------------------------

@QUICK
@given(st.binary(max_size=2048))
def test_header_parser_never_fails_on_any_bytes(data):
    size = image_size(data)
    assert size is None or (size[0] > 0 and size[1] > 0)


@QUICK
@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*", b"P5", b"P6"]),
       st.binary(max_size=512))
def test_decoding_bytes_behind_a_real_magic_is_an_image_or_an_input_error(magic, rest):
    try:
        image = decode_image(magic + rest)
    except InputError as error:
        assert "\n" not in str(error)
    else:
        assert image.shape[0] * image.shape[1] <= MAX_PIXELS


@QUICK
@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1))
def test_png_header_sizes_are_read_exactly(width, height):
    assert image_size(png_claiming(width, height)) == (width, height)


@QUICK
@given(st.integers(1, 65535), st.integers(1, 65535))
def test_jpeg_header_sizes_are_read_exactly_and_bombs_refused(width, height):
    data = jpeg_claiming(width, height)
    assert image_size(data) == (width, height)
    if width * height > MAX_PIXELS:
        with pytest.raises(InputError, match="over the limit"):
            decode_image(data)


@QUICK
@pytest.mark.parametrize("parse, low, high", [(int_in(1, 100), 1, 100), (float_in(0.0, 1.0), 0.0, 1.0)],
                         ids=["whole number", "number"])
@given(text=st.one_of(st.text(max_size=30), st.floats(allow_nan=True).map(repr)))
def test_number_options_parse_or_refuse(parse, low, high, text):
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as error:
        assert str(error)
    else:
        assert math.isfinite(value) and low <= value <= high and value == type(low)(text)
