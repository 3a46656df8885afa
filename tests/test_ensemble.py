"""Several emotion models and their mirror views as one ONNX graph (`emoscope export-ensemble`)."""
import json

import numpy as np
import pytest

from conftest import TINY_METADATA, tiny_model

pytest.importorskip("onnx")
from emoscope.classification import EmotionClassifier  # noqa: E402
from emoscope.training.ensemble import build_ensemble, extract_member  # noqa: E402
from emoscope.training.errors import TrainingError  # noqa: E402


def _logits(path, x):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_ensemble_outputs_the_mean_log_probability_of_every_member_on_both_views(tmp_path):
    members = [tiny_model(tmp_path / f"m{seed}.onnx", seed=seed) for seed in (0, 1, 2)]
    out = build_ensemble(members, tmp_path / "ensemble.onnx", version="9.9.9", temperature=0.8)
    x = np.random.default_rng(5).normal(size=(4, 1, 48, 48)).astype(np.float32)
    views = (x, np.ascontiguousarray(x[..., ::-1]))
    expected = np.mean([_log_softmax(_logits(m, view)) for m in members for view in views], axis=0)
    np.testing.assert_allclose(_logits(out, x), expected, atol=2e-3)  # weights stored as float16
    assert out.stat().st_size < 0.6 * sum(m.stat().st_size for m in members)
    # the mirror matters: without it the output is the members' mean on the face as given
    plain = build_ensemble(members, tmp_path / "plain.onnx", version="9.9.9", mirror=False)
    np.testing.assert_allclose(_logits(plain, x), np.mean([_log_softmax(_logits(m, x)) for m in members], axis=0),
                               atol=2e-3)
    assert np.abs(_logits(plain, x) - _logits(out, x)).max() > 1e-3


def test_ensemble_file_is_an_ordinary_emotion_model_with_its_members_named(tmp_path):
    members = [tiny_model(tmp_path / f"m{seed}.onnx", seed=seed) for seed in (0, 1)]
    out = build_ensemble(members, tmp_path / "ensemble.onnx", version="9.9.9", temperature=0.8)
    classifier = EmotionClassifier(out)
    assert classifier.info.metadata["version"] == "9.9.9" and classifier.info.temperature == pytest.approx(0.8)
    assert [m["file"] for m in classifier.info.metadata["members"]] == ["m0.onnx", "m1.onnx"]
    image = np.random.default_rng(1).integers(0, 255, (80, 80, 3), dtype=np.uint8)
    probabilities = classifier.predict(classifier.crops(image, np.array([[10, 10, 50, 50]])))
    assert probabilities.shape == (1, 7) and probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_members_with_another_input_contract_are_refused_by_name(tmp_path):
    first = tiny_model(tmp_path / "a.onnx")
    looser = {"margin": 0.3, "shift_y": 0.0, "align_eyes": True}
    other = tiny_model(tmp_path / "b.onnx", {**TINY_METADATA, "crop": looser})
    with pytest.raises(TrainingError, match=r"b\.onnx: its crop differ"):
        build_ensemble([first, other], tmp_path / "e.onnx", version="1")
    import onnx

    old = onnx.load(str(first))
    old.opset_import[0].version = 11   # ReduceSum's axes were an attribute then
    onnx.save(old, str(tmp_path / "old.onnx"))
    with pytest.raises(TrainingError, match=r"old\.onnx: ONNX opset 11; an ensemble needs members exported at opset 13 "):
        build_ensemble([first, tmp_path / "old.onnx"], tmp_path / "e.onnx", version="1")
    newer = onnx.load(str(first))
    newer.opset_import[0].version = 18
    onnx.save(newer, str(tmp_path / "newer.onnx"))
    with pytest.raises(TrainingError, match=r"newer\.onnx: its ONNX opsets differ"):
        build_ensemble([first, tmp_path / "newer.onnx"], tmp_path / "e.onnx", version="1")


def test_not_a_model_and_overwriting_a_member_are_one_line_errors(tmp_path):
    member = tiny_model(tmp_path / "a.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx at all")
    with pytest.raises(TrainingError, match=r"junk\.onnx: not a readable ONNX emotion model"):
        build_ensemble([member, junk], tmp_path / "e.onnx", version="1")
    with pytest.raises(TrainingError, match="would overwrite one of its members"):
        build_ensemble([member], member, version="1")
    no_metadata = tiny_model(tmp_path / "bare.onnx", {"labels": TINY_METADATA["labels"]})
    with pytest.raises(TrainingError, match=r"bare\.onnx: not an EmoScope emotion model .*lacks input_size"):
        build_ensemble([no_metadata], tmp_path / "e.onnx", version="1")


