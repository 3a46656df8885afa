"""Prior correction of an emotion model's logits: logit adjustment (Menon et al. 2021, "Long-tail learning via
logit adjustment", ICLR), post hoc.

A classifier trained on data where a third of the faces are neutral and under 1% disgusted learns that
prior along with the expressions: its logits are about ``log p(x | y) + log prior(y)``. Adding
``-tau * log prior(y)`` to them takes the prior back out (``tau = 1``: fully, the balanced-error optimum
when the model is calibrated; ``tau = 0``: unchanged). The bias goes into the ONNX graph as one constant
``Add`` on the logits, so every consumer of the file gets it, and into the metadata (``prior_correction``)
so that anyone can see and undo it.

A second, optional term is an offset on neutral's logit alone (``neutral_offset``): FER-trained models answer
"neutral" for many expressive faces unlike FER's (issue #17, users' first complaint), which no prior of the
training labels explains. Like tau it is chosen on validation faces, by balanced accuracy.

NumPy and ONNX only (no PyTorch): an existing ONNX model can be corrected on an install without torch.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..data import FaceDataset, load_split
from ..errors import InputError
from ..models import CropSpec

METHOD = "logit adjustment (Menon et al. 2021): logits - tau * log(training prior)"


class PriorCorrectionError(InputError):
    """A prior, a tau or a model that a prior correction cannot be made from or applied to."""


def logit_adjustment(prior, tau: float) -> np.ndarray:
    """The additive logit bias ``-tau * log(prior)`` (float32) for a class prior (positive, summing to 1)."""
    prior = np.asarray(prior, np.float64)
    if prior.ndim != 1 or len(prior) < 2 or not np.all(np.isfinite(prior)) or prior.min() <= 0:
        raise PriorCorrectionError(f"a prior needs a positive share for each class, got {prior.tolist()}")
    if abs(prior.sum() - 1.0) > 1e-3:
        raise PriorCorrectionError(f"the prior sums to {prior.sum():.4f}, not 1")
    if not np.isfinite(tau) or tau < 0:
        raise PriorCorrectionError(f"tau must be a number >= 0, got {tau}")
    return (-float(tau) * np.log(prior)).astype(np.float32)


def training_prior(dataset: FaceDataset, labels, soft_share: float = 0.0) -> np.ndarray:
    """The label distribution a model learnt from ``dataset`` over ``labels``: the hard labels' class
    frequencies, mixed ``(1 - soft_share) : soft_share`` with the mean of the soft (vote) targets where the
    model had a second head on them (FER+ votes: rows without votes left out, contempt renormalised away,
    as the exported graph renormalises that head over ``labels``)."""
    hard = dataset.targets.mean(axis=0)
    prior = np.array([hard[dataset.labels.index(label)] for label in labels], np.float64)
    if soft_share > 0:
        if dataset.soft_targets is None:
            raise PriorCorrectionError(f"{dataset.name}: soft share {soft_share} but the data set has no soft targets")
        voted = dataset.soft_targets[dataset.soft_targets.sum(axis=1) > 0].mean(axis=0)
        soft = np.array([voted[dataset.soft_labels.index(label)] for label in labels], np.float64)
        prior = (1.0 - soft_share) * prior / prior.sum() + soft_share * soft / soft.sum()
    return prior / prior.sum()


def dataset_kind(trained_on: str) -> str:
    """The data set kind in a model's ``trained_on`` entry (``fer2013+ferplus/train`` -> ``fer2013+ferplus``)."""
    return trained_on.split("/", 1)[0]


def neutral_offsets(labels, offset: float) -> np.ndarray:
    """The bias (float32) that adds ``offset`` to neutral's logit and nothing to the others'."""
    if not np.isfinite(offset):
        raise PriorCorrectionError(f"the neutral offset must be a number, got {offset}")
    if offset and "neutral" not in labels:
        raise PriorCorrectionError(f"a neutral offset needs a neutral class; the labels are {list(labels)}")
    return np.array([offset if label == "neutral" else 0.0 for label in labels], np.float32)


@dataclass(frozen=True)
class PriorCorrection:
    """A logit bias ``-tau * log(prior)`` over ``labels``, plus ``neutral_offset`` on neutral's, and where its
    prior came from."""

    tau: float
    prior: tuple[float, ...]
    labels: tuple[str, ...]
    source: str = ""
    neutral_offset: float = 0.0

    @classmethod
    def from_training_data(cls, tau: float, kind: str, data, labels, soft_share: float = 0.0, votes=None,
                           on_error: str = "fail", neutral_offset: float = 0.0) -> "PriorCorrection":
        """The prior of the training split of a data set (:func:`emoscope.data.load_split`'s kinds)."""
        train = load_split(kind, data, "train", votes=votes, on_error=on_error)
        prior = training_prior(train, labels, soft_share)
        if prior.min() <= 0:
            absent = [label for label, p in zip(labels, prior) if p <= 0]
            raise PriorCorrectionError(f"{train.name}: no training faces of {', '.join(absent)}; its prior would be 0")
        parts = [f"{1 - soft_share:g} x hard-label frequencies"] + ([f"{soft_share:g} x vote shares"] if soft_share else [])
        return cls(float(tau), tuple(prior.tolist()), tuple(labels),
                   f"{train.name} ({len(train)} faces): " + " + ".join(parts), float(neutral_offset))

    @property
    def bias(self) -> np.ndarray:
        return logit_adjustment(self.prior, self.tau) + neutral_offsets(self.labels, self.neutral_offset)

    def metadata(self) -> dict:
        """The ``prior_correction`` entry of the model's metadata."""
        return {"method": METHOD + (" + neutral_offset on neutral's logit" if self.neutral_offset else ""),
                "tau": self.tau, "prior_from": self.source,
                "prior": dict(zip(self.labels, (round(p, 6) for p in self.prior))),
                **({"neutral_offset": self.neutral_offset} if self.neutral_offset else {}),
                "bias": dict(zip(self.labels, (round(float(b), 6) for b in self.bias)))}


