"""Where the engine may write, and how: never onto an input or an unrelated file, never half a file.

Every command checks its outputs here before any work (and before the model loads), then writes
through a temporary file beside the target that is renamed into place, so an interrupted write
leaves the old file (or nothing), never a mix. CSV cells are escaped here against spreadsheet
formula injection.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from app.core.errors import OutputError

# OWASP's CSV-injection rule: a cell starting with one of these is a formula to a spreadsheet. The
# quote itself is escaped too, so that `csv_unescape` gives back exactly what was escaped.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_escape(text: str) -> str:
    """`text` with a leading `'` when a spreadsheet would otherwise run it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_unescape(text: str) -> str:
    """The inverse of `csv_escape`."""
    return text[1:] if text.startswith("'") else text


def is_same_file(a: Path, b: Path) -> bool:
    """Same path once resolved (symbolic links followed), or the same file under two names (hard links)."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: then they are not the same file
        return False


def refuse_inputs(out: Path, inputs: Iterable[Path], option: str = "--out") -> None:
    """Raise `OutputError` when `out` is (or resolves to) one of `inputs`."""
    for source in inputs:
        if is_same_file(out, source):
            raise OutputError(f"{option} {out} is an input ({source}); it would be overwritten. Choose another file.")


def check_writable(out: Path, option: str = "--out") -> None:
    """Raise `OutputError` unless `out` can be created (or replaced) as a regular file."""
    if out.is_dir():
        raise OutputError(f"{option} {out} is a folder; give a file name.")
    if out.exists() and not out.is_file():
        raise OutputError(f"{option} {out} is not a regular file (a pipe, socket or device).")
    parent = out.parent
    while not parent.exists():  # missing folders are created: the first existing one must be writable
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"Cannot write {out}: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write {out}: no permission to write in {parent}.")


def temp_beside(target: Path) -> Path:
    """A new, empty, uniquely named hidden file in the target's folder (same file system, so a rename is atomic).

    Created with the user's usual permissions (umask), not `mkstemp`'s owner-only ones, since it becomes the output.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return partial
        except FileExistsError:
            continue


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file renamed into place."""
    try:
        partial = temp_beside(target)
        try:
            partial.write_bytes(data)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {exc.strerror or exc}") from exc
