"""`scripts/run.sh` installs only when .venv is missing or pyproject.toml changed; otherwise it starts
without pip (so offline too). Run on a copy of the script with a stand-in .venv that logs each call."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo pip >> "$LOG"; [ -z "$PIP_FAILS" ] || exit 1; exit 0; fi
exec {python} "$@"
"""


def _checkout(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "run.sh", root / "scripts" / "run.sh")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in {"python": FAKE_PYTHON.format(python=sys.executable),
                       "pneumoscan-cli": '#!/bin/sh\necho "cli $*" >> "$LOG"\n',
                       "pneumoscan": '#!/bin/sh\necho "gui $*" >> "$LOG"\n'}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return root


def _run(root: Path, log: Path, **env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(["bash", str(root / "scripts" / "run.sh")], capture_output=True, text=True,
                          env={**base, "LOG": str(log), **env}, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    assert done.returncode == 0 or env.get("PIP_FAILS"), done.stderr
    return calls


def test_installs_once_then_only_when_pyproject_changes(tmp_path: Path) -> None:
    root, log = _checkout(tmp_path / "checkout"), tmp_path / "calls.log"
    cli = "cli scan assets/samples --out samples_pneumoscan.csv --overwrite"
    assert _run(root, log) == ["pip", cli]  # first start: installs
    assert _run(root, log) == [cli]  # second start: no pip at all
    assert _run(root, log, PIP_FAILS="1") == [cli]  # offline (pip would fail): still starts
    with open(root / "pyproject.toml", "a", encoding="utf-8") as handle:
        handle.write("\n# a new dependency\n")
    assert _run(root, log) == ["pip", cli]  # pyproject.toml changed: installs again
    assert _run(root, log) == [cli]


def test_a_failed_install_is_tried_again(tmp_path: Path) -> None:
    root, log = _checkout(tmp_path / "checkout"), tmp_path / "calls.log"
    assert _run(root, log, PIP_FAILS="1") == ["pip"]  # set -e: no app started on a half-installed .venv
    assert _run(root, log) == ["pip", "cli scan assets/samples --out samples_pneumoscan.csv --overwrite"]
