"""The files a folder scan reads: every image (or file named like one) in the folder, in a fixed order."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import PneumoScanError
from app.core.io.images import has_dicom_preamble, is_image_path, is_refused_path


def check_folder(folder: Path) -> None:
    """The folder to scan exists and can be listed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PneumoScanError(f"Not a folder: {folder}")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise PneumoScanError(f"Cannot read the folder {folder}: permission denied.")



def _looks_like_dicom_without_suffix(entry: os.DirEntry) -> bool:
    """A suffix-less regular file of at least a DICOM preamble's size that starts with one (never a pipe or
    a /proc file, which report size 0 and may block a read)."""
    path = Path(entry.path)
    if path.suffix:
        return False
    try:
        if not entry.is_file() or entry.stat().st_size < 132:
            return False
        with open(path, "rb") as handle:
            return has_dicom_preamble(handle.read(132))
    except OSError:
        return False


def list_entries(folder: Path, recursive: bool = False) -> list[tuple[Path, str]]:
    """(path, problem) for every file to scan, sorted by relative path; `problem` is "" for a file to read.

    Entries named like images are listed even when they are folders or unreadable, so that each gets an
    error row instead of silently vanishing from the results; so are, when recursing, sub-folders that
    cannot be read and symbolic links to folders (not followed: they can loop or leave the folder).
    """
    folder = Path(folder)
    found: list[tuple[Path, str]] = []

    def visit(directory: Path) -> None:
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError as exc:
            if directory == folder:
                raise PneumoScanError(f"Cannot read the folder {folder}: {exc.strerror or exc}") from exc
            found.append((directory, f"Cannot read this sub-folder ({exc.strerror or exc}); its images were not scanned."))
            return
        for entry in entries:
            path = Path(entry.path)
            named = is_image_path(path) or is_refused_path(path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    if named:
                        found.append((path, ""))  # its row says it is a folder
                    if recursive:
                        visit(path)
                elif recursive and entry.is_symlink() and path.is_dir():
                    found.append((path, "A symbolic link to a folder: not followed. Scan the folder it points to instead."))
                elif named or _looks_like_dicom_without_suffix(entry):
                    found.append((path, ""))
            except OSError as exc:  # a link into a folder this user cannot enter (Python 3.11's is_dir raises)
                if named or entry.is_symlink():
                    found.append((path, f"Cannot read this entry ({exc.strerror or exc}); it was not scanned."))

    visit(folder)
    return sorted(found, key=lambda item: item[0].relative_to(folder).as_posix())


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """The files a scan reads, sorted by relative path for a deterministic order."""
    return [path for path, problem in list_entries(folder, recursive) if not problem]

