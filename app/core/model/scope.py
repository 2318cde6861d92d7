"""The scope check: may the model answer for this image at all, and how sure is that?

Two parts, both on the 1280 features the prediction has already computed:
- the domain gate (`app.core.model.domain`): the Mahalanobis distance from the training films. Past the
  largest distance of any chest film seen at fitting time the image is *not a chest X-ray* (a
  photograph, a CT slice, noise): no probability is shown.
- the population check (`PopulationCheck`): a linear classifier fitted at the end of training on the
  training films against chest X-rays of other populations (adults from another hospital), so that an
  adult's film, which the Mahalanobis gate often lets through, is called *outside the model's population*.
Each has a near cut-off (99.5 % of the validation films below it): between it and the far one, an image
is *near the edge of the domain*: the result stands, with a warning.

The order matters: "not a chest X-ray" first, then "outside the population", then "near the edge".
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.model.domain import DomainGate
from app.core.model.entries import DomainEntry, PopulationEntry
from app.core.model.verified import SCOPE_WORDING, read_verified

IN_SCOPE = "in scope"
NEAR_EDGE = "near the domain edge"
OUTSIDE_POPULATION = "outside the model's population"
NOT_XRAY = "not a chest X-ray"
SCOPES = (IN_SCOPE, NEAR_EDGE, OUTSIDE_POPULATION, NOT_XRAY)
ANSWERED = (IN_SCOPE, NEAR_EDGE)  # the scopes whose label stands (`in_domain` true)
DOMAIN, POPULATION = "domain statistics", "population check"  # as their errors name them


@dataclass(frozen=True)
class PopulationCheck:
    """Logistic regression on standardised features: a positive score means "another population"."""

    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,)
    weights: np.ndarray  # (d,)
    bias: float
    cutoff: float  # largest score fully in the population (99.5 % of the validation films)
    far_cutoff: float  # past it, another population; between the two, near the edge

    def score(self, features: np.ndarray) -> np.ndarray:
        standardised = (np.atleast_2d(features).astype(np.float64) - self.mean) / self.scale
        return np.einsum("nd,d->n", standardised, self.weights) + self.bias

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                 weights=self.weights.astype(np.float32), bias=np.float32(self.bias))

    @classmethod
    def from_bytes(cls, data: bytes, entry: PopulationEntry) -> PopulationCheck:
        """The check the card's `population` entry names, from the bytes verified against its sha256."""
        with np.load(io.BytesIO(data)) as arrays:
            return cls(arrays["mean"].astype(np.float64), arrays["scale"].astype(np.float64),
                       arrays["weights"].astype(np.float64), float(arrays["bias"]), float(entry.cutoff or 0.0),
                       float(entry.far_cutoff or 0.0))


@dataclass(frozen=True)
class Assessment:
    scope: str
    domain_score: float
    population_score: float | None
    warning: str  # "" when in scope


@dataclass(frozen=True)
class ScopeCheck:
    gate: DomainGate
    not_xray_cutoff: float  # domain score past which an image is not a chest X-ray (>= gate.cutoff)
    population: PopulationCheck | None = None

    @classmethod
    def from_card(cls, folder: Path, domain: Mapping[str, Any], population: Mapping[str, Any]) -> ScopeCheck | None:
        """The check a model card's entries describe (None: a card without domain statistics), its files verified
        here (`app.core.model.bundle.ModelBundle` verifies them with the model's and calls `from_verified`)."""
        domain, population = DomainEntry.parse(domain, "domain"), PopulationEntry.parse(population, "population")
        files = {what: read_verified(folder, entry.file, entry.sha256, what, SCOPE_WORDING)
                 for entry, what in ((domain, DOMAIN), (population, POPULATION)) if entry.file}
        return cls.from_verified(domain, files.get(DOMAIN), population, files.get(POPULATION))

    @classmethod
    def from_verified(cls, domain: DomainEntry, domain_bytes: bytes | None, population: PopulationEntry,
                      population_bytes: bytes | None) -> ScopeCheck | None:
        """The check from its verified files (None: a card without domain statistics). Older cards have
        no far cut-off and no population check: anything past the gate is then "not a chest X-ray"."""
        if domain_bytes is None:
            return None
        gate = DomainGate.from_bytes(domain_bytes, float(domain.cutoff or 0.0))
        check = PopulationCheck.from_bytes(population_bytes, population) if population_bytes is not None else None
        cutoff = gate.cutoff if domain.not_xray_cutoff is None else domain.not_xray_cutoff
        return cls(gate, float(cutoff), check)

    def assess(self, features: np.ndarray) -> Assessment:
        distance = float(self.gate.score(features)[0])
        population = None if self.population is None else float(self.population.score(features)[0])
        if distance > self.not_xray_cutoff:
            return Assessment(NOT_XRAY, distance, population,
                              f"Not a chest X-ray: the image does not resemble a chest radiograph (domain score "
                              f"{distance:.1f} > {self.not_xray_cutoff:.1f}); no result is given.")
        check = self.population
        if check is not None and population is not None and population > check.far_cutoff:
            return Assessment(OUTSIDE_POPULATION, distance, population,
                              f"Outside the model's population: this chest X-ray looks like an adult's or another "
                              f"hospital's (population score {population:.2f} > {check.far_cutoff:.2f}). "
                              "The model was trained on children aged 1-5 from one hospital; its answer is not reliable here.")
        edges = []
        if distance > self.gate.cutoff:
            edges.append(f"domain score {distance:.1f} > {self.gate.cutoff:.1f}")
        if check is not None and population is not None and population > check.cutoff:
            edges.append(f"population score {population:.2f} > {check.cutoff:.2f}")
        if edges:
            return Assessment(NEAR_EDGE, distance, population,
                              f"Near the edge of the model's domain ({', '.join(edges)}, where 99.5 % of the validation "
                              "films lie below): the result stands, but read it with extra care.")
        return Assessment(IN_SCOPE, distance, population, "")
