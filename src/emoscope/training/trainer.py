"""The training loop: seeded, resumable, with early stopping, best-checkpoint keeping and a metrics log.

A run lives in one output folder: ``config.json``, ``last.pt`` (resume point, written every
epoch), ``best.pt`` (best validation accuracy), ``metrics.jsonl`` and ``curves.png``. Running the
same command again continues from ``last.pt``.
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
from .architectures import get_architecture
from .augment import AugmentConfig, augment_batch
from ..data import FaceDataset
from ..errors import EmoScopeError


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

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["augment"] = AugmentConfig(**data.get("augment", {}))
        return cls(**data)


class TrainingError(EmoScopeError):
    """A run that cannot start or continue (e.g. resuming with a different configuration)."""


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


@dataclass(frozen=True)
class InputSpec:
    """How a gray 0..255 crop becomes the model's input; exported with the model."""

    size: int
    channels: int
    mean: float
    std: float

    def prepare(self, gray_unit: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) gray in [0, 1] -> normalised (N, C, size, size)."""
        if gray_unit.shape[-1] != self.size:
            gray_unit = F.interpolate(gray_unit, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return ((gray_unit - self.mean) / self.std).expand(-1, self.channels, -1, -1)


def _to_unit(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).unsqueeze(1).float().div_(255.0)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, spec: InputSpec, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        x = spec.prepare(_to_unit(images[start: start + batch_size]))
        outputs.append(model(x))
    return torch.cat(outputs).numpy()


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
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(config: TrainConfig, train_set: FaceDataset, val_set: FaceDataset, out_dir: str | Path,
          restart: bool = False, progress: bool = True) -> Path:
    """Train (or resume) a run in ``out_dir``; returns the path of the best checkpoint."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if train_set.labels != val_set.labels:
        raise TrainingError(f"train labels {train_set.labels} differ from validation labels {val_set.labels}")
    torch.set_num_threads(config.threads)
    config_dict = asdict(config)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    config_path = out_dir / "config.json"

    spec_arch = get_architecture(config.arch)
    pixels = train_set.images.astype(np.float32) / 255.0
    input_spec = InputSpec(spec_arch.input_size, spec_arch.channels, round(float(pixels.mean()), 4), round(float(pixels.std()), 4))
    del pixels

    torch.manual_seed(config.seed)
    model = spec_arch.build(len(train_set.labels))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = (len(train_set) + config.batch_size - 1) // config.batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.15)
    history: list[dict] = []
    start_epoch, best_accuracy, stale_epochs = 1, -1.0, 0

    if last_path.exists() and not restart:
        saved_config = json.loads(config_path.read_text()) if config_path.exists() else None
        if saved_config != config_dict:
            raise TrainingError(f"{out_dir} holds a run with another configuration; use --restart or another --out")
        state = torch.load(last_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best_accuracy, stale_epochs = state["history"], state["best_accuracy"], state["stale_epochs"]
        start_epoch = state["epoch"] + 1
        print(f"resuming {out_dir} after epoch {state['epoch']}", flush=True)
    else:
        for stale in (last_path, best_path, out_dir / "metrics.jsonl"):
            stale.unlink(missing_ok=True)
    config_path.write_text(json.dumps(config_dict, indent=2))

    weights = class_weights(train_set, config.class_weighting)
    images = train_set.images
    targets = torch.from_numpy(train_set.targets)
    checkpoint_base = {
        "arch": config.arch, "labels": list(train_set.labels), "input": asdict(input_spec),
        "trained_on": train_set.name, "config": config_dict,
    }

    for epoch in range(start_epoch, config.epochs + 1):
        if stale_epochs >= config.patience:
            print(f"early stop: no validation gain for {config.patience} epochs", flush=True)
            break
        # Every epoch's randomness (order, augmentation, dropout) follows from (seed, epoch): resume is exact.
        epoch_seed = config.seed * 100_003 + epoch
        torch.manual_seed(epoch_seed)
        generator = torch.Generator().manual_seed(epoch_seed)
        order = torch.randperm(len(images), generator=generator).numpy()
        model.train()
        started, loss_sum, correct = time.time(), 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}", disable=not progress, mininterval=5)
        for step in bar:
            batch = order[step * config.batch_size: (step + 1) * config.batch_size]
            x = _to_unit(images[batch])
            x = augment_batch(x, config.augment, generator)
            y = targets[batch]
            logits = model(input_spec.prepare(x))
            loss = F.cross_entropy(logits, y, weight=weights, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(batch)
            correct += (logits.argmax(1) == y.argmax(1)).sum().item()
            bar.set_postfix(loss=f"{loss_sum / ((step + 1) * config.batch_size):.3f}", refresh=False)
        val_logits = predict_logits(model, input_spec, val_set.images)
        val_targets = torch.from_numpy(val_set.targets)
        val_loss = F.cross_entropy(torch.from_numpy(val_logits), val_targets).item()
        val_metrics = classification_metrics(val_set.hard_labels, val_logits.argmax(1), val_set.labels)
        record = {
            "epoch": epoch, "train_loss": loss_sum / len(images), "train_accuracy": correct / len(images),
            "val_loss": val_loss, "val_accuracy": val_metrics["accuracy"], "val_macro_f1": val_metrics["macro_f1"],
            "lr": scheduler.get_last_lr()[0], "seconds": round(time.time() - started, 1),
        }
        history.append(record)
        with open(out_dir / "metrics.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)
        improved = val_metrics["accuracy"] > best_accuracy
        if improved:
            best_accuracy, stale_epochs = val_metrics["accuracy"], 0
            torch.save({**checkpoint_base, "model": model.state_dict(), "epoch": epoch, "val": val_metrics}, best_path)
        else:
            stale_epochs += 1
        torch.save({
            **checkpoint_base, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "epoch": epoch, "history": history,
            "best_accuracy": best_accuracy, "stale_epochs": stale_epochs,
        }, last_path.with_suffix(".tmp"))
        last_path.with_suffix(".tmp").replace(last_path)
        _plot_curves(history, out_dir / "curves.png")
    return best_path
