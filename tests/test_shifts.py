"""The acquisition-shift suite (stress test) and the augmentation built on it."""

from __future__ import annotations

import numpy as np
import pytest

from model_training import augment, shifts
from model_training.shifts import SUITE, STRENGTHS, Condition, apply, stress_conditions


def chest_like(seed: int = 0, shape: tuple[int, int] = (224, 224)) -> np.ndarray:
    """A textured 8-bit image with dark 'lungs' and bright edges: every shift has something to change."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 120 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0) + rng.normal(0, 8, shape)
    base[40:180, 30:100] -= 50
    base[40:180, 124:194] -= 50
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", list(SUITE))
@pytest.mark.parametrize("strength", STRENGTHS)
def test_each_shift_changes_the_image_and_keeps_its_shape(name: str, strength: float) -> None:
    gray = chest_like()
    shifted = apply(gray, Condition(name, strength), "a.jpeg", seed=0)
    assert shifted.dtype == np.uint8 and shifted.shape == gray.shape
    assert np.abs(shifted.astype(int) - gray).mean() > 0.5, name


@pytest.mark.parametrize("name", list(SUITE))
def test_strength_zero_is_the_identity(name: str) -> None:
    gray = chest_like(1)
    assert np.array_equal(SUITE[name](gray, 0.0, np.random.default_rng(0)), gray)
    assert np.array_equal(apply(gray, Condition(name, 0.0), "x", seed=3), gray)


@pytest.mark.parametrize("name", list(SUITE))
def test_stronger_means_further_from_the_original(name: str) -> None:
    gray = chest_like(2)
    mild, strong = (np.abs(apply(gray, Condition(name, k), "k", 0).astype(int) - gray).mean() for k in STRENGTHS)
    assert strong > mild


@pytest.mark.parametrize("name", list(SUITE))
def test_deterministic_per_image_condition_and_seed(name: str) -> None:
    gray = chest_like(3)
    condition = Condition(name, 1.0)
    first = apply(gray, condition, "NORMAL/IM-1.jpeg", seed=7)
    apply(gray, Condition("noise", 1.0), "other.jpeg", seed=7)  # other calls in between change nothing
    assert np.array_equal(apply(gray, condition, "NORMAL/IM-1.jpeg", seed=7), first)


def test_random_shifts_differ_between_seeds_and_images() -> None:
    gray = chest_like(4)
    noise = Condition("noise", 1.0)
    assert not np.array_equal(apply(gray, noise, "a", seed=0), apply(gray, noise, "a", seed=1))
    assert not np.array_equal(apply(gray, noise, "a", seed=0), apply(gray, noise, "b", seed=0))


def test_the_suite_covers_the_acquisition_changes_at_two_strengths() -> None:
    conditions = stress_conditions()
    assert conditions[0] == Condition("clean", 0.0) and conditions[0].name == "clean"
    assert len(conditions) == 1 + 2 * len(SUITE)
    assert len({c.name for c in conditions}) == len(conditions)
    for required in ("contrast", "brightness", "gamma_up", "gamma_down", "blur", "sharpen", "noise", "jpeg",
                     "resample", "rotate", "crop_zoom", "window", "combined"):
        assert required in SUITE


def test_gamma_and_jpeg_hit_the_documented_values() -> None:
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    expected = np.clip(np.rint(255 * (np.arange(256) / 255) ** 1.6), 0, 255).reshape(16, 16)
    assert np.array_equal(shifts.gamma_up(gray, 1.0, np.random.default_rng(0)), expected)
    smooth = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    assert np.array_equal(shifts.resample(smooth, 0.0, np.random.default_rng(0)), smooth)
    assert shifts.resample(smooth, 1.0, np.random.default_rng(0)).shape == smooth.shape


@pytest.mark.parametrize("kind", ["basic", "xray"])
def test_augmentation_changes_images_and_follows_its_generator(kind: str) -> None:
    gray = chest_like(5)
    transform = augment.augmenter(kind)
    a = transform(gray, np.random.default_rng(1))
    assert a.shape == gray.shape and a.dtype == np.uint8 and not np.array_equal(a, gray)
    assert np.array_equal(transform(gray, np.random.default_rng(1)), a)
    assert not np.array_equal(transform(gray, np.random.default_rng(2)), a)


def test_augmentation_none_and_unknown() -> None:
    assert augment.augmenter("none") is None
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment.augmenter("flip")
