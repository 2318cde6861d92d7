"""How each scope state looks, in one table, so the panel, the scan table and the scan summary agree.

Three states that are not plain "in scope", three wordings and three looks:
- *not a chest X-ray*: no result at all (a photograph, a CT slice); never a probability;
- *outside the model's population*: a chest X-ray of another population (an adult's film); the number
  is shown small and grey with the reason, and the film is not assessable: never counted as flagged;
- *near the domain edge*: the label stands, in its own colour, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.model.scope import IN_SCOPE, NEAR_EDGE, NOT_XRAY, OUTSIDE_POPULATION
from app.core.screening import POSITIVE

LABEL_MARK = {"PNEUMONIA": "\u25b2", "NORMAL": "\u25cf"}


@dataclass(frozen=True)
class Look:
    kind: str  # a key of `app.ui.imaging.BADGE_STYLES`
    badge: str  # the panel's badge text
    cell: str  # the scan table's Result cell
    assessable: bool  # the label stands (counted among flagged / normal)


def look_of(label: str, scope: str, other_warnings: bool = False) -> Look:
    """`scope` "" (a model without a scope check) counts as in scope; `other_warnings`: warnings beyond the scope's."""
    scope = scope or IN_SCOPE
    if scope == NOT_XRAY:
        return Look("NOT_XRAY", "Not a chest X-ray \u2014 no result", "\u2205 not a chest X-ray", False)
    if scope == OUTSIDE_POPULATION:
        return Look("OUTSIDE_POPULATION", "Outside the model's population", "? outside population", False)
    mark = f"{LABEL_MARK.get(label, '')} {label}".strip()
    if scope == NEAR_EDGE:
        return Look("CAUTION" if other_warnings else label, f"{label} \u2014 near the domain edge",
                    f"{mark} \u00b7 near edge", True)
    if other_warnings:
        return Look("CAUTION", f"{label} \u2014 with warnings", mark, True)
    return Look(label, label, mark, True)


def flagged(label: str, scope: str) -> bool:
    """A PNEUMONIA answer the model may give: what "flagged" counts, never a not-assessable film."""
    return label == POSITIVE and look_of(label, scope).assessable
