"""The scan around any `Scorer`: listing, shard, resume, the CSV and progress, on this machine or a cluster.

`run_scan` is a generator of `ScanUpdate`s, one after every chunk of rows written and flushed; stopping
the iteration leaves a valid CSV of everything finished (`app.core.scan.results_csv`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.model.card import ModelCard
from app.core.io.outputs import exclusive_output, remove_stale_parts
from app.core.scan.results_csv import CsvSink, ScanBinding, check_scan_output, has_bom, read_resume
from app.core.io.listing import check_folder, list_entries
from app.core.scan.row import ScanRow, decision_of, file_fingerprint
from app.core.scan.shards import PartOrigin, Shard

# Scores `entries` ((path, problem) each, problem "" for a file to read) named `names` (relative paths), yielding
# rows in their order, chunk by chunk; closing the iterator stops the work not yet done.
Scorer = Callable[[list[tuple[Path, str]], list[str]], Iterator[list[ScanRow]]]


@dataclass(frozen=True)
class ScanUpdate:
    rows: list[ScanRow]  # the rows finished since the previous update
    done: int  # files finished in this run
    total: int  # files this run will process (after skipping those already in a resumed CSV)
    skipped: int  # files skipped because the CSV already had them
    elapsed_s: float
    resumed: tuple[ScanRow, ...] = ()  # a resumed scan's first update: the CSV's earlier finished rows
    note: str = ""  # a resumed scan's first update: what the user should know about the CSV (a cut row...)

    @property
    def images_per_second(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_scan(
    card: ModelCard,
    folder: Path,
    out_csv: Path,
    score: Scorer,
    recursive: bool = False,
    resume: bool = False,
    clock: Callable[[], float] = time.monotonic,
    excel: bool = False,
    shard: Shard | None = None,
    clahe: bool | None = None,
    site_sha256: str = "",
) -> Iterator[ScanUpdate]:
    """The scan around any `Scorer`: listing, shard, resume, the CSV and progress (local or distributed alike).

    `clahe` and `site_sha256` are what the scorer applies: recorded in every row, and a resume must match them.
    The output is locked for the whole run (`outputs.exclusive_output`): a second scan on it is refused.
    """
    folder, out_csv = Path(folder), Path(out_csv)
    check_folder(folder)
    check_scan_output(folder, out_csv)
    with exclusive_output(out_csv):
        remove_stale_parts(out_csv)  # of a killed run; no other run can own them while we hold the lock
        yield from _locked_scan(card, folder, out_csv, score, recursive, resume, clock, excel, shard,
                                ScanBinding.of(folder, recursive, decision_of(card, clahe), site_sha256))


def _locked_scan(card: ModelCard, folder: Path, out_csv: Path, score: Scorer, recursive: bool, resume: bool,
                 clock: Callable[[], float], excel: bool, shard: Shard | None,
                 binding: ScanBinding) -> Iterator[ScanUpdate]:
    origin = PartOrigin.of(shard, folder, recursive) if shard else None
    resumed = read_resume(out_csv, card.version, card.sha256, origin, binding) if resume else None
    finished_before = tuple(resumed.rows) if resumed else ()
    note = resumed.note if resumed else ""
    done_before = {row.path for row in finished_before}
    entries = list_entries(folder, recursive)
    relative = {path: path.relative_to(folder).as_posix() for path, _ in entries}
    if shard:
        entries = [(path, problem) for path, problem in entries if shard.holds(relative[path])]
    todo = [(path, problem) for path, problem in entries if relative[path] not in done_before]
    skipped = len(entries) - len(todo)
    started, done, first = clock(), 0, True
    sink = CsvSink(out_csv, finished_before, excel or (resume and has_bom(out_csv)), binding, origin)
    try:
        # before any file is read: a file changed while it is read gets an older fingerprint, so it is scored again
        fingerprints = {relative[path]: file_fingerprint(path) for path, _ in todo}
        chunks = score(todo, [relative[path] for path, _ in todo]) if todo else iter(())
        try:
            for rows in chunks:
                rows = binding.stamp(rows, fingerprints)
                sink.write(rows)
                done += len(rows)
                yield ScanUpdate(rows, done, len(todo), skipped, clock() - started, finished_before if first else (),
                                 note if first else "")
                first = False
        finally:  # cancelled or interrupted: the scorer stops its pending work
            close = getattr(chunks, "close", None)
            if close:
                close()
        if first:
            sink.write([])
            yield ScanUpdate([], 0, 0, skipped, clock() - started, finished_before, note)
    finally:
        sink.close()
