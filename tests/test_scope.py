"""The graded scope check: its order of states, its fit, its verification, and the bundled model's figures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from app.core.model.domain import DomainGate
from app.core.errors import ModelError
from app.core.io.images import load_model_image
from app.core.model.scope import IN_SCOPE, NEAR_EDGE, NOT_XRAY, OUTSIDE_POPULATION, PopulationCheck, ScopeCheck
from tests.helpers import SHARED

ADULTS = SHARED / "data" / "adult_nih"


def _check() -> ScopeCheck:
    """Two features: distance from the origin is the domain score, the second feature the population score."""
    gate = DomainGate(np.zeros(2), np.eye(2), cutoff=10.0)
    population = PopulationCheck(np.zeros(2), np.ones(2), np.array([0.0, 1.0]), 0.0, cutoff=1.0, far_cutoff=3.0)
    return ScopeCheck(gate, not_xray_cutoff=50.0, population=population)


@pytest.mark.parametrize(("features", "scope"), [
    ((0.0, 0.0), IN_SCOPE),
    ((10.5, 0.0), NEAR_EDGE),  # just past the domain gate: the result stands
    ((0.0, 2.0), NEAR_EDGE),  # just past the population's near cut-off
    ((0.0, 4.0), OUTSIDE_POPULATION),
    ((30.0, 5.0), OUTSIDE_POPULATION),  # far from the training films but still a chest film's distance
    ((60.0, 0.0), NOT_XRAY),
    ((60.0, 10.0), NOT_XRAY),  # "not a chest X-ray" outranks "another population"
])
def test_states_come_in_their_order(features: tuple[float, float], scope: str) -> None:
    assessment = _check().assess(np.array(features))
    assert assessment.scope == scope
    assert bool(assessment.warning) == (scope != IN_SCOPE)


def test_near_the_edge_never_gets_the_not_an_xray_wording() -> None:
    warning = _check().assess(np.array([10.5, 0.0])).warning
    assert warning.startswith("Near the edge") and "result stands" in warning
    assert "Not a chest X-ray" not in warning and "does not resemble" not in warning


def test_an_older_card_without_population_check_calls_everything_past_the_gate_not_an_xray() -> None:
    check = dataclasses.replace(_check(), not_xray_cutoff=10.0, population=None)
    assert check.assess(np.array([10.5, 0.0])).scope == NOT_XRAY
    assert check.assess(np.array([7.0, 7.0])).scope == IN_SCOPE  # distance 9.9, whatever the second feature


@pytest.mark.keras  # scikit-learn / scikit-image, from the dev extra
def test_population_fit_separates_two_populations_and_orders_its_cut_offs() -> None:
    from model_training.scope_fit import fit_population_check

    rng = np.random.default_rng(0)
    inside, outside = rng.normal(0, 1, (600, 8)), rng.normal(0, 1, (400, 8)) + np.r_[3.0, np.zeros(7)]
    val, val_full = rng.normal(0, 1, (400, 8)), rng.normal(0, 1, (20, 8))
    check = fit_population_check(inside, outside, val, val_full)
    val_scores = check.score(val)
    assert np.mean(val_scores <= check.cutoff) == pytest.approx(0.995, abs=0.003)
    assert check.cutoff <= check.far_cutoff < np.percentile(check.score(outside), 50)
    held_out = rng.normal(0, 1, (400, 8)) + np.r_[3.0, np.zeros(7)]
    assert np.mean(check.score(held_out) > check.far_cutoff) > 0.8


def test_a_population_file_that_does_not_match_its_card_is_refused(tmp_path: Path) -> None:
    check = _check()
    np.savez(tmp_path / "domain.npz", mean=np.zeros(2, np.float32), precision=np.eye(2, dtype=np.float32))
    check.population.save(tmp_path / "population.npz")
    from app.core.model.card import sha256_of

    domain = {"file": "domain.npz", "sha256": sha256_of(tmp_path / "domain.npz"), "cutoff": 10.0, "not_xray_cutoff": 50.0}
    entry = {"file": "population.npz", "sha256": sha256_of(tmp_path / "population.npz"), "cutoff": 1.0, "far_cutoff": 3.0}
    loaded = ScopeCheck.from_card(tmp_path, domain, entry)
    assert loaded.assess(np.array([0.0, 4.0])).scope == OUTSIDE_POPULATION
    with open(tmp_path / "population.npz", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(ModelError, match=r"\(population check\) does not match the model card"):
        ScopeCheck.from_card(tmp_path, domain, entry)
    (tmp_path / "population.npz").unlink()
    with pytest.raises(ModelError, match="not found"):
        ScopeCheck.from_card(tmp_path, domain, entry)


# The bundled model: the figures its card reports hold when the engine scores the same films.

def _bundled_with_population(real_screener):  # noqa: ANN001, ANN202
    if real_screener.scope is None or real_screener.scope.population is None:
        pytest.skip("the bundled model has no population check")
    return real_screener


@pytest.mark.keras  # scikit-learn / scikit-image, from the dev extra
def test_held_out_adults_are_outside_the_population(real_screener) -> None:  # noqa: ANN001
    from model_training.scope_fit import read_outside, split_by_patient

    screener = _bundled_with_population(real_screener)
    if not ADULTS.is_dir():
        pytest.skip(f"adult films not found at {ADULTS}")
    _, held_out = split_by_patient(read_outside(ADULTS))
    scopes = [screener.predict(load_model_image(f.path, screener.card.input_size)).scope for f in held_out[:120]]
    assert np.mean([s == OUTSIDE_POPULATION for s in scopes]) >= 0.95
    assert IN_SCOPE not in scopes


def test_originals_are_answered_and_the_edge_film_keeps_its_label(real_screener, originals_dir: Path) -> None:  # noqa: ANN001
    screener = _bundled_with_population(real_screener)
    predictions = {p.name: screener.predict(load_model_image(p, screener.card.input_size))
                   for p in sorted(originals_dir.rglob("*.jpeg"))}
    assert [name for name, p in predictions.items() if not p.in_domain] == []
    edge = predictions["person1372_bacteria_3503.jpeg"]  # a genuine child's film past the domain gate's cut-off
    assert edge.scope == NEAR_EDGE and edge.display_label == edge.label == "PNEUMONIA"


@pytest.mark.keras  # scikit-learn / scikit-image, from the dev extra
def test_photographs_are_not_chest_xrays(real_screener) -> None:  # noqa: ANN001
    from model_training.foreign_images import foreign_images

    screener = _bundled_with_population(real_screener)
    scopes = {name: screener.predict(image).scope for name, image in foreign_images().items()}
    assert {name: s for name, s in scopes.items() if s != NOT_XRAY} == {}


def test_the_card_reports_the_figures_of_its_fit(real_model_path: Path) -> None:
    card = json.loads((real_model_path.parent / "model_card.json").read_text(encoding="utf-8"))
    figures = card.get("population", {}).get("figures")
    if not figures:
        pytest.skip("the bundled model has no population check")
    answered = {k: v[IN_SCOPE] + v[NEAR_EDGE] for k, v in figures.items() if k != "counts"}
    assert answered["validation"] >= 0.99 and answered["full_resolution"] >= 0.99
    assert figures["outside_held_out"][OUTSIDE_POPULATION] >= 0.95
    assert figures["not_xray_images"][NOT_XRAY] == 1.0


def _row(scope: str, prediction: str = "PNEUMONIA"):  # noqa: ANN202
    from app.core.scan.row import ScanRow
    from app.core.model.scope import ANSWERED

    return ScanRow(path="a.png", status="warning", probability=0.93, prediction=prediction, threshold=0.76,
                   model_version="2.1.0", in_domain=scope in ANSWERED, scope=scope, domain_score=80.0, warning="w",
                   model_sha256="0123456789ab")


def test_answers_are_graded_and_out_of_scope_films_are_never_flagged() -> None:
    assert _row(NOT_XRAY).answer.startswith("not a chest X-ray: no result") and "0.93" not in _row(NOT_XRAY).answer
    assert "is not reliable" in _row(OUTSIDE_POPULATION).answer and "0.930" in _row(OUTSIDE_POPULATION).answer
    assert _row(NEAR_EDGE).answer.startswith("PNEUMONIA  probability of pneumonia 0.930 (threshold 0.760")
    assert [_row(s).flagged for s in (IN_SCOPE, NEAR_EDGE, OUTSIDE_POPULATION, NOT_XRAY)] == [True, True, False, False]


def test_the_csv_keeps_the_scope_and_a_resume_refuses_a_scope_that_contradicts_in_domain() -> None:
    from app.core.scan.row import ScanRow

    row = _row(OUTSIDE_POPULATION)
    cells = row.to_csv()
    assert (cells["in_domain"], cells["scope"]) == ("false", OUTSIDE_POPULATION)
    assert ScanRow.from_csv(cells) == row and row.problem() == ""
    assert "disagree" in ScanRow.from_csv(cells | {"in_domain": "true"}).problem()
