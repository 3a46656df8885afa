"""The batch's aggregate outputs: ``faces.csv`` (every face of every finished input), ``report.json``
(emotion counts per input and overall, failures, missing stretches of videos) and ``report.png``
(the overall distribution, where matplotlib is installed)."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .manifest import faces_file, write_json


@dataclass
class BatchReport:
    done: dict = field(default_factory=dict)      # input -> manifest entry
    failed: dict = field(default_factory=dict)    # input -> error
    missing: dict = field(default_factory=dict)   # video -> its stretches that failed ("12:00-13:00: error")
    notices: dict = field(default_factory=dict)   # input -> what the user should know (done all the same)
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing


def write_aggregate(out_dir: Path, report: BatchReport, manifest: dict) -> None:
    """faces.csv and report.json (+ report.png when matplotlib is there), from every finished input."""
    rows = []
    for raw in sorted(manifest["inputs"]):
        path = faces_file(out_dir, raw)
        if path.exists():
            rows += json.loads(path.read_text())
    fields = list(dict.fromkeys(["input", "frame", "time", "track_id", *(k for row in rows for k in row)]))
    with open(out_dir / "faces.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    per_input: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = per_input.setdefault(row["input"], {})
        counts[row["emotion"]] = counts.get(row["emotion"], 0) + 1
    overall: dict[str, int] = {}
    for counts in per_input.values():
        for emotion, n in counts.items():
            overall[emotion] = overall.get(emotion, 0) + n
    summary = {"inputs_done": len(manifest["inputs"]), "inputs_failed": report.failed, "faces": len(rows),
               "emotion_counts_overall": overall, "emotion_counts_per_input": per_input,
               "missing_ranges": {raw: entry["missing"] for raw, entry in sorted(manifest["inputs"].items())
                                  if "missing" in entry}}
    write_json(out_dir / "report.json", summary)
    _draw(out_dir / "report.png", overall, len(rows), len(per_input))


def _draw(path: Path, overall: dict[str, int], faces: int, inputs: int) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(list(overall), list(overall.values()), color="#4a7fb5")
    ax.set(title=f"Emotions over {faces} face observations in {inputs} inputs", ylabel="faces")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
