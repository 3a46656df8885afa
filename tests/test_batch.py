"""Batch analysis on a real LocalCluster with 2 workers."""
import csv
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("dask.distributed")
pytest.importorskip("av")

from dask.distributed import Client, LocalCluster  # noqa: E402

from conftest import EXAMPLE, make_clip  # noqa: E402
from emoscope import InputError  # noqa: E402
from emoscope.errors import ModelNotFoundError  # noqa: E402
from emoscope.batch import MANIFEST, dask_client, run_batch  # noqa: E402
from test_cli import emoscope  # noqa: E402

OPTIONS = {"detector": "haar", "threads": 1}


@pytest.fixture
def inputs(tmp_path, example_image):
    photos = tmp_path / "in" / "photos"
    photos.mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png"):
        shutil.copy(EXAMPLE, photos / name)
    (photos / "broken.jpg").write_bytes(b"<html>not an image</html>")
    make_clip(tmp_path / "in" / "lesson.mp4", example_image, frames=12)
    return tmp_path / "in"


def face_inputs(out):
    return [row["input"] for row in csv.DictReader(open(out / "faces.csv"))]


def test_mixed_batch_with_a_corrupt_file(inputs, tmp_path):
    out = tmp_path / "out"
    report = run_batch([inputs], out, workers=2, analyzer_options=OPTIONS, progress=False)
    assert len(report.done) == 4 and list(report.failed) == [str((inputs / "photos" / "broken.jpg").resolve())]
    assert next(iter(report.failed.values())).startswith("not a readable image")   # the path is the key, once
    rows = face_inputs(out)
    assert sum(r.endswith("a.png") for r in rows) == 1 and sum(r.endswith("lesson.mp4") for r in rows) >= 10
    video_dirs = list((out / "videos").iterdir())
    assert len(video_dirs) == 1 and (video_dirs[0] / "timeline.csv").exists() and (video_dirs[0] / "summary.json").exists()
    assert len(list((out / "images").glob("*.json"))) == 3
    summary = json.loads((out / "report.json").read_text())
    assert summary["inputs_done"] == 4 and summary["faces"] == len(rows) and (out / "report.png").exists()


def test_rerun_skips_finished_inputs_and_resumes_unfinished_ones(inputs, tmp_path):
    out = tmp_path / "out"
    run_batch([inputs], out, workers=1, analyzer_options=OPTIONS, progress=False)
    again = run_batch([inputs], out, workers=1, analyzer_options=OPTIONS, progress=False)
    assert again.skipped == 4
    manifest = json.loads((out / MANIFEST).read_text())
    dropped = next(k for k in manifest["inputs"] if k.endswith("b.png"))
    del manifest["inputs"][dropped]  # as if the job was killed before b.png finished
    (out / MANIFEST).write_text(json.dumps(manifest))
    resumed = run_batch([inputs], out, workers=1, analyzer_options=OPTIONS, progress=False)
    assert resumed.skipped == 3 and dropped in resumed.done
    assert sum(r == dropped for r in face_inputs(out)) == 1


def test_a_rerun_with_another_emotion_model_reads_again_only_what_that_model_changes(inputs, tmp_path):
    """Photos are read by the accurate model on "auto" and the video by the fast one: a rerun naming "fast" reads
    the photos again and keeps the video; an entry of a version that did not record its model is read again."""
    out = tmp_path / "out"
    run_batch([inputs], out, workers=1, analyzer_options=OPTIONS, progress=False)
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(entry["model"] for entry in manifest["inputs"].values()) == ["accurate"] * 3 + ["fast"]
    fast = run_batch([inputs], out, workers=1, analyzer_options={**OPTIONS, "model": "fast"}, progress=False)
    assert fast.skipped == 1   # the video
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(entry["model"] for entry in manifest["inputs"].values()) == ["fast"] * 4
    older = next(k for k in manifest["inputs"] if k.endswith("a.png"))
    del manifest["inputs"][older]["model"]
    (out / MANIFEST).write_text(json.dumps(manifest))
    again = run_batch([inputs], out, workers=1, analyzer_options={**OPTIONS, "model": "fast"}, progress=False)
    assert again.skipped == 3 and sum(r == older for r in face_inputs(out)) == 1


def test_a_worker_killed_mid_job_loses_no_input(tmp_path):
    photos = tmp_path / "many"
    photos.mkdir()
    for i in range(40):
        shutil.copy(EXAMPLE, photos / f"{i:02d}.png")
    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=50) as cluster, Client(cluster) as client:
        def inputs_done() -> dict:
            try:   # written whole (a new file moved into place), so never read half-written
                return json.loads((out / MANIFEST).read_text())["inputs"]
            except OSError:
                return {}

        def kill_one_worker_when_work_has_started():
            deadline = time.monotonic() + 60
            while not inputs_done() and time.monotonic() < deadline:
                time.sleep(0.05)
            victim = next(iter(client.scheduler_info()["workers"]))
            client.run(os._exit, 1, workers=[victim], on_error="ignore")  # its connection dies with it

        killer = threading.Thread(target=kill_one_worker_when_work_has_started)
        killer.start()
        report = run_batch([photos], out, scheduler=cluster.scheduler_address, analyzer_options=OPTIONS,
                           progress=False)
        killer.join()
    assert not report.failed and len(report.done) == 40
    rows = face_inputs(out)
    assert sorted(set(rows)) == sorted(str(p.resolve()) for p in photos.iterdir()) and len(rows) == 40


