"""Folder scan: every image in a folder becomes one CSV row, written and flushed batch by batch.

`scan_folder` is a generator of `ScanUpdate`s, so the command line prints progress from it and the
GUI's worker forwards it to a progress bar; stopping the iteration (Ctrl-C, the Cancel button)
leaves a valid CSV of everything finished, and `resume=True` later skips those files (and tries
the ones with an error row again). Files are decoded on a thread pool (or, with `processes`, in
decode processes) while the model runs on the previous batch; `run_scan` takes any `Scorer`, which is
how `app.core.distributed` sends the same scan to a Dask cluster. With a `Shard`, only that part of
the folder is scanned and every row records it (`app.core.shards`).

The CSV is never written in place: the header (and, when resuming, the rows kept) go to a temporary
file beside it, which replaces the old file once the first batch is in it; later batches are
appended. A CSV that `resume` refuses is therefore left exactly as it was. `ScanRequest` is a scan
as a user asks for it (CLI or GUI); its `check` refuses, before the model loads, whatever would
overwrite an input or an unrelated file.
"""

from __future__ import annotations

import csv
import io
import math
import os
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import OutputError, PneumoScanError, describe_error
from app.core.image_io import has_dicom_preamble, is_image_path, is_refused_path, load_model_image
from app.core.model_card import ModelCard
from app.core.outputs import check_writable, csv_escape, csv_unescape, temp_beside
from app.core.screening import NEGATIVE, OUT_OF_DOMAIN, POSITIVE, PROBABILITY_DIGITS, Prediction, Prepared, Screener
from app.core.shards import PART_COLUMNS, PartOrigin, Shard

# File names that are not valid UTF-8 (possible on Linux) are written back byte for byte, so the scan
# never dies on one and a resumed scan still recognises them.
CSV_ENCODING, CSV_ERRORS = "utf-8", "surrogateescape"
BOM = "\ufeff"  # `excel=True`: Excel reads a UTF-8 CSV without it as the local code page (accents garbled)

CSV_COLUMNS = ("path", "status", "probability", "prediction", "threshold", "model_version", "model_sha256",
               "in_domain", "domain_score", "warning", "error")
TEXT_COLUMNS = ("path", "status", "prediction", "model_version", "model_sha256", "warning", "error")
SHA_DIGITS = 12  # of the model file's sha256 written in every row: enough to tell two models apart
WARNING_SEPARATOR = " | "
DEFAULT_BATCH_SIZE = 16  # the one default of the CLI, the GUI and the engine
MAX_BATCH_SIZE = 1024
DECODE_THREADS = 2  # without decode processes: overlaps decoding with the model on a 2-core laptop
MAX_PROCESSES = 256


