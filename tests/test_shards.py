"""Sharded scans and `merge`: parts that merge into exactly a single scan's CSV, stable shard assignment,
and every mixture (two models, two folders, a missing or repeated part, a bad --shard) refused with one
plain line and nothing written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.cli import main
from app.core.errors import PneumoScanError
from app.core.scan.shards import Shard, shard_of


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _scan_parts(folder: Path, model: Path, out: Path, capsys: pytest.CaptureFixture[str], count: int = 3) -> list[Path]:
    parts = []
    for index in range(count):
        part = out / f"part-{index}.csv"
        code, _, err = _cli(capsys, "scan", folder, "--out", part, "--shard", f"{index}/{count}", "--model", model)
        assert code in (0, 1), err  # 1 for the part that holds the broken file's error row
        parts.append(part)
    return parts


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(("text", "expected"), [("0/3", Shard(0, 3)), ("2/3", Shard(2, 3)), (" 0 / 1 ", Shard(0, 1))])
def test_shard_spec_parses(text: str, expected: Shard) -> None:
    assert Shard.parse(text) == expected


@pytest.mark.parametrize(("text", "reason"), [("3/2", "0 to 1"), ("3/3", "0 to 2"), ("0/0", "at least 1"),
                                              ("-1/3", "I/N"), ("a/b", "I/N"), ("1", "I/N")])
def test_bad_shard_spec_is_refused_with_the_valid_range(text: str, reason: str) -> None:
    with pytest.raises(PneumoScanError, match=reason):
        Shard.parse(text)


def test_assignment_is_a_fixed_hash_of_the_path_and_roughly_even() -> None:
    """Pinned values: a salted `hash()` or a position in the list would move files between runs and nodes."""
    assert [shard_of(name, 4) for name in ("sub/a.png", "a.png", "IM-0001-0001.jpeg")] == [3, 0, 3]
    counts = [0] * 4
    for i in range(400):
        counts[shard_of(f"img{i:03d}.png", 4)] += 1
    assert min(counts) > 70 and max(counts) < 130


def test_files_added_to_the_folder_keep_their_shard(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A part resumed after files were added keeps every row (none now belongs to another shard) and adds its new ones."""
    part = _scan_parts(sample_folder, small_onnx_model, tmp_path, capsys, count=2)[0]
    kept = part.read_text(encoding="utf-8").splitlines()
    for i in range(12, 20):
        (sample_folder / f"{i:02d}_new.jpeg").write_bytes((sample_folder / "00_NORMAL_IM-0117-0001.jpeg").read_bytes())
    code, _, err = _cli(capsys, "scan", sample_folder, "--out", part, "--shard", "0/2", "--resume", "--model", small_onnx_model)
    assert code in (0, 1), err
    now = part.read_text(encoding="utf-8").splitlines()
    added = sum(shard_of(f"{i:02d}_new.jpeg", 2) == 0 for i in range(12, 20))
    assert set(kept) <= set(now) and len(now) == len(kept) + added > len(kept)


