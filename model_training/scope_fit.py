"""Fitting the scope check's two cut-offs and its population classifier.

The population check is supervised: the model's features of its own training films (the population)
against chest X-rays that are not its population (adults from another hospital, `--outside`), both
seen clean and under the stress suite's acquisition shifts, and the outside films also as a copy
processed like the training set (224 px, JPEG quality 75), so that the classifier learns who is on
the film and not how the file was made. Both cut-offs are chosen on the validation split only.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression

from app.core.model.domain import DomainGate
from app.core.io.collect import decode_all
from app.core.model.card import sha256_of
from app.core.io.preprocessing import PreprocessConfig, preprocess
from app.core.model.scope import SCOPES, PopulationCheck, ScopeCheck
from model_training.shifts import SUITE, STRENGTHS, Condition, apply
from model_training.splits import model_pixels

CUTOFF_PERCENTILE = 99.5  # of the validation films kept in the population
OUTSIDE_FIT_SHARE = 0.6  # of the outside patients used for the fit; the others are held out to report
REGULARISATION = 0.02  # inverse L2 strength (scikit-learn's C) on standardised features
FULL_RESOLUTION_WEIGHT = 5.0  # of each full-resolution training film (few: 70 of the 100 originals) and its shifts
FULL_RESOLUTION_SHIFTS = 6  # shifted copies of each full-resolution training film
FIT_SEED = 7

POPULATION_FILE = "population_check.npz"
NOT_XRAY_METHOD = "largest domain score of any chest film the scope fit saw"

Features = Callable[[list[np.ndarray]], np.ndarray]  # gray images -> (n, d) features


@dataclass(frozen=True)
class OutsideFilm:
    path: Path
    patient: str


def read_outside(folder: Path) -> list[OutsideFilm]:
    """Every image of an outside set; `labels.tsv` (file, ..., patient) groups them by patient when present."""
    table = folder / "labels.tsv"
    if table.is_file():
        with open(table, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        return [OutsideFilm(folder / row["file"], row.get("patient") or row["file"]) for row in rows]
    suffixes = {".jpeg", ".jpg", ".png"}
    return [OutsideFilm(p, p.stem) for p in sorted(folder.rglob("*")) if p.suffix.lower() in suffixes]


def split_by_patient(films: list[OutsideFilm], share: float = OUTSIDE_FIT_SHARE,
                     seed: int = FIT_SEED) -> tuple[list[OutsideFilm], list[OutsideFilm]]:
    """(fit, held out), no patient in both."""
    patients = sorted({f.patient for f in films})
    order = np.random.default_rng(seed).permutation(len(patients))
    fit = {patients[i] for i in order[: round(share * len(patients))]}
    return [f for f in films if f.patient in fit], [f for f in films if f.patient not in fit]


def decode(paths: Sequence[Path], input_size: tuple[int, int]) -> list[np.ndarray]:
    """The model's copy of each readable file (as the app decodes it); a film that fails is not fitted on."""
    return decode_all(paths, model_pixels(input_size)).images


