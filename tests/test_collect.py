"""The one decode-and-collect-errors loop (`app.core.io.collect`): training, the stress test and the labelled
evaluation decode through it, so an unreadable file is an error entry and never stops or shortens the run."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.io.collect import decode_all, each_decoded
from app.core.io.images import load_model_image


def _files(folder: Path) -> list[Path]:
    """Three readable JPEGs around a truncated one and a missing one."""
    paths = []
    for name, value in (("a.jpeg", 40), ("b.jpeg", None), ("c.jpeg", 120), ("gone.jpeg", None), ("d.jpeg", 200)):
        path = folder / name
        if name == "b.jpeg":
            path.write_bytes(b"\xff\xd8\xff\xe0 truncated")
        elif value is not None:
            cv2.imwrite(str(path), np.full((64, 80), value, np.uint8))
        paths.append(path)
    return paths


def test_a_corrupt_or_missing_file_becomes_an_error_entry_and_the_loop_goes_on(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    done: list[tuple[int, int]] = []
    decoded = decode_all(paths, lambda p: load_model_image(p, (32, 32)).pixels, lambda d, n: done.append((d, n)))
    assert decoded.kept == [paths[0], paths[2], paths[4]]  # the files after the bad ones are still decoded, in order
    assert [int(image.mean()) for image in decoded.images] == [40, 120, 200]
    assert [path for path, _ in decoded.errors] == [paths[1], paths[3]]
    assert "not found" in decoded.errors[1][1].lower() and all(message for _, message in decoded.errors)
    assert done == [(i, 5) for i in range(1, 6)]  # one step per file, readable or not


def test_a_bar_gives_the_same_result_as_no_bar(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    read = lambda p: load_model_image(p, (32, 32)).pixels  # noqa: E731
    plain, barred = decode_all(paths, read), decode_all(paths, read, bar="decode")
    assert barred.kept == plain.kept and barred.errors == plain.errors


def test_progress_follows_each_item_after_its_consumer_ran(tmp_path: Path) -> None:
    """The labelled evaluation predicts a batch inside the loop: the count it reports comes after that work."""
    paths = _files(tmp_path)
    events: list[str] = []
    errors: list[tuple[Path, str]] = []
    for path, _ in each_decoded(paths, lambda p: load_model_image(p, (32, 32)), errors,
                                lambda d, n: events.append(f"progress {d}"), len(paths)):
        events.append(f"used {path.name}")
    assert events[:3] == ["used a.jpeg", "progress 1", "progress 2"] and events[-2:] == ["used d.jpeg", "progress 5"]
    assert len(errors) == 2


def test_an_error_that_is_not_an_unreadable_image_is_not_swallowed(tmp_path: Path) -> None:
    def broken(path: Path) -> None:
        raise RuntimeError("a bug, not a bad file")

    with pytest.raises(RuntimeError, match="a bug"):
        decode_all(_files(tmp_path), broken)
