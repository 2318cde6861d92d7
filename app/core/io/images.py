"""Turns a file (JPEG, PNG, BMP, TIFF or DICOM) into one 8-bit grayscale array, or says why it cannot.

Every reader in the product (GUI, CLI, scan, training) goes through `load_image` (the full-size
picture, for the viewer) or `load_model_image` (the model's copy: a large JPEG decoded at 1/2, 1/4 or
1/8 scale by libjpeg, never below twice the model input), so an image means the same pixels
everywhere. The decoded buffer's size is computed from the header and checked against one memory
budget before the pixels are decoded, so a decompression bomb costs a header read. EXIF orientation
is applied here, once, for every format (OpenCV decodes with orientation ignored).
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from app.core.errors import (
    CorruptImageError,
    EmptyFileError,
    FileMissingError,
    FileUnreadableError,
    ImageLoadError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedFormatError,
)
from app.core.io.decoded import (
    MAX_DECODED_BYTES,
    MIN_SIDE,
    LoadedImage,
    check_size,
    colour_deviation,
    has_dicom_preamble,
    stretch_to_uint8,
)
from app.core.io.dicom import load_dicom

HEAD_BYTES = 1 << 20  # read first from a large file, for its header
MAX_FILE_BYTES = 1024**3  # a file above 1 GiB is refused before it is read (no chest film comes near it)
MAX_JPEG_SCANS = 100  # a progressive JPEG has ~10 scans; thousands make libjpeg work for minutes (a hostile file)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")
REFUSED_SUFFIXES = (".gif", ".webp")  # refused everywhere: the scan lists them so each gets an error row
RASTER_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "TIFF")  # Pillow's names; MPO is a phone's multi-picture JPEG
REDUCTIONS = {8: cv2.IMREAD_REDUCED_GRAYSCALE_8, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2}
REDUCTIONS_COLOUR = {8: cv2.IMREAD_REDUCED_COLOR_8, 4: cv2.IMREAD_REDUCED_COLOR_4, 2: cv2.IMREAD_REDUCED_COLOR_2}
ALPHA_BACKGROUND = 0  # transparent pixels become black: the unexposed background of a radiograph
# DICOM reading is `app.core.io.dicom`; the decoded picture and its budget are `app.core.io.decoded`.

# Pillow only sniffs headers here; its own bomb guard would fire before ours with a less clear message.
Image.MAX_IMAGE_PIXELS = None


def is_image_path(path: Path) -> bool:
    """True for names the folder scan should look at (by suffix, case-insensitive)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def load_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read `path` at full size (the viewer's picture) as 8-bit grayscale; raise an `ImageLoadError` otherwise."""
    data = _read_bytes(Path(path))
    if _looks_like_dicom(data, Path(path)):
        return load_dicom(data)
    return _load_raster(data)


def load_model_image(
    path: str | os.PathLike[str], input_size: tuple[int, int], viewer: LoadedImage | None = None
) -> LoadedImage:
    """The model's copy of `path`: what GUI, `predict` and `scan` all score, so a file has one probability.

    A JPEG at least 4x the model input (`input_size` is (height, width)) is decoded by libjpeg at the
    largest of 1/2, 1/4, 1/8 scale that stays >= 2x the input on both sides (measured on the 100
    originals: mean |dp| 0.001 against the full decode, no label changed); anything else is the full
    decode, for which `viewer` (that same file's `load_image`) is reused instead of decoding again.
    """
    data = _read_bytes(Path(path))
    if _looks_like_dicom(data, Path(path)):
        return viewer or load_dicom(data)
    header = _read_header(data)
    if _reduction(header, input_size) == 1 and viewer is not None:
        return viewer
    return _load_raster(data, input_size, header)


def is_refused_path(path: Path) -> bool:
    """Names of formats refused everywhere (GIF, WebP): the scan lists them to give each an error row."""
    return path.suffix.lower() in REFUSED_SUFFIXES


def load_image_bytes(data: bytes, name: str = "") -> LoadedImage:
    """Same as `load_image` for bytes already in memory (drag and drop from a browser, tests)."""
    if not data:
        raise EmptyFileError("The file is empty (0 bytes).")
    if _looks_like_dicom(data, Path(name)):
        return load_dicom(data)
    return _load_raster(data)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise FileMissingError(f"File not found: {path}")
    if path.is_dir():
        raise FileMissingError(f"This is a folder, not an image file: {path}")
    if not path.is_file():  # a FIFO or device named like an image would block or never end
        raise FileMissingError(f"Not a regular file (a pipe, socket or device): {path}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageTooLargeError(f"The file is {size / 2**30:,.1f} GiB, above the limit of "
                                     f"{MAX_FILE_BYTES // 2**30} GiB; it was not read.")
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
            if len(head) == HEAD_BYTES:  # a large file: a header that refuses it is read alone
                _refuse_declared_size(head)
            data = head + handle.read()
    except PermissionError as exc:
        raise FileUnreadableError(f"Permission denied: cannot read {path}") from exc
    except OSError as exc:
        raise FileUnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if not data:
        raise EmptyFileError("The file is empty (0 bytes).")
    return data


def _refuse_declared_size(head: bytes) -> None:
    """`ImageTooLargeError` when a raster header in `head` already declares more than the decode budget;
    anything else (a header that needs more bytes, a damaged one) is left to the full read."""
    if not _format_from_signature(head):
        return
    try:
        header = _read_header(head)
    except ImageLoadError:
        return
    if header.width * header.height * header.channels * header.bytes_per_sample > MAX_DECODED_BYTES:
        check_size(header.width, header.height, header.channels, header.bytes_per_sample)


def _looks_like_dicom(data: bytes, path: Path) -> bool:
    if has_dicom_preamble(data):
        return True
    # a preamble-less DICOM is known by its name, unless the bytes say it is a JPEG/PNG/... renamed .dcm
    return path.suffix.lower() in (".dcm", ".dicom") and not _format_from_signature(data)


@dataclass(frozen=True)
class _Header:
    format: str
    width: int
    height: int
    mode: str  # Pillow's mode ("L", "RGB", "CMYK", ...)
    channels: int  # of OpenCV's IMREAD_UNCHANGED decode
    bytes_per_sample: int
    orientation: int  # EXIF orientation 1-8 (1: as stored)


def _read_header(data: bytes) -> _Header:
    """Format, size, decoded layout and orientation from the header alone (no pixels decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            fmt = header.format or "unknown"
            width, height = header.size
            mode, bands = header.mode, len(header.getbands())
            tiff_bits = header.tag_v2.get(258) if fmt == "TIFF" else None
            try:
                orientation = int(header.getexif().get(0x0112, 1) or 1)
            except Exception:  # noqa: BLE001 - a damaged EXIF block: show the pixels as stored
                orientation = 1
    except UnidentifiedImageError as exc:
        known = _format_from_signature(data)
        if known:  # Pillow gives up on a damaged header (bad IHDR CRC, ...) as if the format were unknown
            raise CorruptImageError(f"The {known} file's header is damaged and could not be read.") from exc
        raise NotAnImageError(
            "Not a readable image: the file is not JPEG, PNG, BMP, TIFF or DICOM."
        ) from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:  # Pillow's header parsers raise these on damage
        raise CorruptImageError(f"The image header is damaged: {exc}") from exc
    if fmt not in RASTER_FORMATS:
        raise UnsupportedFormatError(
            f"This is a {fmt} image; PneumoScan reads JPEG, PNG, BMP, TIFF and DICOM only (convert it to PNG)."
        )
    channels, sample = bands, 1
    if fmt == "PNG" and len(data) >= 26:  # IHDR: bit depth and colour type (Pillow reports 16-bit RGB as "RGB")
        depth, colour_type = data[24], data[25]
        channels, sample = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}.get(colour_type, 4), max(1, depth // 8)
    elif tiff_bits:
        sample = max(1, -(-max(tiff_bits) // 8))
    elif mode in ("I", "F", "I;32"):
        sample = 4
    elif mode.startswith("I;16"):
        sample = 2
    return _Header(fmt, width, height, mode, max(channels, 1), sample, orientation if 1 <= orientation <= 8 else 1)


def _reduction(header: _Header, input_size: tuple[int, int]) -> int:
    """The libjpeg scale denominator for the model's copy (1: decode at full size)."""
    if header.format not in ("JPEG", "MPO"):
        return 1
    height, width = (header.width, header.height) if header.orientation >= 5 else (header.height, header.width)
    return next((k for k in REDUCTIONS if height // k >= 2 * input_size[0] and width // k >= 2 * input_size[1]), 1)


def _load_raster(data: bytes, input_size: tuple[int, int] | None = None, header: _Header | None = None) -> LoadedImage:
    header = header or _read_header(data)
    fmt, width, height = header.format, header.width, header.height
    check_size(width, height, header.channels, header.bytes_per_sample)
    if fmt in ("JPEG", "MPO") and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):  # EOI must follow the last scan
        raise CorruptImageError("The JPEG file is truncated (no end-of-image marker).")
    # a start-of-scan marker cannot occur inside entropy-coded data (0xFF is stuffed there), so this counts scans
    if fmt in ("JPEG", "MPO") and (scans := data.count(b"\xff\xda")) > MAX_JPEG_SCANS:
        raise CorruptImageError(f"The JPEG file has {scans} scans (a normal progressive JPEG has about 10, at most "
                                f"{MAX_JPEG_SCANS} are decoded); it was not decoded.")
    scale = _reduction(header, input_size) if input_size else 1
    if scale > 1:
        table = REDUCTIONS if header.mode == "L" else REDUCTIONS_COLOUR  # colour kept for the colour check
        flags, expected = table[scale] | cv2.IMREAD_IGNORE_ORIENTATION, (-(-height // scale), -(-width // scale))
    else:
        flags, expected = cv2.IMREAD_UNCHANGED, (height, width)  # UNCHANGED also ignores EXIF orientation
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if decoded is None or decoded.size == 0:
        raise CorruptImageError(f"The {fmt} file is truncated or damaged and could not be decoded.")
    if decoded.shape[:2] != expected:
        raise CorruptImageError(f"The {fmt} file's pixel data does not match its declared size.")
    loaded = _to_gray(decoded, fmt)
    if scale > 1:
        loaded = replace(loaded, source_size=(height, width) if header.orientation >= 5 else (width, height))
    return replace(loaded, pixels=_orient(loaded.pixels, header.orientation))


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation 2-8 applied as Pillow's `ImageOps.exif_transpose` does (a test compares them)."""
    if orientation <= 1:
        return pixels
    turned = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: a.T, 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].T, 8: lambda a: np.rot90(a, 1),
    }[orientation](pixels)
    return np.ascontiguousarray(turned)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"),
)


def _format_from_signature(data: bytes) -> str:
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), "")


