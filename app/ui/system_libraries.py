"""Which system libraries Qt's X11 (xcb) platform plugin needs and this machine lacks, asked before Qt starts.

When its xcb plugin cannot load, Qt aborts (exit 134) naming only xcb-cursor, even when that one is
installed. The real gaps are what the dynamic linker cannot find for the plugin (`ldd` says "not
found"), plus xcb-cursor, which Qt opens at run time and `ldd` cannot see.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

RUNTIME_ONLY = {"xcb-cursor": "libxcb-cursor.so.0"}  # opened by Qt itself, not linked into the plugin


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, found without importing PySide6."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def missing_xcb_libraries(plugin: Path | None = None,
                          find_library: Callable[[str], str | None] = ctypes.util.find_library) -> list[str]:
    """The sonames the xcb plugin needs and cannot find here, in `ldd`'s order (empty: nothing known missing)."""
    plugin = plugin or xcb_plugin()
    missing: list[str] = []
    if plugin is not None and shutil.which("ldd"):
        try:
            listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        for line in listing.splitlines():
            name, arrow, where = line.partition("=>")
            if arrow and where.strip() == "not found" and name.strip() not in missing:
                missing.append(name.strip())
    missing += [soname for name, soname in RUNTIME_ONLY.items() if not find_library(name) and soname not in missing]
    return missing


GLIB = ("libglib-2.0", "libgthread-2.0", "libgobject-2.0", "libgio-2.0", "libgmodule-2.0")  # all in one package


def debian_package(soname: str) -> str:
    """Debian's usual package for a library: libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 ->
    libxkbcommon-x11-0 (a hyphen when the name ends in a digit), libglib-2.0.so.0 -> libglib2.0-0."""
    stem, _, version = soname.partition(".so")
    stem, version = stem.lower(), version.lstrip(".").split(".")[0]
    if stem in GLIB:
        return "libglib2.0-0"
    return f"{stem}{'-' if version and stem[-1:].isdigit() else ''}{version}"