def test_shards_merge_into_the_local_scan(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    local = tmp_path / "local.csv"
    assert _cli(capsys, "scan", sample_folder, "--out", local, "--model", small_onnx_model)[0] == 1
    parts = _scan_parts(sample_folder, small_onnx_model, tmp_path, capsys)
    with open(parts[0], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["shard"] for row in rows} == {"0/3"} and {row["recursive"] for row in rows} == {"false"}
    assert {row["folder"] for row in rows} == {str(sample_folder.resolve())}
    merged = tmp_path / "all.csv"
    code, out, err = _cli(capsys, "merge", *parts, "--out", merged)
    assert code == 1 and "13 rows from 3 parts" in out and "1 errors" in out, err  # 1: the broken file's row
    assert merged.read_bytes() == local.read_bytes()
    # A part resumes like a scan: everything is there, nothing is redone, the part is unchanged.
    before = parts[1].read_bytes()
    code, _, err = _cli(capsys, "scan", sample_folder, "--out", parts[1], "--shard", "1/3", "--resume",
                        "--model", small_onnx_model)
    assert code in (0, 1) and parts[1].read_bytes().count(b"\n") == before.count(b"\n")


def test_merge_lists_missing_and_duplicated_files_and_writes_nothing(small_onnx_model: Path, sample_folder: Path,
                                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = _scan_parts(sample_folder, small_onnx_model, tmp_path, capsys)
    merged = tmp_path / "all.csv"
    code, _, err = _cli(capsys, "merge", parts[0], parts[2], "--out", merged)
    with open(parts[1], newline="", encoding="utf-8") as handle:
        absent = sorted(row["path"] for row in csv.DictReader(handle))
    assert code == 1 and not merged.exists()
    assert "no part of shard 1/3" in err
    assert [line.split("missing: ")[1] for line in err.splitlines() if "missing: " in line] == absent
    code, _, err = _cli(capsys, "merge", parts[0], parts[2], *_copy(parts[1], 2), "--out", merged)
    assert code == 1 and not merged.exists()
    assert [line.split("duplicated: ")[1] for line in err.splitlines() if "duplicated: " in line] == absent


def _copy(part: Path, times: int) -> list[Path]:
    copies = [part.with_name(f"copy{i}-{part.name}") for i in range(times)]
    for copy in copies:
        copy.write_bytes(part.read_bytes())
    return copies


def test_merge_refuses_parts_of_two_models(small_onnx_model: Path, test_model_path: Path, sample_folder: Path,
                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = _scan_parts(sample_folder, small_onnx_model, tmp_path, capsys)
    other = tmp_path / "other-1.csv"
    assert _cli(capsys, "scan", sample_folder, "--out", other, "--shard", "1/3", "--model", test_model_path)[0] in (0, 1)
    merged = tmp_path / "all.csv"
    code, _, err = _cli(capsys, "merge", parts[0], other, parts[2], "--out", merged)
    assert code == 2 and "different models" in _one_line(err) and not merged.exists()


def test_merge_refuses_parts_of_two_folders_or_shard_counts(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    parts = _scan_parts(sample_folder, small_onnx_model, tmp_path, capsys)
    copy = tmp_path / "copy"
    sample_folder.rename(copy)  # the same images in another folder
    elsewhere = tmp_path / "elsewhere-1.csv"
    assert _cli(capsys, "scan", copy, "--out", elsewhere, "--shard", "1/3", "--model", small_onnx_model)[0] in (0, 1)
    merged = tmp_path / "all.csv"
    code, _, err = _cli(capsys, "merge", parts[0], elsewhere, parts[2], "--out", merged)
    assert code == 2 and "different folders" in _one_line(err) and not merged.exists()
    halves = tmp_path / "half-0.csv"
    assert _cli(capsys, "scan", copy, "--out", halves, "--shard", "0/2", "--model", small_onnx_model)[0] in (0, 1)
    code, _, err = _cli(capsys, "merge", halves, elsewhere, "--out", merged)
    assert code == 2 and "different numbers of shards" in _one_line(err) and not merged.exists()


def test_bad_shard_and_merge_inputs_exit_2_with_one_line_and_write_nothing(
        small_onnx_model: Path, sample_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "part.csv"
    for spec in ("3/2", "0/0", "x"):
        code, _, err = _cli(capsys, "scan", sample_folder, "--out", out, "--shard", spec, "--model", small_onnx_model)
        assert code == 2 and "--shard" in _one_line(err) and not out.exists()
    whole = tmp_path / "whole.csv"
    assert _cli(capsys, "scan", sample_folder, "--out", whole, "--model", small_onnx_model)[0] == 1
    code, _, err = _cli(capsys, "merge", whole, "--out", tmp_path / "all.csv")
    assert code == 2 and "not a part" in _one_line(err) and not (tmp_path / "all.csv").exists()
    # A whole scan is not resumed as a part, nor a part as another shard, nor a part without --shard.
    before = whole.read_bytes()
    code, _, err = _cli(capsys, "scan", sample_folder, "--out", whole, "--shard", "0/3", "--resume", "--model", small_onnx_model)
    assert code == 2 and "not a part" in _one_line(err) and whole.read_bytes() == before
    part = _scan_parts(sample_folder, small_onnx_model, tmp_path, capsys)[0]
    before = part.read_bytes()
    for extra in (["--shard", "1/3"], []):
        code, _, err = _cli(capsys, "scan", sample_folder, "--out", part, "--resume", *extra, "--model", small_onnx_model)
        assert code == 2 and "shard" in _one_line(err) and part.read_bytes() == before
    code, _, err = _cli(capsys, "merge", part, "--out", part)
    assert code == 2 and "is an input" in _one_line(err) and part.read_bytes() == before
