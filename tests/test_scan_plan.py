"""`ScanRequest.check` returns the plan the scan consumes: the folder listed once, a resumed CSV read and validated
once (issue 21), and read again only when the CSV changed after the check or the check was for another binding."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PIL import Image

import app.core.scan.folder as folder_module
import app.core.scan.loop as loop_module
from app.core.errors import PneumoScanError
from app.core.scan.folder import ScanRequest
from tests.test_image_io import encode, xray_like


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    for seed in range(5):
        (root / f"{seed}.png").write_bytes(encode(Image.fromarray(xray_like(256, 256, seed)), "PNG"))
    return root


def _counting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(module, name)

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_checked_resume_lists_the_folder_and_reads_the_csv_once(test_screener, images: Path, tmp_path: Path,  # noqa: ANN001
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.csv"
    list(ScanRequest(images, out, batch_size=2).start(test_screener))
    (images / "9.png").write_bytes((images / "0.png").read_bytes())
    listed = _counting(monkeypatch, folder_module, "list_entries")
    read = _counting(monkeypatch, loop_module, "read_resume")
    request = ScanRequest(images, out, resume=True, batch_size=2)
    plan = request.check(test_screener.card, test_screener.site_sha256)
    assert [p.name for p in plan.images] == ["0.png", "1.png", "2.png", "3.png", "4.png", "9.png"]
    assert len(plan.csv.resumed.rows) == 5 and (len(listed), len(read)) == (1, 1)
    updates = list(request.start(test_screener, plan))
    assert (len(listed), len(read)) == (1, 1)  # the scan took both from the plan
    assert updates[-1].skipped == 5 and [row.path for row in updates[-1].rows] == ["9.png"]


def test_a_csv_changed_after_the_check_is_read_again_under_the_lock(test_screener, images: Path,  # noqa: ANN001
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    list(ScanRequest(images, out).start(test_screener))
    request = ScanRequest(images, out, resume=True)
    plan = request.check(test_screener.card)
    out.write_text("not a results file\n")  # another program wrote it while the model loaded
    with pytest.raises(PneumoScanError, match="not a PneumoScan results file"):
        list(request.start(test_screener, plan))


def test_a_check_for_another_site_calibration_does_not_stand_for_the_scan(test_screener, images: Path,  # noqa: ANN001
                                                                           tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.csv"
    list(ScanRequest(images, out).start(test_screener))
    request = ScanRequest(images, out, resume=True)
    with pytest.raises(PneumoScanError, match="site calibration"):
        request.check(test_screener.card, "ab" * 32)
    plan = request.check(test_screener.card)
    other_site = dataclasses.replace(plan.csv.binding, site_sha256="ab" * 6)
    plan = dataclasses.replace(plan, csv=dataclasses.replace(plan.csv, binding=other_site))  # checked for another
    read = _counting(monkeypatch, loop_module, "read_resume")
    assert list(request.start(test_screener, plan))[-1].skipped == 5
    assert len(read) == 1  # validated again, for this scan's binding