def as_training_copy(gray: np.ndarray, size: tuple[int, int] = (224, 224), quality: int = 75) -> np.ndarray:
    """A film processed as the training set was: resized (aspect not kept, bilinear), JPEG quality 75."""
    small = cv2.resize(gray, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if ok else small


def shifted(images: list[np.ndarray], keys: list[str], seed: int = FIT_SEED) -> list[np.ndarray]:
    """Each image under one acquisition shift of the stress suite, drawn per image (deterministic)."""
    rng = np.random.default_rng(seed)
    names = sorted(SUITE)
    out = []
    for gray, key in zip(images, keys):
        condition = Condition(names[rng.integers(len(names))], STRENGTHS[rng.integers(len(STRENGTHS))])
        out.append(apply(gray, condition, key, seed))
    return out


def forward(infer: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], images: Sequence[np.ndarray],
            config: PreprocessConfig, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Logits and features of gray images through the engine's preprocessing and a backend's `infer`
    (the app's own path), in batches of `batch_size`."""
    logits, features = [], []
    for start in range(0, len(images), batch_size):
        logit, feature = infer(np.stack([preprocess(g, config) for g in images[start:start + batch_size]]))
        logits.append(logit)
        features.append(feature)
    if not logits:
        return np.zeros(0, np.float32), np.zeros((0, 0), np.float32)
    return np.concatenate(logits), np.concatenate(features)


def onnx_features(infer: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], config: PreprocessConfig,
                  batch_size: int = 64) -> Features:
    """The features half of `forward`."""
    return lambda images: forward(infer, images, config, batch_size)[1]


def fit_population_check(inside: np.ndarray, outside: np.ndarray, val_inside: np.ndarray, val_full_resolution: np.ndarray,
                         inside_weights: np.ndarray | None = None, regularisation: float = REGULARISATION,
                         percentile: float = CUTOFF_PERCENTILE) -> PopulationCheck:
    """Logistic regression (balanced classes) on standardised features, and its two cut-offs:
    near = the `percentile` of the validation films' scores; far = halfway between the highest score of a
    validation film (as a training copy or at full resolution) and the `100 - percentile` of the outside
    films of the fit, so a child's film a little past the near cut-off is "near the edge", not "another
    population"."""
    x = np.concatenate([inside, outside]).astype(np.float64)
    y = np.concatenate([np.zeros(len(inside)), np.ones(len(outside))])
    weights = np.concatenate([np.ones(len(inside)) if inside_weights is None else inside_weights, np.ones(len(outside))])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=5000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    check = PopulationCheck(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]), np.inf, np.inf)
    val_scores = check.score(val_inside)
    near = float(np.percentile(val_scores, percentile))
    highest_child = float(np.max(np.concatenate([val_scores, check.score(val_full_resolution)])))
    lowest_other = float(np.percentile(check.score(outside), 100 - percentile))
    return dataclasses.replace(check, cutoff=near, far_cutoff=max(near, (highest_child + lowest_other) / 2))


def not_xray_cutoff(gate: DomainGate, chest_films: np.ndarray) -> float:
    """The domain score past which an image is no chest X-ray at all: the largest score of any chest film
    the fit has seen (training population clean and shifted, outside films in all their copies), never
    below the gate's own cut-off."""
    return max(gate.cutoff, float(gate.score(chest_films).max()))


@dataclass(frozen=True)
class ScopeData:
    """The films a scope fit reads: the split's training and validation films (224 px copies), the outside
    films, and optionally full-resolution copies of training-split films (e.g. the 100 originals)."""

    train: list[Path]
    val: list[Path]
    outside: list[OutsideFilm]
    full_resolution: list[Path]
    val_names: frozenset[str]  # file names of the validation split (their full-resolution copies are held out)


