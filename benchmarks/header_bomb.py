"""Header bombs refused before decoding: time and extra memory to refuse files whose headers claim
900 megapixels (30,000 x 30,000 PNG) and 4.3 gigapixels (65,500 x 65,500 JPEG), through
``read_image`` as every surface does. Extra memory is the process's peak RSS growth.

    python benchmarks/header_bomb.py
"""
from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hostile_inputs import jpeg_claiming, png_claiming  # noqa: E402

from emoscope import InputError  # noqa: E402
from emoscope.io.images import read_image  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("png 30000x30000", png_claiming(30000, 30000)),
                           ("jpeg 65500x65500", jpeg_claiming(65500, 65500))):
            path = Path(tmp) / name.replace(" ", "-")
            path.write_bytes(data)
            before = peak_rss_mb()
            started = time.perf_counter()
            try:
                read_image(path)
                outcome = "DECODED"
            except InputError as error:
                outcome = f"refused: {error}"
            elapsed = time.perf_counter() - started
            print(f"{name} ({len(data)} bytes): {elapsed * 1e3:.2f} ms, peak RSS +{peak_rss_mb() - before:.1f} MB; "
                  f"{outcome}")


if __name__ == "__main__":
    main()
