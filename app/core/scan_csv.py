"""The results CSV of a scan: where it may go, reading and validating it (to resume or merge), and writing it.

The CSV is never written in place: the header (and, when resuming, the rows kept) go to a temporary
file beside it, which replaces the old file once the first batch is in it; later batches are
appended. A CSV that `resume` refuses is therefore left exactly as it was.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import OutputError, PneumoScanError
from app.core.outputs import check_writable, csv_escape, csv_unescape, temp_beside
from app.core.scan_row import CSV_COLUMNS, SHA_DIGITS, ScanRow
from app.core.shards import PART_COLUMNS, PartOrigin

# File names that are not valid UTF-8 (possible on Linux) are written back byte for byte, so the scan
# never dies on one and a resumed scan still recognises them.
CSV_ENCODING, CSV_ERRORS = "utf-8", "surrogateescape"
BOM = "\ufeff"  # `excel=True`: Excel reads a UTF-8 CSV without it as the local code page (accents garbled)


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


def has_bom(path: Path) -> bool:
    """A resumed scan keeps the byte-order mark of the CSV it continues."""
    try:
        with open(path, "rb") as handle:
            return handle.read(3) == BOM.encode()
    except OSError:
        return False


class CsvSink:
    """Header and kept rows go to a temporary file beside the target, which replaces it on the first `write`.

    With an `origin` (a shard's part), every row gets its part cells.
    """

    partial: Path | None  # None once the temporary file has replaced the target

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

