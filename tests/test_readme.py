"""The README stays a reader's document: short, no development history, every link and figure traceable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import SHARED

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_short_enough_to_read_in_ten_minutes() -> None:
    assert len(README.encode("utf-8")) <= 20_000


def test_no_development_history() -> None:
    assert not re.search(r"\bissue \d+|load average|before issue", README, re.IGNORECASE)
    hexes = set(re.findall(r"\b[0-9a-f]{7,40}\b", README))
    assert hexes <= {"e53e9ca7dd7c", "0dcdd6a6c37a"}, hexes  # model sha256 prefixes only, no commit hashes


def test_links_and_commands_resolve() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        assert (REPO / target).exists(), target
    assert "bash scripts/run.sh" in README and "bash scripts/test.sh" in README
    assert re.search(r"sudo apt-get install -y .*libxcb-icccm4 .*libxcb-keysyms1", README)
    assert not re.search(r"^pneumoscan(-cli)? ", README, re.MULTILINE)  # every command with its .venv/bin/ path


def test_every_independent_result_is_cited_with_its_sha256() -> None:
    evaluations = SHARED / "evaluations" / "README.md"
    if not evaluations.is_file():
        pytest.skip("the independent evaluations are not here")
    rows = re.findall(r"^\| [\d-]+ \| ([\d.]+) \| ([0-9a-f]{12}) \| ([\d.]+) \| ([\d.]+) \|", evaluations.read_text(), re.MULTILINE)
    assert rows
    for version, sha, accuracy, auc in rows:
        assert re.search(rf"\| {re.escape(version)}[^|]*\| {sha} \| {accuracy} \| {auc} \|", README), (version, sha)