@dataclass(frozen=True)
class ScanRow:
    path: str  # relative to the scanned folder, with forward slashes
    status: str  # "ok", "warning" or "error"
    probability: float | None = None
    prediction: str = ""
    threshold: float | None = None
    model_version: str = ""
    in_domain: bool | None = None
    domain_score: float | None = None
    warning: str = ""
    error: str = ""
    model_sha256: str = ""  # the first SHA_DIGITS hex digits of the model file's sha256

    @classmethod
    def from_prediction(cls, path: str, prediction: Prediction, model_sha256: str = "") -> ScanRow:
        """The one mapping of a prediction to a record (CSV row, `predict --json` line)."""
        return cls(
            path=path, status=prediction.status, probability=prediction.probability, prediction=prediction.label,
            threshold=prediction.threshold, model_version=prediction.model_version,
            in_domain=prediction.in_domain if prediction.domain_score is not None else None,
            domain_score=prediction.domain_score, warning=WARNING_SEPARATOR.join(prediction.warnings),
            model_sha256=model_sha256[:SHA_DIGITS],
        )

    @classmethod
    def from_error(cls, path: str, exc: BaseException) -> ScanRow:
        return cls(path=path, status="error", error=" ".join(describe_error(exc).split()))  # one line per row

    @property
    def display_label(self) -> str:
        """What a reader should see: the label, unless the image is not what the model knows."""
        return OUT_OF_DOMAIN if self.in_domain is False else self.prediction

    @property
    def warnings(self) -> list[str]:
        return self.warning.split(WARNING_SEPARATOR) if self.warning else []

    def to_json(self) -> dict[str, Any]:
        """The record as `predict --json` prints it (numbers as numbers, warnings as a list)."""
        if self.status == "error":
            return {"path": self.path, "status": "error", "error": self.error}
        return {"path": self.path, "status": self.status, "probability": self.probability, "prediction": self.prediction,
                "threshold": self.threshold, "in_domain": self.in_domain, "domain_score": self.domain_score,
                "warnings": self.warnings, "model_version": self.model_version, "model_sha256": self.model_sha256}

    def to_csv(self) -> dict[str, str]:
        """The CSV cells, every text cell escaped against formula injection (`outputs.csv_escape`)."""
        def fmt(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        cells = {
            "path": self.path, "status": self.status, "probability": fmt(self.probability, PROBABILITY_DIGITS),
            "prediction": self.prediction, "threshold": fmt(self.threshold, PROBABILITY_DIGITS),
            "model_version": self.model_version, "model_sha256": self.model_sha256,
            "in_domain": "" if self.in_domain is None else str(self.in_domain).lower(),
            "domain_score": fmt(self.domain_score, 3), "warning": self.warning, "error": self.error,
        }
        return {key: csv_escape(value) if key in TEXT_COLUMNS else value for key, value in cells.items()}

    @classmethod
    def from_csv(cls, row: dict[str, str]) -> ScanRow:
        """The inverse of `to_csv` (numbers as written, to 6 decimals); `ValueError` when a cell is malformed."""
        text = {key: csv_unescape(row[key]) if key in TEXT_COLUMNS else row[key] for key in CSV_COLUMNS}

        def number(cell: str) -> float | None:
            value = float(cell) if cell else None
            if value is not None and not math.isfinite(value):
                raise ValueError(f"not a finite number: {cell}")
            return value

        if text["in_domain"] not in ("true", "false", ""):
            raise ValueError(f"in_domain {text['in_domain']!r}")
        return cls(
            path=text["path"], status=text["status"], probability=number(text["probability"]),
            prediction=text["prediction"], threshold=number(text["threshold"]), model_version=text["model_version"],
            in_domain={"true": True, "false": False}.get(text["in_domain"]), domain_score=number(text["domain_score"]),
            warning=text["warning"], error=text["error"], model_sha256=text["model_sha256"],
        )

    def problem(self) -> str:
        """Why this row cannot have been written by a scan ("" when it is well-formed)."""
        if not self.path:
            return "no path"
        if self.status == "error":
            return "" if self.error and self.probability is None and not self.prediction else "an incomplete error row"
        if self.status not in ("ok", "warning"):
            return f"status {self.status!r}"
        if self.probability is None or self.threshold is None or not 0 <= self.probability <= 1:
            return "no probability in [0, 1] or no threshold"
        if self.prediction != (POSITIVE if self.probability >= self.threshold else NEGATIVE):
            return f"prediction {self.prediction!r} does not follow from its probability and threshold"
        if (self.status == "warning") != bool(self.warning) or self.error:
            return "status, warning and error disagree"
        if not self.model_version or not self.model_sha256:
            return "no model version or sha256"
        return ""


@dataclass(frozen=True)
class ScanUpdate:
    rows: list[ScanRow]  # the rows finished since the previous update
    done: int  # files finished in this run
    total: int  # files this run will process (after skipping those already in a resumed CSV)
    skipped: int  # files skipped because the CSV already had them
    elapsed_s: float
    resumed: tuple[ScanRow, ...] = ()  # a resumed scan's first update: the CSV's earlier finished rows

    @property
    def images_per_second(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


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
    shard: Shard | None = None  # scan only this part of the folder into a part CSV (see `app.core.shards`)
    processes: int = 0  # decode processes; 0: decode on threads of this process

    @property
    def csv_path(self) -> Path:
        return Path(self.out) if self.out else default_scan_csv(self.folder)

    @property
    def origin(self) -> PartOrigin | None:
        return PartOrigin.of(self.shard, self.folder, self.recursive) if self.shard else None

    def check(self, model_version: str | None = None, model_sha256: str = "") -> list[Path]:
        """Refuse a bad request before any work; return the image files in the folder (empty: nothing to scan;
        a shard of a folder with images may itself be empty, and then writes a part without rows).

        With `model_version`, a resumed CSV is validated in full here too (it is again when the scan starts).
        """
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise PneumoScanError(f"The batch size must be 1 to {MAX_BATCH_SIZE}, not {self.batch_size}.")
        if not 0 <= self.processes <= MAX_PROCESSES:
            raise PneumoScanError(f"The number of decode processes must be 0 to {MAX_PROCESSES}, not {self.processes}.")
        check_folder(self.folder)
        check_scan_output(self.folder, self.csv_path)
        out = self.csv_path
        if out.exists() and not self.resume:
            if not self.overwrite:
                raise OutputError(f"{out} already exists: add --resume to continue that scan, or --overwrite to "
                                  "replace it.")
            if not is_results_file(out):
                raise OutputError(f"{out} is not a PneumoScan results file; it is not replaced. Choose another --out.")
        if self.resume and model_version is not None:
            read_done(out, model_version, model_sha256, self.origin)
        return [path for path, problem in list_entries(self.folder, self.recursive) if not problem]

    def start(self, screener: Screener) -> Iterator[ScanUpdate]:
        return scan_folder(screener, self.folder, self.csv_path, self.recursive, self.resume, self.clahe,
                           self.batch_size, excel=self.excel, shard=self.shard, processes=self.processes)


def check_folder(folder: Path) -> None:
    """The folder to scan exists and can be listed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PneumoScanError(f"Not a folder: {folder}")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise PneumoScanError(f"Cannot read the folder {folder}: permission denied.")


def check_scan_output(folder: Path, out: Path) -> None:
    """What no caller may do: write into a folder, onto a non-CSV file, or a non-CSV among the images."""
    check_writable(out)
    is_csv = out.suffix.lower() == ".csv"
    if not is_csv and out.resolve().is_relative_to(Path(folder).resolve()):
        raise OutputError(f"--out {out} is inside the scanned folder and not a .csv; it could be one of the images. "
                          "Choose a .csv file.")
    if out.exists() and not is_csv:
        raise OutputError(f"--out {out} exists and is not a CSV file; PneumoScan will not replace it.")


def is_results_file(path: Path) -> bool:
    """Empty, or starting with a PneumoScan header (of any version): a file a scan may replace."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    return not head or head.removeprefix(BOM.encode()).startswith(b"path,status,")


def _looks_like_dicom_without_suffix(path: Path) -> bool:
    if path.suffix or not path.is_file():
        return False
    try:
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
            if entry.is_dir(follow_symlinks=False):
                if named:
                    found.append((path, ""))  # its row says it is a folder
                if recursive:
                    visit(path)
            elif recursive and entry.is_symlink() and path.is_dir():
                found.append((path, "A symbolic link to a folder: not followed. Scan the folder it points to instead."))
            elif named or _looks_like_dicom_without_suffix(path):
                found.append((path, ""))

    visit(folder)
    return sorted(found, key=lambda item: item[0].relative_to(folder).as_posix())


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """The files a scan reads, sorted by relative path for a deterministic order."""
    return [path for path, problem in list_entries(folder, recursive) if not problem]


def read_done(csv_path: Path, model_version: str, model_sha256: str = "", origin: PartOrigin | None = None) -> list[ScanRow]:
    """The finished rows of an earlier run of this model in `csv_path`, for `resume`; the file is only read.

    The whole file is validated first (`read_results`), and every scored row must be of this model
    version (and sha256, when given); a shard's part must be of the same shard, folder and recursion.
    Error rows are not finished: their files are tried again. Anything else is refused with a
    `PneumoScanError`, so results of two models (or two folders) never mix.
    """
    if not csv_path.exists():
        return []
    results = read_results(csv_path)
    if not results.rows:  # nothing in it could mix with this scan's rows
        return []
    if origin is None and results.part:
        raise PneumoScanError(f"{csv_path} is a part of a sharded scan; resume it with its --shard, or merge it.")
    if origin is not None and not results.part:
        raise PneumoScanError(f"{csv_path} is not a part of a sharded scan; choose another output for --shard {origin.shard}.")
    if origin is not None:
        for found in {o for o in results.origins if o != origin}:
            raise PneumoScanError(f"{csv_path} is shard {found.shard} of {found.describe_scope()}, not shard "
                                  f"{origin.shard} of {origin.describe_scope()}; choose another output.")
        if any(not origin.shard.holds(row.path) for row in results.rows):
            raise PneumoScanError(f"{csv_path} holds files of another shard than {origin.shard}; choose another output.")
    scored = [row for row in results.rows if row.status != "error"]
    others = sorted({row.model_version for row in scored if row.model_version != model_version})
    if others:
        raise PneumoScanError(f"{csv_path} holds results of model {', '.join(others)}, not of this model "
                              f"({model_version}); scan into a new CSV so that two models' results are not mixed.")
    if model_sha256 and any(row.model_sha256 != model_sha256[:SHA_DIGITS] for row in scored):
        raise PneumoScanError(f"{csv_path} holds results of another model file with the same version "
                              f"{model_version} (sha256 differs); scan into a new CSV.")
    return scored


@dataclass(frozen=True)
class Results:
    """A results CSV as read back: every complete row, and for a shard's part the origin of each row."""

    rows: list[ScanRow]
    cells: list[dict[str, str]]  # each row's cells as written (for a merge that copies them unchanged)
    part: bool  # the header has the part columns
    origins: list[PartOrigin]  # one per row (empty when not a part)
    bom: bool

    @property
    def models(self) -> set[tuple[str, str]]:
        return {(row.model_version, row.model_sha256) for row in self.rows if row.status != "error"}


def read_results(csv_path: Path, advice: str = "choose another output to resume.") -> Results:
    """Read and validate a results CSV in full: the header (a scan's, or a shard part's), every row
    complete and well-formed, one row per path. A half-written last line (a crash) is left out;
    anything else is refused with a `PneumoScanError`.
    """
    data = csv_path.read_bytes()
    text = data.decode(CSV_ENCODING, CSV_ERRORS)
    bom = text.startswith(BOM)
    text = text.removeprefix(BOM)
    headers = {",".join(CSV_COLUMNS): False, ",".join(CSV_COLUMNS + PART_COLUMNS): True}
    refused = f"{csv_path} is not a PneumoScan results file of this version; {advice}"
    if "\n" not in text:  # empty, or a header cut off by a crash
        if any(header.startswith(text.strip("\r")) for header in headers):
            return Results([], [], False, [], bom)
        raise PneumoScanError(refused)
    complete = text[: text.rfind("\n") + 1]  # a half-written last row is dropped
    reader = csv.reader(io.StringIO(complete, newline=""))
    columns = tuple(next(reader, ()))
    if ",".join(columns) not in headers:
        raise PneumoScanError(refused)
    part = headers[",".join(columns)]
    rows: list[ScanRow] = []
    cells_list: list[dict[str, str]] = []
    origins: list[PartOrigin] = []
    seen: set[str] = set()
    for cells in reader:
        try:
            if len(cells) != len(columns):
                raise ValueError(f"{len(cells)} cells instead of {len(columns)}")
            named = dict(zip(columns, cells))
            row = ScanRow.from_csv(named)
            problem = row.problem() or ("a second row for the same file" if row.path in seen else "")
            if problem:
                raise ValueError(problem)
            if part:
                origins.append(PartOrigin.from_cells({**named, "folder": csv_unescape(named["folder"])}))
        except ValueError as exc:
            raise PneumoScanError(f"{csv_path} has a damaged row (line {reader.line_num}: {exc}); {advice}") from exc
        seen.add(row.path)
        rows.append(row)
        cells_list.append({key: named[key] for key in CSV_COLUMNS})
    return Results(rows, cells_list, part, origins, bom)


class _CsvSink:
    """Header and kept rows go to a temporary file beside the target, which replaces it on the first `write`.

    With an `origin` (a shard's part), every row gets its part cells.
    """

    def __init__(self, target: Path, kept: tuple[ScanRow, ...], bom: bool, origin: PartOrigin | None = None) -> None:
        self.target, self.partial = target, temp_beside(target)
        self.extra = {key: csv_escape(value) for key, value in origin.cells().items()} if origin else {}
        self.columns = CSV_COLUMNS + (PART_COLUMNS if origin else ())
        self.handle = open(self.partial, "w", newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS)  # noqa: SIM115
        if bom:
            self.handle.write(BOM)
        self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)
        self.writer.writeheader()
        self._rows(kept)

    def _rows(self, rows: tuple[ScanRow, ...] | list[ScanRow]) -> None:
        self.writer.writerows({**row.to_csv(), **self.extra} for row in rows)

    def write(self, rows: list[ScanRow]) -> None:
        self._rows(rows)
        self.handle.flush()
        if self.partial is not None:  # closed before the rename, which Windows needs
            self.handle.close()
            os.replace(self.partial, self.target)
            self.partial = None
            self.handle = open(self.target, "a", newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS)  # noqa: SIM115
            self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)

    def close(self) -> None:
        self.handle.close()
        if self.partial is not None:  # stopped before the first batch: the target is left as it was
            self.partial.unlink(missing_ok=True)


