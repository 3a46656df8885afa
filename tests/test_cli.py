"""The command line end to end, in a subprocess, as a user runs it."""
import csv
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import EXAMPLE
from test_images import png_claiming_size


def emoscope(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "emoscope.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)  # a hang guard, not a speed check


def assert_one_line_error(run, contains):
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert any(contains in line for line in lines), run.stderr
    assert len([line for line in lines if line.startswith("emoscope:")]) == 1, run.stderr


def test_image_with_json_to_stdout():
    run = emoscope("image", EXAMPLE, "--detector", "haar", "--json", "-")
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert len(results) == 1 and len(results[0]["faces"]) == 1
    assert results[0]["faces"][0]["emotion"] in results[0]["faces"][0]["probabilities"]


def test_a_photo_is_read_by_the_accurate_model_unless_another_is_named():
    def probabilities(*model):
        run = emoscope("image", EXAMPLE, "--detector", "haar", "--json", "-", *model)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)[0]["faces"][0]["probabilities"]
    default = probabilities()
    assert default == probabilities("--model", "accurate") != probabilities("--model", "fast")


def test_the_accurate_model_is_chosen_by_name():
    fast, accurate = (json.loads(emoscope("image", EXAMPLE, "--model", name, "--json", "-").stdout)[0]["faces"]
                      for name in ("fast", "accurate"))
    assert len(fast) == len(accurate) == 1 and fast[0]["box"] == accurate[0]["box"]
    assert fast[0]["probabilities"] != accurate[0]["probabilities"]    # another network read the same face


def test_folder_with_a_bad_file_writes_every_output_and_reports_it(tmp_path):
    photos = tmp_path / "photos" / "nested"
    photos.mkdir(parents=True)
    shutil.copy(EXAMPLE, photos / "a.png")
    shutil.copy(EXAMPLE, tmp_path / "photos" / "b.png")
    (photos / "broken.jpg").write_bytes(b"<!doctype html>")
    out = tmp_path / "annotated"
    run = emoscope("image", tmp_path / "photos", "--detector", "haar", "--out", out,
                   "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv")
    assert run.returncode == 2  # partial success
    assert "broken.jpg" in run.stderr and "Traceback" not in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert cv2.imread(str(out / "a.png")).shape == (512, 512, 3)
    records = json.loads((tmp_path / "r.json").read_text())
    assert len(records) == 3 and sum("error" in r for r in records) == 1
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert [bool(r["error"]) for r in rows].count(True) == 1
    face_rows = [r for r in rows if not r["error"]]
    assert len(face_rows) == 2 and all(float(r["p_happy"]) >= 0 for r in face_rows)


def test_one_by_one_image_is_a_success_with_no_face(tmp_path):
    path = tmp_path / "dot.png"
    cv2.imwrite(str(path), np.zeros((1, 1, 3), np.uint8))
    run = emoscope("image", path, "--detector", "haar")
    assert run.returncode == 0 and "no face found" in run.stdout
    assert "no face found in 1 of 1 image(s)" in run.stderr and "--detector none" in run.stderr
    assert "--min-face 20 ignores smaller faces" in run.stderr
    assert "--min-face" not in emoscope("image", path, "--detector", "haar", "--min-face", "0").stderr
    run = emoscope("image", path, "--detector", "none")
    assert run.returncode == 0 and "1 face(s)" in run.stdout and run.stderr == ""


BAD_FILES = [
    ("missing.jpg", None, "no such file"),
    ("zero.jpg", b"", "empty file"),
    ("page.jpg", b"<!doctype html><html></html>", "not a readable image"),
    ("cut.png", cv2.imencode(".png", np.ones((99, 99), np.uint8))[1].tobytes()[:90], "not a readable image"),
    ("huge.png", png_claiming_size(30000, 30000), "not a readable image"),
]


@pytest.mark.parametrize("name, payload, contains", BAD_FILES)
def test_bad_files_get_one_line_and_nonzero_exit(tmp_path, name, payload, contains):
    path = tmp_path / name
    if payload is not None:
        path.write_bytes(payload)
    assert_one_line_error(emoscope("image", path, "--detector", "haar"), contains)


def test_empty_folder_is_an_error(tmp_path):
    assert_one_line_error(emoscope("image", tmp_path, "--detector", "haar"), "no images")


@pytest.mark.parametrize("args, contains", [
    (["image", EXAMPLE, "--model", "/nonexistent.onnx"], "no such emotion model"),
    (["image", EXAMPLE, "--detector", "yunet", "--detector-model", "/nope.onnx"], "no such model file"),
    (["models", "download", "facenet"], "unknown model"),
    (["train", "--dataset", "fer2013", "--data", "/nope.csv", "--out", "/tmp/emoscope-never"], "no such file"),
    (["train", "--dataset", "fer2013", "--data", "/nope.csv", "--teacher-online", "--out", "/tmp/emoscope-never"],
     "--teacher-online needs --teacher ONNX"),   # said before the (missing) data is read
    (["evaluate", "/nope.onnx", "--dataset", "fer2013", "--data", "/nope.csv", "--out", "/tmp/emoscope-never"],
     "no such emotion model"),
])
def test_bad_options_get_one_line_errors(args, contains):
    assert_one_line_error(emoscope(*args), contains)


def test_help_everywhere():
    for command in ([], ["image"], ["models"], ["train"], ["export"], ["evaluate"]):
        run = emoscope(*command, "--help")
        assert run.returncode == 0 and "usage:" in run.stdout


@pytest.mark.parametrize("command", [["export", "run/best.pt"], ["export-detector", "run/last.pt"],
                                     ["export-ensemble", "m.onnx", "--version", "1"]])
@pytest.mark.parametrize("content, message", [(None, "cannot read"), ("{broken", "is not JSON"),
                                              ("[1, 2]", "holds a JSON list, not an object")])
def test_a_metrics_file_that_is_not_a_json_object_is_refused_before_any_work(tmp_path, command, content, message):
    metrics = tmp_path / "metrics.json"
    if content is not None:
        metrics.write_text(content)
    run = emoscope(*command, "--out", tmp_path / "out.onnx", "--metrics", metrics, cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr   # argparse's usage, then one error line
    assert "error: argument --metrics: " in run.stderr.splitlines()[-1] and message in run.stderr.splitlines()[-1]
    assert not (tmp_path / "out.onnx").exists()


def test_models_list_and_info():
    listing = emoscope("models", "list")
    assert listing.returncode == 0 and "yunet" in listing.stdout
    assert "emotion  fast  (bundled, the default for streams)" in listing.stdout
    assert "emotion  accurate  (bundled, the default for photos)" in listing.stdout
    info = json.loads(emoscope("models", "info").stdout)
    assert "labels" in info and "crop" in info
