"""A corpus of bad and odd files, scanned in one go: the scan finishes and each file gets its one row.

Every file is generated here into a temporary folder. Each bad file's row must say what went wrong
(the specific message of its error type); each odd-but-valid file must get a prediction.
"""

from __future__ import annotations

import csv
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.scan import CSV_COLUMNS, scan_folder
from tests.test_image_io import (
    encode,
    make_dicom,
    png_with_declared_size,
    pydicom_sample,
    xray_like,
)


@dataclass(frozen=True)
class Expect:
    status: str  # "ok", "warning" or "error"
    text: str = ""  # a fragment of the error (status "error") or of the warning (status "warning")


ERR_EMPTY = "The file is empty (0 bytes)."
ERR_NOT_IMAGE = "Not a readable image: the file is not JPEG, PNG, BMP, TIFF or DICOM."
ERR_TRUNCATED_JPEG = "The JPEG file is truncated (no end-of-image marker)."
ERR_TRUNCATED_PNG = "The PNG file is truncated or damaged and could not be decoded."
ERR_TOO_SMALL = "at least 64 pixels per side are needed"
ERR_TOO_LARGE = "above the limit"


def _gray(height: int = 256, width: int = 256, seed: int = 0) -> Image.Image:
    return Image.fromarray(xray_like(height, width, seed))


def _dicom_pixels(seed: int = 0) -> np.ndarray:
    return (xray_like(256, 256, seed).astype(np.uint16) * 16)  # 12-bit