# Scores `entries` ((path, problem) each, problem "" for a file to read) named `names` (relative paths), yielding
# rows in their order, chunk by chunk; closing the iterator stops the work not yet done.
Scorer = Callable[[list[tuple[Path, str]], list[str]], Iterator[list[ScanRow]]]


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
    score = score_locally(screener, clahe, batch_size, workers, processes)
    return run_scan(screener.card, folder, out_csv, score, recursive, resume, clock, excel, shard)


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
) -> Iterator[ScanUpdate]:
    """The scan around any `Scorer`: listing, shard, resume, the CSV and progress (local or distributed alike)."""
    folder, out_csv = Path(folder), Path(out_csv)
    check_folder(folder)
    check_scan_output(folder, out_csv)
    origin = PartOrigin.of(shard, folder, recursive) if shard else None
    finished_before = tuple(read_done(out_csv, card.version, card.sha256, origin)) if resume else ()
    done_before = {row.path for row in finished_before}
    entries = list_entries(folder, recursive)
    relative = {path: path.relative_to(folder).as_posix() for path, _ in entries}
    if shard:
        entries = [(path, problem) for path, problem in entries if shard.holds(relative[path])]
    todo = [(path, problem) for path, problem in entries if relative[path] not in done_before]
    skipped = len(entries) - len(todo)
    started, done, first = clock(), 0, True
    sink = _CsvSink(out_csv, finished_before, excel or (resume and _has_bom(out_csv)), origin)
    try:
        chunks = score(todo, [relative[path] for path, _ in todo]) if todo else iter(())
        try:
            for rows in chunks:
                sink.write(rows)
                done += len(rows)
                yield ScanUpdate(rows, done, len(todo), skipped, clock() - started, finished_before if first else ())
                first = False
        finally:  # cancelled or interrupted: the scorer stops its pending work
            close = getattr(chunks, "close", None)
            if close:
                close()
        if first:
            sink.write([])
            yield ScanUpdate([], 0, 0, skipped, clock() - started, finished_before)
    finally:
        sink.close()


