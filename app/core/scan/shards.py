"""Shards: a folder scan cut into N disjoint parts for a job scheduler (a Slurm array), and their merge.

A file belongs to shard `sha256(relative path) mod N`, not to a position in the sorted list, so adding
files to the folder never moves a file already scanned to another shard. A part's CSV has the scan's
columns (`folder` and `recursive` among them) plus `shard` in every row, as every row already names its model:
`merge` can then refuse parts of two folders or two shard counts as it refuses two models, and
`--resume` refuses a part of another shard.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import PneumoScanError

MAX_SHARDS = 10_000  # a Slurm array larger than this is a typing mistake (and merge lists every absent part)
PART_COLUMNS = ("shard",)  # after the scan's columns, which already name the folder and recursion
_SPEC = re.compile(r"^\s*(\d{1,12})\s*/\s*(\d{1,12})\s*$")  # more digits: refused as out of range below


@dataclass(frozen=True)
class Shard:
    """The `index`-th of `count` parts of a folder (0-based, as Slurm's $SLURM_ARRAY_TASK_ID)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """"I/N" with 0 <= I < N; anything else is refused with a message naming the valid range."""
        match = _SPEC.match(text)
        if not match and re.fullmatch(r"\s*\d+\s*/\s*\d+\s*", text):
            raise PneumoScanError(f"--shard {text[:40]}{'...' if len(text) > 40 else ''}: the number of parts N must "
                                  f"be at least 1 and at most {MAX_SHARDS}.")
        if not match:
            raise PneumoScanError(f"--shard {text}: write it as I/N, for example 0/4 (the first of 4 parts).")
        index, count = int(match[1]), int(match[2])
        if not 1 <= count <= MAX_SHARDS:
            raise PneumoScanError(f"--shard {text}: the number of parts N must be at least 1 and at most {MAX_SHARDS}.")
        if index >= count:
            raise PneumoScanError(f"--shard {text}: I must be 0 to {count - 1} for {count} parts (numbered from 0).")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, relative: str) -> bool:
        return shard_of(relative, self.count) == self.index


def shard_of(relative: str, count: int) -> int:
    """The part a file belongs to: stable across runs, machines and Python versions (no salted `hash`)."""
    digest = hashlib.sha256(relative.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class PartOrigin:
    """What a part's rows were cut from; two parts merge only if they agree on `folder` and `recursive`."""

    shard: Shard
    folder: str  # the scanned folder, resolved: the path every node of the cluster sees
    recursive: bool

    @classmethod
    def of(cls, shard: Shard, folder: Path, recursive: bool) -> PartOrigin:
        return cls(shard, str(Path(folder).resolve()), recursive)

    def cells(self) -> dict[str, str]:
        return {"shard": str(self.shard), "folder": self.folder, "recursive": str(self.recursive).lower()}

    @classmethod
    def from_cells(cls, cells: dict[str, str]) -> PartOrigin:
        """The inverse of `cells`; `ValueError` when one is malformed."""
        if cells["recursive"] not in ("true", "false") or not cells["folder"]:
            raise ValueError("no folder, or recursive is not true/false")
        try:
            shard = Shard.parse(cells["shard"])
        except PneumoScanError as exc:
            raise ValueError(f"shard {cells['shard']!r}") from exc
        return cls(shard, cells["folder"], cells["recursive"] == "true")

    @property
    def scope(self) -> tuple[str, bool]:
        """The folder identity, without the shard."""
        return self.folder, self.recursive

    def describe_scope(self) -> str:
        return self.folder + (" (recursive)" if self.recursive else "")
