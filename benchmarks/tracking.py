"""Tracker ID switches on synthetic scenes with known trajectories.

1. Boxes only: faces move with random velocities, bounce, cross each other, leave the frame and
   come back; detections are jittered and 5% are missed.
2. Videos with scene cuts, drawn from real faces: the 43 boxed faces of the shared photos (each a
   different person) are pasted, moving, onto shots of 1-4 people; every 1-4 s the video cuts to
   another shot (new background and lighting, a new subset of the video's 6 people, new places;
   a third of the cuts keep the background, so the frame alone does not show the cut). A face
   half hidden by another is not detected.
   Detections are the true boxes, jittered, 5% missed; the tracker gets each box's look and the
   scene-cut signal, as in a stream.

3. A video call: six portrait tiles of real faces (the shared photos' boxed faces and ExpW test crops),
   drifting, and every ``--change-every`` seconds one tile, in turn, shows another person in the same
   place. Detections are the bundled detector's, on every 3rd frame, as a stream runs it; each box is
   the person whose true box it overlaps most (IoU >= 0.4).

An ID switch is a change of the track ID that a true face gets between two frames where it is
detected; re-entering after leaving or after a cut counts too. A shared ID is a track ID given
to two different people; in the video call, a person counts under an ID from 3 detections on (a
face in doubt keeps the tile's ID for one detection).

    python benchmarks/tracking.py [--scenes 50] [--frames 300] [--videos 20] [--seconds 30]
                                  [--call-seconds 150] [--change-every 5]
"""
from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from collections import defaultdict

import cv2
import numpy as np

from _data import DATA, require
from _faces import portraits, tiled_portrait_video
from emoscope.appearance import SceneCuts, face_looks
from emoscope.detection import create_detector
from emoscope.settings import StreamSettings
from emoscope.tracking import Tracker, iou_matrix

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


def real_faces(faces_dir) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every boxed face of the shared photos (with some hair and collar), and the photos themselves."""
    crops, photos = [], []
    for listing in ("testing.xml", "training.xml"):
        for image in ET.parse(faces_dir / listing).getroot().iter("image"):
            photo = cv2.imread(str(faces_dir / image.get("file")))
            photos.append(photo)
            for box in image.iter("box"):
                x, y, w, h = (int(box.get(k)) for k in ("left", "top", "width", "height"))
                m = w // 5
                crops.append(photo[max(0, y - m): y + h + m, max(0, x - m): x + w + m])
    return crops, photos


def hidden_share(shown, k: int) -> float:
    """How much of face ``k`` the faces pasted after it cover (a detector misses a face half hidden)."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    for _, (x, y, w, h) in shown[k + 1:]:
        mask[int(y):int(y + h), int(x):int(x + w)] = True
    x, y, w, h = shown[k][1].astype(int)
    return float(mask[y:y + h, x:x + w].mean())


def video_with_cuts(rng, crops, photos, seconds: float, fps: int = 30, people: int = 6):
    """Per frame: the picture and the list of (person, box) of the faces on it."""
    cast = rng.choice(len(crops), people, replace=False)
    background = None
    frames = 0
    while frames < seconds * fps:
        if background is None or rng.random() > 1 / 3:  # a new place, or a cut within the same place
            photo = photos[rng.integers(len(photos))]
            background = cv2.GaussianBlur(cv2.resize(photo, (WIDTH, HEIGHT)), (0, 0), 8)
        gain = rng.uniform(0.8, 1.2, 3)  # the shot's lighting
        on_screen = rng.choice(cast, int(rng.integers(1, 5)), replace=False)
        size = rng.uniform(50, 120, len(on_screen))
        pos = np.stack([rng.uniform(0, WIDTH - size), rng.uniform(0, HEIGHT - size)], 1)
        vel = rng.normal(0, 2, (len(on_screen), 2))
        for _ in range(int(rng.integers(1, 5) * fps)):
            frame = background.copy()
            shown = []
            for k, person in enumerate(on_screen):
                pos[k] = np.clip(pos[k] + vel[k], 0, [WIDTH - size[k], HEIGHT - size[k]])
                x, y, side = int(pos[k, 0]), int(pos[k, 1]), int(size[k])
                face = cv2.resize(crops[person], (side, side))
                frame[y:y + side, x:x + side] = np.clip(face * gain, 0, 255).astype(np.uint8)
                shown.append((int(person), np.array([x, y, side, side], np.float32)))
            frames += 1
            yield frame, [shown[k] for k in range(len(shown)) if hidden_share(shown, k) < 0.5]


