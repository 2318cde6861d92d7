"""`pneumoscan` without a usable display: one line saying what is missing, exit 2, before any Qt object exists."""

from __future__ import annotations

import pytest

from app.ui import main as gui_main
from app.ui.main import display_problem

NO_DISPLAY = ("no display found (neither DISPLAY nor WAYLAND_DISPLAY is set); run it in a desktop session, "
              "or use pneumoscan-cli on the command line.")


def found(name: str) -> str:
    return f"lib{name}.so.0"


def test_no_display_at_all() -> None:
    assert display_problem({}, "linux", found) == NO_DISPLAY


def test_x11_without_xcb_cursor_names_the_library() -> None:
    problem = display_problem({"DISPLAY": ":0"}, "linux", lambda name: None)
    assert problem.startswith("Qt's X11 (xcb) platform needs the xcb-cursor library")
    assert "sudo apt install libxcb-cursor0" in problem and "pneumoscan-cli" in problem


@pytest.mark.parametrize("env", [{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"},
                                 {"QT_QPA_PLATFORM": "offscreen"}, {"WAYLAND_DISPLAY": "w", "QT_QPA_PLATFORM": "wayland"}])
def test_usable_displays_pass(env: dict[str, str]) -> None:
    assert display_problem(env, "linux", found) == ""
    assert display_problem({}, "darwin", lambda name: None) == ""  # macOS and Windows always have a display


def test_forced_xcb_on_wayland_still_needs_x11() -> None:
    assert display_problem({"WAYLAND_DISPLAY": "w", "QT_QPA_PLATFORM": "xcb"}, "linux", found) == NO_DISPLAY


def test_main_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(gui_main, "display_problem", lambda: NO_DISPLAY)
    monkeypatch.setattr(gui_main, "launch", lambda *args: pytest.fail("Qt started without a display"))
    assert gui_main.main([]) == 2
    assert capsys.readouterr().err == f"pneumoscan: {NO_DISPLAY}\n"
