"""Where the heat map puts its evidence: the share in the film's outer border band and at the corner markers.

    python benchmarks/heatmap_localisation.py [--model PATH] [--shared DIR] [--limit N] [--no-keras]

On the validation split's PNEUMONIA films (resources/split_val.tsv), evidence for PNEUMONIA as the GUI
shows it (Grad-CAM in logit units, upsampled bilinearly to the 224 px model input), summed per region
and divided by the film's total evidence:
- *border band*: the outer 10 % of each side (36 % of the area; the chest rarely reaches it);
- *corners*: four 20 % x 20 % squares at the corners (16 % of the area), where the "R"/"L" lead
  markers and the hospital's labels are burnt into these films;
and the share of films whose peak lies in the band or in a corner. A map spread uniformly would give
36 % and 16 %. Maps measured:
- `7x7 out_relu` - the bundled model's map (ONNX backend: what the GUI shows today);
- `14x14 block_13_expand_relu` - Grad-CAM one stage earlier, via the keras backend (needs TensorFlow;
  the ONNX graph has no such output, so using it would need a new export);
- `7x7 x 14x14` - the two normalised maps multiplied (a finer map gated by the coarse one).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.core.io.images import load_model_image  # noqa: E402
from app.core.resources import default_model_path  # noqa: E402
from app.core.screening import Screener  # noqa: E402

SIZE = 224
BAND, CORNER = 0.10, 0.20
FINE_LAYER = "block_13_expand_relu"  # the last 14 x 14 activation of MobileNetV2


def masks(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(border band, corners) boolean masks of a size x size map."""
    axis = (np.arange(size) + 0.5) / size
    near_x = np.minimum(axis, 1 - axis)[None, :]
    near_y = np.minimum(axis, 1 - axis)[:, None]
    band = (near_x < BAND) | (near_y < BAND)
    corners = (near_x < CORNER) & (near_y < CORNER)
    return band, corners


def validation_pneumonia(split: Path, shared: Path, limit: int | None) -> list[Path]:
    """The split's PNEUMONIA films; its paths are relative to a checkout beside `shared` ("../shared/...")."""
    paths = [shared / Path(path).relative_to("../shared") for label, _patient, path
             in (line.split("\t") for line in split.read_text().splitlines()) if label == "PNEUMONIA"]
    return paths[:limit] if limit else paths


def upsampled(cam: np.ndarray) -> np.ndarray:
    return cv2.resize(np.asarray(cam, np.float32), (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


def shares(maps: list[np.ndarray]) -> dict[str, float]:
    band, corners = masks()
    in_band, in_corner, peak_band, peak_corner, empty = [], [], 0, 0, 0
    for m in maps:
        total = float(m.sum())
        if total <= 0:
            empty += 1
            continue
        in_band.append(float(m[band].sum()) / total)
        in_corner.append(float(m[corners].sum()) / total)
        peak = np.unravel_index(int(np.argmax(m)), m.shape)
        peak_band += bool(band[peak])
        peak_corner += bool(corners[peak])
    n = max(1, len(in_band))
    return {"band": float(np.mean(in_band)), "corner": float(np.mean(in_corner)), "peak_band": peak_band / n,
            "peak_corner": peak_corner / n, "films": len(maps), "empty": empty}


def normalised(m: np.ndarray) -> np.ndarray:
    peak = float(m.max())
    return m / peak if peak > 0 else m


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--split", type=Path, default=REPO / "resources" / "split_val.tsv")
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("PNEUMOSCAN_SHARED", REPO.parent / "shared")))
    parser.add_argument("--limit", type=int, default=None, help="the first N PNEUMONIA films only")
    parser.add_argument("--no-keras", action="store_true", help="only the bundled map (no TensorFlow)")
    args = parser.parse_args()
    films = validation_pneumonia(args.split, args.shared, args.limit)
    onnx = Screener(args.model, "onnx")
    images = [load_model_image(p, onnx.card.input_size) for p in films]
    coarse = [upsampled(onnx.explain(image, None, "PNEUMONIA").evidence) for image in images]
    results = {"7x7 out_relu (bundled, ONNX)": shares(coarse)}
    if not args.no_keras:
        from app.core.model.keras_classifier import Classifier

        keras_screener = Screener(args.model, "keras")
        fine_backend = Classifier(keras_screener.backend.model, FINE_LAYER, keras_screener.card.feature_layer)
        fine = [upsampled(fine_backend.explain(onnx.prepare(image).tensor, True)[0]) for image in images]
        results[f"14x14 {FINE_LAYER} (keras)"] = shares(fine)
        results["7x7 x 14x14 (product)"] = shares([normalised(c) * normalised(f) for c, f in zip(coarse, fine)])
    band, corners = masks()
    print(f"{len(films)} validation PNEUMONIA films; uniform map: band {band.mean():.0%}, corners {corners.mean():.0%}")
    print(f"{'map':34s} {'band share':>10s} {'corner share':>12s} {'peak in band':>12s} {'peak in corner':>14s}")
    for name, r in results.items():
        print(f"{name:34s} {r['band']:10.1%} {r['corner']:12.1%} {r['peak_band']:12.1%} {r['peak_corner']:14.1%}"
              + (f"  ({r['empty']} empty maps)" if r["empty"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
