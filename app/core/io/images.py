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
import warnings
from dataclasses import dataclass, field, replace
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
    UnsupportedFormatError,
)

MIN_SIDE = 64
# Width x height x channels x bytes per sample of the decoded buffer: 512 MiB holds a 16-bit 16k x 16k
# detector image; a 100-megapixel 16-bit RGB PNG (600 MB decoded) is refused before decoding.
MAX_DECODED_BYTES = 512 * 1024 * 1024
HEAD_BYTES = 1 << 20  # read first from a large file, for its header
MAX_FILE_BYTES = 1024**3  # a file above 1 GiB is refused before it is read (no chest film comes near it)
MAX_JPEG_SCANS = 100  # a progressive JPEG has ~10 scans; thousands make libjpeg work for minutes (a hostile file)
DEFLATED_DICOM = "1.2.840.10008.1.2.1.99"  # the transfer syntax whose whole dataset (pixels too) is deflated
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")
REFUSED_SUFFIXES = (".gif", ".webp")  # refused everywhere: the scan lists them so each gets an error row
RASTER_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "TIFF")  # Pillow's names; MPO is a phone's multi-picture JPEG
REDUCTIONS = {8: cv2.IMREAD_REDUCED_GRAYSCALE_8, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2}
REDUCTIONS_COLOUR = {8: cv2.IMREAD_REDUCED_COLOR_8, 4: cv2.IMREAD_REDUCED_COLOR_4, 2: cv2.IMREAD_REDUCED_COLOR_2}
ALPHA_BACKGROUND = 0  # transparent pixels become black: the unexposed background of a radiograph

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
    warnings: tuple[str, ...] = ()  # what reading had to work around (an invalid DICOM window, ...)
    source_size: tuple[int, int] | None = None  # (width, height) of the file when `pixels` is a reduced decode
    identity: dict[str, str] = field(default_factory=dict)  # DICOM patient and study (`dicom_display.identity`)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def full_size(self) -> tuple[int, int]:
        """(width, height) of the picture in the file, whatever scale `pixels` was decoded at."""
        return self.source_size or (self.width, self.height)


def is_image_path(path: Path) -> bool:
    """True for names the folder scan should look at (by suffix, case-insensitive)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def load_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read `path` at full size (the viewer's picture) as 8-bit grayscale; raise an `ImageLoadError` otherwise."""
    data = _read_bytes(Path(path))
    if _looks_like_dicom(data, Path(path)):
        return _load_dicom(data)
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
        return viewer or _load_dicom(data)
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
        _check_size(header.width, header.height, header.channels, header.bytes_per_sample)


def has_dicom_preamble(head: bytes) -> bool:
    """The "DICM" magic after the 128-byte preamble (`head` needs at least the first 132 bytes)."""
    return head[128:132] == b"DICM"


def _looks_like_dicom(data: bytes, path: Path) -> bool:
    if has_dicom_preamble(data):
        return True
    # a preamble-less DICOM is known by its name, unless the bytes say it is a JPEG/PNG/... renamed .dcm
    return path.suffix.lower() in (".dcm", ".dicom") and not _format_from_signature(data)