def scope_data(data: Path, split_train: list[Path], split_val: list[Path], outside: Path,
               full_resolution: Path | None) -> ScopeData:
    """`split_*`: the split's files, whose class folder and name are looked up under `data`."""
    def local(paths: list[Path]) -> list[Path]:
        return [data / p.parent.name / p.name for p in paths]
    full = sorted(p for p in full_resolution.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png")) if full_resolution else []
    return ScopeData(local(split_train), local(split_val), read_outside(outside), full,
                     frozenset(p.name for p in split_val))


@dataclass(frozen=True)
class SplitFilms:
    """The split's films already decoded with their clean features (finalize has both in hand), so the fit
    neither decodes nor runs them a second time; in `ScopeData.train` / `.val` order."""

    train: list[np.ndarray]
    val: list[np.ndarray]
    train_features: np.ndarray
    val_features: np.ndarray


@dataclass(frozen=True)
class FittedScope:
    population: PopulationCheck
    not_xray_cutoff: float
    figures: dict[str, dict[str, float]]


def shares(check: ScopeCheck, features: np.ndarray) -> dict[str, float]:
    """How many films (`n`) and which share of them fall in each scope state."""
    scopes = [check.assess(row).scope for row in features]
    return {"n": len(scopes)} | {scope: scopes.count(scope) / max(1, len(scopes)) for scope in SCOPES}


def fit_scope(features: Features, gate: DomainGate, data: ScopeData, input_size: tuple[int, int],
              foreign: list[np.ndarray] | None = None, log: Callable[[str], None] = print,
              split: SplitFilms | None = None) -> FittedScope:
    """Decode every film once (the split's unless `split` brings them), compute its features (clean and shifted
    copies), fit the population check and the not-an-X-ray cut-off, and report each state's share on films
    the fit did not see."""
    if split is None:
        train, val = decode(data.train, input_size), decode(data.val, input_size)
        split = SplitFilms(train, val, features(train), features(val))
    train, val = split.train, split.val
    log(f"scope fit: {len(train)} training and {len(val)} validation films decoded")
    fit_films, held_out = split_by_patient(data.outside)
    outside_fit = decode([f.path for f in fit_films], input_size)
    outside_held = decode([f.path for f in held_out], input_size)
    full_train_paths = [p for p in data.full_resolution if p.name not in data.val_names]
    full_val_paths = [p for p in data.full_resolution if p.name in data.val_names]
    full_train = decode(full_train_paths, input_size)
    full_val = decode(full_val_paths, input_size)

    f_train = np.concatenate([split.train_features, features(shifted(train, [str(p) for p in data.train]))])
    copies = [as_training_copy(g, input_size) for g in outside_fit]
    f_outside = np.concatenate([features(outside_fit), features(copies),
                                features(shifted(copies, [str(f.path) for f in fit_films]))])
    f_full = [features(full_train)] + [features(shifted(full_train, [str(p) for p in full_train_paths], FIT_SEED + k))
                                       for k in range(1, FULL_RESOLUTION_SHIFTS + 1)]
    inside = np.concatenate([f_train, *f_full]) if full_train else f_train
    weights = np.concatenate([np.ones(len(f_train)), np.full(len(inside) - len(f_train), FULL_RESOLUTION_WEIGHT)])
    f_val, f_full_val = split.val_features, features(full_val)
    log(f"scope fit: features of {len(inside)} population films and {len(f_outside)} outside films")
    population = fit_population_check(inside, f_outside, f_val, f_full_val if len(full_val) else f_val[:0], weights)
    cutoff = not_xray_cutoff(gate, np.concatenate([f_train, f_outside]))
    check = ScopeCheck(gate, cutoff, population)

    figures = {"validation": shares(check, f_val),
               "outside_held_out": shares(check, features(outside_held)),
               "outside_held_out_as_training_copy": shares(check, features([as_training_copy(g, input_size) for g in outside_held]))}
    if data.full_resolution:
        figures["full_resolution"] = shares(check, np.concatenate([f for f in (f_full[0], f_full_val) if len(f)]))
        if len(full_val):
            figures["full_resolution_validation"] = shares(check, f_full_val)
    if foreign:
        figures["not_xray_images"] = shares(check, features(foreign))
    figures["counts"] = {"outside_patients_fit": len({f.patient for f in fit_films}),
                         "outside_patients_held_out": len({f.patient for f in held_out}),
                         "full_resolution_training_films_fit": len(full_train)}
    return FittedScope(population, cutoff, figures)


POPULATION_METHOD = (
    "Logistic regression (scikit-learn, C={c}, balanced classes) on the standardised 'features' vector: the "
    "training split's films (clean, under one stress-suite shift each, and full-resolution training-split films "
    "with {shifts} shifted copies each) against chest X-rays of another population (--outside, {share:.0%} of its "
    "patients; clean, processed like the training set, and shifted). Near cut-off: {pct}th percentile of the "
    "validation split; far cut-off: halfway between the highest validation film (224 px copy or full resolution) "
    "and the {low}th percentile of the outside films of the fit."
)


def population_entry(fitted: FittedScope, folder: Path) -> dict:
    """The card's `population` entry for a check saved in `folder`."""
    fitted.population.save(folder / POPULATION_FILE)
    return {"file": POPULATION_FILE, "sha256": sha256_of(folder / POPULATION_FILE),
            "cutoff": fitted.population.cutoff, "far_cutoff": fitted.population.far_cutoff,
            "method": POPULATION_METHOD.format(c=REGULARISATION, shifts=FULL_RESOLUTION_SHIFTS, share=OUTSIDE_FIT_SHARE,
                                               pct=CUTOFF_PERCENTILE, low=round(100 - CUTOFF_PERCENTILE, 1)),
            "figures": fitted.figures}
