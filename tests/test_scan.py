"""Folder scan: deterministic order, one CSV row per file, recursion, resume, cancel, and the originals."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.errors import PneumoScanError
from app.core.scan.folder import scan_folder
from app.core.scan.results_csv import read_done
from app.core.io.listing import list_images
from app.core.scan.row import CSV_COLUMNS, ROW_COLUMNS, ScanRow
from tests.test_image_io import encode, xray_like

REQUIRED_COLUMNS = ("path", "status", "probability", "prediction", "threshold", "model_version", "error")
NON_UTF8_NAME = b"caf\xe9.png"  # Latin-1 bytes: a valid Linux file name, not valid UTF-8


def _png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(Image.fromarray(xray_like(256, 256, seed)), "PNG"))


def _read(csv_path: Path) -> list[dict[str, str]]:
    with open(csv_path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """Seven good images (written in scrambled order), one broken file, one non-image, one sub-folder image."""
    root = tmp_path / "images"
    for seed, name in enumerate(["m.png", "b.png", "Z.png", "a.png", "k.png", "c.png", "x.png"]):
        _png(root / name, seed)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (root / "readme.txt").write_text("not an image")
    _png(root / "sub" / "deeper" / "d.png", 99)
    return root


def _row_cells(cells: dict[str, str]) -> dict[str, str]:
    """A CSV row's own cells (`ScanRow.to_csv`), without the scan's folder and recursion."""
    return {key: cells[key] for key in ROW_COLUMNS}


def _scan(screener, folder: Path, out: Path, **kwargs) -> list:  # noqa: ANN001
    return list(scan_folder(screener, folder, out, **kwargs))


def test_order_is_sorted_and_results_are_deterministic(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    _scan(test_screener, folder, first, batch_size=3)
    _scan(test_screener, folder, second, batch_size=5, workers=1)  # other batching, same rows
    rows = _read(first)
    paths = [row["path"] for row in rows]
    assert paths == sorted(paths) == ["Z.png", "a.png", "b.png", "broken.jpg", "c.png", "k.png", "m.png", "x.png"]
    assert first.read_bytes() == second.read_bytes()
    assert [p.name for p in list_images(folder)] == paths


def test_columns_and_row_contents(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    updates = _scan(test_screener, folder, out)
    with open(out, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert set(REQUIRED_COLUMNS) <= set(header) and tuple(header) == CSV_COLUMNS
    rows = {row["path"]: row for row in _read(out)}
    assert rows["broken.jpg"]["status"] == "error" and "header is damaged" in rows["broken.jpg"]["error"]
    assert rows["broken.jpg"]["probability"] == ""
    for name in ("a.png", "m.png"):
        row = rows[name]
        assert row["status"] == "ok" and row["error"] == "" and row["warning"] == ""
        assert 0 <= float(row["probability"]) <= 1
        assert row["prediction"] == ("PNEUMONIA" if float(row["probability"]) >= 0.5 else "NORMAL")
        assert float(row["threshold"]) == 0.5 and row["model_version"] == "0.0.0-test"
    last = updates[-1]
    assert last.done == last.total == 8 and last.skipped == 0
    assert sum(len(u.rows) for u in updates) == 8


@pytest.mark.parametrize(("threshold", "label"), [(0.5 + 4e-7, "PNEUMONIA"), (0.5 + 6e-7, "NORMAL")])
def test_written_probability_and_threshold_agree_with_the_label(
    test_model_path: Path, folder: Path, tmp_path: Path, threshold: float, label: str
) -> None:
    """The random model answers 0.5 within 1e-11: a threshold a hair above it is equal once rounded for the CSV."""
    from app.core.model.card import read_card
    from app.core.screening import Screener

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(test_model_path, model_dir / test_model_path.name)
    dataclasses.replace(read_card(test_model_path), threshold=threshold).save(model_dir)
    out = tmp_path / "out.csv"
    _scan(Screener(model_dir / test_model_path.name), folder, out)
    good = [row for row in _read(out) if row["status"] != "error"]
    assert len(good) == 7
    for row in good:
        assert row["prediction"] == label
        assert (float(row["probability"]) >= float(row["threshold"])) == (label == "PNEUMONIA")


def test_rows_match_single_predictions(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out, batch_size=4)
    for row in _read(out):
        if row["status"] != "error":
            single = test_screener.predict_file(folder / row["path"])
            assert float(row["probability"]) == pytest.approx(single.probability, abs=2e-6)


def test_recursive_flag(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    flat, deep = tmp_path / "flat.csv", tmp_path / "deep.csv"
    _scan(test_screener, folder, flat)
    _scan(test_screener, folder, deep, recursive=True)
    flat_paths = [row["path"] for row in _read(flat)]
    deep_paths = [row["path"] for row in _read(deep)]
    assert "sub/deeper/d.png" not in flat_paths and "sub" not in flat_paths
    assert deep_paths == sorted(flat_paths + ["sub/deeper/d.png"])  # relative, forward slashes, sorted


def test_resume_skips_finished_files_and_drops_a_half_written_line(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    try:
        (folder / os.fsdecode(NON_UTF8_NAME)).write_bytes(encode(Image.fromarray(xray_like(256, 256, 50)), "PNG"))
    except (OSError, UnicodeError):
        pass  # a file system that insists on UTF-8 names
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out, batch_size=2)
    complete = out.read_bytes()
    lines = complete.splitlines(keepends=True)
    total = len(lines) - 1
    kept = b"".join(lines[:5])  # header and 4 rows ...
    out.write_bytes(kept + lines[5][:12])  # ... and a row cut off mid-write (a crash)
    finished = b"".join(line for line in lines[:5] if b",error,," not in line)  # broken.jpg's row is retried
    assert len(finished.splitlines()) == 4
    updates = _scan(test_screener, folder, out, resume=True, batch_size=2)
    assert updates[-1].skipped == 3 and updates[-1].total == total - 3 and updates[-1].done == total - 3
    rows = _read(out)
    assert len(rows) == total and len({row["path"] for row in rows}) == total
    assert out.read_bytes().startswith(finished)  # the finished rows are kept as they were
    assert sorted(out.read_bytes().splitlines()) == sorted(complete.splitlines())  # nothing lost, nothing twice
    after_retry = out.read_bytes()
    again = _scan(test_screener, folder, out, resume=True)  # the error row is tried once more, nothing else
    assert again[-1].skipped == total - 1 and again[-1].total == 1 and again[-1].rows[0].path == "broken.jpg"
    assert sorted(out.read_bytes().splitlines()) == sorted(after_retry.splitlines())


def test_resume_keeps_rows_as_written(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    finished = [_row_cells(row) for row in _read(out) if row["status"] != "error"]
    before = out.read_bytes()
    assert [row.to_csv() for row in read_done(out, "0.0.0-test")] == finished  # broken.jpg's error row: retried
    assert out.read_bytes() == before  # reading for a resume never writes


def test_resume_refuses_results_of_another_model(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    before = out.read_bytes()
    with pytest.raises(PneumoScanError, match=r"model 0\.0\.0-test, not of this model \(9\.9\)"):
        read_done(out, "9.9")
    assert out.read_bytes() == before  # untouched, error rows included


def test_resume_refuses_a_damaged_row(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    text = out.read_text(encoding="utf-8").replace(",0.500000,", ",half,", 1)
    out.write_text(text, encoding="utf-8")
    with pytest.raises(PneumoScanError, match="damaged row"):
        _scan(test_screener, folder, out, resume=True)
    assert out.read_text(encoding="utf-8") == text


def test_resume_after_a_half_written_header(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    out.write_bytes(b"path,sta")
    updates = _scan(test_screener, folder, out, resume=True)
    assert updates[-1].skipped == 0 and len(_read(out)) == 8
    assert tuple(_read(out)[0].keys()) == CSV_COLUMNS


def test_resume_refuses_a_csv_that_is_not_a_results_file(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "other.csv"
    out.write_text("name,size\nfoo,1\n", encoding="utf-8")
    with pytest.raises(PneumoScanError, match="not a PneumoScan results file"):
        _scan(test_screener, folder, out, resume=True)
    assert out.read_text(encoding="utf-8") == "name,size\nfoo,1\n"  # untouched


def test_cancel_leaves_a_valid_csv_of_the_finished_rows(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    scan = scan_folder(test_screener, folder, out, batch_size=3)
    first = next(scan)
    on_disk = _read(out)  # flushed after each batch: a crash here would keep these rows
    assert [row["path"] for row in on_disk] == [row.path for row in first.rows]
    second = next(scan)
    scan.close()  # the Cancel button / Ctrl-C
    finished = first.rows + second.rows
    assert len(finished) == 6
    assert [_row_cells(row) for row in _read(out)] == [row.to_csv() for row in finished]
    assert out.read_bytes().endswith(b"\n")
    resumed = _scan(test_screener, folder, out, resume=True)
    assert resumed[-1].skipped == 5 and resumed[-1].done == 3  # broken.jpg's error row is tried again
    assert sorted(row["path"] for row in _read(out)) == sorted(p.relative_to(folder).as_posix() for p in list_images(folder))


def test_progress_updates(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    ticks = itertools.count()
    updates = _scan(test_screener, folder, tmp_path / "out.csv", batch_size=3, clock=lambda: float(next(ticks)))
    assert [u.done for u in updates] == [3, 6, 8]
    assert all(u.total == 8 for u in updates)
    assert [u.elapsed_s for u in updates] == [1.0, 2.0, 3.0]  # the injected clock, read once per batch
    assert updates[-1].images_per_second == pytest.approx(8 / 3)


def test_empty_folder_and_missing_folder(test_screener, tmp_path: Path) -> None:  # noqa: ANN001
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "empty.csv"
    updates = _scan(test_screener, empty, out)
    assert len(updates) == 1 and updates[0].done == updates[0].total == 0
    assert out.read_text(encoding="utf-8").strip() == ",".join(CSV_COLUMNS)
    with pytest.raises(PneumoScanError, match="Not a folder"):
        _scan(test_screener, tmp_path / "nope", tmp_path / "nope.csv")


def test_forced_clahe_is_reported(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out, clahe=True)
    good = [row for row in _read(out) if row["status"] != "error"]
    assert good and all(row["status"] == "warning" and "CLAHE forced on" in row["warning"] for row in good)


def test_scan_row_formatting() -> None:
    row = ScanRow(path="a.png", status="ok", probability=0.1234567891, prediction="NORMAL", threshold=0.5,
                  model_version="1", in_domain=True, domain_score=3.14159)
    assert row.to_csv()["probability"] == "0.123457" and row.to_csv()["in_domain"] == "true"
    assert row.to_csv()["domain_score"] == "3.142"
    assert ScanRow(path="b.png", status="error", error="x").to_csv()["probability"] == ""


def test_all_originals_scan_ok(test_screener, originals_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "originals.csv"
    updates = _scan(test_screener, originals_dir, out, recursive=True, batch_size=16)
    rows = _read(out)
    assert len(rows) == 100 and updates[-1].done == 100
    assert {row["path"].split("/")[0] for row in rows} == {"NORMAL", "PNEUMONIA"}
    flagged = {row["path"]: row["warning"] or row["error"] for row in rows if row["status"] != "ok"}
    assert not flagged, f"originals with warnings or errors: {flagged}"
    assert all(0 <= float(row["probability"]) <= 1 for row in rows)


def test_a_dicom_header_outside_the_training_data_makes_a_warning_row(test_screener, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.test_image_io import make_dicom

    folder = tmp_path / "dicom"
    folder.mkdir()
    pixels = xray_like(256, 256, 3).astype(np.uint16) * 16
    (folder / "child.dcm").write_bytes(make_dicom(pixels, Modality="DX", ViewPosition="AP", PatientAge="004Y"))
    (folder / "adult.dcm").write_bytes(make_dicom(pixels, Modality="DX", ViewPosition="AP", PatientAge="045Y"))
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    rows = {row["path"]: row for row in _read(out)}
    assert rows["child.dcm"]["status"] == "ok" and rows["child.dcm"]["warning"] == ""
    assert rows["adult.dcm"]["status"] == "warning" and rows["adult.dcm"]["probability"] != ""
    assert "Patient age 45 years: the model was trained on children aged 1 to 5 years." in rows["adult.dcm"]["warning"]


# ---- hardening: resume validation, formula escaping, folders that cannot be scanned


def _refused_unchanged(screener, folder: Path, out: Path, text: bytes, match: str) -> None:  # noqa: ANN001
    out.write_bytes(text)
    with pytest.raises(PneumoScanError, match=match):
        _scan(screener, folder, out, resume=True)
    assert out.read_bytes() == text  # refused: byte for byte as it was
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize(("edit", "match"), [
    (lambda line: line.replace(b",0.500000,", b",,", 1), "no probability"),  # forged "ok" without a number
    (lambda line: line.rsplit(b",", 3)[0] + b"\n", "cells instead of 19"),  # a partial row
    (lambda line: line.replace(b"PNEUMONIA", b"NORMAL"), "does not follow from its probability"),
    (lambda line: line.replace(b",ok,", b",done,"), "status 'done'"),
])
def test_resume_refuses_forged_or_partial_rows_and_leaves_the_csv_unchanged(
    test_screener, folder: Path, tmp_path: Path, edit, match: str  # noqa: ANN001
) -> None:
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    lines = out.read_bytes().splitlines(keepends=True)
    lines[2] = edit(lines[2])
    _refused_unchanged(test_screener, folder, out, b"".join(lines), match)


def test_resume_refuses_a_duplicate_row_and_another_model_file(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    lines = out.read_bytes().splitlines(keepends=True)
    _refused_unchanged(test_screener, folder, out, b"".join(lines + [lines[1]]), "a second row for the same file")
    sha = test_screener.card.sha256[:12].encode()
    _refused_unchanged(test_screener, folder, out, b"".join(lines).replace(sha, b"0" * 12), "sha256 differs")


def test_a_scan_stopped_before_its_first_batch_leaves_the_old_csv(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "out.csv"
    out.write_bytes(b"path,status,old results\n")
    scan = scan_folder(test_screener, folder, out, batch_size=3)
    scan.close()  # never started
    next(iter(scan_folder(test_screener, folder, tmp_path / "other.csv")))  # an unrelated scan
    assert out.read_bytes() == b"path,status,old results\n"
    scan = scan_folder(test_screener, folder, out, batch_size=3)
    next(scan)  # the first batch replaces it
    scan.close()
    assert out.read_bytes().startswith(b"path,status,probability,") and len(_read(out)) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


FORMULA_NAMES = ["=HYPERLINK(1).png", "+1.png", "-2.png", "@SUM(A1).png", "'quoted.png", "\tTab.png"]


def test_formula_like_cells_are_escaped_and_read_back(test_screener, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "names"
    for seed, name in enumerate(FORMULA_NAMES):
        _png(folder / name, seed)
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    cells = [row["path"] for row in _read(out)]
    assert sorted(cells) == sorted("'" + name for name in FORMULA_NAMES)  # OWASP: a leading ' , never a formula
    assert sorted(row.path for row in read_done(out, "0.0.0-test")) == sorted(FORMULA_NAMES)
    again = _scan(test_screener, folder, out, resume=True)
    assert again[-1].skipped == len(FORMULA_NAMES) and again[-1].total == 0  # recognised as done


def test_formula_escaping_round_trips_through_pandas(test_screener, tmp_path: Path) -> None:  # noqa: ANN001
    import pandas  # in the dev extra: this test runs wherever the suite does
    folder = tmp_path / "names"
    _png(folder / "=cmd.png", 1)
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out)
    frame = pandas.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame["path"]) == ["'=cmd.png"] and list(frame.columns) == list(CSV_COLUMNS)


def test_excel_csv_starts_with_a_bom_and_resumes(test_screener, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "Röntgen"
    _png(folder / "é.png", 1)
    _png(folder / "z.png", 2)
    out = tmp_path / "out.csv"
    _scan(test_screener, folder, out, excel=True)
    assert out.read_bytes().startswith("\ufeffpath,".encode())
    with open(out, newline="", encoding="utf-8-sig") as handle:
        assert [row["path"] for row in csv.DictReader(handle)] == ["z.png", "é.png"]
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:2]))
    assert _scan(test_screener, folder, out, resume=True)[-1].skipped == 1
    assert out.read_bytes().startswith("\ufeffpath,".encode()) and out.read_bytes().count(b"\xef\xbb\xbf") == 1


def test_unreadable_sub_folder_gets_an_error_row(test_screener, folder: Path, tmp_path: Path,  # noqa: ANN001
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    locked = folder / "locked"
    _png(locked / "hidden.png", 3)
    real = os.scandir

    def scandir(path):  # noqa: ANN001, ANN202 - as a folder without read permission answers (also as root)
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr("app.core.io.listing.os.scandir", scandir)
    _scan(test_screener, folder, tmp_path / "out.csv", recursive=True)
    rows = {row["path"]: row for row in _read(tmp_path / "out.csv")}
    assert rows["locked"]["status"] == "error" and rows["locked"]["error"] == (
        "Cannot read this sub-folder (Permission denied); its images were not scanned.")
    assert "locked/hidden.png" not in rows


def test_symlinked_sub_folder_gets_an_error_row_and_is_not_followed(test_screener, folder: Path, tmp_path: Path) -> None:  # noqa: ANN001
    outside = tmp_path / "elsewhere"
    _png(outside / "other.png", 4)
    try:
        (folder / "link").symlink_to(outside, target_is_directory=True)
    except OSError:
        pytest.skip("no symbolic links here")
    _scan(test_screener, folder, tmp_path / "out.csv", recursive=True)
    rows = {row["path"]: row for row in _read(tmp_path / "out.csv")}
    assert rows["link"]["status"] == "error" and rows["link"]["error"] == (
        "A symbolic link to a folder: not followed. Scan the folder it points to instead.")
    assert "link/other.png" not in rows


@pytest.mark.parametrize("name", ["x.png", "notes.txt"])
def test_the_engine_never_writes_a_non_csv_among_the_images(test_screener, folder: Path, name: str) -> None:  # noqa: ANN001
    target = folder / name
    target.write_bytes(b"keep me")
    with pytest.raises(PneumoScanError, match="inside the scanned folder and not a .csv"):
        _scan(test_screener, folder, target)
    assert target.read_bytes() == b"keep me"


def test_scan_request_defaults_and_default_csv(folder: Path) -> None:
    from app.core.scan.folder import DEFAULT_BATCH_SIZE, ScanRequest, default_scan_csv

    request = ScanRequest(folder)
    assert request.batch_size == DEFAULT_BATCH_SIZE == 16 and request.csv_path == default_scan_csv(folder)
    assert default_scan_csv(folder) == folder.resolve().parent / "images_pneumoscan.csv"
    assert [p.name for p in request.check().images] == ["Z.png", "a.png", "b.png", "broken.jpg", "c.png", "k.png", "m.png", "x.png"]
