"""The training loop: seeded, resumable, with early stopping, best-checkpoint keeping and a metrics log.

A run lives in one output folder: ``config.json``, ``last.pt`` (resume point, written every
epoch), ``best.pt`` (best validation score), ``metrics.jsonl`` and ``curves.png``. Running the
same command again continues from ``last.pt`` (the thread count may change between sessions).

Data with a second label set (FER2013 images with FER+ votes) trains two heads on one trunk:
the model's output is ``len(labels) + len(soft_labels)`` logits, the first part learnt from the
hard labels, the second from the vote distributions. Export blends the two into one output.

Several data sets can train one model (:func:`emoscope.data.combine_datasets`): ``sampling="balanced"``
then draws every class equally often within each source, and ``selection="balanced"`` picks the
epoch by balanced accuracy averaged over the sources, so that neither the largest data set nor the
commonest class decides what the model learns or which epoch ships.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..evaluation.metrics import classification_metrics
from ..models import resolve_emotion_model, sha256_of
from ..preprocess import fit_all
from .architectures import architecture_names, get_architecture
from .augment import AugmentConfig, augment_batch
from .errors import TrainingError
from .selection import validation_scores
from .tensors import InputSpec, to_unit
from ..data import FaceDataset


@dataclass
class TrainConfig:
    arch: str = "mobilenet_v2"
    epochs: int = 16
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    class_weighting: str = "sqrt"   # none | sqrt | inverse
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    patience: int = 5
    seed: int = 0
    threads: int = 2
    soft_weight: float = 0.5        # share of the loss on the second label set (FER+ votes), when the data has one
    ema_decay: float = 0.998        # exponential moving average of the weights; what is validated and saved (0: off)
    teacher_logits: str = ""        # .npz from `emoscope teacher-logits`: distil a teacher into this model
    teacher_model: str = ""         # or an exported ONNX emotion model (e.g. an ensemble) as the teacher
    teacher_online: bool = False    # run teacher_model on every augmented batch, not once on the plain images
    distill_weight: float = 0.5     # share of the loss on matching the teacher
    distill_temperature: float = 2.0
    sampling: str = "shuffle"       # shuffle: every image once per epoch | balanced: see sampling_weights
    source_shares: str = "sqrt"     # balanced sampling's share of each source: sqrt (of its size) | equal
    selection: str = "accuracy"     # what picks the best epoch: accuracy | balanced (see validation_scores)
    init_from: str = ""             # an exported emotion model (file or bundled name) to start from (same family)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["augment"] = AugmentConfig(**data.get("augment", {}))
        return cls(**data)


def class_weights(dataset: FaceDataset, scheme: str) -> torch.Tensor:
    """Loss weights against class imbalance: ``sqrt`` (inverse square-root frequency) or ``inverse``."""
    counts = dataset.targets.sum(axis=0).astype(np.float64) + 1.0
    if scheme == "none":
        weights = np.ones_like(counts)
    elif scheme == "sqrt":
        weights = 1.0 / np.sqrt(counts)
    elif scheme == "inverse":
        weights = 1.0 / counts
    else:
        raise TrainingError(f"unknown class weighting {scheme!r}; use none, sqrt or inverse")
    weights /= (weights * counts / counts.sum()).sum()  # mean weight over the data is 1
    return torch.tensor(weights, dtype=torch.float32)


def sampling_weights(dataset: FaceDataset, source_shares: str = "sqrt") -> np.ndarray:
    """Per-image drawing probabilities for ``sampling="balanced"``: each source gets a share of the
    draws in proportion to the square root of its size (``sqrt``: a small data set is seen more often
    than its size alone would give, without being repeated as often as a large one's images) or the
    same share (``equal``), split equally over the classes it has, and equally over the images of a class."""
    if source_shares not in ("sqrt", "equal"):
        raise TrainingError(f"unknown source shares {source_shares!r}; use sqrt or equal")
    sources = dataset.sources if dataset.sources is not None else np.full(len(dataset), dataset.name)
    classes = dataset.hard_labels
    weights = np.zeros(len(dataset))
    names = np.unique(sources)
    shares = np.array([np.sqrt((sources == name).sum()) if source_shares == "sqrt" else 1.0 for name in names])
    for name, share in zip(names, shares / shares.sum()):
        in_source = sources == name
        present = np.unique(classes[in_source])
        for label in present:
            members = in_source & (classes == label)
            weights[members] = share / len(present) / members.sum()
    return weights


@torch.no_grad()
def predict_logits(model: torch.nn.Module, spec: InputSpec, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """All output logits of ``model`` (on whatever device it is) for uint8 crops of any size."""
    model.eval()
    device = next(model.parameters()).device
    images = spec.fit(images)
    outputs = []
    for start in range(0, len(images), batch_size):
        outputs.append(model(spec.prepare(to_unit(images[start: start + batch_size]).to(device))).cpu())
    return torch.cat(outputs).numpy()


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy against target distributions; all-zero target rows are left out.

    ``weights`` (per class) scale each class's term, as ``F.cross_entropy(weight=...)`` does for
    hard labels, normalised by the batch's total target weight.
    """
    keep = targets.sum(1) > 0
    if not keep.any():
        return logits.sum() * 0.0
    logits, targets = logits[keep], targets[keep]
    weighted = targets if weights is None else targets * weights
    return -(weighted * F.log_softmax(logits, 1)).sum() / weighted.sum()


def _augmented(images: torch.Tensor, rows: torch.Tensor, augment: AugmentConfig,
               generator: torch.Generator) -> torch.Tensor:
    """The uint8 images ``rows`` as an augmented float batch (N, 1, H, W) in [0, 1]."""
    return augment_batch(images[rows].unsqueeze(1).float().div_(255.0), augment, generator)


def _plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [h["train_loss"] for h in history], label="train")
    loss_ax.plot(epochs, [h["val_loss"] for h in history], label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    acc_ax.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    acc_ax.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
    acc_ax.plot(epochs, [h["val_score"] for h in history], label="validation score")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _input_spec_of(model_path: Path, arch: str, train_set: FaceDataset) -> InputSpec:
    """The input of an exported model a run starts from (its normalisation, which its weights were learnt
    with), after checking that it is a model of ``arch``'s family (``arch`` itself, or the same layers on
    another input size) with the training data's labels: weights of the same shapes would load into
    another architecture (a stem at another stride) without an error."""
    from ..classification import read_model_info

    meta = read_model_info(model_path).metadata
    theirs = meta.get("architecture")
    if theirs not in architecture_names():
        raise TrainingError(f"{model_path}: not one network of a known architecture ({theirs or 'none recorded'}); "
                            "a run starts from a file that `emoscope export` wrote")
    family = get_architecture(theirs).family
    if family != get_architecture(arch).family:
        kin = ", ".join(sorted((name for name in architecture_names() if get_architecture(name).family == family),
                               key=lambda name: get_architecture(name).input_size))
        raise TrainingError(f"{model_path}: a {theirs!r} model; give --arch {kin} to start from it")
    heads = meta.get("heads", {})
    if (tuple(heads.get("labels", ())), tuple(heads.get("soft_labels", ()))) != (train_set.labels, train_set.soft_labels):
        raise TrainingError(f"{model_path}: its heads learnt {heads.get('labels')} and {heads.get('soft_labels')}, "
                            f"the data has {list(train_set.labels)} and {list(train_set.soft_labels)}")
    spec_arch = get_architecture(arch)
    return InputSpec(spec_arch.input_size, spec_arch.channels, meta["mean"][0], meta["std"][0])


def _same_run(saved: dict | None, current: dict) -> bool:
    """Whether a saved configuration is the same run (the thread count may differ between sessions)."""
    if saved is None:
        return False
    # options added since the run started keep their defaults, the augmentation's own among them
    saved = {**asdict(TrainConfig()), **saved}
    saved["augment"] = {**asdict(AugmentConfig()), **saved["augment"]}
    ignore = ("threads",)
    return {k: v for k, v in saved.items() if k not in ignore} == {k: v for k, v in current.items() if k not in ignore}


def train(config: TrainConfig, train_set: FaceDataset, val_set: FaceDataset, out_dir: str | Path,
          restart: bool = False, progress: bool = True, device: str | None = None) -> Path:
    """Train (or resume) a run in ``out_dir``; returns the path of the best checkpoint. ``device``: CUDA
    when PyTorch has it, else the CPU (augmentation stays on the CPU; checkpoints load on either)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if train_set.labels != val_set.labels or train_set.soft_labels != val_set.soft_labels:
        raise TrainingError(f"train labels {train_set.labels} differ from validation labels {val_set.labels}")
    torch.set_num_threads(config.threads)
    config_dict = asdict(config)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    config_path = out_dir / "config.json"

    if config.sampling not in ("shuffle", "balanced"):
        raise TrainingError(f"unknown sampling {config.sampling!r}; use shuffle or balanced")
    spec_arch = get_architecture(config.arch)
    num_labels, num_soft = len(train_set.labels), len(train_set.soft_labels)
    state = None
    if last_path.exists() and not restart:
        saved_config = json.loads(config_path.read_text()) if config_path.exists() else None
        if not _same_run(saved_config, config_dict):
            raise TrainingError(f"{out_dir} holds a run with another configuration; use --restart or another --out")
        state = torch.load(last_path, map_location="cpu", weights_only=False)
        if (state.get("trained_on"), state.get("train_size", len(train_set))) != (train_set.name, len(train_set)):
            raise TrainingError(f"{out_dir} holds a run on other data ({state.get('trained_on')}, "
                                f"{state.get('train_size', '?')} faces); use --restart or another --out")
        input_spec = InputSpec(**state["input"])    # as the run began, whatever --init-from's file is now
    elif config.init_from:
        start = resolve_emotion_model(config.init_from)   # a bundled name or a file: checked and loaded the same
        input_spec = _input_spec_of(start, config.arch, train_set)
    else:
        pixels = train_set.images.astype(np.float32) / 255.0
        input_spec = InputSpec(spec_arch.input_size, spec_arch.channels, round(float(pixels.mean()), 4),
                               round(float(pixels.std()), 4))
        del pixels
    # a resumed run is taught by the file it began with: checked before the teacher's outputs are computed
    teacher_file = sha256_of(resolve_emotion_model(config.teacher_model)) if config.teacher_model else None
    if state is not None and state.get("teacher_sha256", teacher_file) != teacher_file:
        raise TrainingError(f"{config.teacher_model}: not the teacher file {out_dir}'s run began with (it has "
                            "changed since); use --restart or another --out")
    teacher = None   # read before anything in out_dir is replaced: a teacher that cannot teach leaves the old run
    if config.teacher_logits or config.teacher_model or config.teacher_online:
        from .distill import distillation_loss, load_teacher

        teacher, heads = load_teacher(config.teacher_logits, config.teacher_model, teacher_file, config.teacher_online,
                                      train_set, num_labels, num_soft, out_dir, config.threads)

    torch.manual_seed(config.seed)
    model = spec_arch.build(num_labels + num_soft, pretrained=not config.init_from)
    if config.init_from and state is None:
        from .onnx_weights import load_exported_weights

        sample = np.random.default_rng(config.seed).choice(len(train_set), min(512, len(train_set)), replace=False)
        load_exported_weights(model, start, input_spec.prepare(to_unit(input_spec.fit(train_set.images[sample]))))
    model.to(device)
    ema = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        if config.ema_decay > 0 else None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = (len(train_set) + config.batch_size - 1) // config.batch_size
    # One-cycle: linear-ish warm-up over the first 15% of steps, then cosine annealing.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.15)
    history: list[dict] = []
    start_epoch, best_score, stale_epochs = 1, -1.0, 0

    if state is not None:
        model.load_state_dict(state["model"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best_score, stale_epochs = state["history"], state["best_score"], state["stale_epochs"]
        start_epoch = state["epoch"] + 1
        print(f"resuming {out_dir} after epoch {state['epoch']}", flush=True)
    else:
        for stale in (last_path, best_path, out_dir / "metrics.jsonl"):
            stale.unlink(missing_ok=True)
    config_path.write_text(json.dumps(config_dict, indent=2))

    weights = class_weights(train_set, config.class_weighting).to(device)
    draw_weights = torch.from_numpy(sampling_weights(train_set, config.source_shares)) if config.sampling == "balanced" else None
    images = torch.from_numpy(input_spec.fit(train_set.images))   # uint8 in memory, at the model's input size
    # an online teacher's own copy at its input size, augmented with the same draws as the student's batch
    teacher_images = torch.from_numpy(fit_all(train_set.images, teacher.input_size)) if config.teacher_online else None
    targets = torch.from_numpy(train_set.targets).to(device)
    smoothed = targets * (1 - config.label_smoothing) + config.label_smoothing / num_labels
    soft_targets = None if train_set.soft_targets is None else torch.from_numpy(train_set.soft_targets).to(device)
    if isinstance(teacher, torch.Tensor):
        teacher = teacher.to(device)
    checkpoint_base = {
        "arch": config.arch, "labels": list(train_set.labels), "soft_labels": list(train_set.soft_labels),
        "input": asdict(input_spec), "trained_on": train_set.name, "train_size": len(train_set), "config": config_dict,
        "teacher_sha256": teacher_file,
    }
    evaluated = ema.module if ema is not None else model

    for epoch in range(start_epoch, config.epochs + 1):
        if stale_epochs >= config.patience:
            print(f"early stop: no validation gain for {config.patience} epochs", flush=True)
            break
        # Every epoch's randomness (order, augmentation, dropout) follows from (seed, epoch): resume is exact.
        epoch_seed = config.seed * 100_003 + epoch
        torch.manual_seed(epoch_seed)
        generator = torch.Generator().manual_seed(epoch_seed)
        order = (torch.multinomial(draw_weights, len(images), replacement=True, generator=generator)
                 if draw_weights is not None else torch.randperm(len(images), generator=generator))
        model.train()
        started, loss_sum, correct = time.time(), 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}", disable=not progress, mininterval=5)
        for step in bar:
            rows = order[step * config.batch_size: (step + 1) * config.batch_size]
            draws = generator.get_state() if config.teacher_online else None   # replayed for the teacher's copy
            logits = model(input_spec.prepare(_augmented(images, rows, config.augment, generator).to(device)))
            batch = rows.to(device)
            loss = soft_cross_entropy(logits[:, :num_labels], smoothed[batch], weights)
            if soft_targets is not None and config.soft_weight > 0:
                soft_loss = soft_cross_entropy(logits[:, num_labels:], soft_targets[batch])
                loss = (1 - config.soft_weight) * loss + config.soft_weight * soft_loss
            if teacher is not None:
                taught = (teacher(_augmented(teacher_images, rows, config.augment, torch.Generator().set_state(draws)))
                          .to(device) if config.teacher_online else teacher[batch])
                distilled = distillation_loss(logits, taught, config.distill_temperature, heads)
                loss = (1 - config.distill_weight) * loss + config.distill_weight * distilled
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss.item() * len(batch)
            correct += (logits[:, :num_labels].argmax(1) == targets[batch].argmax(1)).sum().item()
            bar.set_postfix(loss=f"{loss_sum / ((step + 1) * config.batch_size):.3f}", refresh=False)
        val_logits = predict_logits(evaluated, input_spec, val_set.images)
        val_loss = F.cross_entropy(torch.from_numpy(val_logits[:, :num_labels]), torch.from_numpy(val_set.targets)).item()
        scores = validation_scores(val_logits, val_set, config.selection)
        val_metrics = classification_metrics(val_set.hard_labels, val_logits[:, :num_labels].argmax(1), val_set.labels)
        record = {
            "epoch": epoch, "train_loss": loss_sum / len(images), "train_accuracy": correct / len(images),
            "val_loss": val_loss, "val_accuracy": val_metrics["accuracy"], "val_macro_f1": val_metrics["macro_f1"],
            "val_balanced_accuracy": val_metrics["balanced_accuracy"],
            "val_score": scores["score"], **({"val_blends": scores["blends"], "soft_share": scores["soft_share"]}
                                             if "blends" in scores else {}),
            "lr": scheduler.get_last_lr()[0], "seconds": round(time.time() - started, 1),
            "images_per_second": round(len(images) / (time.time() - started), 1),
        }
        history.append(record)
        with open(out_dir / "metrics.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)
        if scores["score"] > best_score:
            best_score, stale_epochs = scores["score"], 0
            torch.save({**checkpoint_base, "model": evaluated.state_dict(), "epoch": epoch, "val": val_metrics,
                        "soft_share": scores.get("soft_share", 0.0)}, best_path)
        else:
            stale_epochs += 1
        torch.save({
            **checkpoint_base, "model": model.state_dict(), "ema": ema.state_dict() if ema is not None else None,
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
            "history": history, "best_score": best_score, "stale_epochs": stale_epochs,
        }, last_path.with_suffix(".tmp"))
        last_path.with_suffix(".tmp").replace(last_path)
        _plot_curves(history, out_dir / "curves.png")
    return best_path