def score_locally(screener: Screener, clahe: bool | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                  threads: int = DECODE_THREADS, processes: int = 0) -> Scorer:
    """Batches decoded on `threads` threads (or `processes` processes) while the model runs on the previous one."""

    def score(entries: list[tuple[Path, str]], names: list[str]) -> Iterator[list[ScanRow]]:
        pool = _decode_pool(screener.card, threads, processes)
        with pool:
            def submit(start: int) -> list[Future[Prepared]]:
                if processes:
                    return [_failed(problem) if problem else pool.submit(_prepare_in_process, path, clahe)
                            for path, problem in entries[start : start + batch_size]]
                return [_failed(problem) if problem else pool.submit(_prepare, screener, path, clahe)
                        for path, problem in entries[start : start + batch_size]]

            starts = range(0, len(entries), batch_size)
            pending = submit(0) if entries else []
            try:
                for start in starts:
                    futures = pending
                    pending = submit(start + batch_size) if start + batch_size < len(entries) else []
                    yield _finish_batch(screener, names[start : start + batch_size], futures, clahe)
            finally:  # cancelled or interrupted: do not decode the next batch for nothing
                for future in pending:
                    future.cancel()

    return score


def _decode_pool(card: ModelCard, threads: int, processes: int) -> Executor:
    if not processes:
        return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pneumoscan-load")
    # spawn, not fork: this process already runs ONNX Runtime's threads, which a fork would copy half-alive
    return ProcessPoolExecutor(processes, multiprocessing.get_context("spawn"), initializer=_start_decoder,
                               initargs=(card,))


