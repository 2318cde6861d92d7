"""Cost and effect of the domain check, measured on the bundled model.

Prints: the added latency of the gate per image (the same warm prediction with and without it, and
the Mahalanobis score alone), the share of the validation split's X-rays in-domain, and the share of
each kind of foreign image flagged.

    python benchmarks/domain_gate.py [--model resources/pneumoscan_mobilenetv2.keras]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.io.images import load_image  # noqa: E402
from app.core.resources import default_model_path  # noqa: E402
from app.core.screening import Screener  # noqa: E402
from benchmarks.foreign_images import in_domain_share, validation_images  # noqa: E402
from model_training.foreign_images import foreign_images  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "NORMAL_IM-0117-0001.jpeg"


def median_ms(fn, repeats: int = 30) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=default_model_path())
    args = parser.parse_args()
    screener = Screener(args.model)
    image = load_image(SAMPLE)
    prepared = screener.prepare(image)
    with_gate = median_ms(lambda: screener.predict_prepared([prepared]))
    scope, screener.scope = screener.scope, None
    without_gate = median_ms(lambda: screener.predict_prepared([prepared]))
    screener.scope = scope
    gate = scope.gate
    _, features = screener.backend.infer(prepared.tensor[None])
    score_only = median_ms(lambda: gate.score(features), 200)
    print(f"prediction of one preprocessed image, median of 30: {without_gate:.2f} ms without the gate, "
          f"{with_gate:.2f} ms with it; the Mahalanobis score alone: {score_only:.3f} ms")
    print(f"validation X-rays in-domain: {in_domain_share(screener, validation_images()):.2%} (cut-off {gate.cutoff:.1f})")
    for name, foreign in foreign_images().items():
        p = screener.predict(foreign)
        print(f"  {name:<22} domain score {p.domain_score:8.1f}  {'flagged' if not p.in_domain else 'NOT flagged'}"
              f"{'  + ' + str(len(p.warnings) - (not p.in_domain)) + ' quality warning(s)' if len(p.warnings) > (not p.in_domain) else ''}")


if __name__ == "__main__":
    main()