def test_export_ensemble_command_writes_the_file_and_refuses_bad_metrics_in_one_line(tmp_path):
    from test_cli import emoscope as run

    members = [tiny_model(tmp_path / f"m{seed}.onnx", seed=seed) for seed in (0, 1)]
    (tmp_path / "metrics.json").write_text(json.dumps({"jaffe": 0.5}))
    done = run("export-ensemble", *members, "--out", tmp_path / "e.onnx", "--version", "2", "--temperature", "0.9",
               "--metrics", tmp_path / "metrics.json")
    assert done.returncode == 0, done.stderr
    assert "from 2 members" in done.stdout
    assert EmotionClassifier(tmp_path / "e.onnx").info.metadata["metrics"] == {"jaffe": 0.5}
    refused = run("export-ensemble", members[0], "--out", members[0], "--version", "2")
    assert refused.returncode == 1 and "would overwrite one of its members" in refused.stderr
    assert "Traceback" not in refused.stderr


def _edited(path, out, edit):
    import onnx

    proto = onnx.load(str(path))
    edit(proto)
    onnx.save(proto, str(out))
    return out


def test_members_with_their_own_tensor_names_and_weights_beyond_float16_are_combined_exactly(tmp_path):
    from onnx import numpy_helper

    def rename(proto):   # input "x", output "log_probabilities": names the ensemble's own must not clash with
        proto.graph.input[0].name, proto.graph.output[0].name = "x", "log_probabilities"
        proto.graph.node[0].input[0], proto.graph.node[-1].output[0] = "x", "log_probabilities"

    def enlarge(proto):  # a weight float16 cannot hold: kept as float32
        weights = numpy_helper.to_array(proto.graph.initializer[0]).copy()
        weights[0, 0] = 1e6
        proto.graph.initializer[0].CopyFrom(numpy_helper.from_array(weights, proto.graph.initializer[0].name))

    renamed = _edited(tiny_model(tmp_path / "a.onnx"), tmp_path / "renamed.onnx", rename)
    large = _edited(tiny_model(tmp_path / "b.onnx", seed=1), tmp_path / "large.onnx", enlarge)
    out = build_ensemble([renamed, large], tmp_path / "e.onnx", version="1")
    import onnxruntime as ort

    def run(path, x):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    x = np.random.default_rng(2).normal(size=(3, 1, 48, 48)).astype(np.float32) * 1e-3
    views = (x, np.ascontiguousarray(x[..., ::-1]))
    expected = np.mean([_log_softmax(run(m, view)) for m in (renamed, large) for view in views], axis=0)
    got = run(out, x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_prior_corrections_must_agree_and_the_ensemble_is_not_corrected_again(tmp_path):
    from emoscope.training.prior_correction import (PriorCorrection, PriorCorrectionError, check_correctable,
                                                    correct_model)

    correction = {"tau": 0.5, "prior": [1 / 7] * 7, "bias": {label: 0.0 for label in TINY_METADATA["labels"]}}
    corrected = tiny_model(tmp_path / "c.onnx", {**TINY_METADATA, "prior_correction": correction})
    plain = tiny_model(tmp_path / "p.onnx", seed=1)
    with pytest.raises(TrainingError, match=r"p\.onnx: its prior corrections differ"):
        build_ensemble([corrected, plain], tmp_path / "e.onnx", version="1")
    both = build_ensemble([corrected, tiny_model(tmp_path / "c2.onnx", {**TINY_METADATA, "prior_correction": correction},
                                                 seed=2)], tmp_path / "e.onnx", version="1")
    assert EmotionClassifier(both).info.prior_correction["in_members"] is True
    with pytest.raises(PriorCorrectionError):
        check_correctable(both, tmp_path / "again.onnx")
    with pytest.raises(PriorCorrectionError, match="its members carry the correction"):
        correct_model(both, tmp_path / "again.onnx", PriorCorrection(0.5, (1 / 7,) * 7, TINY_METADATA["labels"]),
                      replacing=True)


def test_an_empty_file_is_not_an_emotion_model(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(TrainingError, match=r"empty\.onnx: not an EmoScope emotion model"):
        build_ensemble([empty], tmp_path / "e.onnx", version="1")


@pytest.mark.parametrize("small_side, large_side", [(48, 72), (13, 22)])   # 13 / 22 needs its float32 scale nudged
def test_members_of_another_input_size_see_the_ensemble_input_resized(tmp_path, small_side, large_side):
    import cv2

    small = tiny_model(tmp_path / "small.onnx", {**TINY_METADATA, "input_size": [small_side] * 2}, side=small_side)
    large = tiny_model(tmp_path / "large.onnx", {**TINY_METADATA, "input_size": [large_side] * 2}, seed=1, side=large_side)
    x = np.random.default_rng(2).normal(size=(3, 1, large_side, large_side)).astype(np.float32)
    # the graph shrinks the input as OpenCV's bilinear resize does (pixel centres aligned), both views alike
    views = (x, np.ascontiguousarray(x[..., ::-1]))
    shrunk = [np.stack([cv2.resize(face[0], (small_side, small_side), interpolation=cv2.INTER_LINEAR)[None]
                        for face in view]) for view in views]
    expected = np.mean([_log_softmax(_logits(small, s)) for s in shrunk]
                       + [_log_softmax(_logits(large, view)) for view in views], axis=0)
    out = build_ensemble([small, large], tmp_path / "pair.onnx", version="1")
    np.testing.assert_allclose(_logits(out, x), expected, atol=2e-3)
    info = EmotionClassifier(out).info
    assert info.input_size == (large_side, large_side)
    assert [m["input_size"] for m in info.metadata["members"]] == [[small_side] * 2, [large_side] * 2]
    assert info.metadata["architecture"].startswith(f"ensemble of ? at {small_side} px + ? at {large_side} px")
    wide = tiny_model(tmp_path / "wide.onnx", {**TINY_METADATA, "input_size": [48, 60]}, seed=3)
    with pytest.raises(TrainingError, match=r"wide\.onnx: its input is not square"):
        build_ensemble([large, wide], tmp_path / "bad.onnx", version="1")


def test_a_member_read_out_of_an_ensemble_computes_what_it_did_alone_and_rebuilds_the_ensemble(tmp_path):
    import onnx

    small = tiny_model(tmp_path / "small.onnx", {**TINY_METADATA, "input_size": [48, 48], "version": "3"}, side=48)
    large = tiny_model(tmp_path / "large.onnx", {**TINY_METADATA, "input_size": [72, 72], "version": "1"}, seed=1,
                       side=72)
    pair = build_ensemble([small, large], tmp_path / "pair.onnx", version="2", temperature=0.8)
    out = [extract_member(pair, index, tmp_path / f"member{index}.onnx") for index in (0, 1)]
    for original, member, side in zip((small, large), out, (48, 72)):
        x = np.random.default_rng(side).normal(size=(3, 1, side, side)).astype(np.float32)
        np.testing.assert_allclose(_logits(member, x), _logits(original, x), atol=2e-3)   # float16-rounded weights
        proto = onnx.load(str(member))
        assert all(t.data_type == onnx.TensorProto.FLOAT for t in proto.graph.initializer if t.name == "w")
        names = [t.name for t in proto.graph.initializer] + [n for node in proto.graph.node for n in node.output]
        assert set(names) == {"w", "shape", "flat", "logits"}   # the member's own names, no ensemble prefix
    info = EmotionClassifier(out[1]).info
    assert info.input_size == (72, 72) and info.temperature == 1.0 and info.metadata["version"] == "1"
    assert "members" not in info.metadata and info.prior_correction is None
    rebuilt = build_ensemble(out, tmp_path / "rebuilt.onnx", version="2", temperature=0.8)
    x = np.random.default_rng(0).normal(size=(2, 1, 72, 72)).astype(np.float32)
    np.testing.assert_allclose(_logits(rebuilt, x), _logits(pair, x), atol=1e-5)


def test_export_member_refuses_a_missing_member_a_lone_model_and_its_own_input_in_one_line(tmp_path):
    from test_cli import emoscope as run

    members = [tiny_model(tmp_path / f"m{seed}.onnx", seed=seed) for seed in (0, 1)]
    pair = build_ensemble(members, tmp_path / "pair.onnx", version="2")
    done = run("export-member", pair, "--index", "1", "--out", tmp_path / "one.onnx", "--version", "7")
    assert done.returncode == 0, done.stderr
    assert "member 1 of" in done.stdout and EmotionClassifier(tmp_path / "one.onnx").info.metadata["version"] == "7"
    for args, message in (((pair, "--index", "2"), "no member 2; its members are 0 to 1"),
                          ((members[0], "--index", "0"), "not an ensemble (no members recorded)"),
                          ((tmp_path / "none.onnx", "--index", "0"), "no such emotion model file")):
        refused = run("export-member", *args, "--out", tmp_path / "x.onnx")
        assert refused.returncode == 1 and message in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    before = pair.read_bytes()
    refused = run("export-member", pair, "--index", "0", "--out", pair)
    assert refused.returncode == 1 and "would overwrite its ensemble" in refused.stderr
    assert pair.read_bytes() == before
