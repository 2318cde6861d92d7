"""`scan --workers N`: decoding in N processes writes exactly the CSV of the default (two decode threads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.core.scan import local_scorer


def test_decode_processes_write_the_same_csv_as_threads(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[str] = []
    make_pool = local_scorer._decode_pool
    monkeypatch.setattr(local_scorer, "_decode_pool", lambda *args: pools.append(type(pool := make_pool(*args)).__name__) or pool)
    threads, processes = tmp_path / "threads.csv", tmp_path / "processes.csv"
    assert main(["scan", str(sample_folder), "--out", str(threads), "--model", str(small_onnx_model)]) == 1
    assert main(["scan", str(sample_folder), "--out", str(processes), "--workers", "2", "--batch-size", "5",
                 "--model", str(small_onnx_model)]) == 1
    assert processes.read_bytes() == threads.read_bytes()
    assert pools == ["ThreadPoolExecutor", "ProcessPoolExecutor"]
    capsys.readouterr()
    for bad in ("-1", "x", "257"):
        with pytest.raises(SystemExit) as refused:
            main(["scan", str(sample_folder), "--out", str(tmp_path / "bad.csv"), "--workers", bad])
        assert refused.value.code == 2 and "--workers" in capsys.readouterr().err
    assert not (tmp_path / "bad.csv").exists()
