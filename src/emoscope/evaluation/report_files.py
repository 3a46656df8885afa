"""The Markdown and HTML summary of an evaluation (the figures sit beside them)."""
from __future__ import annotations

import html
from pathlib import Path

FIGURES = [("confusion_counts.png", "Confusion matrix (counts)"),
           ("confusion_normalised.png", "Confusion matrix (row-normalised)"),
           ("class_distribution.png", "Class distribution"), ("reliability.png", "Reliability diagram")]


def _summary_rows(result: dict) -> list[tuple[str, str]]:
    m = result["metrics"]
    rows = [("images", str(result["images"])), ("accuracy", f"{m['accuracy']:.4f}"),
            ("balanced accuracy (mean per-class recall)", f"{m['balanced_accuracy']:.4f}"),
            ("macro-F1", f"{m['macro_f1']:.4f}"), ("expected calibration error", f"{result['calibration']['ece']:.4f}")]
    if "temperature_scaling" in result:
        t = result["temperature_scaling"]
        rows.append(("temperature scaling (fitted on validation)",
                     f"T={t['temperature']:.3f}; val ECE {t['val_ece_before']:.4f} -> {t['val_ece_after']:.4f}; "
                     f"test ECE -> {t['test_ece_after']:.4f}"))
    if "flip_tta" in result:
        rows.append(("flip TTA accuracy / macro-F1", f"{result['flip_tta']['accuracy']:.4f} / {result['flip_tta']['macro_f1']:.4f}"))
    return rows


def write_markdown_and_html(result: dict, out_dir: Path) -> None:
    title = f"Evaluation of {Path(result['model']).name} on {result['dataset']}"
    per_class = result["metrics"]["per_class"]
    md = [f"# {title}", "", "| measure | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in _summary_rows(result)]
    predicted, true = result["metrics"]["predicted_share"], result["metrics"]["true_share"]
    md += ["", "| class | precision | recall | F1 | support | predicted share | true share |",
           "|---|---|---|---|---|---|---|"]
    md += [f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} | "
           f"{predicted[name]:.3f} | {true[name]:.3f} |" for name, c in per_class.items()]
    md += [""] + [f"![{caption}]({name})" for name, caption in FIGURES]
    (out_dir / "report.md").write_text("\n".join(md) + "\n")

    def table(header, rows):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    page = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse;"
            "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:100%}</style>",
            f"</head><body><h1>{html.escape(title)}</h1>", table(["measure", "value"], _summary_rows(result)),
            table(["class", "precision", "recall", "F1", "support"],
                  [(n, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"])
                   for n, c in per_class.items()])]
    page += [f"<figure><img src='{name}' alt='{caption}'><figcaption>{caption}</figcaption></figure>"
             for name, caption in FIGURES]
    page.append("</body></html>")
    (out_dir / "report.html").write_text("\n".join(page))
