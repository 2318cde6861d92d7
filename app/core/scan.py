"""Folder scan: every image in a folder becomes one CSV row, written and flushed batch by batch.

`scan_folder` is a generator of `ScanUpdate`s, so the command line prints progress from it and the
GUI's worker forwards it to a progress bar; stopping the iteration (Ctrl-C, the Cancel button)
leaves a valid CSV of everything finished, and `resume=True` later skips those files (and tries
the ones with an error row again). Files are decoded on a thread pool while the model runs on the
previous batch.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import PneumoScanError, describe_error
from app.core.image_io import has_dicom_preamble, is_image_path, load_image
from app.core.screening import PROBABILITY_DIGITS, Prepared, Screener

# File names that are not valid UTF-8 (possible on Linux) are written back byte for byte, so the scan
# never dies on one and a resumed scan still recognises them.
CSV_ENCODING, CSV_ERRORS = "utf-8", "surrogateescape"

CSV_COLUMNS = ("path", "status", "probability", "prediction", "threshold", "model_version",
               "in_domain", "domain_score", "warning", "error")


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

    def to_csv(self) -> dict[str, str]:
        def fmt(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return {
            "path": self.path, "status": self.status, "probability": fmt(self.probability, PROBABILITY_DIGITS),
            "prediction": self.prediction, "threshold": fmt(self.threshold, PROBABILITY_DIGITS), "model_version": self.model_version,
            "in_domain": "" if self.in_domain is None else str(self.in_domain).lower(),
            "domain_score": fmt(self.domain_score, 3), "warning": self.warning, "error": self.error,
        }

    @classmethod
    def from_csv(cls, row: dict[str, str]) -> ScanRow:
        """The inverse of `to_csv` (numbers as written, to 6 decimals)."""
        def number(text: str) -> float | None:
            return float(text) if text else None

        return cls(
            path=row["path"], status=row["status"], probability=number(row["probability"]),
            prediction=row["prediction"], threshold=number(row["threshold"]), model_version=row["model_version"],
            in_domain={"true": True, "false": False}.get(row["in_domain"]), domain_score=number(row["domain_score"]),
            warning=row["warning"], error=row["error"],
        )


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


def _looks_like_dicom_without_suffix(path: Path) -> bool:
    if path.suffix or not path.is_file():
        return False
    try:
        with open(path, "rb") as handle:
            return has_dicom_preamble(handle.read(132))
    except OSError:
        return False


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image-named entries (and suffix-less DICOM files), sorted by relative path for a deterministic order.

    Entries named like images are listed even when they are folders or unreadable, so that each gets
    an error row instead of silently vanishing from the results.
    """
    folder = Path(folder)
    entries = folder.rglob("*") if recursive else folder.iterdir()
    found = []
    for path in entries:
        if is_image_path(path) or _looks_like_dicom_without_suffix(path):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def read_done(csv_path: Path, model_version: str) -> list[ScanRow]:
    """The finished rows of an earlier run of `model_version` into `csv_path`, for `resume`.

    A half-written last line (a crash) is cut off. Error rows are not finished: they are removed from
    the file, so their files are tried again. A CSV of another format or another model is refused
    (results of two models must not be mixed) and left untouched.
    """
    if not csv_path.exists() or csv_path.stat().st_size == 0:
        return []
    data = csv_path.read_bytes()
    if not data.endswith(b"\n"):
        with open(csv_path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
        if data.rfind(b"\n") < 0:  # only a half-written header: start afresh
            return []
    with open(csv_path, newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS) as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise PneumoScanError(f"{csv_path} is not a PneumoScan results file of this version; "
                                  "choose another output to resume.")
        try:
            rows = [ScanRow.from_csv(row) for row in reader]
        except (ValueError, KeyError, TypeError) as exc:
            raise PneumoScanError(f"{csv_path} has a damaged row (line {reader.line_num}); "
                                  "choose another output to resume.") from exc
    others = sorted({row.model_version for row in rows if row.model_version and row.model_version != model_version})
    if others:
        raise PneumoScanError(f"{csv_path} holds results of model {', '.join(others)}, not of this model "
                              f"({model_version}); scan into a new CSV so that two models' results are not mixed.")
    finished = [row for row in rows if row.status != "error"]
    if len(finished) < len(rows):
        _rewrite(csv_path, finished)
    return finished


def _rewrite(csv_path: Path, rows: list[ScanRow]) -> None:
    """Replace the CSV by `rows` in one step, so a crash leaves either the old file or the new one."""
    partial = csv_path.with_name(f".{csv_path.name}.part")
    with open(partial, "w", newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS) as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(row.to_csv() for row in rows)
    os.replace(partial, csv_path)


def _error_row(relative: str, exc: BaseException) -> ScanRow:
    return ScanRow(path=relative, status="error", error=" ".join(describe_error(exc).split()))  # one line per row


def _prepare(screener: Screener, path: Path, clahe: bool | None) -> Prepared:
    return screener.prepare(load_image(path), clahe)


def scan_folder(
    screener: Screener,
    folder: Path,
    out_csv: Path,
    recursive: bool = False,
    resume: bool = False,
    clahe: bool | None = None,
    batch_size: int = 16,
    workers: int = 2,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[ScanUpdate]:
    """Scan `folder` into `out_csv`, yielding after every batch; see the module docstring."""
    folder, out_csv = Path(folder), Path(out_csv)
    if not folder.is_dir():
        raise PneumoScanError(f"Not a folder: {folder}")
    finished_before = tuple(read_done(out_csv, screener.card.version)) if resume else ()
    done_before = {row.path for row in finished_before}
    all_paths = list_images(folder, recursive)
    relative = {p: p.relative_to(folder).as_posix() for p in all_paths}
    paths = [p for p in all_paths if relative[p] not in done_before]
    skipped = len(all_paths) - len(paths)
    batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    started, done = clock(), 0
    append = resume and bool(done_before)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "a" if append else "w", newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS) as handle, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pneumoscan-load") as pool:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        if not append:
            writer.writeheader()
            handle.flush()

        def submit(batch: list[Path]) -> list[Future[Prepared]]:
            return [pool.submit(_prepare, screener, path, clahe) for path in batch]

        pending = submit(batches[0]) if batches else []
        try:
            for index, batch in enumerate(batches):
                futures, pending = pending, (submit(batches[index + 1]) if index + 1 < len(batches) else [])
                rows = _finish_batch(screener, batch, futures, relative, clahe)
                writer.writerows(row.to_csv() for row in rows)
                handle.flush()
                done += len(rows)
                yield ScanUpdate(rows, done, len(paths), skipped, clock() - started,
                                 finished_before if index == 0 else ())
        finally:  # cancelled or interrupted: do not decode the next batch for nothing
            for future in pending:
                future.cancel()
    if not batches:
        yield ScanUpdate([], 0, 0, skipped, clock() - started, finished_before)


def _finish_batch(
    screener: Screener, batch: list[Path], futures: list[Future[Prepared]], relative: dict[Path, str], clahe: bool | None
) -> list[ScanRow]:
    """Collect one batch's decoded images, predict the good ones together, keep the file order."""
    rows: list[ScanRow | None] = [None] * len(batch)
    good: list[tuple[int, Prepared]] = []
    for i, (path, future) in enumerate(zip(batch, futures)):
        try:
            good.append((i, future.result()))
        except Exception as exc:  # any failure of one file becomes its error row; the scan goes on
            rows[i] = _error_row(relative[path], exc)
    try:
        predictions = screener.predict_prepared([p for _, p in good], clahe)
    except Exception as exc:
        predictions = None
        for i, _ in good:
            rows[i] = _error_row(relative[batch[i]], exc)
    for (i, _), prediction in zip(good, predictions or []):
        rows[i] = ScanRow(
            path=relative[batch[i]], status=prediction.status, probability=prediction.probability,
            prediction=prediction.label, threshold=prediction.threshold, model_version=prediction.model_version,
            in_domain=prediction.in_domain if prediction.domain_score is not None else None,
            domain_score=prediction.domain_score, warning=" | ".join(prediction.warnings),
        )
    return [row for row in rows if row is not None]