_DECODER: Screener | None = None  # in a decode process: a Screener with the card only (no model)


def _start_decoder(card: ModelCard) -> None:
    """Decoding and preprocessing need the model card only; the model stays in the scanning process."""
    global _DECODER
    decoder = Screener.__new__(Screener)
    decoder.card = card
    _DECODER = decoder


def _prepare_in_process(path: Path, clahe: bool | None) -> Prepared:
    assert _DECODER is not None, "decode process started without its card"
    return _prepare(_DECODER, path, clahe)


def _prepare(screener: Screener, path: Path, clahe: bool | None) -> Prepared:
    return screener.prepare(load_model_image(path, screener.card.input_size), clahe)


def _failed(problem: str) -> Future[Prepared]:
    future: Future[Prepared] = Future()
    future.set_exception(PneumoScanError(problem))
    return future


def _has_bom(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(3) == BOM.encode()
    except OSError:
        return False


def _finish_batch(screener: Screener, names: list[str], futures: list[Future[Prepared]], clahe: bool | None) -> list[ScanRow]:
    """Collect one batch's decoded images, predict the good ones together, keep the file order."""
    rows: list[ScanRow | None] = [None] * len(names)
    good: list[tuple[int, Prepared]] = []
    for i, future in enumerate(futures):
        try:
            good.append((i, future.result()))
        except Exception as exc:  # any failure of one file becomes its error row; the scan goes on
            rows[i] = ScanRow.from_error(names[i], exc)
    try:
        predictions = screener.predict_prepared([p for _, p in good], clahe)
    except Exception as exc:
        predictions = None
        for i, _ in good:
            rows[i] = ScanRow.from_error(names[i], exc)
    for (i, _), prediction in zip(good, predictions or []):
        rows[i] = ScanRow.from_prediction(names[i], prediction, screener.card.sha256)
    return [row for row in rows if row is not None]
