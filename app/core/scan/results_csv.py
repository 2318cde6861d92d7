"""The results CSV of a scan: where it may go, reading and validating it (to resume or merge), and writing it.

The CSV is never written in place: the header (and, when resuming, the rows kept) go to a temporary
file beside it, which replaces the old file once the first batch is in it; later batches are
appended. A CSV that `resume` refuses is therefore left exactly as it was. A write that fails (a full
disk) leaves the rows already written, never half a row, and says how many there are.

A resume is bound to what wrote the CSV (`ScanBinding`): the folder (resolved) and recursion, the site
calibration and the decision (threshold, temperature, CLAHE) are refused when they differ; a file whose
size or modification time changed since its row was written is scored again.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import OutputError, PneumoScanError
from app.core.io.outputs import check_writable, csv_escape, csv_unescape, temp_beside
from app.core.scan.row import CSV_COLUMNS, SHA_DIGITS, ScanRow, file_fingerprint
from app.core.scan.shards import PART_COLUMNS, PartOrigin

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


@dataclass(frozen=True)
class ScanBinding:
    """What a scan's rows depend on besides the model: a resume must match it (`read_resume`)."""

    folder: str  # the scanned folder, resolved
    recursive: bool
    decision: str  # `scan_row.decision_of`
    site_sha256: str = ""  # the site calibration's sha256 ("" without one)

    @classmethod
    def of(cls, folder: Path, recursive: bool, decision: str, site_sha256: str = "") -> ScanBinding:
        return cls(str(Path(folder).resolve()), recursive, decision, site_sha256[:SHA_DIGITS])

    def cells(self) -> dict[str, str]:
        """The scope cells of every row (`SCOPE_COLUMNS`)."""
        return {"folder": csv_escape(self.folder), "recursive": str(self.recursive).lower()}

    def describe_scope(self) -> str:
        return self.folder + (" (recursive)" if self.recursive else "")

    def stamp(self, rows: Sequence[ScanRow], fingerprints: dict[str, tuple[int, int] | None]) -> list[ScanRow]:
        """`rows` with this decision and each file's fingerprint as it was before the file was read."""
        def stamped(row: ScanRow) -> ScanRow:
            size, mtime = fingerprints.get(row.path) or (None, None)
            return dataclasses.replace(row, decision=self.decision, file_size=size, file_mtime_ns=mtime)
        return [stamped(row) for row in rows]


@dataclass(frozen=True)
class Resumed:
    """The finished rows a resume keeps, and what the user should be told about the CSV ("" when nothing)."""

    rows: list[ScanRow]
    note: str = ""
    bom: bool = False  # the CSV starts with a byte-order mark, which the resumed scan keeps


def read_done(csv_path: Path, model_version: str, model_sha256: str = "", origin: PartOrigin | None = None,
              binding: ScanBinding | None = None) -> list[ScanRow]:
    """The finished rows `read_resume` keeps."""
    return read_resume(csv_path, model_version, model_sha256, origin, binding).rows


def read_resume(csv_path: Path, model_version: str, model_sha256: str = "", origin: PartOrigin | None = None,
                binding: ScanBinding | None = None) -> Resumed:
    """The finished rows of an earlier run of this model in `csv_path`, for `resume`; the file is only read.

    The whole file is validated first (`read_results`), and every scored row must be of this model
    version (and sha256, when given); a shard's part must be of the same shard, folder and recursion;
    with a `binding`, every row must be of its folder, recursion, decision and site calibration, and a
    row whose file changed since (size or modification time) is left out, so the file is scored again.
    Error rows are not finished: their files are tried again. Anything else is refused with a
    `PneumoScanError`, so results of two models (or two folders) never mix.
    """
    if not csv_path.exists():
        return Resumed([])
    results = read_results(csv_path)
    notes = [f"the last row of {csv_path} (line {results.cut_line}) was cut off by an interrupted write; "
             "its file is scored again"] if results.cut_line else []
    if not results.rows:  # nothing in it could mix with this scan's rows
        return Resumed([], "; ".join(notes), results.bom)
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
    if binding is not None:
        _check_binding(csv_path, results, scored, binding)
        changed = [row for row in scored if _changed(binding, row)]
        if changed:
            notes.append(f"{len(changed)} files changed since their rows were written (size or modification time); "
                         "they are scored again")
            scored = [row for row in scored if row not in changed]
    return Resumed(scored, "; ".join(notes), results.bom)