def run_with_cuts(videos: int, seconds: float, seed: int = 0, use_looks: bool = True):
    """ID switches, track-frames, IDs shared by two people, and cuts seen, over ``videos`` videos."""
    rng = np.random.default_rng(seed)
    crops, photos = real_faces(require(DATA / "faces"))
    switches = track_frames = shared = 0
    for _ in range(videos):
        tracker, cuts = Tracker(StreamSettings()), SceneCuts(StreamSettings.scene_cut)
        last_id: dict[int, int] = {}
        people_of_id = defaultdict(set)
        for frame, visible in video_with_cuts(rng, crops, photos, seconds):
            kept = [(person, box + rng.normal(0, 2, 4)) for person, box in visible if rng.random() > 0.05]
            boxes = np.array([b for _, b in kept], np.float32).reshape(-1, 4)
            cut = cuts.is_cut(frame)
            ids = tracker.update(boxes, face_looks(frame, boxes), cut) if use_looks else tracker.update(boxes)
            for (person, _), track_id in zip(kept, ids.tolist()):
                if person in last_id and last_id[person] != track_id:
                    switches += 1
                last_id[person] = track_id
                people_of_id[track_id].add(person)
                track_frames += 1
        shared += sum(len(p) > 1 for p in people_of_id.values())
    return switches, track_frames, shared


def video_call(seconds: float, change_every: float, fps: float = 30.0) -> dict:
    """People, track IDs, IDs shared by two people and extra IDs of people, over a tiled video call whose
    tiles are given to someone else in turn."""
    people = portraits(require(DATA / "faces"), DATA / "expw" if (DATA / "expw").exists() else None)
    detector, tracker, settings = create_detector("auto"), Tracker(StreamSettings()), StreamSettings()
    showing, turn, frames_per_change = [k % len(people) for k in range(6)], 6, int(round(change_every * fps))
    rows = defaultdict(int)   # (track ID, person) -> detections
    for index, (frame, truth, _) in enumerate(tiled_portrait_video(people, seconds, fps, change_every=change_every)):
        if index and index % frames_per_change == 0:   # as tiled_portrait_video changes its tiles
            showing[(index // frames_per_change - 1) % len(showing)] = turn % len(people)
            turn += 1
        if index % settings.detect_every:
            continue
        boxes = detector.detect(frame, stream=True).boxes
        ids = tracker.update(boxes, face_looks(frame, boxes), False, index)
        overlap = iou_matrix(np.asarray(boxes, np.float32).reshape(-1, 4), truth)
        for k, track_id in enumerate(ids.tolist()):
            if len(truth) and overlap[k].max() >= 0.4:
                rows[track_id, showing[int(overlap[k].argmax())]] += 1
    people_of, ids_of = defaultdict(set), defaultdict(set)
    for (track_id, person), count in rows.items():
        if count >= 3:
            people_of[track_id].add(person)
            ids_of[person].add(track_id)
    return {"people": len(ids_of), "ids": len(people_of), "shared": sum(len(p) > 1 for p in people_of.values()),
            "extra": sum(len(i) - 1 for i in ids_of.values())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=50)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--videos", type=int, default=20, help="videos with scene cuts")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each video with cuts")
    parser.add_argument("--call-seconds", type=float, default=150.0, help="length of the video call (0: skip)")
    parser.add_argument("--change-every", type=float, default=5.0, help="seconds between tile changes in the call")
    args = parser.parse_args()
    if args.change_every <= 0:
        parser.error("--change-every must be more than 0 seconds")
    switches, track_frames = run(args.scenes, args.frames)
    print(f"boxes only: {args.scenes} scenes x {args.frames} frames, 1-4 faces: {switches} ID switches in "
          f"{track_frames} track-frames = {100 * switches / track_frames:.2f} per 100 track-frames")
    for use_looks, name in ((False, "position only"), (True, "position + look + scene cuts")):
        switches, track_frames, shared = run_with_cuts(args.videos, args.seconds, use_looks=use_looks)
        print(f"with cuts, {name}: {args.videos} videos x {args.seconds:.0f} s, 6 people, 1-4 on screen: "
              f"{switches} ID switches in {track_frames} track-frames = {100 * switches / track_frames:.2f} per 100; "
              f"{shared} track IDs shared by two people")
    if args.call_seconds:
        call = video_call(args.call_seconds, args.change_every)
        print(f"video call, {args.call_seconds:.0f} s, 6 tiles, one given to another person every {args.change_every:g} s: "
              f"{call['people']} people, {call['ids']} track IDs, {call['shared']} IDs shared by two people or more, "
              f"{call['extra']} extra IDs of one person")


if __name__ == "__main__":
    main()