def _to_gray(decoded: np.ndarray, fmt: str) -> LoadedImage:
    """Collapse any channel layout and bit depth to 8-bit grayscale, keeping how colourful it was.

    Alpha is composited over black (`ALPHA_BACKGROUND`), as a viewer shows a radiograph's empty
    surroundings. Gray conversion happens at the source depth and the stretch works row block by row
    block, so a 16-bit image needs about its own size again, not four float32 copies.
    """
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    bits = 8 * decoded.dtype.itemsize
    colour = 0.0
    if channels == 1:
        gray = decoded if decoded.ndim == 2 else decoded[:, :, 0]
    else:
        bgr = decoded[:, :, :3]
        gray = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY)
        alpha = decoded[:, :, 3] if channels == 4 else None
        colour = colour_deviation(bgr, gray, alpha)
        if alpha is not None:
            gray = _composite(gray, alpha)
    if gray.dtype == np.uint16:
        gray = _stretch_uint16(gray)
    elif gray.dtype != np.uint8:
        gray = stretch_to_uint8(gray.astype(np.float32))
    return LoadedImage(np.ascontiguousarray(gray), fmt, bits, channels, colour)


def _composite(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`gray` over a black background with `alpha` (same depth), rounded, in the source dtype."""
    scale = 1.0 / np.iinfo(alpha.dtype).max
    return cv2.multiply(gray, np.ascontiguousarray(alpha), scale=scale, dtype=cv2.CV_8U if gray.dtype == np.uint8 else cv2.CV_16U)


def _stretch_uint16(gray: np.ndarray, rows: int = 1024) -> np.ndarray:
    """`_stretch_to_uint8` for uint16 through a 65536-entry table, a block of rows at a time (bounded memory)."""
    lo, hi = int(gray.min()), int(gray.max())
    table = stretch_to_uint8(np.arange(65536, dtype=np.float32), (float(lo), float(hi)))
    out = np.empty(gray.shape, np.uint8)
    for top in range(0, gray.shape[0], rows):
        out[top : top + rows] = table[gray[top : top + rows]]
    return out


__all__ = ["ImageLoadError", "LoadedImage", "has_dicom_preamble", "is_image_path", "is_refused_path", "load_image",
           "load_image_bytes", "load_model_image", "MIN_SIDE", "MAX_DECODED_BYTES"]