BIAS_NAME = "prior_correction_bias"


def add_logit_bias(proto, bias: np.ndarray) -> None:
    """Add ``bias`` to the graph's first output in place: its producer now writes ``<output>_uncorrected``
    and one ``Add`` with a constant (1, K) initializer writes the output under its old name."""
    import onnx
    from onnx import helper, numpy_helper

    graph = proto.graph
    output = graph.output[0].name
    dims = graph.output[0].type.tensor_type.shape.dim
    if len(dims) == 2 and dims[1].HasField("dim_value") and dims[1].dim_value != len(bias):
        raise PriorCorrectionError(f"the model has {dims[1].dim_value} outputs, the bias {len(bias)} values")
    raw = f"{output}_uncorrected"
    for node in graph.node:
        node.output[:] = [raw if name == output else name for name in node.output]
        node.input[:] = [raw if name == output else name for name in node.input]
    for info in graph.value_info:
        if info.name == output:
            info.name = raw
    graph.initializer.append(numpy_helper.from_array(np.asarray(bias, np.float32).reshape(1, -1), BIAS_NAME))
    graph.node.append(helper.make_node("Add", [raw, BIAS_NAME], [output], name="prior_correction"))
    onnx.checker.check_model(proto)


def read_metadata(proto) -> dict:
    return {entry.key: json.loads(entry.value) for entry in proto.metadata_props}


def write_metadata(proto, metadata: dict) -> None:
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)


def check_correctable(source: str | Path, out: str | Path, adding_bias: bool = True):
    """The ONNX proto and metadata of ``source`` if a changed copy of it can be written to ``out``: a
    different file, a model with EmoScope metadata and, where a bias is to be added (``adding_bias``),
    logits not corrected already; else one clear error."""
    import onnx

    source, out = Path(source), Path(out)
    if not source.is_file():
        raise PriorCorrectionError(f"{source}: no such model file")
    if out.resolve() == source.resolve() or (out.exists() and out.samefile(source)):
        raise PriorCorrectionError(f"{out}: is the input model; write the changed model to a new file")
    try:
        proto = onnx.load(str(source))
        metadata = read_metadata(proto)
    except Exception as error:  # protobuf and JSON raise their own types for a file that is not a model
        raise PriorCorrectionError(f"{source}: not an ONNX model with EmoScope metadata ({str(error)[:120]})") from None
    if "crop" not in metadata or "labels" not in metadata:
        raise PriorCorrectionError(f"{source}: not an EmoScope emotion model (no crop and labels in its metadata)")
    if adding_bias and metadata.get("outputs") != "logits":
        raise PriorCorrectionError(f"{source}: outputs {metadata.get('outputs')!r}; a prior correction needs logits")
    if adding_bias and "prior_correction" in metadata:
        done = metadata["prior_correction"]
        raise PriorCorrectionError(f"{source}: already prior-corrected (tau {done.get('tau')}, neutral offset "
                                   f"{done.get('neutral_offset', 0)}); correct the uncorrected model instead")
    return proto, metadata


def correct_model(source: str | Path, out: str | Path, correction: PriorCorrection | None = None,
                  temperature: float | None = None, version: str | None = None, metrics: dict | None = None,
                  crop: CropSpec | None = None) -> Path:
    """Write a copy of the ONNX emotion model ``source`` to ``out`` (never over ``source``) whose logits
    carry ``correction``'s bias where given, with its metadata updated: ``prior_correction``, and ``crop``
    (the face framing), ``temperature``, ``version``, ``metrics`` where given. The weights are not touched.
    A copy with a bias or another framing answers differently: the source's ``metrics`` are dropped unless
    new ones are given, and its temperature is kept unless one is given (refit it: a calibrated temperature
    holds only roughly after a change)."""
    import onnx

    source, out = Path(source), Path(out)
    proto, metadata = check_correctable(source, out, adding_bias=correction is not None)
    if correction is not None:
        if tuple(metadata.get("labels", ())) != correction.labels:
            raise PriorCorrectionError(f"{source}: labels {metadata.get('labels')} differ from the prior's "
                                       f"{list(correction.labels)}")
        add_logit_bias(proto, correction.bias)
        metadata["prior_correction"] = correction.metadata()
    if correction is not None or crop is not None:
        metadata.pop("metrics", None)
    metadata.update({key: value for key, value in (("crop", asdict(crop) if crop else None), ("temperature", temperature),
                                                   ("version", version), ("metrics", metrics)) if value is not None})
    write_metadata(proto, metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    return out


def tau_table(validation: dict[str, tuple[np.ndarray, np.ndarray]], prior, labels, taus,
              offsets=(0.0,)) -> list[dict]:
    """For each tau and neutral offset, the balanced accuracy (mean per-class recall) of ``argmax(logits +
    bias)`` (:attr:`PriorCorrection.bias` over the model's ``labels``) on each validation set (name -> (logits,
    true class indices)) and their mean. The temperature does not move an argmax, so this holds for any
    temperature."""
    from sklearn.metrics import balanced_accuracy_score

    rows = []
    for tau in taus:
        for offset in offsets:
            bias = PriorCorrection(float(tau), tuple(prior), tuple(labels), neutral_offset=float(offset)).bias
            scores = {name: float(balanced_accuracy_score(truth, (logits + bias).argmax(1)))
                      for name, (logits, truth) in validation.items()}
            rows.append({"tau": float(tau), "neutral_offset": float(offset), **scores,
                         "mean": float(np.mean(list(scores.values())))})
    return rows
