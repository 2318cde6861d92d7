"""Folder scan: every image in a folder becomes one CSV row, written and flushed batch by batch.

`scan_folder` is a generator of `ScanUpdate`s, so the command line prints progress from it and the
GUI's worker forwards it to a progress bar; stopping the iteration (Ctrl-C, the Cancel button)
leaves a valid CSV of everything finished, and `resume=True` later skips those files (and tries
the ones with an error row again). Files are decoded on a thread pool (or, with `processes`, in
decode processes) while the model runs on the previous batch; `run_scan` takes any `Scorer`, which is
how `app.core.scan.distributed` sends the same scan to a Dask cluster. With a `Shard`, only that part of
the folder is scanned and every row records it (`app.core.scan.shards`).

`ScanRequest` is a scan as a user asks for it (CLI or GUI); its `check` refuses, before the model
loads, whatever would overwrite an input or an unrelated file, and returns the `ScanPlan` the scan then
consumes (the folder listed once, a resumed CSV read and validated once). The parts: `scan_row` (one
file's record), `scan_csv` (the results file), `scan_listing` (the files to read), `scan_loop` (`run_scan`
and the plan) and `local_scorer` (decoding and the model on this machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.errors import OutputError, PneumoScanError
from app.core.io.listing import check_folder, list_entries
from app.core.io.outputs import check_unlocked
from app.core.model.card import ModelCard
from app.core.scan.local_scorer import DECODE_THREADS, DEFAULT_BATCH_SIZE, score_locally
from app.core.scan.loop import ReadCsv, ScanPlan, ScanUpdate, run_scan
from app.core.scan.results_csv import check_scan_output, is_results_file
from app.core.scan.shards import PartOrigin, Shard
from app.core.screening import Screener

__all__ = ["DEFAULT_BATCH_SIZE", "ScanPlan", "ScanRequest", "ScanUpdate", "default_scan_csv", "scan_folder"]

MAX_BATCH_SIZE = 1024
MAX_PROCESSES = 256


def default_scan_csv(folder: Path) -> Path:
    """`FOLDER_pneumoscan.csv` beside the folder, so the results never land among the images."""
    folder = Path(folder).resolve()
    return folder.parent / f"{folder.name}_pneumoscan.csv"


@dataclass(frozen=True)
class ScanRequest:
    """One folder scan as a user asks for it, from the CLI or the GUI.

    `check` refuses (with a `PneumoScanError` a user can act on) what cannot work or would harm a
    file; it needs no model, so the CLI runs it before loading one. `start` runs the scan.
    """

    folder: Path
    out: Path | None = None  # None: `default_scan_csv(folder)`
    recursive: bool = False
    resume: bool = False  # keep the CSV's finished rows and skip their files
    overwrite: bool = False  # replace an existing results CSV (without: refused unless resuming)
    clahe: bool | None = None  # None: as the model card says
    batch_size: int = DEFAULT_BATCH_SIZE
    excel: bool = False  # UTF-8 with a byte-order mark, for Excel
    shard: Shard | None = None  # scan only this part of the folder into a part CSV (see `app.core.scan.shards`)
    processes: int = 0  # decode processes; 0: decode on threads of this process

    @property
    def csv_path(self) -> Path:
        return Path(self.out) if self.out else default_scan_csv(self.folder)

    @property
    def origin(self) -> PartOrigin | None:
        return PartOrigin.of(self.shard, self.folder, self.recursive) if self.shard else None

    def check(self, card: ModelCard | None = None, site_sha256: str = "") -> ScanPlan:
        """Refuse a bad request before any work; return the plan the scan consumes (`plan`).

        With the model's `card` (and the sha256 of the site calibration, if any), a resumed CSV is validated in
        full here, bound to this folder, recursion, decision and site calibration, and not read again by the scan.
        """
        if self.resume and self.overwrite:
            raise PneumoScanError("--resume and --overwrite contradict each other: --resume keeps the CSV's rows, "
                                  "--overwrite replaces it. Give one of them.")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise PneumoScanError(f"The batch size must be 1 to {MAX_BATCH_SIZE}, not {self.batch_size}.")
        if not 0 <= self.processes <= MAX_PROCESSES:
            raise PneumoScanError(f"The number of decode processes must be 0 to {MAX_PROCESSES}, not {self.processes}.")
        check_folder(self.folder)
        check_scan_output(self.folder, self.csv_path)
        out = self.csv_path
        check_unlocked(out)
        if out.exists() and not self.resume:
            if not self.overwrite:
                raise OutputError(f"{out} already exists: add --resume to continue that scan, or --overwrite to "
                                  "replace it.")
            if not is_results_file(out):
                raise OutputError(f"{out} is not a PneumoScan results file; it is not replaced. Choose another --out.")
        return self.plan(card, site_sha256)

    def plan(self, card: ModelCard | None = None, site_sha256: str = "") -> ScanPlan:
        """The folder listed and, with a `card` when resuming, the CSV read and validated: what the scan consumes.
        None of `check`'s refusals but an unreadable folder (a scan replaces an existing CSV unless resuming)."""
        check_folder(self.folder)
        plan = ScanPlan(self.folder, self.csv_path, (), self.recursive, self.resume, self.excel, self.shard, self.clahe)
        if self.resume and card is not None:
            plan = replace(plan, csv=ReadCsv.read(plan.out, card, plan.origin, plan.binding(card, site_sha256)))
        return replace(plan, listing=tuple(list_entries(self.folder, self.recursive)))

    def start(self, screener: Screener, plan: ScanPlan | None = None) -> Iterator[ScanUpdate]:
        """The scan on this machine. `plan`: what `check` returned for this request (None: the folder is listed at
        the first step, and a resumed CSV read there under the output's lock)."""
        return _scan_here(screener, self, plan, DECODE_THREADS, time.monotonic)


def scan_folder(
    screener: Screener,
    folder: Path,
    out_csv: Path,
    recursive: bool = False,
    resume: bool = False,
    clahe: bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DECODE_THREADS,
    clock: Callable[[], float] = time.monotonic,
    excel: bool = False,
    shard: Shard | None = None,
    processes: int = 0,
) -> Iterator[ScanUpdate]:
    """Scan `folder` into `out_csv` on this machine, yielding after every batch; see the module docstring.

    `workers` decode threads, or `processes` decode processes when > 0. An existing `out_csv` is replaced
    unless `resume` (the CLI asks `ScanRequest.check` first).
    """
    request = ScanRequest(Path(folder), Path(out_csv), recursive, resume, clahe=clahe, batch_size=batch_size, excel=excel,
                          shard=shard, processes=processes)
    return _scan_here(screener, request, None, workers, clock)


def _scan_here(screener: Screener, request: ScanRequest, plan: ScanPlan | None, threads: int,
               clock: Callable[[], float]) -> Iterator[ScanUpdate]:
    plan = plan or request.plan()
    score = score_locally(screener, request.clahe, request.batch_size, threads, request.processes)
    yield from run_scan(screener.card, plan, score, screener.site_sha256, clock)
