"""One loop for decoding many files: each item through the caller's reader, every unreadable one kept with
its error message (never dropped silently, never stopping the loop). Training, the stress test and the
labelled evaluation all decode through it, so "which files were left out, and why" has one answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.core.errors import ImageLoadError
from app.core.progress import counting

K = TypeVar("K")  # what the caller decodes: a path, or a record naming one
T = TypeVar("T")  # what the reader makes of it
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class Decoded(Generic[K, T]):
    """The readable items and their decoded images (same order), and each unreadable item with its message."""

    kept: list[K] = field(default_factory=list)
    images: list[T] = field(default_factory=list)
    errors: list[tuple[K, str]] = field(default_factory=list)


def each_decoded(items: Iterable[K], read: Callable[[K], T], errors: list[tuple[K, str]],
                 progress: Progress | None = None, total: int | None = None) -> Iterator[tuple[K, T]]:
    """Yield (item, image) for every item `read` decodes; append (item, message) to `errors` for every one
    it refuses with an `ImageLoadError`. `progress(done, total)` follows each item, after its consumer ran."""
    for done, item in enumerate(items, 1):
        try:
            image = read(item)
        except ImageLoadError as exc:
            errors.append((item, str(exc)))
        else:
            yield item, image
        if progress:
            progress(done, total if total is not None else done)


def decode_all(items: Sequence[K], read: Callable[[K], T], progress: Progress | None = None,
               bar: str | None = None) -> Decoded[K, T]:
    """Every item decoded once, in order; `bar`: the description of a progress bar on stderr (`app.core.progress`)."""
    if bar is not None:
        with counting(len(items), "images", bar) as drawn:
            return decode_all(items, read, drawn)
    decoded: Decoded[K, T] = Decoded()
    for item, image in each_decoded(items, read, decoded.errors, progress, len(items)):
        decoded.kept.append(item)
        decoded.images.append(image)
    return decoded
