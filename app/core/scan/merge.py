"""`merge`: the parts of a sharded scan into the one CSV a single scan of the folder would have written.

Everything is checked before anything is written: the parts must come from one model (version and
sha256), one folder (with or without recursion) and one shard count (`MixedParts`, a usage error);
the folder is listed again and every file must have exactly one row (`IncompleteParts`, which names
the missing and duplicated files). The rows are then copied cell for cell, sorted like a scan, without
the part columns, through a temporary file renamed into place.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import OutputError, PneumoScanError
from app.core.io.outputs import check_writable, refuse_inputs, temp_beside
from app.core.scan.results_csv import BOM, CSV_ENCODING, CSV_ERRORS, Results, is_results_file, read_results
from app.core.io.listing import list_entries
from app.core.scan.row import CSV_COLUMNS

ADVICE = "merge only the parts that `scan --shard` wrote."


class MixedParts(PneumoScanError):
    """Parts of two models, two folders or two shard counts: they can never be one scan."""


class IncompleteParts(PneumoScanError):
    """Files of the folder without a row, or with rows in two parts: the merge would not equal one scan."""

    def __init__(self, missing: list[str], duplicated: list[str], absent_shards: list[str]) -> None:
        said = [f"{len(missing)} files have no row"] if missing else []
        said += [f"{len(duplicated)} files have rows in two parts"] if duplicated else []
        hint = f" (no part of shard {', '.join(absent_shards)} was given)" if absent_shards else ""
        super().__init__("; ".join(said) + hint + "; nothing was written.")
        self.missing, self.duplicated = missing, duplicated


@dataclass(frozen=True)
class Merged:
    rows: int
    errors: int  # rows of files that could not be scored
    flagged: int
    gone: list[str]  # rows of files no longer in the folder (kept)


def check_merge_output(parts: list[Path], out: Path, overwrite: bool) -> None:
    """Refuse, before reading a part, an output that is a part, a folder, an unrelated file, or exists without --overwrite."""
    refuse_inputs(out, parts)
    check_writable(out)
    if out.suffix.lower() != ".csv":
        raise OutputError(f"--out {out} is not a .csv; the merged results are a CSV file.")
    if out.exists():
        if not overwrite:
            raise OutputError(f"{out} already exists; add --overwrite to replace it.")
        if not is_results_file(out):
            raise OutputError(f"{out} is not a PneumoScan results file; it is not replaced. Choose another --out.")


def merge_parts(parts: list[Path], out: Path, excel: bool = False) -> Merged:
    """Check the parts against each other and the folder, then write `out`; see the module docstring."""
    results = {path: read_results(path, ADVICE) for path in parts}
    for path, result in results.items():
        if not result.part:
            raise MixedParts(f"{path} is a whole scan, not a part of a sharded scan; {ADVICE}")
    origins = {path: set(result.origins) for path, result in results.items()}
    # Each distinct folder, shard count and model, with one part that holds it (for the message).
    scopes = {origin.scope: path for path, found in origins.items() for origin in found}
    if len(scopes) > 1:
        raise MixedParts("the parts come from different folders: " + _listing(
            {f"{folder}{' (recursive)' if recursive else ''}": path for (folder, recursive), path in scopes.items()}))
    if not scopes:
        raise MixedParts("the parts hold no rows, so nothing says which folder they are of; nothing was written.")
    counts = {origin.shard.count: path for path, found in origins.items() for origin in found}
    if len(counts) > 1:
        raise MixedParts("the parts were cut for different numbers of shards: " + _listing(
            {f"N={count}": path for count, path in counts.items()}))
    models = {model: path for path, result in results.items() for model in result.models}
    if len(models) > 1:
        raise MixedParts("the parts hold results of different models: " + _listing(
            {f"{version} (sha256 {sha})": path for (version, sha), path in models.items()}))
    (folder, recursive), = scopes
    (count,) = counts
    return _write(results, folder, recursive, count, out, excel)


def _listing(found: dict[str, Path]) -> str:
    return ", ".join(f"{what} in {path}" for what, path in found.items()) + "; nothing was written."


def _write(results: dict[Path, Results], folder: str, recursive: bool, count: int, out: Path, excel: bool) -> Merged:
    try:
        expected = {entry.relative_to(folder).as_posix() for entry, _ in list_entries(Path(folder), recursive)}
    except PneumoScanError as exc:
        raise PneumoScanError(f"{exc} merge lists the folder to check that no file is missing: run it where the "
                              "folder is visible, at the same path as for the scans.") from exc
    rows = [(row, cells) for result in results.values() for row, cells in zip(result.rows, result.cells)]
    seen = Counter(row.path for row, _ in rows)
    duplicated = sorted(path for path, times in seen.items() if times > 1)
    missing = sorted(expected - set(seen))
    if missing or duplicated:
        given = {origin.shard.index for result in results.values() for origin in result.origins}
        absent = [f"{index}/{count}" for index in range(count) if index not in given]
        raise IncompleteParts(missing, duplicated, absent)
    rows.sort(key=lambda item: item[0].path)
    partial = temp_beside(out)
    try:
        with open(partial, "w", newline="", encoding=CSV_ENCODING, errors=CSV_ERRORS) as handle:
            if excel:
                handle.write(BOM)
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(cells for _, cells in rows)
        partial.replace(out)
    except OSError as exc:
        raise OutputError(f"Cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return Merged(len(rows), sum(row.status == "error" for row, _ in rows),
                  sum(row.flagged for row, _ in rows), sorted(set(seen) - expected))