def build_corpus(folder: Path) -> dict[str, Expect]:
    """Write the corpus; return {relative path: what its row must say}."""
    expected: dict[str, Expect] = {}

    def put(name: str, data: bytes, expect: Expect) -> Path:
        path = folder / name
        path.write_bytes(data)
        expected[name] = expect
        return path

    png = encode(_gray(), "PNG")
    jpeg = encode(_gray(), "JPEG", quality=90)

    # ---- broken or not images at all
    put("zero_bytes.png", b"", Expect("error", ERR_EMPTY))
    put("truncated.jpg", jpeg[: len(jpeg) // 2], Expect("error", ERR_TRUNCATED_JPEG))
    put("truncated.png", png[: len(png) // 2], Expect("error", ERR_TRUNCATED_PNG))
    crc = bytearray(png)
    crc[29] ^= 0xFF  # IHDR checksum
    put("bad_header_crc.png", bytes(crc), Expect("error", "The PNG file's header is damaged"))
    idat = bytearray(png)
    start = png.index(b"IDAT") + 4
    idat[start : start + 32] = bytes(32)  # zeroed compressed data: the CRC no longer matches
    put("bad_data_crc.png", bytes(idat), Expect("error", ERR_TRUNCATED_PNG))
    put("random_bytes.png", np.random.default_rng(3).integers(0, 256, 8192, dtype=np.uint8).tobytes(),
        Expect("error", ERR_NOT_IMAGE))
    put("text.jpg", b"This is not an X-ray.\n" * 50, Expect("error", ERR_NOT_IMAGE))
    put("page.png", b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>\n",
        Expect("error", ERR_NOT_IMAGE))
    bmp, tiff = encode(_gray().convert("RGB"), "BMP"), encode(_gray(), "TIFF")
    put("truncated.bmp", bmp[: len(bmp) // 2], Expect("error", "The BMP file is truncated or damaged"))
    put("truncated.tiff", tiff[: len(tiff) // 2], Expect("error", "The TIFF file is truncated or damaged"))
    put("header_only.jpg", jpeg[:300], Expect("error", "The image header is damaged"))
    put("drawing.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"></svg>',
        Expect("error", ERR_NOT_IMAGE))
    put("one_pixel.png", encode(Image.new("L", (1, 1), 99), "PNG"), Expect("error", ERR_TOO_SMALL))
    put("thumbnail_32.jpg", encode(_gray(32, 32), "JPEG"), Expect("error", ERR_TOO_SMALL))
    put("bomb.png", png_with_declared_size(60000, 60000), Expect("error", ERR_TOO_LARGE))
    (folder / "folder.jpg").mkdir()
    (folder / "folder.jpg" / "inside.png").write_bytes(png)  # not scanned: the scan is not recursive
    expected["folder.jpg"] = Expect("error", "This is a folder, not an image file")
    put("notes.txt", b"ignored: not named like an image", Expect("absent"))

    # ---- DICOM, good and bad
    put("mono1.dcm", make_dicom(_dicom_pixels(1), "MONOCHROME1"), Expect("ok"))
    put("windowed.dcm", make_dicom(_dicom_pixels(2), WindowCenter=2000, WindowWidth=3000), Expect("ok"))
    put("multiframe.dcm", make_dicom(np.stack([_dicom_pixels(3), _dicom_pixels(4)])), Expect("ok"))
    put("IM000001", make_dicom(_dicom_pixels(5)), Expect("ok"))  # no suffix: found by its "DICM" magic
    put("no_preamble.dcm", make_dicom(_dicom_pixels(6), preamble=False), Expect("ok"))
    put("zero_bytes.dcm", b"", Expect("error", ERR_EMPTY))
    put("report.dcm", make_dicom(_dicom_pixels(), pixel_data=False),
        Expect("error", "The DICOM file has no pixel data"))
    put("truncated.dcm", make_dicom(_dicom_pixels())[:-50000], Expect("error", "The DICOM pixel data is truncated"))
    put("tiny.dcm", make_dicom(np.full((10, 10), 100, np.uint16)), Expect("error", ERR_TOO_SMALL))
    put("text.dcm", b"Report: no acute findings.\n" * 20, Expect("error", "named like DICOM but its content is not DICOM"))
    put("png_renamed.dcm", png, Expect("ok"))

    # ---- odd but valid rasters
    deep = (xray_like(256, 256, 7).astype(np.uint16) * 257)
    put("deep_16bit.png", encode(Image.fromarray(deep), "PNG"), Expect("ok"))
    rgba = _gray(seed=8).convert("RGBA")
    rgba.putalpha(128)
    put("rgba.png", encode(rgba, "PNG"), Expect("ok"))
    put("cmyk.jpg", encode(_gray(seed=9).convert("CMYK"), "JPEG", quality=95), Expect("ok"))
    put("gray.jpeg", encode(_gray(seed=10), "JPEG", quality=90), Expect("ok"))
    put("rgb.jpg", encode(_gray(seed=11).convert("RGB"), "JPEG", quality=90), Expect("ok"))
    put("palette.png", encode(_gray(seed=12).convert("P"), "PNG"), Expect("ok"))
    put("scan.tiff", encode(_gray(seed=13), "TIFF"), Expect("ok"))
    put("float.tif", encode(Image.fromarray(xray_like(256, 256, 14).astype(np.float32) / 255), "TIFF"), Expect("ok"))
    put("scan.bmp", encode(_gray(seed=15).convert("RGB"), "BMP"), Expect("ok"))
    put("UPPER_CASE.PNG", encode(_gray(seed=16), "PNG"), Expect("ok"))
    put("Ärztin_胸部_😷.png", encode(_gray(seed=17), "PNG"), Expect("ok"))
    put("jpeg_named.png", encode(_gray(seed=18), "JPEG"), Expect("ok"))  # the content decides, not the name

    # ---- valid files the quality checks must flag
    put("uniform.png", encode(Image.new("L", (256, 256), 128), "PNG"), Expect("warning", "nearly uniform"))
    put("low_res.png", encode(_gray(100, 100, 19), "PNG"), Expect("warning", "Low resolution (100 x 100"))
    put("strip.png", encode(_gray(64, 640, 20), "PNG"), Expect("warning", "Extreme aspect ratio (640 x 64)"))
    photo = np.zeros((256, 256, 3), np.uint8)
    photo[..., 0], photo[..., 1] = xray_like(256, 256, 21), 255 - xray_like(256, 256, 22)
    put("photo.png", encode(Image.fromarray(photo), "PNG"), Expect("warning", "colour image"))

    # ---- file-system oddities
    unreadable = put("unreadable.png", png, Expect("error", "Permission denied"))
    unreadable.chmod(0)
    if os.access(unreadable, os.R_OK):  # root (or a file system without modes) still reads it
        expected["unreadable.png"] = Expect("ok")
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")
        expected["pipe.png"] = Expect("error", "Not a regular file")
    try:
        (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
        expected["dangling.jpg"] = Expect("error", "File not found")
    except OSError:
        pass
    try:  # a name that is not valid UTF-8 (Linux allows any bytes but "/" and NUL)
        raw = os.path.join(os.fsencode(folder), b"latin1_\xe9t\xe9.png")
        with open(raw, "wb") as handle:
            handle.write(encode(_gray(seed=23), "PNG"))
        expected[os.fsdecode(b"latin1_\xe9t\xe9.png")] = Expect("ok")
    except (OSError, UnicodeError):
        pass

    # ---- a compressed DICOM no installed decoder reads (pydicom's own test file, when present)
    try:
        lossy = pydicom_sample("JPEG-lossy.dcm")
    except pytest.skip.Exception:
        lossy = None
    if lossy is not None:
        import pydicom

        try:
            pydicom.dcmread(lossy).pixel_array  # noqa: B018
        except Exception:  # noqa: BLE001 - expected: no JPEG Extended decoder
            shutil.copyfile(lossy, folder / "jpeg_extended.dcm")
            expected["jpeg_extended.dcm"] = Expect("error", "Compressed DICOM needs a decoder such as pylibjpeg")
    return expected


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, test_screener):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("bad inputs")
    expected = build_corpus(folder)
    out = tmp_path_factory.mktemp("results") / "bad.csv"
    result: list = []

    def run() -> None:
        try:
            result.append(list(scan_folder(test_screener, folder, out, batch_size=8)))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    try:
        worker.start()
        worker.join(300)  # a hang guard, not a timing assertion: reading the pipe.png FIFO would block forever
        if worker.is_alive():
            os.close(os.open(folder / "pipe.png", os.O_WRONLY | os.O_NONBLOCK))  # release the blocked reader
            worker.join(30)
            pytest.fail("the scan blocked (on the named pipe?)")
    finally:
        (folder / "unreadable.png").chmod(0o644)
    if isinstance(result[0], BaseException):
        raise result[0]
    updates = result[0]
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        rows = list(csv.DictReader(handle))
    return expected, rows, updates, out


def test_corpus_is_large_enough(scanned) -> None:  # noqa: ANN001
    expected, _, _, _ = scanned
    assert len([e for e in expected.values() if e.status == "error"]) >= 20
    assert len(expected) >= 40


def test_scan_finishes_with_one_row_per_file(scanned) -> None:  # noqa: ANN001
    expected, rows, updates, out = scanned
    listed = {name for name, e in expected.items() if e.status != "absent"}
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)), "a file got more than one row"
    assert set(paths) == listed
    assert updates[-1].done == updates[-1].total == len(listed)
    raw_lines = out.read_bytes().splitlines()
    assert len(raw_lines) == len(rows) + 1, "a row spans several lines (newline inside a message?)"
    assert tuple(rows[0].keys()) == CSV_COLUMNS


@pytest.mark.parametrize("status", ["error", "ok", "warning"])
def test_each_row_says_what_happened(scanned, status: str) -> None:  # noqa: ANN001
    expected, rows, _, _ = scanned
    by_path = {row["path"]: row for row in rows}
    checked = 0
    for name, expect in expected.items():
        if expect.status != status:
            continue
        row = by_path[name]
        assert row["status"] == status, f"{name}: {row}"
        if status == "error":
            assert expect.text in row["error"], f"{name}: {row['error']!r}"
            assert row["probability"] == "" and row["prediction"] == ""
        else:
            assert row["error"] == "", f"{name}: {row['error']!r}"
            assert 0.0 <= float(row["probability"]) <= 1.0
            assert row["prediction"] in ("NORMAL", "PNEUMONIA")
            assert float(row["threshold"]) == pytest.approx(0.5)
            assert row["model_version"] == "0.0.0-test"
            if status == "warning":
                assert expect.text in row["warning"], f"{name}: {row['warning']!r}"
            else:
                assert row["warning"] == "", f"{name}: {row['warning']!r}"
        checked += 1
    assert checked > 0


def test_distinct_failures_get_distinct_messages(scanned) -> None:  # noqa: ANN001
    """Not one catch-all message: the corpus's kinds of failure read differently."""
    _, rows, _, _ = scanned
    messages = {row["error"] for row in rows if row["status"] == "error"}
    assert len(messages) >= 12