def _check_size(width: int, height: int, channels: int, bytes_per_sample: int) -> None:
    decoded = width * height * channels * bytes_per_sample
    if decoded > MAX_DECODED_BYTES:
        raise ImageTooLargeError(
            f"The image declares {width} x {height} pixels x {channels} channel{'s' * (channels > 1)} x "
            f"{8 * bytes_per_sample} bits = {decoded / 2**20:,.0f} MiB decoded, above the limit of "
            f"{MAX_DECODED_BYTES // 2**20} MiB; it was not decoded."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(
            f"The image is {width} x {height} pixels; at least {MIN_SIDE} pixels per side are needed."
        )


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
    _check_size(width, height, header.channels, header.bytes_per_sample)
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
        colour = _colour_deviation(bgr, gray, alpha)
        if alpha is not None:
            gray = _composite(gray, alpha)
    if gray.dtype == np.uint16:
        gray = _stretch_uint16(gray)
    elif gray.dtype != np.uint8:
        gray = _stretch_to_uint8(gray.astype(np.float32))
    return LoadedImage(np.ascontiguousarray(gray), fmt, bits, channels, colour)


def _composite(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`gray` over a black background with `alpha` (same depth), rounded, in the source dtype."""
    scale = 1.0 / np.iinfo(alpha.dtype).max
    return cv2.multiply(gray, np.ascontiguousarray(alpha), scale=scale, dtype=cv2.CV_8U if gray.dtype == np.uint8 else cv2.CV_16U)


def _stretch_uint16(gray: np.ndarray, rows: int = 1024) -> np.ndarray:
    """`_stretch_to_uint8` for uint16 through a 65536-entry table, a block of rows at a time (bounded memory)."""
    lo, hi = int(gray.min()), int(gray.max())
    table = _stretch_to_uint8(np.arange(65536, dtype=np.float32), (float(lo), float(hi)))
    out = np.empty(gray.shape, np.uint8)
    for top in range(0, gray.shape[0], rows):
        out[top : top + rows] = table[gray[top : top + rows]]
    return out


def _colour_deviation(bgr: np.ndarray, gray: np.ndarray, alpha: np.ndarray | None = None) -> float:
    """Mean |channel - gray| in 8-bit units on a 256-px sample (plenty to tell colour from gray)."""
    step = max(1, max(gray.shape) // 256)
    to_8_bit = 255.0 / np.iinfo(bgr.dtype).max if bgr.dtype.kind in "ui" else 255.0
    difference = np.abs(bgr[::step, ::step].astype(np.float32) - gray[::step, ::step, None].astype(np.float32))
    if alpha is not None:  # what is transparent is not seen, so its colour does not count
        difference *= alpha[::step, ::step, None].astype(np.float32) / np.iinfo(alpha.dtype).max
    return float(np.mean(difference) * to_8_bit)


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

    from app.core.io.dicom import display_values, identity, palette_to_rgb

    _check_deflated_size(data)
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
    photometric = str(getattr(ds, "PhotometricInterpretation", "")).strip().upper()
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    allocated = int(getattr(ds, "BitsAllocated", 16) or 16)
    # one frame as decoded; a palette becomes RGB of the tables' depth (16-bit at most)
    _check_size(cols, rows, 3 if photometric == "PALETTE COLOR" else samples,
                2 if photometric == "PALETTE COLOR" else max(1, -(-allocated // 8)))
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
    if frames > 1 and array.ndim == (4 if samples == 3 else 3):  # a decoder that ignored the frame index
        array = array[0]
    channels, notes = samples, list[str]()
    if photometric == "PALETTE COLOR" and samples == 1:
        array, channels = palette_to_rgb(array, ds), 3
    if array.ndim == 3 and array.shape[-1] == 3:
        rgb = array if array.dtype == np.uint8 else _stretch_to_uint8(array.astype(np.float32))
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        colour = _colour_deviation(rgb[:, :, ::-1], gray)
    else:
        values, value_range, notes = display_values(array, ds)
        gray = _stretch_to_uint8(np.asarray(values, dtype=np.float32), value_range)
        if photometric == "MONOCHROME1":
            gray = 255 - gray  # MONOCHROME1 stores bone dark; the model expects bone bright
        colour = 0.0
    if gray.ndim != 2:
        raise UnsupportedDicomError(f"Unexpected DICOM pixel layout {array.shape}.")
    bits = int(getattr(ds, "BitsStored", 8 * array.dtype.itemsize) or 8)
    return LoadedImage(np.ascontiguousarray(gray), "DICOM", bits, channels, colour, _text(ds, "Modality"),
                       _text(ds, "BodyPartExamined"), _text(ds, "ViewPosition"), _text(ds, "PatientAge"),
                       tuple(notes), identity=identity(ds))


def _check_deflated_size(data: bytes) -> None:
    """A deflated DICOM is inflated whole by pydicom before its Rows and Columns can be read: count what it
    inflates to first, in 1 MiB pieces kept nowhere, and refuse it above the decode budget."""
    if DEFLATED_DICOM.encode() not in data[:4096]:
        return
    import zlib

    import pydicom.filereader

    try:
        handle = io.BytesIO(data)
        pydicom.filereader.read_preamble(handle, True)
        pydicom.filereader._read_file_meta_info(handle)  # noqa: SLF001 - where the deflated stream starts
        pending = data[handle.tell():]
    except Exception:  # noqa: BLE001 - a damaged file meta: pydicom's own reading reports it
        return
    inflate, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
    try:
        while pending and not inflate.eof:
            total += len(inflate.decompress(pending, 1 << 20))
            pending = inflate.unconsumed_tail
            if total > MAX_DECODED_BYTES + (1 << 20):  # pixels plus a generous header
                raise ImageTooLargeError(f"The deflated DICOM inflates to more than {MAX_DECODED_BYTES // 2**20} MiB, "
                                         "above the decode limit; it was not decoded.")
    except zlib.error as exc:
        raise CorruptImageError(f"The deflated DICOM is damaged: {exc}") from exc


def _text(ds: Any, keyword: str) -> str:
    """A header string, upper case and trimmed; empty when absent (de-identified files drop many)."""
    return str(ds.get(keyword, "") or "").strip().upper()


_DICOM_GROUPS = {0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028, 0x7FE0}


def _has_dicom_elements(ds: object) -> bool:
    """Whether a force-read dataset holds any standard element (text read as DICOM yields one junk tag)."""
    try:
        return any(tag.group in _DICOM_GROUPS for tag in ds.keys())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - junk that cannot even be listed is not DICOM
        return False


__all__ = ["ImageLoadError", "LoadedImage", "is_image_path", "is_refused_path", "load_image", "load_image_bytes",
           "load_model_image", "MIN_SIDE", "MAX_DECODED_BYTES"]
