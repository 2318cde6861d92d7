"""Does the model's reduced JPEG decode change answers? Full decode vs `load_model_image`, side by side.

Usage: python benchmarks/reduced_decode.py [ORIGINALS_DIR]  (default ../shared/data/originals)
Prints mean and max |dp|, label changes and decode times over every image under the folder, with the
bundled model (or $PNEUMOSCAN_MODEL). The reduced decode is kept only while mean |dp| <= 0.005 and no
label changes (issue 12).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from app.core.io.images import is_image_path, load_image, load_model_image
from app.core.screening import Screener


def main(folder: Path) -> int:
    if not folder.is_dir():
        print(f"{folder} not found: pass the folder of full-resolution originals", file=sys.stderr)
        return 2
    screener = Screener()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))
    deltas, flips, full_s, reduced_s = [], 0, 0.0, 0.0
    for path in files:
        start = time.perf_counter()
        full = load_image(path)
        middle = time.perf_counter()
        reduced = load_model_image(path, screener.card.input_size)
        full_s += middle - start
        reduced_s += time.perf_counter() - middle
        a, b = screener.predict(full), screener.predict(reduced)
        deltas.append(abs(a.probability - b.probability))
        flips += a.label != b.label
    deltas_array = np.array(deltas)
    print(f"model {screener.version} ({screener.card.sha256[:12]}), {len(files)} images in {folder}")
    print(f"{'':24}{'full decode':>14}{'model copy':>14}")
    print(f"{'decode ms / image':24}{1000 * full_s / len(files):>14.1f}{1000 * reduced_s / len(files):>14.1f}")
    print(f"|dp| mean {deltas_array.mean():.5f}, max {deltas_array.max():.5f}; labels changed: {flips}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/originals")))
