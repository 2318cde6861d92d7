"""The model card's sub-entries (the ONNX export with its head, the domain check, the population check), typed.

Each is a frozen dataclass holding the fields the engine reads, and also every key as it was written:
a key this version does not know (a newer trainer's, a human note) is kept and written back by
`to_dict`, never dropped. Each reads like the JSON object it came from (`entry["file"]`, `entry.get(...)`),
so code and tests that treat the card's entries as mappings keep working.

Light on purpose (no NumPy, no OpenCV), like `CARD_NAME`: `--version` reads the card's JSON with them alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

CARD_NAME = "model_card.json"  # beside every model file
E = TypeVar("E", bound="FileEntry")


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return None if value is None else float(value)


@dataclass(frozen=True, eq=False)
class FileEntry(Mapping[str, Any]):
    """A file the card names (beside the model) and its sha256; empty when the card names none."""

    file: str = ""
    sha256: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)  # every key as read, in its order

    @classmethod
    def parse(cls: type[E], data: object, what: str) -> E:
        """`data` from the card's JSON (None: no entry); ValueError/TypeError when it is no object or a number is not one."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(f"its {what} entry is not an object")
        return cls(**cls._typed(data), raw=dict(data))

    @classmethod
    def _typed(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"file": str(data.get("file") or ""), "sha256": str(data.get("sha256") or "")}

    def to_dict(self) -> dict[str, Any]:
        """The entry as the card writes it: the keys as read (unknown ones too), the typed fields' values."""
        out = dict(self.raw)
        for name in (f.name for f in fields(self) if f.name != "raw"):
            value = getattr(self, name)
            if isinstance(value, FileEntry):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            if name in out or value not in (None, "", {}, []):
                out[name] = value
        return out

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def __or__(self, other: Mapping[str, Any]) -> dict[str, Any]:
        """`card.domain | {...}`, as on the dict it used to be (assigning the result to a card types it again)."""
        return self.to_dict() | dict(other)


@dataclass(frozen=True, eq=False)
class OnnxEntry(FileEntry):
    """The ONNX export: the graph file and its input shape (h, w, c), and the Grad-CAM head beside it."""

    input_shape: tuple[int, ...] = ()
    head: FileEntry = field(default_factory=FileEntry)

    @classmethod
    def _typed(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        shape = data.get("input_shape") or ()
        return super()._typed(data) | {"input_shape": tuple(int(n) for n in shape),
                                       "head": FileEntry.parse(data.get("head"), "onnx head")}


@dataclass(frozen=True, eq=False)
class DomainEntry(FileEntry):
    """The domain statistics: their file and the gate's cut-offs (`not_xray_cutoff` None: older cards)."""

    cutoff: float | None = None
    not_xray_cutoff: float | None = None

    @classmethod
    def _typed(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        if data.get("file") and data.get("cutoff") is None:
            raise ValueError("its domain entry has no cutoff")
        return super()._typed(data) | {"cutoff": _number(data, "cutoff"), "not_xray_cutoff": _number(data, "not_xray_cutoff")}


@dataclass(frozen=True, eq=False)
class PopulationEntry(FileEntry):
    """The supervised population check: its file and its near and far cut-offs."""

    cutoff: float | None = None
    far_cutoff: float | None = None

    @classmethod
    def _typed(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        if data.get("file") and (data.get("cutoff") is None or data.get("far_cutoff") is None):
            raise ValueError("its population entry has no cutoff and far_cutoff")
        return super()._typed(data) | {"cutoff": _number(data, "cutoff"), "far_cutoff": _number(data, "far_cutoff")}
