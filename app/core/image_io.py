"""Turns a file (JPEG, PNG, BMP, TIFF or DICOM) into one 8-bit grayscale array, or says why it cannot.

Every reader in the product (GUI, CLI, scan, training) goes through `load_image`, so an image means
the same pixels everywhere. The declared size is checked before the pixels are decoded, so a
decompression bomb costs a header read, not the machine's memory.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    ImageTooSmallError,
    NotAnImageError,
    UnsupportedDicomError,
)

MIN_SIDE = 64
MAX_PIXELS = 100_000_000  # a 9000 x 9000 detector image is fine; a forged 50k x 50k header is not
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")

# Pillow only sniffs headers here; its own bomb guard would fire before ours with a less clear message.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: 8-bit grayscale pixels plus the facts about the source the quality checks need."""

    pixels: np.ndarray  # (H, W) uint8
    source_format: str  # "JPEG", "PNG", "DICOM", ...
    source_bits: int  # 8 or 16 (or the DICOM BitsStored)
    source_channels: int  # 1, 3 or 4 before the grayscale conversion
    colour_deviation: float  # mean |channel - gray| in 8-bit units; 0 for a grayscale source
    modality: str = ""  # DICOM Modality (e.g. "CR", "DX", "CT"); empty for other formats
    body_part: str = ""  # DICOM BodyPartExamined (e.g. "CHEST"); empty when absent
    view_position: str = ""  # DICOM ViewPosition (e.g. "AP", "PA", "LL")
    patient_age: str = ""  # DICOM PatientAge as stored, nnnD/W/M/Y (e.g. "003Y")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def is_image_path(path: Path) -> bool:
    """True for names the folder scan should look at (by suffix, case-insensitive)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def load_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read `path` and return it as 8-bit grayscale; raise an `ImageLoadError` subclass otherwise."""
    data = _read_bytes(Path(path))
    if _looks_like_dicom(data, Path(path)):
        return _load_dicom(data)
    return _load_raster(data)


def load_image_bytes(data: bytes, name: str = "") -> LoadedImage:
    """Same as `load_image` for bytes already in memory (drag and drop from a browser, tests)."""
    if not data:
        raise EmptyFileError("The file is empty (0 bytes).")
    if _looks_like_dicom(data, Path(name)):
        return _load_dicom(data)
    return _load_raster(data)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise FileMissingError(f"File not found: {path}")
    if path.is_dir():
        raise FileMissingError(f"This is a folder, not an image file: {path}")
    if not path.is_file():  # a FIFO or device named like an image would block or never end
        raise FileMissingError(f"Not a regular file (a pipe, socket or device): {path}")
    try:
        data = path.read_bytes()
    except PermissionError as exc:
        raise FileUnreadableError(f"Permission denied: cannot read {path}") from exc
    except OSError as exc:
        raise FileUnreadableError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if not data:
        raise EmptyFileError("The file is empty (0 bytes).")
    return data


def has_dicom_preamble(head: bytes) -> bool:
    """The "DICM" magic after the 128-byte preamble (`head` needs at least the first 132 bytes)."""
    return head[128:132] == b"DICM"


def _looks_like_dicom(data: bytes, path: Path) -> bool:
    if has_dicom_preamble(data):
        return True
    # a preamble-less DICOM is known by its name, unless the bytes say it is a JPEG/PNG/... renamed .dcm
    return path.suffix.lower() in (".dcm", ".dicom") and not _format_from_signature(data)


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(
            f"The image declares {width} x {height} pixels, above the limit of "
            f"{MAX_PIXELS / 1e6:.0f} megapixels; it was not decoded."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(
            f"The image is {width} x {height} pixels; at least {MIN_SIDE} pixels per side are needed."
        )


def _load_raster(data: bytes) -> LoadedImage:
    try:
        with Image.open(io.BytesIO(data)) as header:
            fmt = header.format or "unknown"
            width, height = header.size
    except UnidentifiedImageError as exc:
        known = _format_from_signature(data)
        if known:  # Pillow gives up on a damaged header (bad IHDR CRC, ...) as if the format were unknown
            raise CorruptImageError(f"The {known} file's header is damaged and could not be read.") from exc
        raise NotAnImageError(
            "Not a readable image: the file is not JPEG, PNG, BMP, TIFF or DICOM."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's header parsers raise these on damage
        raise CorruptImageError(f"The image header is damaged: {exc}") from exc
    _check_size(width, height)
    if fmt == "JPEG" and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):  # EOI must follow the last scan
        raise CorruptImageError("The JPEG file is truncated (no end-of-image marker).")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise CorruptImageError(f"The {fmt} file is truncated or damaged and could not be decoded.")
    if decoded.shape[:2] != (height, width):
        raise CorruptImageError(f"The {fmt} file's pixel data does not match its declared size.")
    return _to_gray(decoded, fmt)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"),
)


def _format_from_signature(data: bytes) -> str:
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), "")


def _to_gray(decoded: np.ndarray, fmt: str) -> LoadedImage:
    """Collapse any channel layout and bit depth to 8-bit grayscale, keeping how colourful it was."""
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    bits = 8 * decoded.dtype.itemsize
    if decoded.dtype != np.uint8:
        decoded = _stretch_to_uint8(decoded.astype(np.float32))
    if channels == 1:
        gray = decoded if decoded.ndim == 2 else decoded[:, :, 0]
        colour = 0.0
    else:
        bgr = np.ascontiguousarray(decoded[:, :, :3])
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        colour = _colour_deviation(bgr, gray)
    return LoadedImage(np.ascontiguousarray(gray), fmt, bits, channels, colour)


