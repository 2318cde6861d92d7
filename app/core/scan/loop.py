"""The scan around any `Scorer`: a checked `ScanPlan`, the shard, the resume, the CSV and progress, on this machine
or a cluster.

`run_scan` is a generator of `ScanUpdate`s, one after every chunk of rows written and flushed; stopping
the iteration leaves a valid CSV of everything finished (`app.core.scan.results_csv`). It consumes the
`ScanPlan` that `ScanRequest.check` made: the folder is listed once, and a resumed CSV read and validated
before the model loaded is not read again unless it changed since (or was read for another model or binding).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.io.outputs import exclusive_output, remove_stale_parts
from app.core.model.card import ModelCard
from app.core.scan.results_csv import CsvSink, Resumed, ScanBinding, check_scan_output, read_resume
from app.core.scan.row import ScanRow, decision_of, file_fingerprint
from app.core.scan.shards import PartOrigin, Shard

# Scores `entries` ((path, problem) each, problem "" for a file to read) named `names` (relative paths), yielding
# rows in their order, chunk by chunk; closing the iterator stops the work not yet done.
Scorer = Callable[[list[tuple[Path, str]], list[str]], Iterator[list[ScanRow]]]


@dataclass(frozen=True)
class ReadCsv:
    """A resumed CSV as read and validated, and for what: it stands while the model, the binding and the file do."""

    resumed: Resumed
    model: tuple[str, str]  # (version, sha256) it was validated for
    binding: ScanBinding
    fingerprint: tuple[int, int] | None  # (size, mtime_ns) of the CSV when read

    @classmethod
    def read(cls, out: Path, card: ModelCard, origin: PartOrigin | None, binding: ScanBinding) -> ReadCsv:
        fingerprint = file_fingerprint(out)  # before the read: a write during it makes the record stale
        return cls(read_resume(out, card.version, card.sha256, origin, binding), (card.version, card.sha256), binding,
                   fingerprint)

    def holds_for(self, out: Path, card: ModelCard, binding: ScanBinding) -> bool:
        return (self.model, self.binding) == ((card.version, card.sha256), binding) and file_fingerprint(out) == self.fingerprint


@dataclass(frozen=True)
class ScanPlan:
    """A checked scan (`ScanRequest.check`), what `run_scan` consumes: what to scan, where to, and what was found."""

    folder: Path
    out: Path
    listing: tuple[tuple[Path, str], ...]  # (path, problem) of every entry of the folder (`list_entries`), all shards
    recursive: bool = False
    resume: bool = False
    excel: bool = False
    shard: Shard | None = None
    clahe: bool | None = None  # None: as the model card says
    csv: ReadCsv | None = None  # the resumed CSV as check read it (None: read when the scan starts)

    @property
    def images(self) -> list[Path]:
        """The image files of the whole folder (empty: nothing to scan; a shard of them may itself be empty)."""
        return [path for path, problem in self.listing if not problem]

    @property
    def origin(self) -> PartOrigin | None:
        return PartOrigin.of(self.shard, self.folder, self.recursive) if self.shard else None

    def binding(self, card: ModelCard, site_sha256: str = "") -> ScanBinding:
        """What the rows depend on besides the model: a resume must match it."""
        return ScanBinding.of(self.folder, self.recursive, decision_of(card, self.clahe), site_sha256)


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


def run_scan(card: ModelCard, plan: ScanPlan, score: Scorer, site_sha256: str = "",
             clock: Callable[[], float] = time.monotonic) -> Iterator[ScanUpdate]:
    """The scan of `plan` around any `Scorer` (local or distributed alike).

    `plan.clahe` and `site_sha256` are what the scorer applies: recorded in every row, and a resume must match them.
    The output is locked for the whole run (`outputs.exclusive_output`): a second scan on it is refused.
    """
    check_scan_output(plan.folder, plan.out)
    with exclusive_output(plan.out):
        remove_stale_parts(plan.out)  # of a killed run; no other run can own them while we hold the lock
        yield from _locked_scan(card, plan, score, plan.binding(card, site_sha256), clock)


def _resumed(card: ModelCard, plan: ScanPlan, binding: ScanBinding) -> Resumed | None:
    """The resumed CSV's rows: as check read them, unless it was for another model or binding or the CSV changed."""
    if not plan.resume:
        return None
    if plan.csv is not None and plan.csv.holds_for(plan.out, card, binding):
        return plan.csv.resumed
    return ReadCsv.read(plan.out, card, plan.origin, binding).resumed


def _locked_scan(card: ModelCard, plan: ScanPlan, score: Scorer, binding: ScanBinding,
                 clock: Callable[[], float]) -> Iterator[ScanUpdate]:
    resumed = _resumed(card, plan, binding)
    finished_before = tuple(resumed.rows) if resumed else ()
    note = resumed.note if resumed else ""
    done_before = {row.path for row in finished_before}
    relative = {path: path.relative_to(plan.folder).as_posix() for path, _ in plan.listing}
    shard = plan.shard
    entries = [(path, problem) for path, problem in plan.listing if not shard or shard.holds(relative[path])]
    todo = [(path, problem) for path, problem in entries if relative[path] not in done_before]
    skipped = len(entries) - len(todo)
    started, done, first = clock(), 0, True
    sink = CsvSink(plan.out, finished_before, plan.excel or bool(resumed and resumed.bom), binding, plan.origin)
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
