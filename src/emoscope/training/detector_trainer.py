"""Training loop of the face detector: resumable, step-seeded, with an EMA of the weights.

A run lives in one folder: ``config.json``, ``last.pt`` (the resume point, written every epoch
and every ``checkpoint_minutes``) and ``metrics.jsonl`` (one line per ``log_every`` steps: losses,
learning rate, images/s). Running the same command again continues from ``last.pt``; the
augmentation of step ``k`` is drawn from a generator seeded with ``(seed, k)``, so a resumed run
sees the same data as an uninterrupted one. The EMA weights are what is exported. A run may start
from a shipped ONNX detector (``init_from``, see :mod:`detector_warm_start`) instead of from
random weights.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .detector_augment import DetectorAugment, DetectorSample, augment
from .detector_loss import detection_loss
from .detector_model import FaceDetectorNet
from .errors import TrainingError

log = logging.getLogger(__name__)


@dataclass
class DetectorTrainConfig:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 4e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 300
    ema_decay: float = 0.999
    seed: int = 0
    size: int = 320                 # square training crop
    init_from: str = ""             # a shipped ONNX detector to start from ("" = random weights)
    close_ups: str = ""             # where the extra close-up crops come from (recorded, so resume can check)
    tight_crops: str = ""           # where the tight grey face crops come from, and how many ("" = none)
    landmarks_from: str = ""        # the model whose landmarks are the pseudo-labels ("" = boxes only)
    low_light: float = 0.0          # chance of a dark, noisy crop (DetectorAugment.low_light)
    checkpoint_minutes: float = 5.0
    log_every: int = 20


def _lr(config: DetectorTrainConfig, step: int, total: int) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _batch(samples: list[DetectorSample], close_ups: list[DetectorSample], order: np.ndarray,
           rng: np.random.Generator, cfg: DetectorAugment):
    images, targets = [], []
    for index in order:
        crop = augment(samples[index], samples, close_ups, rng, cfg)
        images.append(crop.image)
        targets.append((torch.from_numpy(crop.boxes), torch.from_numpy(crop.ignore), torch.from_numpy(crop.landmarks)))
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float(), targets


def _photos_tensor(samples: list[DetectorSample], size: int, count: int = 64) -> torch.Tensor:
    """``count`` training photos squeezed to ``size`` squared: what batch norms are calibrated on."""
    pick = np.random.default_rng(0).choice(len(samples), min(count, len(samples)), replace=False)
    photos = [cv2.resize(samples[i].image, (size, size)) for i in pick]
    return torch.from_numpy(np.stack(photos)).permute(0, 3, 1, 2).float()


def train_detector(samples: list[DetectorSample], out: str | Path, config: DetectorTrainConfig = DetectorTrainConfig(),
                   restart: bool = False, device: str | None = None, trained_on: str = "",
                   close_ups: list[DetectorSample] = ()) -> Path:
    """Train (or resume) in ``out`` on WIDER-like ``samples`` and extra ``close_ups`` (face crops);
    returns the path of the final checkpoint ``last.pt``.

    A resumed run may change ``epochs`` (the cosine schedule stretches to the new length); any
    other change of configuration is refused.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not samples:
        raise TrainingError("no training images")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    config_file, last = out / "config.json", out / "last.pt"
    if last.is_file() and not restart:
        # only the length may change; a setting an older run did not record had its default (so a new
        # setting's default must be what runs did before it existed)
        saved = {**asdict(DetectorTrainConfig()), **json.loads(config_file.read_text()), "epochs": config.epochs}
        if saved != asdict(config):
            raise TrainingError(f"{out} holds a run with another configuration; use another folder or restart")
    config_file.write_text(json.dumps(asdict(config), indent=2))

    torch.manual_seed(config.seed)
    model = FaceDetectorNet()
    if config.init_from and not (last.is_file() and not restart):
        from .detector_warm_start import warm_start

        new = warm_start(model, config.init_from, _photos_tensor(samples, config.size))
        log.info("started from %s; %d parameters new", config.init_from, len(new))
    model = model.to(device)
    ema = copy.deepcopy(model).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, len(samples) // config.batch_size)
    total = steps_per_epoch * config.epochs
    step = 0
    if last.is_file() and not restart:
        state = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        log.info("resuming %s at step %d of %d", out, step, total)
    augment_cfg = DetectorAugment(size=config.size, low_light=config.low_light)
    close_ups = list(close_ups)

    def save():
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                    "step": step, "total": total, "config": asdict(config), "trained_on": trained_on},
                   out / "last.tmp")
        (out / "last.tmp").replace(last)

    saved_at, window_start, window_images = time.monotonic(), time.monotonic(), 0
    sums = {"loss": 0.0, "score": 0.0, "box": 0.0, "landmark": 0.0, "positives": 0}
    model.train()
    with (out / "metrics.jsonl").open("a") as metrics_log:
        while step < total:
            epoch, position = divmod(step, steps_per_epoch)
            order = np.random.default_rng([config.seed, epoch]).permutation(len(samples))
            rng = np.random.default_rng([config.seed, step, 1])
            images, targets = _batch(samples, close_ups,
                                     order[position * config.batch_size:(position + 1) * config.batch_size],
                                     rng, augment_cfg)
            for group in optimizer.param_groups:
                group["lr"] = _lr(config, step, total)
            losses = detection_loss(model(images.to(device)), [tuple(t.to(device) for t in target) for target in targets],
                                    (config.size, config.size))
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            decay = config.ema_decay * (1 - math.exp(-(step + 1) / 500))   # short memory early on
            with torch.no_grad():
                for e, p in zip(ema.state_dict().values(), model.state_dict().values()):
                    e.copy_(e * decay + p.detach() * (1 - decay)) if e.dtype.is_floating_point else e.copy_(p)
            step += 1
            window_images += len(images)
            for key in sums:
                sums[key] += float(losses[key].detach()) if key == "loss" else float(losses[key])
            if step % config.log_every == 0 or step == total:
                elapsed = time.monotonic() - window_start
                n = config.log_every if step % config.log_every == 0 else step % config.log_every
                record = {"step": step, "epoch": step / steps_per_epoch, "lr": _lr(config, step - 1, total),
                          **{k: round(v / n, 4) for k, v in sums.items()},
                          "images_per_s": round(window_images / max(elapsed, 1e-9), 2), "time": time.time()}
                metrics_log.write(json.dumps(record) + "\n")
                metrics_log.flush()
                log.info("step %d/%d epoch %.2f loss %.3f (score %.3f box %.3f landmarks %.3f) %.1f img/s", step,
                         total, record["epoch"], record["loss"], record["score"], record["box"], record["landmark"],
                         record["images_per_s"])
                sums = dict.fromkeys(sums, 0.0)
                window_start, window_images = time.monotonic(), 0
            if step % steps_per_epoch == 0 or time.monotonic() - saved_at > 60 * config.checkpoint_minutes:
                save()
                saved_at = time.monotonic()
    save()
    return last