def _check_binding(csv_path: Path, results: Results, scored: list[ScanRow], binding: ScanBinding) -> None:
    """Refuse, saying what differs, a CSV of another folder, recursion, decision or site calibration."""
    new = "scan into a new CSV, so that results of two scans are not mixed."
    for folder, recursive in results.scopes:
        if folder != binding.folder:
            raise PneumoScanError(f"{csv_path} is a scan of the folder {folder}, not of {binding.folder}; {new}")
        if recursive != binding.recursive:
            raise PneumoScanError(f"{csv_path} is a scan {'with' if recursive else 'without'} --recursive; "
                                  f"resume it {'with' if recursive else 'without'} it, or {new}")
    for decision in sorted({row.decision for row in scored} - {binding.decision}):
        raise PneumoScanError(f"{csv_path} was scanned with {decision}, not {binding.decision} (the model card or "
                              f"--clahe changed); {new}")
    for site in sorted({row.site_sha256 for row in scored} - {binding.site_sha256}):
        was = f"the site calibration {site}" if site else "no site calibration"
        now = f"the site calibration {binding.site_sha256}" if binding.site_sha256 else "none"
        raise PneumoScanError(f"{csv_path} was scanned with {was} (sha256), this scan with {now}; {new}")


def _changed(binding: ScanBinding, row: ScanRow) -> bool:
    """The row's file is still there but is no longer the file its row was scored from."""
    now = file_fingerprint(Path(binding.folder) / row.path)
    return now is not None and now != row.fingerprint


@dataclass(frozen=True)
class Results:
    """A results CSV as read back: every complete row, and for a shard's part the origin of each row."""

    rows: list[ScanRow]
    cells: list[dict[str, str]]  # each row's cells as written (for a merge that copies them unchanged)
    part: bool  # the header has the part columns
    origins: list[PartOrigin]  # one per row (empty when not a part)
    bom: bool
    scopes: frozenset[tuple[str, bool]] = frozenset()  # the (folder, recursive) of the rows
    cut_line: int = 0  # the line where a last row cut off by an interrupted write began (0: none)

    @property
    def models(self) -> set[tuple[str, str]]:
        return {(row.model_version, row.model_sha256) for row in self.rows if row.status != "error"}


def read_results(csv_path: Path, advice: str = "choose another output to resume.") -> Results:
    """Read and validate a results CSV in full: the header (a scan's, or a shard part's), every row
    complete and well-formed, one row per path. Blank lines at the end (an editor's) are ignored; a last
    row cut off by an interrupted write (the file does not end with a line break, or its last row has
    too few cells: cut after a line break inside a quoted name) is left out and its line kept in `cut_line`;
    anything else is refused with a `PneumoScanError`.
    """
    try:
        data = csv_path.read_bytes()
    except OSError as exc:
        raise PneumoScanError(f"Cannot read {csv_path}: {exc.strerror or exc}") from exc
    text = data.decode(CSV_ENCODING, CSV_ERRORS)
    bom = text.startswith(BOM)
    text = text.removeprefix(BOM)
    headers = {",".join(CSV_COLUMNS): False, ",".join(CSV_COLUMNS + PART_COLUMNS): True}
    refused = f"{csv_path} is not a PneumoScan results file of this version; {advice}"
    if "\n" not in text:  # empty, or a header cut off by a crash
        if any(header.startswith(text.strip("\r")) for header in headers):
            return Results([], [], False, [], bom)
        raise PneumoScanError(refused)
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []  # (first line, cells)
    try:
        columns = tuple(next(reader, ()))
        if ",".join(columns) not in headers:
            raise PneumoScanError(refused)
        line = reader.line_num + 1
        for cells in reader:
            records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:  # a quote never closed runs into the field limit
        raise PneumoScanError(f"{csv_path} is a damaged CSV at line {line} ({exc}: a stray quote?); {advice}") from exc
    while records and not records[-1][1]:  # blank last lines
        records.pop()
    part = headers[",".join(columns)]
    rows: list[ScanRow] = []
    cells_list: list[dict[str, str]] = []
    origins: list[PartOrigin] = []
    scopes: set[tuple[str, bool]] = set()
    seen: set[str] = set()
    cut_line = 0
    for number, (line, cells) in enumerate(records):
        last = number == len(records) - 1
        if last and not text.endswith("\n"):  # cut inside its last cell, which may still look well-formed
            cut_line = line
            break
        try:
            if len(cells) != len(columns):
                raise ValueError(f"{len(cells)} cells instead of {len(columns)}")
            named = dict(zip(columns, cells))
            row = ScanRow.from_csv(named)
            problem = row.problem() or ("a second row for the same file" if row.path in seen else "")
            if named["recursive"] not in ("true", "false") or not named["folder"]:
                problem = problem or "no folder, or recursive is not true/false"
            if problem:
                raise ValueError(problem)
            if part:
                origins.append(PartOrigin.from_cells({**named, "folder": csv_unescape(named["folder"])}))
        except ValueError as exc:
            if last and len(cells) < len(columns):  # a killed write's last row: keep the complete ones
                cut_line = line
                break
            raise PneumoScanError(f"{csv_path} has a damaged row (line {line}: {exc}); {advice}") from exc
        seen.add(row.path)
        rows.append(row)
        scopes.add((csv_unescape(named["folder"]), named["recursive"] == "true"))
        cells_list.append({key: named[key] for key in CSV_COLUMNS})
    return Results(rows, cells_list, part, origins, bom, frozenset(scopes), cut_line)


