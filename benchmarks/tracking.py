"""Tracker ID switches on synthetic scenes with known trajectories.

Faces move with random velocities, bounce, cross each other, leave the frame and come back;
detections are jittered and 5% are missed. An ID switch is a change of the track ID that a
true face gets between two frames where it is detected; re-entering after leaving counts too.

    python benchmarks/tracking.py [--scenes 50] [--frames 300]
"""
from __future__ import annotations

import argparse

import numpy as np

from emoscope.tracking import Tracker

WIDTH, HEIGHT = 640, 480


def scene(rng, frames: int, faces: int):
    """Per frame: list of (true id, box) of the faces inside the frame."""
    size = rng.uniform(50, 110, faces)
    pos = np.stack([rng.uniform(0, WIDTH - 110, faces), rng.uniform(0, HEIGHT - 110, faces)], 1)
    vel = rng.normal(0, 4, (faces, 2))
    away = np.zeros(faces, int)  # frames left outside the picture
    for _ in range(frames):
        visible = []
        for i in range(faces):
            if away[i] > 0:
                away[i] -= 1
                continue
            pos[i] += vel[i]
            for axis, limit in ((0, WIDTH), (1, HEIGHT)):
                if pos[i, axis] < -size[i] or pos[i, axis] > limit:
                    if rng.random() < 0.5:  # leaves for a while, comes back at the same edge
                        away[i] = int(rng.integers(20, 80))
                    vel[i, axis] *= -1
            visible.append((i, np.array([*pos[i], size[i], size[i]])))
        yield visible


def run(scenes: int, frames: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    switches = track_frames = 0
    for _ in range(scenes):
        tracker = Tracker()
        last_id: dict[int, int] = {}
        for visible in scene(rng, frames, int(rng.integers(1, 5))):
            kept = [(i, box + rng.normal(0, 2, 4)) for i, box in visible if rng.random() > 0.05]
            ids = tracker.update(np.array([b for _, b in kept]).reshape(-1, 4))
            for (true_id, _), track_id in zip(kept, ids.tolist()):
                if true_id in last_id and last_id[true_id] != track_id:
                    switches += 1
                last_id[true_id] = track_id
                track_frames += 1
    return switches, track_frames


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=50)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    switches, track_frames = run(args.scenes, args.frames)
    print(f"{args.scenes} scenes x {args.frames} frames, 1-4 faces: {switches} ID switches in {track_frames} "
          f"track-frames = {100 * switches / track_frames:.2f} per 100 track-frames")


if __name__ == "__main__":
    main()