def test_foreign_files_in_the_output_folder_are_never_touched(inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(InputError, match="did not write"):
        run_batch([inputs], out, analyzer_options=OPTIONS, progress=False)
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]


def test_a_local_cluster_leaves_this_process_s_environment_as_it_was(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)   # what Dask's nanny sets for its workers
    before = dict(os.environ)
    with dask_client(None, 1) as client:
        assert dict(os.environ) == before
        if sys.platform.startswith("linux"):   # the worker started with it (/proc: the environment at its start)
            started_with = client.run(lambda: open("/proc/self/environ", "rb").read()).popitem()[1]
            assert b"MALLOC_TRIM_THRESHOLD_=" in started_with
    assert dict(os.environ) == before


def test_unreachable_scheduler_fails_fast(inputs, tmp_path):
    started = time.monotonic()
    with pytest.raises(InputError, match="could not reach the Dask scheduler"):
        run_batch([inputs], tmp_path / "out", scheduler="tcp://127.0.0.1:9", analyzer_options=OPTIONS, progress=False)
    assert time.monotonic() - started < 30


def test_a_batch_with_nothing_readable_reports_it_without_reaching_the_cluster(tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_text("file\na.png\n")
    inputs = [tmp_path / "gone.png", listing]
    report = run_batch(inputs, tmp_path / "out", scheduler="tcp://127.0.0.1:9", progress=False)
    assert report.failed == {str(tmp_path / "gone.png"): "no such file or folder",
                             str(listing): "a CSV manifest needs a 'path' column"} and not report.done
    again = run_batch(inputs, tmp_path / "out", scheduler="tcp://127.0.0.1:9", progress=False)
    assert again.failed == report.failed   # the folder is the batch's: a second run is taken, not refused


def test_batch_command_reports_missing_inputs_and_goes_on(inputs, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{inputs / 'photos' / 'a.png'}\n")
    run = emoscope("batch", listing, tmp_path / "nope", str(inputs / "photos" / "*.png"), "--out", tmp_path / "out",
                   "--detector", "haar", "--workers", "1", "--quiet")
    assert run.returncode == 2 and "no such file or folder" in run.stderr and "Traceback" not in run.stderr
    assert len(set(face_inputs(tmp_path / "out"))) == 3


def test_hostile_inputs_fail_one_by_one_and_the_same_way_every_time(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "x" * 240 + ".png"):  # a name that cannot take a suffix and a hash
        shutil.copy(EXAMPLE, folder / name)
    (folder / "loop").symlink_to(folder)  # a folder linked into itself: not entered
    (folder / "self.png").symlink_to(folder / "self.png")  # a link loop where an image should be
    binary_list = tmp_path / "list.txt"
    binary_list.write_bytes(bytes(range(256)) * 4)
    outcomes = []
    for run in range(2):
        report = run_batch([folder, binary_list], tmp_path / f"out{run}", workers=1, analyzer_options=OPTIONS,
                           progress=False)
        outcomes.append((sorted(Path(p).name for p in report.done), sorted(Path(p).name for p in report.failed)))
    assert outcomes[0] == outcomes[1]
    done, failed = outcomes[0]
    assert done == sorted(["a.png", "b.png", "x" * 240 + ".png"])
    assert failed == ["list.txt", "self.png"]


@pytest.mark.parametrize("kwargs, message", [
    ({"scheduler": "not a url"}, "not a Dask address"),
    ({"scheduler": "http://10.0.0.5:8786"}, "not a Dask address"),
    ({"workers": 0}, "at least 1"),
])
def test_bad_cluster_options_are_refused_before_any_work(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        run_batch([EXAMPLE], tmp_path / "out", analyzer_options=OPTIONS, progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_a_mistyped_model_name_is_one_error_before_any_work(tmp_path):
    with pytest.raises(ModelNotFoundError, match="acurate: no such emotion model file"):
        run_batch([EXAMPLE], tmp_path / "out", analyzer_options={**OPTIONS, "model": "acurate"}, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("manifest", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"inputs": 3}'])
def test_a_damaged_manifest_is_a_clear_error_and_left_as_it_is(tmp_path, manifest):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_bytes(manifest)
    with pytest.raises(InputError, match="damaged"):
        run_batch([EXAMPLE], out, analyzer_options=OPTIONS, progress=False)
    assert (out / MANIFEST).read_bytes() == manifest
