"""Progress (tqdm, `app.core.progress`) is a live bar on a terminal and nothing in a file or a pipe; the
scan's summary stays on stdout either way."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from app.core import progress

REPO = Path(__file__).resolve().parents[1]


def _terminal() -> tuple[int, int]:
    """A pseudo-terminal 100 columns wide (a new one has no size, and a bar 0 columns wide is empty)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    return master, slave


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_a_bar_with_count_and_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = _terminal()
    terminal = os.fdopen(slave, "w")
    monkeypatch.setattr(sys, "stderr", terminal)
    assert list(progress.tracked(range(3), 3, "images", "evaluate")) == [0, 1, 2]
    progress.note("clean: specificity 0.996")
    terminal.close()
    text = _read_all(master)
    os.close(master)
    assert "evaluate" in text and "3/3" in text and "images/s" in text and "clean: specificity 0.996" in text


def test_a_file_or_pipe_gets_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    bar = progress.progress_bar(291, "images", "evaluate")
    for _ in range(291):
        bar.update(1)
    bar.close()
    assert log.getvalue() == ""  # not "1/291 images2/291 images..." on one endless line


def test_scan_on_a_terminal_shows_the_bar_and_keeps_the_summary_on_stdout(small_onnx_model: Path, sample_folder: Path,
                                                                           tmp_path: Path) -> None:
    master, slave = _terminal()
    out = tmp_path / "results.csv"
    done = subprocess.run([sys.executable, "-m", "app.cli", "scan", str(sample_folder), "--out", str(out),
                           "--model", str(small_onnx_model)], stdout=subprocess.PIPE, stderr=slave, text=True,
                          cwd=REPO, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    os.close(slave)
    bar = _read_all(master)
    os.close(master)
    assert done.returncode == 1  # the broken file
    assert done.stdout.startswith("13 scanned: ") and done.stdout.endswith(f"1 errors -> {out}\n")
    assert "13/13" in bar and "img/s" in bar
