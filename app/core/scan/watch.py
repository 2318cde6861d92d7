"""Watch folder: score each new image in a folder (an X-ray machine's export folder) once its file is
complete, appending its row to a results CSV, until asked to stop.

Completeness is found by polling, not by file-system events: a file is complete once its size and
modification time have not changed for `settle_s` (and it is not empty). Events (inotify's close) miss
files on network shares and a writer that closes and reopens; a listing every `interval_s` sees every
file, whatever wrote it, and a restart needs no event history. Rows go through the scan's own writer
(`CsvSink`) and scorer (`score_locally`), so a watched folder's CSV is a scan CSV. A restart keeps the
CSV's finished rows and never scores their files again (`read_done`, as `scan --resume`: error rows
are tried again). The CSV is locked for the whole watch, as a scan's (`outputs.exclusive_output`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import OutputError
from app.core.scan.local_scorer import score_locally
from app.core.io.outputs import check_unlocked, exclusive_output, remove_stale_parts
from app.core.scan.results_csv import CsvSink, ScanBinding, check_scan_output, has_bom, is_results_file, read_done
from app.core.io.listing import check_folder, list_entries
from app.core.scan.row import ScanRow, decision_of, file_fingerprint
from app.core.screening import Screener

INTERVAL_S = 1.0  # between two listings of the folder
SETTLE_S = 2.0  # a file unchanged this long is complete (a copy in progress grows or touches it sooner)


@dataclass(frozen=True)
class WatchRequest:
    """A watch as a user asks for it; `check` refuses a bad one before the model loads."""

    folder: Path
    out: Path
    recursive: bool = False
    clahe: bool | None = None  # None: as the model card says
    excel: bool = False  # UTF-8 with a byte-order mark, for Excel

    def check(self, model_version: str, model_sha256: str, binding: ScanBinding | None = None) -> list[ScanRow]:
        """The CSV's finished rows of this model (empty for a new CSV); a foreign or damaged CSV is refused,
        and with a `binding`, one of another folder, recursion, decision or site calibration."""
        check_folder(self.folder)
        check_scan_output(self.folder, self.out)
        check_unlocked(self.out)
        if self.out.exists() and not is_results_file(self.out):
            raise OutputError(f"{self.out} is not a PneumoScan results file; it is not appended to. Choose another --out.")
        return read_done(self.out, model_version, model_sha256, binding=binding)

    def binding(self, screener: Screener) -> ScanBinding:
        return ScanBinding.of(self.folder, self.recursive, decision_of(screener.card, self.clahe), screener.site_sha256)


def watch_folder(screener: Screener, request: WatchRequest, stop: threading.Event, interval_s: float = INTERVAL_S,
                 settle_s: float = SETTLE_S, clock: Callable[[], float] = time.monotonic) -> Iterator[list[ScanRow]]:
    """Yield the rows of each pass that scored something (already written and flushed) until `stop` is set."""
    binding = request.binding(screener)
    request.check(screener.card.version, screener.card.sha256, binding)
    with exclusive_output(request.out):
        remove_stale_parts(request.out)
        yield from _watch_locked(screener, request, binding, stop, interval_s, settle_s, clock)


def _watch_locked(screener: Screener, request: WatchRequest, binding: ScanBinding, stop: threading.Event,
                  interval_s: float, settle_s: float, clock: Callable[[], float]) -> Iterator[list[ScanRow]]:
    kept = read_done(request.out, screener.card.version, screener.card.sha256, binding=binding)
    done = {row.path for row in kept}
    score = score_locally(screener, request.clahe)
    sink = CsvSink(request.out, tuple(kept), request.excel or has_bom(request.out), binding)
    try:
        sink.write([])  # the CSV (header and kept rows) exists from the start
        pending: dict[str, tuple[int, int, float]] = {}  # relative path -> (size, mtime_ns, unchanged since)
        while not stop.is_set():
            ready = _complete_files(request, done, pending, settle_s, clock())
            if ready:
                names = [path.relative_to(request.folder).as_posix() for path, _ in ready]
                fingerprints = {name: file_fingerprint(path) for (path, _), name in zip(ready, names)}
                rows = binding.stamp([row for chunk in score(ready, names) for row in chunk], fingerprints)
                sink.write(rows)
                done.update(row.path for row in rows)
                yield rows
            stop.wait(interval_s)
    finally:
        sink.close()


def _complete_files(request: WatchRequest, done: set[str], pending: dict[str, tuple[int, int, float]],
                    settle_s: float, now: float) -> list[tuple[Path, str]]:
    """The listing's new entries that are complete now; `pending` remembers when each last changed."""
    ready: list[tuple[Path, str]] = []
    for path, problem in list_entries(request.folder, request.recursive):
        name = path.relative_to(request.folder).as_posix()
        if name in done:
            continue
        if problem:  # an unreadable sub-folder or a link to a folder: its error row at once
            ready.append((path, problem))
            continue
        try:
            stat = os.stat(path)
        except OSError:  # gone between the listing and now (a renamed temporary file)
            pending.pop(name, None)
            continue
        size = stat.st_size if path.is_file() else -1  # a folder named like an image: its error row once settled
        seen = pending.get(name)
        if seen is None or seen[:2] != (size, stat.st_mtime_ns):
            pending[name] = (size, stat.st_mtime_ns, now)
        elif size != 0 and now - seen[2] >= settle_s:  # an empty file is a copy not begun: it waits
            ready.append((path, ""))
            del pending[name]
    return ready