def has_bom(path: Path) -> bool:
    """A resumed scan keeps the byte-order mark of the CSV it continues."""
    try:
        with open(path, "rb") as handle:
            return handle.read(3) == BOM.encode()
    except OSError:
        return False


class CsvSink:
    """Header and kept rows go to a temporary file beside the target, which replaces it on the first `write`.

    Every row gets the binding's scope cells, and with an `origin` (a shard's part) its shard. A write that
    fails raises `OutputError` saying how many rows the target holds: before the first `write` the target
    is left as it was; after it, the target is cut back to its last complete row.
    """

    partial: Path | None  # None once the temporary file has replaced the target

    def __init__(self, target: Path, kept: tuple[ScanRow, ...], bom: bool, binding: ScanBinding,
                 origin: PartOrigin | None = None) -> None:
        try:
            self.target, self.partial = target, temp_beside(target)
        except OSError as exc:
            raise OutputError(f"Cannot write {target}: {exc.strerror or exc}; the previous results are kept.") from exc
        self.extra = {**binding.cells(), **({"shard": str(origin.shard)} if origin else {})}
        self.columns = CSV_COLUMNS + (PART_COLUMNS if origin else ())
        self.safe = len(kept) if target.exists() else 0  # rows the target holds for sure
        self.kept, self.size = len(kept), 0
        self.handle = open(self.partial, "w", newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS)  # noqa: SIM115
        self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)
        try:
            if bom:
                self.handle.write(BOM)
            self.writer.writeheader()
            self._rows(kept)
        except OSError as exc:
            self._fail(exc)

    def _rows(self, rows: tuple[ScanRow, ...] | list[ScanRow]) -> None:
        self.writer.writerows({**row.to_csv(), **self.extra} for row in rows)

    def write(self, rows: list[ScanRow]) -> None:
        try:
            self._rows(rows)
            self.handle.flush()
            if self.partial is not None:  # closed before the rename, which Windows needs
                self.handle.close()
                os.replace(self.partial, self.target)
                self.partial = None
                self.safe = self.kept
                self.handle = open(self.target, "a", newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS)  # noqa: SIM115
                self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)
            self.size = self.handle.tell()
        except OSError as exc:
            self._fail(exc)
        self.safe += len(rows)

    def _fail(self, exc: OSError) -> None:
        """Undo the write that failed (temporary file removed, or the target cut back) and say so."""
        with contextlib.suppress(OSError):  # its buffer cannot be written either
            self.handle.close()
        if self.partial is None:
            with contextlib.suppress(OSError):
                os.truncate(self.target, self.size)
        self.close()
        what = (f"No space left on the device of {self.target}" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                else f"Cannot write {self.target}: {exc.strerror or exc}")
        kept = f"the previous results are kept, {self.safe} rows written" if self.target.exists() else "nothing was written"
        raise OutputError(f"{what}; {kept}.") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        if self.partial is not None:  # stopped before the first batch: the target is left as it was
            self.partial.unlink(missing_ok=True)
            self.partial = None
