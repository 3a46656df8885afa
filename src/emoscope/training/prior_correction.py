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

A corrected model's correction can be replaced (:func:`remove_logit_bias`), and a two-head model's mix of its
heads set anew (:func:`set_soft_share`), so that all three are chosen on validation after training.

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


def _rename(graph, old: str, new: str) -> None:
    """Every use of the tensor name ``old`` in ``graph``'s nodes and value infos becomes ``new``."""
    for node in graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
        node.input[:] = [new if name == old else name for name in node.input]
    for info in graph.value_info:
        if info.name == old:
            info.name = new


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
    _rename(graph, output, raw)
    graph.initializer.append(numpy_helper.from_array(np.asarray(bias, np.float32).reshape(1, -1), BIAS_NAME))
    graph.node.append(helper.make_node("Add", [raw, BIAS_NAME], [output], name="prior_correction"))
    onnx.checker.check_model(proto)


def remove_logit_bias(proto) -> None:
    """Undo :func:`add_logit_bias` in place: the ``Add`` and its constant go, the raw logits are the output again."""
    graph = proto.graph
    output = graph.output[0].name
    adds = [node for node in graph.node if node.name == "prior_correction" and list(node.output) == [output]]
    if len(adds) != 1 or not any(init.name == BIAS_NAME for init in graph.initializer):
        raise PriorCorrectionError("the model's correction is not one Add on its output; it cannot be replaced")
    raw = adds[0].input[0]
    graph.node.remove(adds[0])
    graph.initializer.remove(next(init for init in graph.initializer if init.name == BIAS_NAME))
    _rename(graph, raw, output)


def set_soft_share(proto, soft_share: float) -> int:
    """Blend a two-head model's heads anew, in place: ``(1 - s) * log_softmax(hard) + s * log_softmax(soft)``
    (:class:`emoscope.training.export.BlendedHeads`) with ``s = soft_share``, in every member of an ensemble.
    The two weights are the constants of the ``Mul`` after each head's ``LogSoftmax``, told apart by where the
    head's ``Slice`` starts (the hard head at 0); each ``Mul`` gets a constant of its own (the exporter may share
    one between equal weights). Returns how many heads were changed; the metadata is the caller's."""
    from onnx import numpy_helper

    if not 0.0 <= soft_share <= 1.0:
        raise PriorCorrectionError(f"the soft head's share must be from 0 to 1, got {soft_share}")
    graph = proto.graph
    producer = {name: node for node in graph.node for name in node.output}
    constants = {init.name: init for init in graph.initializer}
    constants.update({node.output[0]: node.attribute[0].t for node in graph.node
                      if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"})
    changed, replaced = 0, set()
    for node in graph.node:
        head = producer.get(node.input[0]) if node.op_type == "Mul" else None
        cut = producer.get(head.input[0]) if head is not None and head.op_type == "LogSoftmax" else None
        if cut is None or cut.op_type != "Slice" or node.input[1] not in constants or cut.input[1] not in constants:
            continue
        hard = int(numpy_helper.to_array(constants[cut.input[1]]).ravel()[0]) == 0
        shape = numpy_helper.to_array(constants[node.input[1]]).shape
        replaced.add(node.input[1])
        name = f"{node.output[0]}_share"
        for old in [init for init in graph.initializer if init.name == name]:   # set before: replaced
            graph.initializer.remove(old)
        graph.initializer.append(numpy_helper.from_array(
            np.full(shape, 1.0 - soft_share if hard else soft_share, np.float32), name))
        node.input[1] = name
        changed += 1
    if changed == 0 or changed % 2:
        raise PriorCorrectionError(f"found {changed} blended heads; a two-head model has two per network")
    unused = replaced - {name for node in graph.node for name in node.input}
    for init in [init for init in graph.initializer if init.name in unused]:
        graph.initializer.remove(init)
    for node in [node for node in graph.node if node.op_type == "Constant" and node.output[0] in unused]:
        graph.node.remove(node)
    return changed


def read_metadata(proto) -> dict:
    return {entry.key: json.loads(entry.value) for entry in proto.metadata_props}


def write_metadata(proto, metadata: dict) -> None:
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)


def check_correctable(source: str | Path, out: str | Path, adding_bias: bool = True, replacing: bool = False):
    """The ONNX proto and metadata of ``source`` if a changed copy of it can be written to ``out``: a
    different file, a model with EmoScope metadata and, where a bias is to be added (``adding_bias``),
    logits not corrected already (or ``replacing`` their correction); else one clear error."""
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
    if adding_bias and replacing and metadata.get("prior_correction", {}).get("in_members"):
        raise PriorCorrectionError(f"{source}: its members carry the correction; rebuild it from uncorrected ones")
    if adding_bias and "prior_correction" in metadata and not replacing:
        done = metadata["prior_correction"]
        raise PriorCorrectionError(f"{source}: already prior-corrected (tau {done.get('tau')}, neutral offset "
                                   f"{done.get('neutral_offset', 0)}); correct the uncorrected model instead, "
                                   "or replace its correction (--replace-correction)")
    return proto, metadata


def correct_model(source: str | Path, out: str | Path, correction: PriorCorrection | None = None,
                  temperature: float | None = None, version: str | None = None, metrics: dict | None = None,
                  crop: CropSpec | None = None, replacing: bool = False) -> Path:
    """Write a copy of the ONNX emotion model ``source`` to ``out`` (never over ``source``) whose logits
    carry ``correction``'s bias where given, with its metadata updated: ``prior_correction``, and ``crop``
    (the face framing), ``temperature``, ``version``, ``metrics`` where given. The weights are not touched.
    A copy with a bias or another framing answers differently: the source's ``metrics`` are dropped unless
    new ones are given, and its temperature is kept unless one is given (refit it: a calibrated temperature
    holds only roughly after a change). ``replacing``: a correction already in ``source`` is taken out first
    (:func:`remove_logit_bias`), so ``correction`` is the whole bias, not one added to it."""
    import onnx

    source, out = Path(source), Path(out)
    proto, metadata = check_correctable(source, out, adding_bias=correction is not None, replacing=replacing)
    if correction is not None and "prior_correction" in metadata:
        remove_logit_bias(proto)
        del metadata["prior_correction"]
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
    true class indices)) and their mean; with a neutral class, also ``neutral_ratio``: per set, the share of
    answers that are neutral over the share of faces that are. The temperature does not move an argmax, so
    this holds for any temperature."""
    from sklearn.metrics import balanced_accuracy_score

    neutral = list(labels).index("neutral") if "neutral" in labels else None
    rows = []
    for tau in taus:
        for offset in offsets:
            bias = PriorCorrection(float(tau), tuple(prior), tuple(labels), neutral_offset=float(offset)).bias
            answers = {name: (logits + bias).argmax(1) for name, (logits, _) in validation.items()}
            scores = {name: float(balanced_accuracy_score(truth, answers[name]))
                      for name, (_, truth) in validation.items()}
            row = {"tau": float(tau), "neutral_offset": float(offset), **scores,
                   "mean": float(np.mean(list(scores.values())))}
            if neutral is not None:
                row["neutral_ratio"] = {name: float(np.mean(answers[name] == neutral) / np.mean(truth == neutral))
                                        for name, (_, truth) in validation.items() if (truth == neutral).any()}
            rows.append(row)
    return rows
