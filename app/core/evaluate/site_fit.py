"""Fitting a site calibration (`pneumoscan-cli calibrate`) on a site's labelled films scored by the base model.

Only films in the model's scope take part: a film the model may not answer for would pull the fit
towards answers it never gives. The figures before (the model card's calibration) and after (the
site's) are measured on the same sample the fit saw, so "after" is optimistic; `evaluate --site` on
other films of the site gives the honest figure.
"""

from __future__ import annotations

import datetime

from app.core.evaluate.report import LabelledScores, performance
from app.core.evaluate.labelled import CLASSES, LabelledError
from app.core.evaluate.metrics import BOOTSTRAP_RESAMPLES
from app.core.screening import Screener
from app.core.model.site import (
    MIN_PER_CLASS,
    SiteCalibration,
    calibrated,
    fit_platt,
    threshold_for_sensitivity,
)


def check_class_counts(counts: dict[str, int], after: str = "") -> None:
    """Refuse a sample with fewer than MIN_PER_CLASS films of either class."""
    short = [f"{name} has {counts.get(name, 0)}" for name in CLASSES if counts.get(name, 0) < MIN_PER_CLASS]
    if short:
        raise LabelledError(f"Too few images to calibrate{after}: {' and '.join(short)}; at least {MIN_PER_CLASS} "
                            "of each class are needed.")


def fit_site(scores: LabelledScores, screener: Screener, name: str, min_sensitivity: float,
             resamples: int = BOOTSTRAP_RESAMPLES) -> SiteCalibration:
    """The site calibration of the in-scope films of `scores`, scored by `screener` (the base model, no site)."""
    if screener.site is not None:
        raise ValueError("a site calibration is fitted on the base model's scores, not on another site's")
    kept = scores.subset(scores.answered)
    left_out = len(scores.images) - len(kept.images)
    check_class_counts(kept.class_counts(), f" after leaving out {left_out} images outside the model's scope "
                       f"and {len(scores.errors)} unreadable" if left_out or scores.errors else "")
    y = kept.y
    try:
        temperature, offset = fit_platt(y, kept.logits)
    except ValueError as exc:
        raise LabelledError(f"Cannot calibrate: {exc}.") from None
    p = calibrated(kept.logits, temperature, offset)
    threshold = threshold_for_sensitivity(y, p, min_sensitivity)
    figures = {
        "before": performance(y, screener.probabilities(kept.logits), screener.threshold, resamples),
        "after": performance(y, p, threshold, resamples),
        "note": "both measured on the calibration sample itself; 'after' is optimistic (evaluate --site on other images)",
    }
    return SiteCalibration(name=name, model_sha256=screener.card.sha256, temperature=float(temperature), offset=float(offset),
                           threshold=threshold, created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                           counts=kept.class_counts() | {"left_out": left_out, "unreadable": len(scores.errors)},
                           min_sensitivity=min_sensitivity, figures=figures)


def report_lines(site: SiteCalibration) -> list[str]:
    """What `calibrate` prints: the counts, the parameters and the before/after table with 95 % intervals."""
    counts = site.counts
    lines = [f"{counts['NORMAL']} NORMAL and {counts['PNEUMONIA']} PNEUMONIA in scope ({counts.get('left_out', 0)} outside "
             f"the model's scope and {counts.get('unreadable', 0)} unreadable left out)",
             f"temperature {site.temperature:.4f}, offset {site.offset:+.4f}, threshold {site.threshold:.6f} "
             f"(highest specificity with sensitivity >= {site.min_sensitivity:g} on the sample)",
             f"{'':>12}  {'before (model card)':<24}{'after (site)':<24}"]
    for key in ("accuracy", "sensitivity", "specificity", "auc", "ece"):
        cells = [f"{f[key]:.3f} ({f['ci95'][key][0]:.3f}-{f['ci95'][key][1]:.3f})"
                 for f in (site.figures["before"], site.figures["after"])]
        lines.append(f"{key:>12}  {cells[0]:<24}{cells[1]:<24}")
    return lines + ["Both columns are measured on the calibration images themselves (95 % bootstrap intervals); "
                    "run evaluate --site on other images of the site for an unbiased figure."]
