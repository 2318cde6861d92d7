"""The shared Grad-CAM colouring: a fixed scale, a transparent low end, one blend for GUI, export and CLI."""

from __future__ import annotations

import types

import numpy as np

from app.core.explain.gradcam import colormap_lut
from app.core.explain.colour import FLOOR, FULL_ALPHA_AT, blend, heat_rgba, overlay, scale_description


def explained(evidence: np.ndarray, reference: float | None, explained_class: str = "PNEUMONIA") -> types.SimpleNamespace:
    return types.SimpleNamespace(heatmap=None, evidence=np.asarray(evidence, np.float32), reference=reference,
                                 explained_class=explained_class)


def test_colours_mean_the_same_evidence_on_every_image() -> None:
    reference = 2.0
    strong = heat_rgba(explained(np.full((7, 7), 2.0), reference), (14, 14))
    faint = heat_rgba(explained(np.full((7, 7), 0.4), reference), (14, 14))
    assert tuple(strong[0, 0, :3]) == tuple(colormap_lut()[255]) and strong[0, 0, 3] == 255  # the reference: top colour
    index = round(0.2 * 255)  # a fifth of the reference: a low colour, mostly transparent
    assert tuple(faint[0, 0, :3]) == tuple(colormap_lut()[index])
    assert faint[0, 0, 3] == round((index / 255 - FLOOR) / (FULL_ALPHA_AT - FLOOR) * 255) < 80
    above = heat_rgba(explained(np.full((7, 7), 9.0), reference), (7, 7))
    assert np.array_equal(above, heat_rgba(explained(np.full((7, 7), 2.0), reference), (7, 7)))  # saturates


def test_no_evidence_leaves_the_image_untouched() -> None:
    gray = np.full((20, 30), 119, np.uint8)
    rgb = overlay(gray, explained(np.zeros((7, 7)), 2.0), opacity=1.0)
    assert np.array_equal(rgb, np.repeat(gray[..., None], 3, axis=2))  # not darkened (was RGB 79, 67, 83)


def test_nothing_below_the_floor_is_tinted() -> None:
    gray = np.full((20, 30), 119, np.uint8)
    below = overlay(gray, explained(np.full((7, 7), 2.0 * FLOOR * 0.95), 2.0), opacity=1.0)
    assert np.array_equal(below, np.repeat(gray[..., None], 3, axis=2))  # no teal wash over a clear chest
    above = overlay(gray, explained(np.full((7, 7), 2.0 * FLOOR * 2), 2.0), opacity=1.0)
    assert not np.array_equal(above, np.repeat(gray[..., None], 3, axis=2))


def test_normal_evidence_has_its_own_colour_scale() -> None:
    strong = np.full((7, 7), 2.0)
    pneumonia = heat_rgba(explained(strong, 2.0, "PNEUMONIA"), (7, 7))[0, 0]
    normal = heat_rgba(explained(strong, 2.0, "NORMAL"), (7, 7))[0, 0]
    assert pneumonia[0] > 100 and normal[1] == 255 and normal[0] < normal[1]  # red against green at the top
    assert "green" in scale_description(2.0, "NORMAL").lower() and "Red" in scale_description(2.0)


def test_without_a_reference_the_image_maximum_is_the_scale() -> None:
    evidence = np.zeros((7, 7))
    evidence[3, 3] = 0.05  # tiny evidence still reaches the top colour: the legend must say so
    rgba = heat_rgba(explained(evidence, None), (7, 7))
    assert rgba[3, 3, 3] == 255 and tuple(rgba[3, 3, :3]) == tuple(colormap_lut()[255])
    assert "No reference" in scale_description(None) and "reference" in scale_description(2.0)


def test_blend_is_alpha_times_opacity() -> None:
    gray = np.full((1, 1), 100, np.uint8)
    rgba = np.array([[[200, 0, 100, 128]]], np.uint8)
    assert blend(gray, rgba, 0.5).tolist() == [[[125, 75, 100]]]
