"""Several exported emotion models, each seeing the face and its mirror image, as one ONNX file.

The graph stacks the batch with its left-right mirror, runs every member on both, and outputs the
mean of their log-softmax outputs: a geometric mean of 2 x members distributions, used as logits (the
file's temperature calibrates it like any model's). Consumers see one ordinary emotion model with the
members' input contract, so inference needs nothing new. Members may differ in (square) input size
alone: the ensemble takes the largest, and the graph shrinks it for each smaller member, bilinearly (not
by pixel area, as the pipeline fits a crop to a lone model's input: such a member sees slightly other
pixels inside an ensemble than alone). The weights are stored as float16, each cast back to float32
inside the graph (ONNX Runtime folds the casts when it loads the file): half the file size, the same
speed, outputs within about 1e-3 of float32's.

ONNX and NumPy only (no PyTorch): members are read back from their files, not from checkpoints.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ..models import ModelInfo
from .errors import TrainingError
from .prior_correction import read_metadata, write_metadata

#: What every member must agree on for one preprocessing to serve them all: the metadata inference reads
#: (the input size aside: a smaller member's input is the ensemble's, resized inside the graph).
SHARED_INPUT_KEYS = tuple(key for key in ModelInfo.REQUIRED if key not in ("outputs", "input_size"))
#: ReduceSum takes its axes as an input from opset 13; members are run under the first one's opset.
MIN_OPSET = 13


def _load_member(path: Path):
    import onnx

    try:
        proto = onnx.load(str(path))
        metadata = read_metadata(proto)
    except Exception as error:  # onnx raises DecodeError, OSError, ValueError... for a file that is not ONNX
        reason = (str(error).splitlines() or [type(error).__name__])[0][:120]
        raise TrainingError(f"{path}: not a readable ONNX emotion model ({reason})") from None
    missing = [key for key in ModelInfo.REQUIRED if key not in metadata]
    if missing or metadata["outputs"] != "logits" or len(proto.graph.input) != 1 or len(proto.graph.output) != 1:
        raise TrainingError(f"{path}: not an EmoScope emotion model with one input and logits out"
                            + (f" (metadata lacks {', '.join(missing)})" if missing else ""))
    opset = next((entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise TrainingError(f"{path}: ONNX opset {opset}; an ensemble needs members exported at opset "
                            f"{MIN_OPSET} or later")
    return proto, metadata


def _store_as_float16(initializers: list, nodes: list) -> tuple[list, list]:
    """Float32 weight tensors as float16 ones plus a Cast back to float32 under the original name; a tensor
    with values beyond float16's range stays float32."""
    from onnx import TensorProto, helper, numpy_helper

    stored, casts = [], []
    for tensor in initializers:
        values = numpy_helper.to_array(tensor) if tensor.data_type == TensorProto.FLOAT else None
        if values is None or values.size < 16 or not np.all(np.abs(values) <= np.finfo(np.float16).max):
            stored.append(tensor)   # not float32 weights, too small to matter (scalars, shapes), or out of range
            continue
        half = numpy_helper.from_array(values.astype(np.float16), f"{tensor.name}_float16")
        stored.append(half)
        casts.append(helper.make_node("Cast", [half.name], [tensor.name], to=TensorProto.FLOAT))
    return stored, casts + nodes


def _member_architectures(loaded) -> str:
    """``3 x mobilenet_v2_64`` or ``mobilenet_v2_64 at 64 px + mobilenet_v2_96 at 96 px``."""
    kinds = [(meta.get("architecture", "?"), meta["input_size"][0]) for _, meta in loaded]
    if len(set(kinds)) == 1:
        return f"{len(kinds)} x {kinds[0][0]}"
    return " + ".join(f"{name} at {side} px" for name, side in kinds)


