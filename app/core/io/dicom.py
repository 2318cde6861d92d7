"""DICOM files -> 8-bit grayscale as a viewer shows them (`load_dicom`), with a warning for every header it distrusts.

The dataset is parsed by pydicom, imported only when a DICOM file is opened; a deflated dataset is measured
before it is inflated, and the decoded frame's size checked against the budget before its pixels are decoded.

pydicom applies what the header says; headers lie. A VOI LUT whose table does not cover the stored
values is indexed by pydicom in the table's own 8- or 16-bit type, so 12-bit data wraps around an
8-bit table into a near-black picture: such a LUT is not applied. A window of width <= 0 (or < 1 for
the linear functions, which pydicom refuses with a ValueError) is treated as absent. In both cases
the image falls back to the window, else to its own minimum-maximum range, and says so.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import cv2
import numpy as np

from app.core.errors import CorruptImageError, ImageTooLargeError, NotAnImageError, UnsupportedDicomError
from app.core.io.decoded import (
    MAX_DECODED_BYTES,
    LoadedImage,
    check_size,
    colour_deviation,
    has_dicom_preamble,
    stretch_to_uint8,
)


def identity(ds: Any) -> dict[str, str]:
    """Who and when, for the viewer's corners: patient name ("FAMILY, Given"), ID, sex, study date (ISO).

    Only the tags that are present and not empty; a de-identified file gives an empty dict.
    """
    def text(keyword: str) -> str:
        try:
            return str(ds.get(keyword, "") or "").strip()
        except Exception:  # noqa: BLE001 - a malformed element must not stop the image from opening
            return ""

    name = ", ".join(part.strip() for part in text("PatientName").split("^") if part.strip())
    date = text("StudyDate")
    if len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    found = {"patient_name": name, "patient_id": text("PatientID"), "patient_sex": text("PatientSex").upper(),
             "study_date": date}
    return {key: value for key, value in found.items() if value}


def palette_to_rgb(array: np.ndarray, ds: Any) -> np.ndarray:
    """PALETTE COLOR indices -> RGB through the file's own colour tables."""
    from pydicom.pixels import apply_color_lut

    try:
        return np.asarray(apply_color_lut(array, ds))
    except Exception as exc:  # noqa: BLE001 - pydicom raises several types on missing or odd tables
        raise UnsupportedDicomError(f"The DICOM's palette colour tables cannot be applied ({exc}).") from exc


def display_values(array: np.ndarray, ds: Any) -> tuple[np.ndarray, tuple[float, float] | None, list[str]]:
    """Modality then VOI transform of grayscale `array`: (values, their black and white or None, warnings)."""
    from pydicom.pixels import apply_modality_lut

    values = np.asarray(apply_modality_lut(array, ds))
    notes: list[str] = []
    if ds.get("VOILUTSequence"):
        problem = voi_lut_problem(values, ds)
        if problem is None:
            return _apply_lut(values, ds)
        notes.append(f"The DICOM's VOI LUT {problem}; it was not applied (it would distort the image).")
    window, window_note = _valid_window(ds)
    if window_note:
        notes.append(window_note)
    if window is None:
        if notes:
            notes[-1] += " The image's own range is shown instead."
        return values, None, notes
    if notes:
        notes[-1] += " The window is used instead."
    shown, value_range = _apply_window(values, ds)
    return shown, value_range, notes


def voi_lut_problem(values: np.ndarray, ds: Any) -> str | None:
    """Why the first VOI LUT cannot be applied to `values` by pydicom, or None when it can."""
    try:
        item = ds.VOILUTSequence[0]
        entries, first, bits = (int(v) for v in item.LUTDescriptor)
        entries = entries or 65536
    except Exception:  # noqa: BLE001 - a missing or malformed LUT Descriptor
        return "has no valid LUT Descriptor"
    if bits != 8 and not 10 <= bits <= 16:
        return f"declares {bits} bits per entry (8 or 10-16 are valid)"
    data = item.get("LUTData")
    if data is None:
        return "has no LUT Data"
    if item["LUTData"].VR != "OW":
        table = np.atleast_1d(np.asarray(data, dtype=np.int64))
        if table.size != entries:
            return f"holds {table.size} entries where its descriptor declares {entries}"
        if table.min() < 0 or table.max() > 2**bits - 1:
            return f"holds values outside its declared {bits} bits"
    elif len(data) < 2 * entries:
        return f"holds fewer than the {entries} entries its descriptor declares"
    lo, hi = float(values.min()), float(values.max())
    if not (np.issubdtype(values.dtype, np.integer) or np.array_equal(values, np.rint(values))):
        return "is applied to non-integer values (a fractional rescale)"
    last = first + entries - 1
    index_limit = 255 if bits == 8 else 65535  # pydicom indexes in the table's own type: beyond it, values wrap
    if lo < first or hi > last or hi - first > index_limit:
        return f"covers stored values {first} to {last}, but the pixels range from {lo:.0f} to {hi:.0f}"
    return None


def _apply_lut(values: np.ndarray, ds: Any) -> tuple[np.ndarray, tuple[float, float], list[str]]:
    from pydicom.pixels import apply_voi

    bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
    integers = values if np.issubdtype(values.dtype, np.integer) else np.rint(values).astype(np.int32)
    return np.asarray(apply_voi(integers, ds)), (0.0, float(2**bits - 1)), []  # the LUT's range, not the data's


def _valid_window(ds: Any) -> tuple[tuple[float, float] | None, str]:
    """(center, width) of the first window, or None with the reason it is not used ("" when absent)."""
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None, ""
    try:
        center, width = (float(_first(ds.WindowCenter)), float(_first(ds.WindowWidth)))
    except (TypeError, ValueError):
        return None, "The DICOM's window values are not numbers; they were ignored."
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if not np.isfinite([center, width]).all() or width <= 0 or (function == "LINEAR" and width < 1):
        return None, f"The DICOM's Window Width is {width:g} (it must be positive); the window was ignored."
    return (center, width), ""


def _first(value: Any) -> Any:
    """The first of a multi-valued element (the default window of several)."""
    try:
        return value[0] if not isinstance(value, (str, bytes)) and len(value) else value
    except TypeError:
        return value


def _apply_window(values: np.ndarray, ds: Any) -> tuple[np.ndarray, tuple[float, float] | None]:
    from pydicom.pixels import apply_windowing

    out = apply_windowing(values.astype(np.float64, copy=False), ds)
    ends = np.asarray(apply_windowing(np.array([-1e12, 1e12]), ds), dtype=np.float64)
    lo, hi = float(ends.min()), float(ends.max())
    return out, ((lo, hi) if np.isfinite([lo, hi]).all() and hi > lo else None)


DEFLATED_DICOM = "1.2.840.10008.1.2.1.99"  # the transfer syntax whose whole dataset (pixels too) is deflated


def load_dicom(data: bytes) -> LoadedImage:
    import pydicom  # imported lazily: most sessions never open a DICOM file

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
    check_size(cols, rows, 3 if photometric == "PALETTE COLOR" else samples,
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
        rgb = array if array.dtype == np.uint8 else stretch_to_uint8(array.astype(np.float32))
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        colour = colour_deviation(rgb[:, :, ::-1], gray)
    else:
        values, value_range, notes = display_values(array, ds)
        gray = stretch_to_uint8(np.asarray(values, dtype=np.float32), value_range)
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
