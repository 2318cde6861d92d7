"""Where the engine may write, and how: never onto an input or an unrelated file, never half a file.

Every command checks its outputs here before any work (and before the model loads), then writes
through a temporary file beside the target that is renamed into place, so an interrupted write
leaves the old file (or nothing), never a mix. CSV cells are escaped here against spreadsheet
formula injection.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator
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
    if not parent.exists():  # a typing mistake would otherwise leave a tree of stray folders
        missing = parent
        while not missing.parent.exists():
            missing = missing.parent
        raise OutputError(f"{option} {out}: the folder {missing} does not exist; create it first, or correct the path.")
    if not parent.is_dir():
        raise OutputError(f"Cannot write {out}: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write {out}: no permission to write in {parent}.")
    check_name_length(out, option)
    if out.exists() and _sticky_owned_by_another(out):
        raise OutputError(f"Cannot replace {out}: it belongs to another user in a shared folder (sticky bit); "
                          "choose another --out.")


# The longest name PneumoScan adds beside an output: ".NAME.0123abcd.part" (the temporary file) or "NAME.lock".
_TEMP_EXTRA = len(".") + len(".") + 8 + len(".part")


def check_name_length(out: Path, option: str = "--out") -> None:
    """Refuse, before any work, a name whose temporary or lock file the file system could not create."""
    try:
        limit = os.pathconf(out.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer: the common limit
        limit = 255
    length = len(os.fsencode(out.name))
    if length + _TEMP_EXTRA > limit:
        raise OutputError(f"{option} {out}: the file name is too long ({length} bytes; at most "
                          f"{limit - _TEMP_EXTRA} here, as the results are written through a temporary file beside it).")


def _sticky_owned_by_another(out: Path) -> bool:
    """A file of another user in a sticky folder (/tmp, a shared drop folder): renaming over it is not permitted."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return False
    try:
        folder, target = os.stat(out.parent), os.stat(out)
    except OSError:
        return False
    return bool(folder.st_mode & 0o1000) and os.geteuid() not in (folder.st_uid, target.st_uid)


def lock_path(target: Path) -> Path:
    """The lock file a scan holds beside its CSV for its whole run: `NAME.lock`, holding the scan's pid."""
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def exclusive_output(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on `target` (`lock_path`) while the block runs; `OutputError` naming the pid of
    the process that holds it otherwise. The lock file is removed on release.

    `fcntl.flock` ends with the process, so a killed scan never leaves a lock that blocks the next one; a file
    that stays behind is simply locked again. Without `fcntl` (Windows) there is no lock.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = lock_path(target)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"Cannot create the lock file {path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise OutputError(f"Cannot lock {path}: {exc.strerror or exc}") from exc
            raise OutputError(f"{target} is being written by another scan (pid {holder}); wait for it to finish, "
                              "or choose another --out.") from None
        try:  # the holder before us may have removed the file after we opened it: lock the one on disk
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        with contextlib.suppress(OSError):  # a full disk: locked all the same, without the pid
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def check_unlocked(target: Path) -> None:
    """`OutputError` when another process holds `exclusive_output(target)` (checked before the model loads)."""
    if target.parent.is_dir():
        with exclusive_output(target):
            pass


def remove_stale_parts(target: Path) -> list[Path]:
    """Remove the temporary files (`temp_beside`) a killed write of `target` left behind; call it holding
    `exclusive_output(target)`, so that no running write owns them. Returns the files removed."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"[0-9a-f]{8}\.part")
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    for name in names:
        if pattern.fullmatch(name):
            with contextlib.suppress(OSError):
                os.unlink(target.parent / name)
                removed.append(target.parent / name)
    return removed


def temp_beside(target: Path) -> Path:
    """A new, empty, uniquely named hidden file in the target's folder (same file system, so a rename is atomic).

    Created with the user's usual permissions (umask), not `mkstemp`'s owner-only ones, since it becomes the output.
    """
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
