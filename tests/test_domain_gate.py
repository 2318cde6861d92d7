"""The out-of-distribution gate on the real model: foreign images are flagged, X-rays are not.

Also shows the test can fail: a gate with random statistics (same cut-off) breaks the assertions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from app.core.model.domain import DomainGate
from app.core.io.images import LoadedImage, load_image
from app.core.model.scope import NOT_XRAY
from app.core.screening import Screener
from model_training.foreign_images import foreign_images
from benchmarks.foreign_images import in_domain_share
from benchmarks.foreign_images import validation_images as _validation_images

def validation_images() -> list[Path]:
    paths = _validation_images()
    if not paths:
        pytest.skip("validation split list or shared data absent")
    return paths


def flagged_share(screener: Screener, images: dict[str, LoadedImage]) -> dict[str, bool]:
    return {name: not screener.predict(image).in_domain for name, image in images.items()}


@pytest.mark.keras  # scikit-image's photographs, from the dev extra
def test_every_foreign_image_is_outside_the_domain(real_screener: Screener) -> None:
    flagged = flagged_share(real_screener, foreign_images())
    assert [name for name, out in flagged.items() if not out] == []


@pytest.mark.keras  # scikit-image's photographs, from the dev extra
def test_foreign_images_get_a_warning_status_and_reason(real_screener: Screener) -> None:
    prediction = real_screener.predict(foreign_images()["chelsea"])
    assert prediction.status == "warning"
    assert prediction.display_label == NOT_XRAY
    assert any("Not a chest X-ray" in w for w in prediction.warnings)


def test_at_least_99_percent_of_validation_xrays_are_in_domain(real_screener: Screener) -> None:
    assert in_domain_share(real_screener, validation_images()) >= 0.99


def test_bundled_originals_are_in_domain(real_screener: Screener, originals_dir: Path) -> None:
    outside = [p.name for p in sorted(originals_dir.rglob("*.jpeg")) if not real_screener.predict(load_image(p)).in_domain]
    assert outside == []


@pytest.mark.keras  # scikit-image's photographs, from the dev extra
def test_a_gate_with_random_statistics_fails_these_assertions(real_screener: Screener, monkeypatch) -> None:
    gate = real_screener.scope.gate
    rng = np.random.default_rng(0)
    d = gate.mean.shape[0]
    noise = rng.normal(size=(d, d)) / np.sqrt(d)
    random_gate = DomainGate(rng.normal(size=d) * gate.mean.std() + gate.mean.mean(), noise @ noise.T, gate.cutoff)
    monkeypatch.setattr(real_screener, "scope", dataclasses.replace(real_screener.scope, gate=random_gate))
    foreign = flagged_share(real_screener, foreign_images())
    xrays = in_domain_share(real_screener, validation_images()[:200])
    assert not (all(foreign.values()) and xrays >= 0.99)
