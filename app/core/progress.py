"""Progress of a long loop on stderr, through one library (tqdm) for the CLI and the training module alike.

On a terminal: a bar redrawn in place, with rate and time left. In a file or a pipe: nothing at all
(tqdm's own terminal check), where a redrawn bar would pile up into one endless line. Results and
summaries never go through here: they are printed on stdout as before.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_bar(total: int | None, unit: str, desc: str = "") -> tqdm:
    """A bar on stderr, silent when stderr is not a terminal; `update(n)` it, then `close()`."""
    return tqdm(total=total, unit=f" {unit}", desc=desc or None, file=sys.stderr, disable=None,
                dynamic_ncols=True, mininterval=0.5, leave=True)


def tracked(items: Iterable[T], total: int | None, unit: str, desc: str = "") -> Iterator[T]:
    """`items`, advancing a `progress_bar` by one per item."""
    bar = progress_bar(total, unit, desc)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


@contextlib.contextmanager
def counting(total: int, unit: str, desc: str = "") -> Iterator[Callable[[int, int], None]]:
    """A `progress(done, total)` callback for an engine loop that reports counts, drawing one bar."""
    bar = progress_bar(total, unit, desc)
    try:
        yield lambda done, _total: bar.update(done - bar.n)
    finally:
        bar.close()


def note(line: str) -> None:
    """One line on stderr, above a live bar instead of through it."""
    tqdm.write(line, file=sys.stderr)
