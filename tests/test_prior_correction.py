"""Prior correction (logit adjustment): the bias, the prior a model learnt, and the bias written into ONNX graphs."""
import math

import numpy as np
import pytest
from conftest import TINY_METADATA, tiny_model

from emoscope.classification import EmotionClassifier
from emoscope.data import FaceDataset
from emoscope.labels import EMOTIONS, EMOTIONS_WITH_CONTEMPT

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from emoscope.training.prior_correction import (BIAS_NAME, PriorCorrection, PriorCorrectionError,  # noqa: E402
                                                correct_model, logit_adjustment, neutral_offsets, read_metadata,
                                                tau_table, training_prior)

PRIOR = (0.3, 0.02, 0.08, 0.25, 0.1, 0.05, 0.2)


def run(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def test_the_bias_is_minus_tau_log_prior_against_hand_computed_values():
    assert logit_adjustment([0.5, 0.25, 0.25], 1.0) == pytest.approx([math.log(2), math.log(4), math.log(4)])
    assert logit_adjustment([0.5, 0.25, 0.25], 0.5) == pytest.approx([0.34657359, 0.69314718, 0.69314718])
    assert logit_adjustment([0.8, 0.2], 2.0) == pytest.approx([-2 * math.log(0.8), -2 * math.log(0.2)])
    assert not logit_adjustment(PRIOR, 0.0).any()
    # the rarer a class was in training, the more it is lifted
    bias = logit_adjustment(PRIOR, 0.7)
    assert list(np.argsort(bias)) == list(np.argsort(-np.array(PRIOR)))


@pytest.mark.parametrize("prior, tau, message", [
    ([0.5, 0.5, 0.0], 1.0, "positive share for each class"),
    ([0.6, 0.6], 1.0, "sums to 1.2000"),
    ([1.0], 1.0, "positive share"),
    ([0.5, 0.5], -0.1, "tau must be a number >= 0"),
    ([0.5, 0.5], float("nan"), "tau must be"),
])
def test_bad_priors_and_taus_are_refused(prior, tau, message):
    with pytest.raises(PriorCorrectionError, match=message):
        logit_adjustment(prior, tau)


def test_the_prior_mixes_hard_label_frequencies_and_vote_shares_as_the_two_heads_learnt():
    targets = np.eye(7, dtype=np.float32)[[3, 3, 6, 0]]             # hard: angry 1/4, happy 1/2, neutral 1/4
    soft = np.zeros((4, 8), np.float32)
    soft[0, [3, 7]] = (0.5, 0.5)                                      # half contempt: renormalised away
    soft[1, 6] = 1.0
    soft[2, [6, 4]] = (0.75, 0.25)                                    # row 3: no votes, left out
    dataset = FaceDataset(np.zeros((4, 8, 8), np.uint8), targets, EMOTIONS, "t", soft, EMOTIONS_WITH_CONTEMPT)
    # votes over the 7 emotions: happy 0.5/3, sad 0.25/3, neutral 1.75/3 of 2.5/3 -> 0.2, 0.1, 0.7
    expected = 0.5 * np.array([0.25, 0, 0, 0.5, 0, 0, 0.25]) + 0.5 * np.array([0, 0, 0, 0.2, 0.1, 0, 0.7])
    np.testing.assert_allclose(training_prior(dataset, EMOTIONS, 0.5), expected, atol=1e-6)
    np.testing.assert_allclose(training_prior(dataset, EMOTIONS, 0.0), [0.25, 0, 0, 0.5, 0, 0, 0.25])
    with pytest.raises(PriorCorrectionError, match="no soft targets"):
        training_prior(FaceDataset(dataset.images, targets, EMOTIONS, "t"), EMOTIONS, 0.5)


def test_a_tiny_model_rewritten_with_the_bias_gives_its_logits_plus_the_bias(tmp_path):
    source = tiny_model(tmp_path / "m.onnx", {**TINY_METADATA, "temperature": 0.5, "version": "1"})
    before = source.read_bytes()
    correction = PriorCorrection(0.8, PRIOR, EMOTIONS, "test prior")
    out = correct_model(source, tmp_path / "corrected.onnx", correction, temperature=0.7, version="1.1")
    x = np.random.default_rng(0).normal(size=(5, 1, 48, 48)).astype(np.float32)
    np.testing.assert_allclose(run(out, x), run(source, x) + logit_adjustment(PRIOR, 0.8), atol=1e-5)
    assert source.read_bytes() == before                               # the input is never written
    proto = onnx.load(str(out))
    assert [n.op_type for n in proto.graph.node][-1] == "Add" and proto.graph.output[0].name == "logits"
    assert BIAS_NAME in {i.name for i in proto.graph.initializer}
    meta = read_metadata(proto)
    recorded = meta["prior_correction"]
    assert recorded["tau"] == 0.8 and recorded["prior_from"] == "test prior"
    assert [recorded["bias"][k] for k in EMOTIONS] == pytest.approx(logit_adjustment(PRIOR, 0.8), abs=1e-6)
    assert recorded["prior"]["angry"] == 0.3 and "Menon" in recorded["method"]
    assert meta["temperature"] == 0.7 and meta["version"] == "1.1" and meta["labels"] == list(EMOTIONS)
    classifier = EmotionClassifier(out)                                # still an EmoScope model
    assert classifier.info.temperature == 0.7 and classifier.predict([np.zeros((48, 48), np.uint8)]).shape == (1, 7)
    kept = correct_model(source, tmp_path / "kept.onnx", correction)   # temperature and version kept when not given
    assert read_metadata(onnx.load(str(kept)))["temperature"] == 0.5


def test_rewriting_refuses_its_input_a_corrected_model_probabilities_and_other_labels(tmp_path):
    source = tiny_model(tmp_path / "m.onnx")
    correction = PriorCorrection(1.0, PRIOR, EMOTIONS)
    with pytest.raises(PriorCorrectionError, match="is the input model; write the changed model to a new file"):
        correct_model(source, tmp_path / "." / "m.onnx", correction)
    corrected = correct_model(source, tmp_path / "c.onnx", correction)
    with pytest.raises(PriorCorrectionError, match=r"already prior-corrected \(tau 1.0, neutral offset 0\)"):
        correct_model(corrected, tmp_path / "cc.onnx", correction)
    with pytest.raises(PriorCorrectionError, match="a prior correction needs logits"):
        correct_model(tiny_model(tmp_path / "p.onnx", {**TINY_METADATA, "outputs": "probabilities"}),
                      tmp_path / "pc.onnx", correction)
    with pytest.raises(PriorCorrectionError, match="differ from the prior's"):
        correct_model(source, tmp_path / "o.onnx", PriorCorrection(1.0, (0.5, 0.5), ("a", "b")))
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(PriorCorrectionError, match="junk.onnx: not an ONNX model"):
        correct_model(tmp_path / "junk.onnx", tmp_path / "j.onnx", correction)
    assert not (tmp_path / "cc.onnx").exists() and not (tmp_path / "o.onnx").exists()


def test_a_copy_with_another_framing_keeps_the_weights_and_drops_the_old_metrics(tmp_path):
    from test_cli import assert_one_line_error, emoscope

    source = tiny_model(tmp_path / "m.onnx", {**TINY_METADATA, "temperature": 0.5, "version": "1",
                                              "metrics": {"ferplus": {"accuracy": 0.7}}})
    run_ = emoscope("export", source, "--out", tmp_path / "r.onnx", "--margin", "-0.05", "--version", "1.1")
    assert run_.returncode == 0, run_.stderr
    assert "crop CropSpec(margin=0.1, shift_y=0.0, align_eyes=True) -> CropSpec(margin=-0.05" in run_.stdout
    meta = read_metadata(onnx.load(str(tmp_path / "r.onnx")))
    assert meta["crop"] == {"margin": -0.05, "shift_y": 0.0, "align_eyes": True}      # the rest of the crop kept
    assert meta["version"] == "1.1" and meta["temperature"] == 0.5 and "prior_correction" not in meta
    assert "metrics" not in meta                           # measured with the old framing: they no longer hold
    x = np.random.default_rng(0).normal(size=(3, 1, 48, 48)).astype(np.float32)
    np.testing.assert_array_equal(run(tmp_path / "r.onnx", x), run(source, x))
    assert EmotionClassifier(tmp_path / "r.onnx").info.crop.margin == -0.05
    (tmp_path / "m.json").write_text('{"jaffe": {"accuracy": 0.5}}')
    assert emoscope("export", tmp_path / "r.onnx", "--out", tmp_path / "n.onnx", "--no-align", "--version", "1.2",
                    "--metrics", tmp_path / "m.json").returncode == 0
    meta = read_metadata(onnx.load(str(tmp_path / "n.onnx")))
    assert meta["crop"]["align_eyes"] is False and meta["metrics"] == {"jaffe": {"accuracy": 0.5}}
    # a corrected model is re-framed without a second bias, its correction recorded still
    corrected = correct_model(source, tmp_path / "c.onnx", PriorCorrection(1.0, PRIOR, EMOTIONS), version="2")
    assert emoscope("export", corrected, "--out", tmp_path / "cr.onnx", "--shift-y", "0.05",
                    "--version", "2.1").returncode == 0
    np.testing.assert_allclose(run(tmp_path / "cr.onnx", x), run(corrected, x))
    meta = read_metadata(onnx.load(str(tmp_path / "cr.onnx")))
    assert meta["crop"]["shift_y"] == 0.05 and meta["prior_correction"]["tau"] == 1.0
    # refused in one line: no new version, a margin that would fold the crop, a file that is no emotion model
    assert_one_line_error(emoscope("export", source, "--out", tmp_path / "v.onnx", "--margin", "0"), "give it a --version")
    refused = emoscope("export", source, "--out", tmp_path / "v.onnx", "--margin", "-0.5", "--version", "3")
    assert refused.returncode == 2 and "must be at least -0.4" in refused.stderr
    other = tiny_model(tmp_path / "x.onnx", {"outputs": "logits"})
    assert_one_line_error(emoscope("export", other, "--out", tmp_path / "xr.onnx", "--margin", "0", "--version", "3"),
                          "not an EmoScope emotion model")
    assert not (tmp_path / "xr.onnx").exists() and not (tmp_path / "v.onnx").exists()


def test_the_tau_table_scores_balanced_accuracy_per_set_and_their_mean():
    prior = np.array([0.8, 0.2])                  # bias at tau 1: log 1.25 = 0.22 and log 5 = 1.61
    truth = np.array([0] * 5 + [1] * 5)
    logits = np.zeros((10, 2))
    logits[:5] = (2.0, 0.0)                       # class 0's faces: 0 ahead by 2, still ahead after the bias
    logits[5:] = (0.0, -0.6)                      # class 1's faces: the prior holds 1 behind, the bias lifts it
    rows = tau_table({"a": (logits, truth), "b": (logits[::-1], truth[::-1])}, prior, ("x", "y"), [0.0, 1.0])
    assert [r["tau"] for r in rows] == [0.0, 1.0]
    assert rows[0]["a"] == pytest.approx(0.5) and rows[0]["mean"] == pytest.approx(0.5)   # every face called 0
    assert rows[1]["a"] == pytest.approx(1.0) and rows[1]["b"] == pytest.approx(1.0)


def test_a_neutral_offset_moves_neutrals_logit_alone_on_top_of_the_prior_bias():
    assert neutral_offsets(EMOTIONS, -0.5).tolist() == [0, 0, 0, 0, 0, 0, -0.5]
    correction = PriorCorrection(0.5, PRIOR, EMOTIONS, neutral_offset=-0.25)
    expected = [-0.5 * math.log(p) for p in PRIOR]
    expected[6] -= 0.25
    assert correction.bias == pytest.approx(expected)
    assert correction.metadata()["neutral_offset"] == -0.25 and "neutral_offset" in correction.metadata()["method"]
    assert "neutral_offset" not in PriorCorrection(0.5, PRIOR, EMOTIONS).metadata()
    with pytest.raises(PriorCorrectionError, match="needs a neutral class"):
        neutral_offsets(("a", "b"), -0.5)
    with pytest.raises(PriorCorrectionError, match="must be a number"):
        neutral_offsets(EMOTIONS, float("nan"))
    assert not neutral_offsets(("a", "b"), 0.0).any()


def test_the_table_tries_every_neutral_offset_with_every_tau():
    """Three faces of each of two classes; the model calls one 'other' face neutral by 0.3: an offset of -0.5
    puts it right; -2.0 also takes the neutral faces (they lead by 1.5) away from neutral."""
    labels = ("other", "neutral")
    truth = np.array([0, 0, 0, 1, 1, 1])
    logits = np.array([[1, 0], [1, 0], [0, 0.3], [0, 1.5], [0, 1.5], [0, 1.5]], np.float64)
    rows = tau_table({"a": (logits, truth)}, np.array([0.5, 0.5]), labels, [0.0, 1.0], [0.0, -0.5, -2.0])
    assert [(r["tau"], r["neutral_offset"]) for r in rows] == [(t, o) for t in (0.0, 1.0) for o in (0.0, -0.5, -2.0)]
    assert [r["a"] for r in rows] == pytest.approx([5 / 6, 1.0, 0.5] * 2)   # an even prior: tau moves nothing
    # neutral answered 4, 3 and 0 times of 6, where 3 of 6 faces are neutral
    assert [r["neutral_ratio"]["a"] for r in rows] == pytest.approx([4 / 3, 1.0, 0.0] * 2)


def test_the_export_command_corrects_an_onnx_model_with_the_prior_of_its_training_data(tmp_path):
    from test_cli import assert_one_line_error, emoscope

    pixels = " ".join(["7"] * 2304)
    labels = [0, 1, 2, 3, 3, 3, 4, 5, 6, 6]                           # training: happy 3/10, neutral 2/10, others 1/10
    (tmp_path / "fer.csv").write_text("emotion,pixels,Usage\n" + "".join(f"{e},{pixels},Training\n" for e in labels)
                                      + f"6,{pixels},PublicTest\n")
    source = tiny_model(tmp_path / "m.onnx")
    run_ = emoscope("export", source, "--out", tmp_path / "c.onnx", "--prior-correction", "0.5", "--dataset", "fer2013",
                    "--data", tmp_path / "fer.csv", "--version", "9")
    assert run_.returncode == 0, run_.stderr
    meta = read_metadata(onnx.load(str(tmp_path / "c.onnx")))
    prior = np.bincount(labels, minlength=7) / len(labels)
    assert [meta["prior_correction"]["bias"][k] for k in EMOTIONS] == pytest.approx(-0.5 * np.log(prior), abs=1e-5)
    assert meta["version"] == "9" and "fer2013/train (10 faces)" in meta["prior_correction"]["prior_from"]
    assert_one_line_error(emoscope("export", source, "--out", source, "--prior-correction", "1", "--data", tmp_path,
                                   "--version", "9"), "is the input model")
    assert_one_line_error(emoscope("export", source, "--out", tmp_path / "d.onnx", "--prior-correction", "1",
                                   "--version", "9"), "--prior-correction needs --data")
    assert_one_line_error(emoscope("export", source, "--out", tmp_path / "d.onnx", "--prior-correction", "1",
                                   "--data", tmp_path / "fer.csv"), "give it a --version")
    again = ("export", tmp_path / "c.onnx", "--out", tmp_path / "r.onnx", "--prior-correction", "0.2", "--dataset",
             "fer2013", "--data", tmp_path / "fer.csv", "--version", "10")
    assert_one_line_error(emoscope(*again), "already prior-corrected (tau 0.5, neutral offset 0)")
    assert emoscope(*again, "--replace-correction").returncode == 0
    replaced = read_metadata(onnx.load(str(tmp_path / "r.onnx")))["prior_correction"]
    assert [replaced["bias"][k] for k in EMOTIONS] == pytest.approx(-0.2 * np.log(prior), abs=1e-5)
    assert_one_line_error(emoscope("export", source, "--out", tmp_path / "e.onnx", "--replace-correction",
                                   "--version", "9"), "--replace-correction goes with --prior-correction")
    assert_one_line_error(emoscope("export", tmp_path / "run.pt", "--out", tmp_path / "f.onnx", "--prior-correction",
                                   "0.2", "--replace-correction", "--data", tmp_path / "fer.csv"),
                          "has no correction to replace")
    assert_one_line_error(emoscope("export", source, "--out", tmp_path / "d.onnx"), "nothing to change")
    refused = emoscope("export", source, "--out", tmp_path / "d.onnx", "--prior-correction", "-1")
    assert refused.returncode == 2 and "must be at least 0" in refused.stderr   # refused while parsing

    offset = emoscope("export", source, "--out", tmp_path / "n.onnx", "--prior-correction", "0",
                      "--neutral-offset=-0.5", "--dataset", "fer2013", "--data", tmp_path / "fer.csv",
                      "--version", "9.1")
    assert offset.returncode == 0, offset.stderr
    x = np.random.default_rng(3).normal(size=(2, 1, 48, 48)).astype(np.float32)
    np.testing.assert_allclose(run(tmp_path / "n.onnx", x) - run(source, x), [[0] * 6 + [-0.5]] * 2, atol=1e-6)
    assert read_metadata(onnx.load(str(tmp_path / "n.onnx")))["prior_correction"]["neutral_offset"] == -0.5
    assert_one_line_error(emoscope("export", source, "--out", tmp_path / "e.onnx", "--neutral-offset=-0.5",
                                   "--version", "9"), "--neutral-offset goes with --prior-correction")
    two = tiny_model(tmp_path / "two.onnx", {**TINY_METADATA, "labels": ["happy", "sad", "angry", "fear", "disgust",
                                                                          "surprise", "calm"]})
    assert_one_line_error(emoscope("export", two, "--out", tmp_path / "f.onnx", "--prior-correction", "0",
                                   "--neutral-offset=-0.5", "--data", "/nope.csv", "--version", "9"),
                          "a neutral offset needs a neutral class")   # said before the (missing) data is read


def test_a_checkpoint_exported_with_a_prior_correction_agrees_with_pytorch_plus_the_bias(tmp_path):
    torch = pytest.importorskip("torch")
    from emoscope.training.architectures import get_architecture
    from emoscope.training.export import export_onnx, max_abs_difference

    torch.manual_seed(0)
    state = {"arch": "simple_cnn", "labels": list(EMOTIONS), "model": get_architecture("simple_cnn").build(7).state_dict(),
             "input": {"size": 48, "channels": 1, "mean": 0.5, "std": 0.25}, "trained_on": "fer2013/train"}
    torch.save(state, tmp_path / "untrained.pt")                       # weights as built: no training needed
    correction = PriorCorrection(1.0, PRIOR, EMOTIONS, "test prior")
    path = export_onnx(tmp_path / "untrained.pt", tmp_path / "m.onnx", version="3", prior_correction=correction)
    assert max_abs_difference(tmp_path / "untrained.pt", path) < 1e-4   # PyTorch + the recorded bias
    plain = export_onnx(tmp_path / "untrained.pt", tmp_path / "plain.onnx")
    x = np.random.default_rng(1).normal(size=(3, 1, 48, 48)).astype(np.float32)
    np.testing.assert_allclose(run(path, x) - run(plain, x), np.tile(correction.bias, (3, 1)), atol=1e-5)
    assert EmotionClassifier(path).info.prior_correction["tau"] == 1.0
    assert EmotionClassifier(plain).info.prior_correction is None


def test_the_bundled_model_graph_and_metadata_agree_on_its_prior_correction():
    """3.2.0's logit adjustment, tau 0.4 with -0.3 on neutral's logit, was chosen on validation: the graph's bias is
    the recorded one, -tau * log(recorded prior) plus the offset on neutral."""
    classifier = EmotionClassifier()
    proto = onnx.load(str(classifier.path))
    recorded = classifier.info.prior_correction
    assert recorded["tau"] == 0.4 and recorded["neutral_offset"] == -0.3
    bias = next(i for i in proto.graph.initializer if i.name == BIAS_NAME)
    in_graph = onnx.numpy_helper.to_array(bias).ravel()
    assert in_graph.tolist() == pytest.approx([recorded["bias"][label] for label in classifier.labels], abs=1e-5)
    expected = [-0.4 * np.log(recorded["prior"][label]) - 0.3 * (label == "neutral") for label in classifier.labels]
    assert in_graph.tolist() == pytest.approx(expected, abs=5e-5)   # the recorded prior is rounded to 6 places


def test_a_class_without_training_faces_has_no_prior_to_correct(tmp_path):
    pixels = " ".join(["7"] * 2304)
    (tmp_path / "fer.csv").write_text("emotion,pixels,Usage\n" + "".join(f"{e},{pixels},Training\n" for e in (0, 3, 6)))
    with pytest.raises(PriorCorrectionError, match="no training faces of disgust, fear, sad, surprise"):
        PriorCorrection.from_training_data(1.0, "fer2013", tmp_path / "fer.csv", EMOTIONS)


def test_a_corrected_model_can_have_its_correction_replaced_not_added_to(tmp_path):
    source = tiny_model(tmp_path / "m.onnx", {**TINY_METADATA, "version": "1"})
    corrected = correct_model(source, tmp_path / "c.onnx", PriorCorrection(1.0, PRIOR, EMOTIONS), version="2")
    new = PriorCorrection(0.3, PRIOR, EMOTIONS, "test prior", neutral_offset=-0.5)
    out = correct_model(corrected, tmp_path / "r.onnx", new, temperature=0.9, version="3", replacing=True)
    x = np.random.default_rng(1).normal(size=(4, 1, 48, 48)).astype(np.float32)
    np.testing.assert_allclose(run(out, x), run(source, x) + new.bias, atol=1e-5)
    proto = onnx.load(str(out))
    assert [n.name for n in proto.graph.node].count("prior_correction") == 1
    assert [i.name for i in proto.graph.initializer].count(BIAS_NAME) == 1
    recorded = read_metadata(proto)["prior_correction"]
    assert recorded["tau"] == 0.3 and recorded["neutral_offset"] == -0.5 and recorded["prior_from"] == "test prior"
    with pytest.raises(PriorCorrectionError, match="correct the uncorrected model instead, or replace its correction"):
        correct_model(corrected, tmp_path / "again.onnx", new)      # replacing is asked for, never assumed
