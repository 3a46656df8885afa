"""The class view as one HTML file that opens offline (``emoscope video --report``): the class
page's markup, style and modules from ``static/`` with the recorded data inline, so that the page
and the report draw with the same code (``static/classview.js``). Needs no server and no FastAPI."""
from __future__ import annotations

import html
import json
import re

from ..sinks import ClassViewFile
from .assets import STATIC


class ClassReportFile(ClassViewFile):
    """The class view (:class:`~emoscope.class_report.ClassRecorder`) as one HTML file."""

    kind, option = "html", "report"

    def __exit__(self, *exc) -> None:
        self.path.write_text(class_page(self.recorder.to_dict(self.stream.title)), encoding="utf-8")


def _inline_modules(*names: str) -> str:
    """The page's ES modules as one script: their imports of each other dropped (they share its scope)."""
    code = "\n".join((STATIC / name).read_text() for name in names)
    code = re.sub(r"^import .*? from \"\./.*?\";\n", "", code, flags=re.M)
    return re.sub(r"^export ", "", code, flags=re.M)


def class_page(data: dict) -> str:
    """One HTML file that shows the class view of ``data`` (``ClassRecorder.to_dict``) with no server
    and no network: the live page's controls left out."""
    body = (STATIC / "class.html").read_text()
    main = body[body.index("<main>"):body.index("</main>") + len("</main>")]
    main = re.sub(r'<div class="card" id="controls">.*?</div></div>', "", main, flags=re.S)
    payload = json.dumps(data).replace("</", "<\\/")   # no "</script>" inside the script
    script = _inline_modules("common.js", "charts.js", "classview.js") + f"""
const data = {payload};
document.querySelector("#title").textContent = `Class view: ${{data.title}}`;
const model = ClassModel.fromData(data);
const view = {{ tiles: document.querySelector("#tiles"), group: document.querySelector("#group"),
  moods: document.querySelector("#moods"), count: document.querySelector("#count") }};
renderClassView(model, view);
document.querySelector("#export-csv").addEventListener("click", () => download("emoscope-class.csv", model.toCSV(), "text/csv"));
document.querySelector("#export-json").addEventListener("click", () => download("emoscope-class.json", JSON.stringify(model.toJSON(), null, 2)));
"""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>EmoScope — {html.escape(data["title"])}'
            f'</title>\n<style>{(STATIC / "style.css").read_text()}</style></head>\n<body><header><strong>EmoScope</strong>'
            f'<span>class report</span></header>\n{main}\n<script type="module">\n{script}</script></body></html>\n')
