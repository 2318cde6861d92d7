"""The watch folder (`app.core.scan.watch`, `pneumoscan-cli watch`): files copied in while it runs are scored
once complete, a file still being written is not, a restart scores nothing twice, SIGTERM stops it cleanly."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.core.errors import PneumoScanError
from app.core.screening import Screener
from app.core.scan.watch import WatchRequest, watch_folder

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "assets" / "samples").glob("*.jpeg"))
SETTLE = 0.6


def rows_of(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def wait_for(condition, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Watcher:
    """`watch_folder` on a thread, stopped through its event as the CLI's signal handler stops it."""

    def __init__(self, screener: Screener, folder: Path, out: Path) -> None:
        self.stop, self.passes = threading.Event(), []
        updates = watch_folder(screener, WatchRequest(folder, out), self.stop, interval_s=0.05, settle_s=SETTLE)
        self.thread = threading.Thread(target=lambda: self.passes.extend(updates), daemon=True)
        self.thread.start()

    def close(self) -> list[str]:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        return [row.path for rows in self.passes for row in rows]


@pytest.fixture(scope="module")
def screener(small_onnx_model: Path) -> Screener:
    return Screener(small_onnx_model)


def test_files_copied_in_are_scored_once_complete_and_a_partial_one_waits(screener: Screener, tmp_path: Path) -> None:
    folder, out = tmp_path / "export", tmp_path / "results.csv"
    folder.mkdir()
    shutil.copy(SAMPLES[0], folder / "before.jpeg")  # already there when the watch starts
    watcher = Watcher(screener, folder, out)
    try:
        wait_for(lambda: [r["path"] for r in rows_of(out)] == ["before.jpeg"])
        shutil.copy(SAMPLES[1], folder / "copied.jpeg")
        data = SAMPLES[2].read_bytes()
        (folder / "empty.jpeg").write_bytes(b"")  # a copy not begun
        with open(folder / "slow.jpeg", "wb") as slow:  # written in pieces, for longer than the settle time
            for start in range(0, len(data), len(data) // 8 + 1):
                slow.write(data[start : start + len(data) // 8 + 1])
                slow.flush()
                time.sleep(SETTLE / 3)
                assert "slow.jpeg" not in {r["path"] for r in rows_of(out)}, "scored while still being written"
        wait_for(lambda: {r["path"] for r in rows_of(out)} == {"before.jpeg", "copied.jpeg", "slow.jpeg"})
        time.sleep(2 * SETTLE)
    finally:
        scored = watcher.close()
    rows = {r["path"]: r for r in rows_of(out)}
    assert sorted(scored) == ["before.jpeg", "copied.jpeg", "slow.jpeg"]  # each once; the empty file still waits
    assert rows["slow.jpeg"]["status"] == "ok" and rows["slow.jpeg"]["probability"]  # the whole file, not a cut one
    assert rows["copied.jpeg"]["model_sha256"] == screener.card.sha256[:12]


def test_a_restart_scores_nothing_twice(screener: Screener, tmp_path: Path) -> None:
    folder, out = tmp_path / "export", tmp_path / "results.csv"
    folder.mkdir()
    for i, sample in enumerate(SAMPLES[:2]):
        shutil.copy(sample, folder / f"{i}.jpeg")
    (folder / "broken.jpeg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    first = Watcher(screener, folder, out)
    wait_for(lambda: len(rows_of(out)) == 3)
    assert sorted(first.close()) == ["0.jpeg", "1.jpeg", "broken.jpeg"]
    before = {r["path"]: r for r in rows_of(out) if r["status"] != "error"}

    shutil.copy(SAMPLES[2], folder / "new.jpeg")  # arrives while nothing watches
    second = Watcher(screener, folder, out)
    wait_for(lambda: "new.jpeg" in {r["path"] for r in rows_of(out)})
    time.sleep(2 * SETTLE)
    assert sorted(second.close()) == ["broken.jpeg", "new.jpeg"]  # the error row is tried again, as scan --resume does
    after = {r["path"]: r for r in rows_of(out)}
    assert len(rows_of(out)) == 4 and all(after[path] == row for path, row in before.items())


def test_a_foreign_csv_is_refused_before_any_work(screener: Screener, tmp_path: Path) -> None:
    folder, out = tmp_path / "export", tmp_path / "notes.csv"
    folder.mkdir()
    out.write_text("name,comment\nx,y\n")
    with pytest.raises(PneumoScanError, match="not a PneumoScan results file"):
        next(watch_folder(screener, WatchRequest(folder, out), threading.Event()))
    assert out.read_text() == "name,comment\nx,y\n"


def test_the_command_scores_arrivals_and_stops_on_sigterm_with_one_line(small_onnx_model: Path, tmp_path: Path) -> None:
    folder, out = tmp_path / "export", tmp_path / "results.csv"
    folder.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "watch", str(folder), "--out", str(out),
                                "--model", str(small_onnx_model)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_for(out.exists)
        shutil.copy(SAMPLES[0], folder / "arrived.jpeg")
        wait_for(lambda: len(rows_of(out)) == 1)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stdout.startswith("arrived.jpeg: ") and "probability of pneumonia" in stdout and stdout.count("\n") == 1
    lines = stderr.splitlines()
    assert lines[0].startswith(f"Watching {folder} (0 already in {out})")
    assert lines[1:] == [f"Stopped: 1 images scored this run, 0 errors -> {out}"]