def build_ensemble(members: list[str | Path], out: str | Path, version: str, temperature: float = 1.0,
                   mirror: bool = True, metrics: dict | None = None) -> Path:
    """Write ``out``: the members (exported emotion models with the same input contract, their input sizes
    aside) as one graph. ``mirror``: each member also sees the horizontally flipped face. Returns ``out``."""
    import onnx
    from onnx import TensorProto, compose, helper

    paths = [Path(member) for member in members]
    if len(paths) < 1:
        raise TrainingError("an ensemble needs at least one member model")
    out = Path(out)
    if any(path.resolve() == out.resolve() for path in paths if path.exists()):
        raise TrainingError(f"{out}: the ensemble would overwrite one of its members; choose another --out")
    loaded = [_load_member(path) for path in paths]
    first_proto, first_meta = loaded[0]
    for path, (proto, metadata) in zip(paths[1:], loaded[1:]):
        differing = [key for key in SHARED_INPUT_KEYS if metadata[key] != first_meta[key]]
        if list(proto.opset_import) != list(first_proto.opset_import):
            differing.append("ONNX opsets")
        if metadata.get("prior_correction") != first_meta.get("prior_correction"):
            differing.append("prior corrections")
        if differing:
            raise TrainingError(f"{path}: its {', '.join(differing)} differ from {paths[0].name}'s; "
                                "members must share one input contract")
    if len({tuple(metadata["input_size"]) for _, metadata in loaded}) > 1:
        for path, (_, metadata) in zip(paths, loaded):
            if len(set(metadata["input_size"])) != 1:
                raise TrainingError(f"{path}: its input is not square ({metadata['input_size']}); members of "
                                    "several input sizes are resized to each other, which needs square inputs")
    num_labels = len(first_meta["labels"])
    sides = [metadata["input_size"][0] for _, metadata in loaded]
    largest = int(np.argmax(sides))   # the ensemble takes the largest input; smaller members get it resized

    # The graph's own tensors are named "ensemble/...", which no prefixed member name ("m0_...") can be.
    source, target = loaded[largest][0].graph.input[0].name, first_proto.graph.output[0].name
    nodes, initializers = [], []
    views = source
    if mirror:
        constants = {f"ensemble/flip_{part}": value for part, value in
                     (("starts", [-1]), ("ends", [np.iinfo(np.int64).min]), ("axes", [3]), ("steps", [-1]))}
        initializers += [helper.make_tensor(name, TensorProto.INT64, [1], value) for name, value in constants.items()]
        views = "ensemble/views"
        nodes += [helper.make_node("Slice", [source, *constants], ["ensemble/mirrored"]),
                  helper.make_node("Concat", [source, "ensemble/mirrored"], [views], axis=0)]
    resized = {sides[largest]: views}
    for side in sorted(set(sides) - {sides[largest]}):
        # Resize gives floor(input x scale) pixels, in float32 or double arithmetic by runtime: the float32
        # scale must not fall below side / largest
        scale = np.float32(side / sides[largest])
        if Fraction(float(scale)) * sides[largest] < side:
            scale = np.nextafter(scale, np.float32(1))
        initializers.append(helper.make_tensor(f"ensemble/scales_{side}", TensorProto.FLOAT, [4], [1, 1, scale, scale]))
        resized[side] = f"ensemble/views_{side}"
        nodes.append(helper.make_node("Resize", [views, "", f"ensemble/scales_{side}"], [resized[side]], mode="linear",
                                      coordinate_transformation_mode="half_pixel"))
    member_outputs = []
    for index, (proto, _) in enumerate(loaded):
        prefixed = compose.add_prefix(proto, f"m{index}_")
        graph = prefixed.graph
        member_input, member_output = graph.input[0].name, graph.output[0].name
        for node in graph.node:
            node.input[:] = [resized[sides[index]] if name == member_input else name for name in node.input]
        nodes += list(graph.node)
        initializers += list(graph.initializer)
        member_outputs.append(f"ensemble/log_probabilities_{index}")
        nodes.append(helper.make_node("LogSoftmax", [member_output], [member_outputs[-1]], axis=1))
    share = 1.0 / (len(loaded) * (2 if mirror else 1))
    initializers.append(helper.make_tensor("ensemble/share", TensorProto.FLOAT, [], [share]))
    summed = "ensemble/summed"
    nodes.append(helper.make_node("Sum", member_outputs, [summed]))
    if mirror:
        initializers += [helper.make_tensor("ensemble/by_view", TensorProto.INT64, [3], [2, -1, num_labels]),
                         helper.make_tensor("ensemble/view_axis", TensorProto.INT64, [1], [0])]
        nodes += [helper.make_node("Reshape", [summed, "ensemble/by_view"], ["ensemble/per_view"]),
                  helper.make_node("ReduceSum", ["ensemble/per_view", "ensemble/view_axis"], ["ensemble/summed_views"],
                                   keepdims=0)]
        summed = "ensemble/summed_views"
    nodes.append(helper.make_node("Mul", [summed, "ensemble/share"], [target]))

    initializers, nodes = _store_as_float16(initializers, nodes)
    graph = helper.make_graph(nodes, "emotion_ensemble", [loaded[largest][0].graph.input[0]],
                              [first_proto.graph.output[0]], initializer=initializers)
    model = helper.make_model(graph, opset_imports=list(first_proto.opset_import), producer_name="emoscope")
    model.ir_version = first_proto.ir_version
    metadata = {**first_meta, "input_size": loaded[largest][1]["input_size"]}
    if "prior_correction" in metadata:  # inside every member's graph already: recorded, so none is added again
        metadata["prior_correction"] = {**metadata["prior_correction"], "in_members": True}
    metadata.update({
        "version": version,
        "temperature": float(temperature),
        "architecture": f"ensemble of {_member_architectures(loaded)}"
                        + (", each on the face and its mirror image" if mirror else "") + "; float16 weights",
        "members": [{"file": path.name, **{key: meta.get(key, "") for key in ("version", "architecture", "trained_on",
                                                                               "input_size")}}
                    for path, (_, meta) in zip(paths, loaded)],
        "metrics": metrics or {},
    })
    write_metadata(model, metadata)
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def extract_member(ensemble: str | Path, index: int, out: str | Path, version: str | None = None) -> Path:
    """Write member ``index`` (from 0) of an ensemble file as a model of its own: its graph alone, weights back to
    float32, no mirror view and no correction added over the members; e.g. to train one member on
    (``train --init-from``) when its run folder is gone. ``version`` defaults to the member's recorded one."""
    import onnx
    from onnx import TensorProto, numpy_helper, shape_inference, utils

    ensemble, out = Path(ensemble), Path(out)
    if out.exists() and out.resolve() == ensemble.resolve():
        raise TrainingError(f"{out}: the member would overwrite its ensemble; choose another --out")
    proto, metadata = _load_member(ensemble)
    members = metadata.get("members") or []
    if not 0 <= index < len(members):
        raise TrainingError(f"{ensemble}: no member {index}; " + (f"its members are 0 to {len(members) - 1}" if members
                                                                 else "not an ensemble (no members recorded)"))
    prefix = f"m{index}_"
    nodes = [node for node in proto.graph.node if any(name.startswith(prefix) for name in node.output)]
    produced = {name for node in nodes for name in node.output}
    constants = {tensor.name for tensor in proto.graph.initializer}
    feeding = {name for node in nodes for name in node.input if name and name not in produced | constants}
    output = next((node.input[0] for node in proto.graph.node
                   if node.output[0] == f"ensemble/log_probabilities_{index}"), None)   # build_ensemble's names
    if len(feeding) != 1 or output not in produced:
        raise TrainingError(f"{ensemble}: member {index} cannot be told apart; not an export-ensemble file")
    member = utils.Extractor(shape_inference.infer_shapes(proto)).extract_model(list(feeding), [output])
    graph = member.graph
    halves = {tensor.name: tensor for tensor in graph.initializer if tensor.data_type == TensorProto.FLOAT16}
    for cast in [node for node in graph.node if node.op_type == "Cast" and node.input[0] in halves]:
        graph.initializer.append(numpy_helper.from_array(
            numpy_helper.to_array(halves[cast.input[0]]).astype(np.float32), cast.output[0]))
        graph.node.remove(cast)
    for tensor in halves.values():
        graph.initializer.remove(tensor)
    renames = {next(iter(feeding)): "input", output: "logits"}

    def own_name(name: str) -> str:   # the member's names as exported, without the ensemble's prefix
        return renames.get(name, name[len(prefix):] if name.startswith(prefix) else name)

    for node in graph.node:
        node.input[:] = [own_name(name) for name in node.input]
        node.output[:] = [own_name(name) for name in node.output]
        node.name = own_name(node.name)
    for tensor in graph.initializer:
        tensor.name = own_name(tensor.name)
    del graph.value_info[:]
    graph.input[0].name, graph.output[0].name = "input", "logits"
    del member.opset_import[:]
    member.opset_import.extend(proto.opset_import)
    recorded = members[index]
    own = {key: value for key, value in metadata.items() if key not in ("members", "prior_correction", "metrics")}
    own.update(temperature=1.0, version=version or recorded.get("version", ""), metrics={},
               **{key: recorded[key] for key in ("architecture", "trained_on", "input_size") if recorded.get(key)})
    correction = metadata.get("prior_correction")
    if correction and correction.get("in_members"):   # the members carried it: so does this one
        own["prior_correction"] = {key: value for key, value in correction.items() if key != "in_members"}
    write_metadata(member, own)
    onnx.checker.check_model(member)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(member, str(out))
    return out
