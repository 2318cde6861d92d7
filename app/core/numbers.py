"""How probabilities and thresholds are written for a reader (the GUI, the CLI's lines, the self-test): one
format everywhere, never false certainty.

Three decimals; at the ends "< 0.001" and "> 0.999", because "0.000" or "1.000" would claim a certainty
no model has.
"""

from __future__ import annotations

EDGE = 0.0005  # below this a probability rounds to 0.000 at three decimals


def probability_text(p: float) -> str:
    """0.8312 -> "0.831"; 0.00002 -> "< 0.001"; 0.99991 -> "> 0.999"."""
    if p < EDGE:
        return "< 0.001"
    if p >= 1.0 - EDGE:
        return "> 0.999"
    return f"{p:.3f}"


def probability_with_percent(p: float) -> str:
    """"0.831 (83.1 %)", or the bare bound at the ends (a percentage would only repeat it)."""
    text = probability_text(p)
    return text if text.startswith(("<", ">")) else f"{text} ({p * 100:.1f} %)"


def threshold_text(t: float) -> str:
    return f"{t:.3f}"
