"""DICOM pixel values -> 8-bit grayscale as a viewer shows them, with a warning for every header it distrusts.

pydicom applies what the header says; headers lie. A VOI LUT whose table does not cover the stored
values is indexed by pydicom in the table's own 8- or 16-bit type, so 12-bit data wraps around an
8-bit table into a near-black picture: such a LUT is not applied. A window of width <= 0 (or < 1 for
the linear functions, which pydicom refuses with a ValueError) is treated as absent. In both cases
the image falls back to the window, else to its own minimum-maximum range, and says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core.errors import UnsupportedDicomError


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
