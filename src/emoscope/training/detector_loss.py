"""Which grid points learn which face, and the losses.

Assignment is centre sampling by scale: a face of side ``sqrt(w*h)`` belongs to the level(s) whose
range holds it (stride 8: up to 40 px, 16: 28-80 px, 32: 56-160 px, 64: from 128 px, which takes a
face as large as the whole input; the overlaps let a face near a boundary train both levels), and on those levels to the points inside the box within 1.5 strides
of its centre, plus the point nearest the centre, so a face smaller than a stride still gets one.
A point claimed by several faces takes the smallest. Points inside an ignore region that no face
claims take no part in the score loss.

Score: quality focal loss (Li et al., GFL 2020) against the IoU of the predicted box with its face,
so the score ranks boxes by how well they fit. Box: GIoU loss on the positive points. Landmarks:
smooth L1 on the positive points of faces that have them, in units of the face's size so that a
big face does not outweigh a small one.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .detector_model import STRIDES

LEVEL_RANGES = ((0.0, 40.0), (28.0, 80.0), (56.0, 160.0), (128.0, 1e9))
CENTRE_RADIUS = 1.5
BOX_WEIGHT = 2.0
LANDMARK_WEIGHT = 0.5
LANDMARK_BETA = 0.02      # smooth L1 turns linear past 2% of the face size


def grid_points(size_hw: tuple[int, int], device=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All grid points of every level: xy (P, 2) in pixels, their stride (P,), their level (P,)."""
    xy, strides, levels = [], [], []
    for level, stride in enumerate(STRIDES):
        h, w = -(-size_hw[0] // stride), -(-size_hw[1] // stride)
        ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        xy.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], 1).float() * stride)
        strides.append(torch.full((h * w,), float(stride), device=device))
        levels.append(torch.full((h * w,), level, device=device, dtype=torch.long))
    return torch.cat(xy), torch.cat(strides), torch.cat(levels)


def assign(points: torch.Tensor, strides: torch.Tensor, levels: torch.Tensor, boxes: torch.Tensor,
           ignore: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For one image: the face index of each point (-1 none, -2 ignored) and faces as x1, y1, x2, y2."""
    n_points = len(points)
    owner = torch.full((n_points,), -1, dtype=torch.long, device=points.device)
    xyxy = torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
    if len(ignore):
        ig = torch.cat([ignore[:, :2], ignore[:, :2] + ignore[:, 2:]], 1)
        inside = ((points[:, None, 0] >= ig[None, :, 0]) & (points[:, None, 0] <= ig[None, :, 2])
                  & (points[:, None, 1] >= ig[None, :, 1]) & (points[:, None, 1] <= ig[None, :, 3]))
        owner[inside.any(1)] = -2
    if len(boxes) == 0:
        return owner, xyxy
    side = torch.sqrt(boxes[:, 2] * boxes[:, 3])
    low = torch.tensor([r[0] for r in LEVEL_RANGES], device=points.device)[levels]
    high = torch.tensor([r[1] for r in LEVEL_RANGES], device=points.device)[levels]
    in_range = (side[None, :] >= low[:, None]) & (side[None, :] < high[:, None])          # (P, G)
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    offset = (points[:, None, :] - centre[None, :, :]).abs()                                 # (P, G, 2)
    near = (offset.max(2).values <= CENTRE_RADIUS * strides[:, None])
    inside = ((points[:, None, 0] >= xyxy[None, :, 0]) & (points[:, None, 0] <= xyxy[None, :, 2])
              & (points[:, None, 1] >= xyxy[None, :, 1]) & (points[:, None, 1] <= xyxy[None, :, 3]))
    candidate = in_range & near & inside
    distance = offset.max(2).values / strides[:, None]
    nearest = torch.where(in_range, distance, torch.full_like(distance, 1e9)).argmin(0)      # (G,)
    has_level = in_range.any(0)
    candidate[nearest[has_level], torch.nonzero(has_level).reshape(-1)] = True
    area = (boxes[:, 2] * boxes[:, 3])[None, :].expand_as(candidate)
    area = torch.where(candidate, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(1)
    positive = torch.isfinite(best_area)
    owner[positive] = best[positive]
    return owner, xyxy


def decode(points: torch.Tensor, strides: torch.Tensor, distances: torch.Tensor) -> torch.Tensor:
    """Log-distances in strides (..., 4) -> boxes x1, y1, x2, y2 in pixels."""
    d = torch.exp(distances.clamp(max=8.0)) * strides[..., None]
    return torch.cat([points - d[..., :2], points + d[..., 2:]], -1)


def box_iou_giou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU and GIoU of matching rows of two (N, 4) x1, y1, x2, y2 arrays."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt, rb = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    union = area_a + area_b - inter + 1e-6
    iou = inter / union
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).clamp(min=0).prod(1) + 1e-6
    return iou, iou - (hull - union) / hull


def detection_loss(outputs, targets: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                   size_hw: tuple[int, int]) -> dict:
    """Losses of a batch: ``targets`` holds per image (boxes (G, 4) x, y, w, h; ignore (M, 4);
    landmarks (G, 5, 2) in pixels, NaN for a face without them)."""
    scores = torch.cat([s for s, _, _ in outputs], 1)               # (B, P)
    distances = torch.cat([d for _, d, _ in outputs], 1)            # (B, P, 4)
    offsets = torch.cat([m for _, _, m in outputs], 1)              # (B, P, 5, 2)
    points, strides, levels = grid_points(size_hw, scores.device)
    score_target = torch.zeros_like(scores)
    score_weight = torch.ones_like(scores)
    box_losses, landmark_losses, n_pos, n_landmarks = [], [], 0, 0
    for i, (boxes, ignore, landmarks) in enumerate(targets):
        owner, xyxy = assign(points, strides, levels, boxes, ignore)
        score_weight[i, owner == -2] = 0.0
        positive = owner >= 0
        if positive.any():
            predicted = decode(points[positive], strides[positive], distances[i, positive])
            iou, giou = box_iou_giou(predicted, xyxy[owner[positive]])
            score_target[i, positive] = iou.detach().clamp(min=0.01)
            box_losses.append((1.0 - giou).sum())
            n_pos += int(positive.sum())
            owners = owner[positive]
            known = ~torch.isnan(landmarks[owners]).any(-1).any(-1)
            if known.any():
                side = torch.sqrt(boxes[owners[known], 2] * boxes[owners[known], 3]).clamp(min=1.0)
                predicted = points[positive][known][:, None, :] + \
                    offsets[i, positive][known] * strides[positive][known][:, None, None]
                error = (predicted - landmarks[owners[known]]) / side[:, None, None]
                landmark_losses.append(F.smooth_l1_loss(error, torch.zeros_like(error), beta=LANDMARK_BETA,
                                                        reduction="sum"))
                n_landmarks += int(known.sum())
    norm = max(n_pos, 1)
    probability = torch.sigmoid(scores)
    focal = F.binary_cross_entropy_with_logits(scores, score_target, reduction="none")
    focal = focal * (probability - score_target).abs().pow(2.0) * score_weight
    score_loss = focal.sum() / norm
    box_loss = BOX_WEIGHT * torch.stack(box_losses).sum() / norm if box_losses else scores.sum() * 0
    landmark_loss = LANDMARK_WEIGHT * torch.stack(landmark_losses).sum() / max(n_landmarks, 1) \
        if landmark_losses else offsets.sum() * 0
    return {"loss": score_loss + box_loss + landmark_loss, "score": score_loss.detach(), "box": box_loss.detach(),
            "landmark": landmark_loss.detach(), "positives": n_pos}