def _colour_deviation(bgr: np.ndarray, gray: np.ndarray) -> float:
    step = max(1, max(gray.shape) // 256)  # a 256-px sample is plenty to tell colour from gray
    b = bgr[::step, ::step].astype(np.float32)
    g = gray[::step, ::step, None].astype(np.float32)
    return float(np.mean(np.abs(b - g)))


def _stretch_to_uint8(values: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Linear window from the image's own minimum to maximum (16-bit PNGs rarely use all 16 bits),
    or over `value_range` when the file says what black and white are (a DICOM VOI window or LUT)."""
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, 0.0)
    lo, hi = value_range if value_range is not None else (float(values.min()), float(values.max()))
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    return np.clip((values - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)


def _load_dicom(data: bytes) -> LoadedImage:
    import pydicom  # imported lazily: most sessions never open a DICOM file
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # pydicom raises many types on damaged files
        raise CorruptImageError(f"The DICOM file is damaged and could not be parsed: {exc}") from exc
    if not has_dicom_preamble(data) and not _has_dicom_elements(ds):
        raise NotAnImageError("Not a readable image: the file is named like DICOM but its content is not DICOM.")
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise UnsupportedDicomError(
            "The DICOM file has no pixel data (it may be a report, a structured document or a presentation state)."
        )
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError) as exc:
        raise CorruptImageError("The DICOM file has pixel data but no valid Rows/Columns.") from exc
    _check_size(cols, rows)
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if frames > 1:  # decode the first frame only: the others are never shown
                ds.pixel_array_options(index=0)
            array = ds.pixel_array
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", str(syntax)) if syntax else "unknown transfer syntax"
        if syntax is not None and getattr(syntax, "is_compressed", True) is False:  # no decoder involved
            raise CorruptImageError(f"The DICOM pixel data is truncated or damaged ({name}): {exc}") from exc
        raise UnsupportedDicomError(
            f"Cannot decode this DICOM's pixel data ({name}): {exc}. Compressed DICOM needs a "
            "decoder such as pylibjpeg (pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg)."
        ) from exc
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if frames > 1 and array.ndim == (4 if samples == 3 else 3):  # a decoder that ignored the frame index
        array = array[0]
    channels = samples
    if samples == 3:
        rgb = _stretch_to_uint8(array.astype(np.float32)) if array.dtype != np.uint8 else array
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        colour = _colour_deviation(rgb[:, :, ::-1], gray)
    else:
        values = apply_modality_lut(array, ds)
        value_range = None
        if _has_voi(ds):
            values = apply_voi_lut(values, ds)
            value_range = _voi_output_range(ds)  # the window's black and white, not the data's extremes
        gray = _stretch_to_uint8(np.asarray(values, dtype=np.float32), value_range)
        if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
            gray = 255 - gray  # MONOCHROME1 stores bone dark; the model expects bone bright
        colour = 0.0
    if gray.ndim != 2:
        raise UnsupportedDicomError(f"Unexpected DICOM pixel layout {array.shape}.")
    bits = int(getattr(ds, "BitsStored", 8 * array.dtype.itemsize) or 8)
    return LoadedImage(np.ascontiguousarray(gray), "DICOM", bits, channels, colour, _text(ds, "Modality"),
                       _text(ds, "BodyPartExamined"), _text(ds, "ViewPosition"), _text(ds, "PatientAge"))


def _text(ds: Any, keyword: str) -> str:
    """A header string, upper case and trimmed; empty when absent (de-identified files drop many)."""
    return str(ds.get(keyword, "") or "").strip().upper()


def _voi_output_range(ds: object) -> tuple[float, float] | None:
    """What the VOI LUT or window maps the darkest and brightest possible values to."""
    from pydicom.pixels import apply_voi_lut

    try:
        if ds.get("VOILUTSequence"):  # type: ignore[attr-defined] - a LUT (pydicom prefers it to a window)
            bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])  # type: ignore[attr-defined]
            return (0.0, float(2**bits - 1)) if 0 < bits <= 16 else None
        ends = np.asarray(apply_voi_lut(np.array([-1e12, 1e12]), ds), dtype=np.float64)
    except Exception:  # noqa: BLE001 - an odd VOI LUT or window: fall back to the data's own range
        return None
    lo, hi = float(ends.min()), float(ends.max())
    return (lo, hi) if np.isfinite([lo, hi]).all() and hi > lo else None


_DICOM_GROUPS = {0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028, 0x7FE0}


def _has_dicom_elements(ds: object) -> bool:
    """Whether a force-read dataset holds any standard element (text read as DICOM yields one junk tag)."""
    try:
        return any(tag.group in _DICOM_GROUPS for tag in ds.keys())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - junk that cannot even be listed is not DICOM
        return False


def _has_voi(ds: object) -> bool:
    return "VOILUTSequence" in ds or ("WindowCenter" in ds and "WindowWidth" in ds)  # type: ignore[operator]


__all__ = ["ImageLoadError", "LoadedImage", "is_image_path", "load_image", "load_image_bytes", "MIN_SIDE", "MAX_PIXELS"]
