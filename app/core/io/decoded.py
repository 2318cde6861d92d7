"""A decoded picture and what every reader of one shares: the 8-bit grayscale `LoadedImage`, the memory budget
checked from a header before any pixel is decoded, and the conversions to 8 bits (raster files in
`app.core.io.images`, DICOM in `app.core.io.dicom`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.core.errors import ImageTooLargeError, ImageTooSmallError

MIN_SIDE = 64
# Width x height x channels x bytes per sample of the decoded buffer: 512 MiB holds a 16-bit 16k x 16k
# detector image; a 100-megapixel 16-bit RGB PNG (600 MB decoded) is refused before decoding.
MAX_DECODED_BYTES = 512 * 1024 * 1024


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


def has_dicom_preamble(head: bytes) -> bool:
    """The "DICM" magic after the 128-byte preamble (`head` needs at least the first 132 bytes)."""
    return head[128:132] == b"DICM"


def check_size(width: int, height: int, channels: int, bytes_per_sample: int) -> None:
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


def colour_deviation(bgr: np.ndarray, gray: np.ndarray, alpha: np.ndarray | None = None) -> float:
    """Mean |channel - gray| in 8-bit units on a 256-px sample (plenty to tell colour from gray)."""
    step = max(1, max(gray.shape) // 256)
    to_8_bit = 255.0 / np.iinfo(bgr.dtype).max if bgr.dtype.kind in "ui" else 255.0
    difference = np.abs(bgr[::step, ::step].astype(np.float32) - gray[::step, ::step, None].astype(np.float32))
    if alpha is not None:  # what is transparent is not seen, so its colour does not count
        difference *= alpha[::step, ::step, None].astype(np.float32) / np.iinfo(alpha.dtype).max
    return float(np.mean(difference) * to_8_bit)


def stretch_to_uint8(values: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Linear window from the image's own minimum to maximum (16-bit PNGs rarely use all 16 bits),
    or over `value_range` when the file says what black and white are (a DICOM VOI window or LUT)."""
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, 0.0)
    lo, hi = value_range if value_range is not None else (float(values.min()), float(values.max()))
    if hi <= lo:
        return np.zeros(values.shape, np.uint8)
    return np.clip((values - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)
