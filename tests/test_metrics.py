import numpy as np
import pytest

from emoscope.evaluation.metrics import classification_metrics, fit_temperature, reliability, softmax


def test_classification_metrics_against_hand_counts():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: P 2/2 R 2/3; b: P 1/2 R 1/2; c: P 1/2 R 1/1
    assert m["per_class"]["a"]["precision"] == 1.0 and m["per_class"]["a"]["recall"] == pytest.approx(2 / 3)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    f1s = [0.8, 0.5, 2 / 3]
    assert m["macro_f1"] == pytest.approx(sum(f1s) / 3)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_ece_of_a_hand_example():
    # two samples at confidence 0.9 (one right), two at 0.6 (both right): ECE = 0.5*|0.5-0.9| + 0.5*|1-0.6| = 0.4
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 1, 0, 1])
    assert reliability(probs, y)["ece"] == pytest.approx(0.4)


def test_temperature_scaling_recovers_the_true_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 5)) * 3
    labels = np.array([rng.choice(5, p=p) for p in softmax(logits, 2.0)])
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)


def test_balanced_accuracy_and_class_shares_with_faces_the_pipeline_missed():
    from sklearn.metrics import balanced_accuracy_score

    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 2, 2, 1, 0, 2, 2])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))   # (1/2 + 1/2 + 1) / 3
    assert m["predicted_share"] == pytest.approx({"a": 3 / 8, "b": 1 / 8, "c": 4 / 8})
    assert m["true_share"] == pytest.approx({"a": 4 / 8, "b": 2 / 8, "c": 2 / 8})
    missed = classification_metrics(y_true, np.array([0, -1, 2, 2, 1, 0, 2, -1]), ["a", "b", "c"])
    assert missed["accuracy"] == pytest.approx(3 / 8)                    # a face not found is a wrong answer
    assert missed["balanced_accuracy"] == pytest.approx((1 / 4 + 1 / 2 + 1 / 2) / 3)
    assert sum(missed["predicted_share"].values()) == pytest.approx(6 / 8) and np.sum(missed["confusion"]) == 6
