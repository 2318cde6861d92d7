"""`pneumoscan` without a usable display: one line saying what is missing, exit 2, before any Qt object exists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.ui import main as gui_main
from app.ui.main import display_problem
from app.ui.system_libraries import debian_package, missing_xcb_libraries, xcb_plugin

NO_DISPLAY = ("no display found (neither DISPLAY nor WAYLAND_DISPLAY is set); run it in a desktop session, "
              "or use pneumoscan-cli on the command line.")


def nothing_missing() -> list[str]:
    return []


def test_no_display_at_all() -> None:
    assert display_problem({}, "linux", nothing_missing) == NO_DISPLAY


def test_x11_names_the_libraries_actually_missing() -> None:
    problem = display_problem({"DISPLAY": ":0"}, "linux", lambda: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert problem.startswith("Qt's X11 (xcb) platform needs system libraries that are not installed: "
                              "libxcb-icccm.so.4, libxcb-keysyms.so.1 ")
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1;" in problem and "pneumoscan-cli" in problem
    assert "cursor" not in problem  # what is installed is not named
    glib = display_problem({"DISPLAY": ":0"}, "linux", lambda: ["libglib-2.0.so.0", "libgthread-2.0.so.0"])
    assert "sudo apt-get install libglib2.0-0;" in glib  # one package, named once


def test_missing_libraries_come_from_ldd_of_the_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake `ldd` on PATH prints what the real one prints for a plugin with two gaps."""
    ldd = tmp_path / "ldd"
    ldd.write_text("#!/bin/sh\necho '\tlibxcb-icccm.so.4 => not found'\necho '\tlibc.so.6 => /lib/libc.so.6 (0x1)'\n"
                   "echo '\tlibxcb-icccm.so.4 => not found'\necho '\tlibxcb-keysyms.so.1 => not found'\n")
    ldd.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    assert missing_xcb_libraries(plugin, lambda name: "found") == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert missing_xcb_libraries(plugin, lambda name: None)[-1] == "libxcb-cursor.so.0"  # opened by Qt, not linked


@pytest.mark.skipif(xcb_plugin() is None or shutil.which("ldd") is None, reason="needs PySide6's xcb plugin and ldd")
def test_this_machine_agrees_with_ldd() -> None:
    """The check on the real plugin: exactly the libraries `ldd` reports "not found" (plus xcb-cursor if absent)."""
    listing = subprocess.run(["ldd", str(xcb_plugin())], capture_output=True, text=True).stdout
    unresolved = {line.split("=>")[0].strip() for line in listing.splitlines() if line.strip().endswith("=> not found")}
    assert set(missing_xcb_libraries()) - {"libxcb-cursor.so.0"} == unresolved


@pytest.mark.parametrize(("soname", "package"), [("libxcb-icccm.so.4", "libxcb-icccm4"), ("libGL.so.1", "libgl1"),
                                                 ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
                                                 ("libxcb-render-util.so.0", "libxcb-render-util0"),
                                                 ("libglib-2.0.so.0", "libglib2.0-0"), ("libgthread-2.0.so.0", "libglib2.0-0"),
                                                 ("libdbus-1.so.3", "libdbus-1-3"), ("libEGL.so.1", "libegl1")])
def test_debian_package_names(soname: str, package: str) -> None:
    assert debian_package(soname) == package


@pytest.mark.parametrize("env", [{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"},
                                 {"QT_QPA_PLATFORM": "offscreen"}, {"WAYLAND_DISPLAY": "w", "QT_QPA_PLATFORM": "wayland"}])
def test_usable_displays_pass(env: dict[str, str]) -> None:
    assert display_problem(env, "linux", nothing_missing) == ""
    assert display_problem({}, "darwin", lambda: ["libx.so.1"]) == ""  # macOS and Windows always have a display


def test_forced_xcb_on_wayland_still_needs_x11() -> None:
    assert display_problem({"WAYLAND_DISPLAY": "w", "QT_QPA_PLATFORM": "xcb"}, "linux", nothing_missing) == NO_DISPLAY


def test_main_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(gui_main, "display_problem", lambda: NO_DISPLAY)
    monkeypatch.setattr(gui_main, "launch", lambda *args: pytest.fail("Qt started without a display"))
    assert gui_main.main([]) == 2
    assert capsys.readouterr().err == f"pneumoscan: {NO_DISPLAY}\n"


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_need_no_display(flag: str) -> None:
    """A real process without DISPLAY: the answer on stdout, exit 0, before any Qt object exists."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-c", "import sys; from app.ui.main import main; sys.exit(main())", flag],
                          capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert ("usage: pneumoscan" if flag == "--help" else "PneumoScan ") in done.stdout
