"""Image loading: every format becomes the same 8-bit grayscale pixels, every failure a specific error.

The builders at the top write small files of each kind; tests/test_bad_inputs.py reuses them.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.core.io import images as image_io
from app.core.io.decoded import stretch_to_uint8
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
from app.core.io.images import MAX_DECODED_BYTES, MIN_SIDE, is_image_path, load_image, load_image_bytes, load_model_image

# --------------------------------------------------------------------------------------------------
# Builders (also used by tests/test_bad_inputs.py)
# --------------------------------------------------------------------------------------------------


def xray_like(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth 8-bit grayscale image with structure (gradient plus blobs), no flat areas."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = 40 + 120 * xx / max(width - 1, 1) + 40 * yy / max(height - 1, 1)
    for _ in range(6):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(4, max(height, width) / 4)
        image += 60 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return np.clip(image, 0, 255).astype(np.uint8)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_with_declared_size(width: int, height: int) -> bytes:
    """A PNG whose IHDR (correct CRC) declares `width` x `height` but whose IDAT holds a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


def make_dicom(
    frames: np.ndarray,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    preamble: bool = True,
    pixel_data: bool = True,
    **attributes: object,
) -> bytes:
    """An uncompressed DICOM (explicit VR little endian) of a (H, W) or (frames, H, W) uint16 array."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientName = "Test^Phantom"
    if pixel_data:
        ds.set_pixel_data(np.ascontiguousarray(frames), photometric, bits_stored)
    for key, value in attributes.items():
        setattr(ds, key, value)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=preamble)
    data = buffer.getvalue()
    assert (data[128:132] == b"DICM") == preamble
    return data


def ramp16(height: int = 80, width: int = 100, top: int = 4000) -> np.ndarray:
    """A left-to-right ramp of 12-bit values, 0 .. `top`."""
    return np.tile(np.linspace(0, top, width).round().astype(np.uint16), (height, 1))


def pydicom_sample(name: str) -> Path:
    """One of pydicom's bundled test files, or skip (they are not in every pydicom install)."""
    from pydicom.data import get_testdata_file

    try:
        found = get_testdata_file(name, download=False)
    except Exception:  # noqa: BLE001 - any failure means: not available offline
        found = None
    if not found:
        pytest.skip(f"pydicom test file {name} not available offline")
    return Path(found)


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------------
# Formats and channel layouts
# --------------------------------------------------------------------------------------------------

GRAY = xray_like()


@pytest.mark.parametrize(
    "fmt, mode, suffix",
    [("PNG", "L", ".png"), ("PNG", "RGB", ".png"), ("PNG", "RGBA", ".png"), ("BMP", "L", ".bmp"),
     ("BMP", "RGB", ".bmp"), ("TIFF", "L", ".tiff"), ("TIFF", "RGB", ".tif")],
)
def test_lossless_formats_give_the_exact_grayscale(tmp_path: Path, fmt: str, mode: str, suffix: str) -> None:
    image = Image.fromarray(GRAY).convert(mode)  # RGBA: fully opaque (compositing: its own test)
    loaded = load_image(write(tmp_path, "x" + suffix, encode(image, fmt)))
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.ndim == 2
    assert np.array_equal(loaded.pixels, GRAY)
    assert loaded.source_format == fmt
    assert loaded.source_channels == {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    assert loaded.colour_deviation == 0.0
    assert (loaded.height, loaded.width) == GRAY.shape


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_jpeg_grayscale_rgb_and_cmyk_give_the_same_image(tmp_path: Path, mode: str) -> None:
    loaded = load_image(write(tmp_path, "x.jpg", encode(Image.fromarray(GRAY).convert(mode), "JPEG", quality=100)))
    assert loaded.source_format == "JPEG" and loaded.pixels.shape == GRAY.shape
    assert loaded.source_channels == (1 if mode == "L" else 3)
    assert np.abs(loaded.pixels.astype(int) - GRAY).max() <= 3  # JPEG rounding only (CMYK not inverted)


def test_colour_image_is_converted_with_luma_weights_and_measured(tmp_path: Path) -> None:
    rgb = np.zeros((80, 90, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    rgb[:40, :, 2] = 250  # two differently coloured halves
    loaded = load_image(write(tmp_path, "colour.png", encode(Image.fromarray(rgb), "PNG")))
    expected = np.round(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    assert np.abs(loaded.pixels.astype(int) - expected).max() <= 1
    assert loaded.colour_deviation > 30


def test_16_bit_png_is_stretched_to_its_own_range(tmp_path: Path) -> None:
    values = np.tile(np.linspace(1000, 3000, 120).round().astype(np.uint16), (70, 1))
    loaded = load_image(write(tmp_path, "deep.png", encode(Image.fromarray(values), "PNG")))
    assert loaded.source_bits == 16 and loaded.source_format == "PNG"
    expected = np.clip((values.astype(np.float64) - 1000) * 255 / 2000 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(loaded.pixels.astype(int) - expected).max() <= 1
    assert loaded.pixels.min() == 0 and loaded.pixels.max() == 255


def test_16_bit_tiff_loads(tmp_path: Path) -> None:
    values = (GRAY.astype(np.uint16) * 200)
    loaded = load_image(write(tmp_path, "deep.tif", encode(Image.fromarray(values), "TIFF")))
    assert loaded.source_bits == 16 and loaded.source_format == "TIFF"
    assert np.abs(loaded.pixels.astype(int) - stretch_to_uint8(values.astype(np.float32))).max() == 0


def test_load_image_bytes_matches_load_image(tmp_path: Path) -> None:
    data = encode(Image.fromarray(GRAY), "PNG")
    assert np.array_equal(load_image_bytes(data, "x.png").pixels, load_image(write(tmp_path, "x.png", data)).pixels)


def test_unicode_path(tmp_path: Path) -> None:
    folder = tmp_path / "Röntgen 胸部"
    folder.mkdir()
    path = write(folder, "Ärztin_пневмония_😷.png", encode(Image.fromarray(GRAY), "PNG"))
    assert np.array_equal(load_image(path).pixels, GRAY)
    assert np.array_equal(load_image(str(path)).pixels, GRAY)


def test_is_image_path_by_suffix_case_insensitive() -> None:
    for name in ("a.jpg", "a.JPEG", "a.png", "a.Bmp", "a.tif", "a.TIFF", "a.dcm", "a.DICOM"):
        assert is_image_path(Path(name)), name
    for name in ("a.txt", "a.csv", "a", "a.png.bak", "a.webp"):
        assert not is_image_path(Path(name)), name


# --------------------------------------------------------------------------------------------------
# DICOM
# --------------------------------------------------------------------------------------------------


def test_dicom_monochrome2_is_stretched_and_reports_its_source(tmp_path: Path) -> None:
    ramp = ramp16()
    loaded = load_image(write(tmp_path, "a.dcm", make_dicom(ramp, Modality="CR")))
    assert loaded.source_format == "DICOM" and loaded.source_bits == 12 and loaded.modality == "CR"
    assert loaded.source_channels == 1 and loaded.pixels.shape == ramp.shape
    assert loaded.pixels[0, 0] == 0 and loaded.pixels[0, -1] == 255
    assert np.all(np.diff(loaded.pixels[0].astype(int)) >= 0)  # monotonic: the ramp is kept


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    ramp = ramp16()
    normal = load_image(write(tmp_path, "m2.dcm", make_dicom(ramp, "MONOCHROME2"))).pixels
    inverted = load_image(write(tmp_path, "m1.dcm", make_dicom(ramp, "MONOCHROME1"))).pixels
    assert np.array_equal(inverted.astype(int), 255 - normal.astype(int))
    assert inverted[0, 0] == 255  # the lowest stored value is white in MONOCHROME1


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 linear window mapped to 0..255."""
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.clip(scaled, 0, 255)


def test_dicom_window_is_applied(tmp_path: Path) -> None:
    ramp = ramp16()
    loaded = load_image(write(tmp_path, "w.dcm", make_dicom(ramp, WindowCenter=2000, WindowWidth=1000)))
    expected = linear_window(ramp.astype(np.float64), 2000, 1000)
    assert np.abs(loaded.pixels.astype(float) - expected).max() <= 1.0
    assert (loaded.pixels == 0).mean() > 0.3 and (loaded.pixels == 255).mean() > 0.3  # clipped both sides


def test_dicom_wide_window_is_not_restretched_to_the_data(tmp_path: Path) -> None:
    """Values inside a wide window stay mid-grey, as a DICOM viewer shows them (no extra auto-contrast)."""
    ramp = ramp16()
    loaded = load_image(write(tmp_path, "wide.dcm", make_dicom(ramp, WindowCenter=2000, WindowWidth=8000)))
    expected = linear_window(ramp.astype(np.float64), 2000, 8000)
    assert np.abs(loaded.pixels.astype(float) - expected).max() <= 1.0
    assert 50 < loaded.pixels.min() and loaded.pixels.max() < 200


def test_dicom_voi_lut_sequence_is_applied(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    ramp = ramp16()  # 0 .. 4000
    lut = Dataset()
    lut.add_new(0x00283002, "US", [4096, 0, 16])  # LUT Descriptor: 4096 entries from 0, 16-bit output
    lut.add_new(0x00283006, "US", [65535 - 8 * v for v in range(4096)])  # LUT Data: inverting, half range
    loaded = load_image(write(tmp_path, "lut.dcm", make_dicom(ramp, VOILUTSequence=[lut])))
    expected = (65535 - 8 * ramp.astype(np.float64)) * 255 / 65535
    assert np.abs(loaded.pixels.astype(float) - expected).max() <= 1.0
    assert loaded.pixels.min() > 120  # the LUT's output range, not re-stretched to the data's


def test_dicom_modality_rescale_is_applied_before_the_window(tmp_path: Path) -> None:
    ramp = ramp16()
    data = make_dicom(ramp, RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=3000, WindowWidth=2000)
    loaded = load_image(write(tmp_path, "hu.dcm", data))
    expected = linear_window(ramp.astype(np.float64) * 2 - 1000, 3000, 2000)
    assert np.abs(loaded.pixels.astype(float) - expected).max() <= 1.0


def test_dicom_multi_frame_gives_the_first_frame(tmp_path: Path) -> None:
    ramp = ramp16()
    frames = np.stack([ramp, ramp[:, ::-1], np.full_like(ramp, 2000)])
    loaded = load_image(write(tmp_path, "multi.dcm", make_dicom(frames)))
    single = load_image(write(tmp_path, "single.dcm", make_dicom(ramp))).pixels
    assert loaded.pixels.shape == ramp.shape
    assert np.array_equal(loaded.pixels, single)


def test_dicom_without_preamble_or_suffix_is_recognised(tmp_path: Path) -> None:
    ramp = ramp16()
    with_preamble = load_image(write(tmp_path, "IM000001", make_dicom(ramp))).pixels  # sniffed by "DICM"
    raw = load_image(write(tmp_path, "raw.dcm", make_dicom(ramp, preamble=False))).pixels  # by suffix
    assert np.array_equal(with_preamble, raw)


def test_pydicom_sample_ct_loads(tmp_path: Path) -> None:
    loaded = load_image(pydicom_sample("CT_small.dcm"))
    assert loaded.source_format == "DICOM" and loaded.modality == "CT"
    assert loaded.pixels.shape == (128, 128) and loaded.pixels.dtype == np.uint8
    assert loaded.pixels.std() > 10


def test_dicom_without_pixel_data_is_unsupported(tmp_path: Path) -> None:
    path = write(tmp_path, "report.dcm", make_dicom(ramp16(), pixel_data=False))
    with pytest.raises(UnsupportedDicomError, match="no pixel data"):
        load_image(path)


def test_compressed_dicom_without_decoder_is_unsupported() -> None:
    import pydicom

    path = pydicom_sample("JPEG-lossy.dcm")  # 12-bit JPEG Extended: Pillow cannot decode it
    try:
        pydicom.dcmread(path).pixel_array  # noqa: B018
    except Exception:  # noqa: BLE001 - expected without pylibjpeg/gdcm
        pass
    else:
        pytest.skip("a JPEG Extended decoder is installed here")
    with pytest.raises(UnsupportedDicomError, match="JPEG Extended.*decoder") as info:
        load_image(path)
    assert "pip install" in str(info.value)  # says what to do


def test_truncated_uncompressed_dicom_is_corrupt_not_unsupported(tmp_path: Path) -> None:
    data = make_dicom(ramp16())
    with pytest.raises(CorruptImageError, match="truncated or damaged") as info:
        load_image(write(tmp_path, "cut.dcm", data[:-3000]))
    assert "decoder" not in str(info.value)  # no misleading advice to install a decoder


def test_raster_file_named_dcm_is_read_as_what_it_is(tmp_path: Path) -> None:
    loaded = load_image(write(tmp_path, "renamed.dcm", encode(Image.fromarray(GRAY), "PNG")))
    assert loaded.source_format == "PNG" and np.array_equal(loaded.pixels, GRAY)


def test_text_named_dcm_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(NotAnImageError, match="not DICOM"):
        load_image(write(tmp_path, "notes.dcm", b"Patient notes: nothing to see here.\n" * 10))


def test_dicom_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pydicom.dataset

    data = make_dicom(ramp16(), Rows=60000, Columns=60000)

    def no_decoding(self: object) -> None:
        raise AssertionError("pixel data decoded despite the declared size")

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(no_decoding))
    with pytest.raises(ImageTooLargeError, match="60000 x 60000"):
        load_image(write(tmp_path, "bomb.dcm", data))


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError, match="File not found"):
        load_image(tmp_path / "nope.png")


def test_folder_named_like_an_image(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(FileMissingError, match="folder"):
        load_image(tmp_path / "folder.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            load_image(pipe)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=attempt, daemon=True)
    reader.start()
    reader.join(30)  # a hang guard, not a timing assertion: a regression would block on the pipe forever
    if reader.is_alive():
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))  # release the blocked reader
        reader.join(5)
        pytest.fail("load_image blocked reading a named pipe")
    assert isinstance(outcome[0], FileMissingError) and "Not a regular file" in str(outcome[0])


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EmptyFileError, match="empty"):
        load_image(write(tmp_path, "empty.jpg", b""))
    with pytest.raises(EmptyFileError):
        load_image_bytes(b"", "x.png")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.png", encode(Image.fromarray(GRAY), "PNG"))
    path.chmod(0)
    try:
        with pytest.raises(FileUnreadableError, match="Permission denied"):
            load_image(path)
    finally:
        path.chmod(0o644)


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = encode(Image.fromarray(GRAY), "JPEG")
    with pytest.raises(CorruptImageError, match="truncated"):
        load_image(write(tmp_path, "cut.jpg", data[: len(data) // 2]))


def test_truncated_png(tmp_path: Path) -> None:
    data = encode(Image.fromarray(GRAY), "PNG")
    with pytest.raises(CorruptImageError, match="truncated or damaged"):
        load_image(write(tmp_path, "cut.png", data[: len(data) // 2]))


def test_png_with_bad_crc(tmp_path: Path) -> None:
    data = bytearray(encode(Image.fromarray(GRAY), "PNG"))
    data[29] ^= 0xFF  # IHDR's CRC: the header itself is damaged
    with pytest.raises(CorruptImageError, match="PNG file's header is damaged"):
        load_image(write(tmp_path, "crc.png", bytes(data)))


@pytest.mark.parametrize("payload", [b"hello, this is text\n" * 20, b"<!DOCTYPE html><html><body>404</body></html>",
                                     np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()])
def test_not_an_image(tmp_path: Path, payload: bytes) -> None:
    with pytest.raises(NotAnImageError, match="Not a readable image"):
        load_image(write(tmp_path, "fake.png", payload))


@pytest.mark.parametrize("size", [(1, 1), (MIN_SIDE - 1, 300), (300, MIN_SIDE - 1)])
def test_too_small(tmp_path: Path, size: tuple[int, int]) -> None:
    path = write(tmp_path, "tiny.png", encode(Image.new("L", size, 128), "PNG"))
    with pytest.raises(ImageTooSmallError, match=f"at least {MIN_SIDE} pixels"):
        load_image(path)


def test_smallest_allowed_size(tmp_path: Path) -> None:
    path = write(tmp_path, "edge.png", encode(Image.fromarray(xray_like(MIN_SIDE, MIN_SIDE)), "PNG"))
    assert load_image(path).pixels.shape == (MIN_SIDE, MIN_SIDE)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "bomb.png", png_with_declared_size(60000, 60000))
    with Image.open(path) as header:  # the hand-written header is valid: Pillow reads its size
        assert header.size == (60000, 60000)

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded despite the declared size")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(ImageTooLargeError, match="60000 x 60000.*not decoded"):
        load_image(path)


def test_large_detector_size_is_not_refused_as_a_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """9000 x 9000 (the size the limit promises to allow) reaches the decoder; its empty IDAT then fails."""
    calls = []

    def fake_decode(*args: object, **kwargs: object) -> None:
        calls.append(1)
        return None

    monkeypatch.setattr(cv2, "imdecode", fake_decode)
    with pytest.raises(CorruptImageError):
        load_image(write(tmp_path, "big.png", png_with_declared_size(9000, 9000)))
    assert calls == [1]


def test_every_error_is_an_image_load_error() -> None:
    for kind in (FileMissingError, EmptyFileError, FileUnreadableError, NotAnImageError, CorruptImageError,
                 UnsupportedDicomError, ImageTooSmallError, ImageTooLargeError, UnsupportedFormatError):
        assert issubclass(kind, ImageLoadError)


# --------------------------------------------------------------------------------------------------
# Orientation, alpha, refused formats, the memory budget, the model's reduced copy
# --------------------------------------------------------------------------------------------------


def with_orientation(image: Image.Image, fmt: str, orientation: int, **options: object) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif, **options)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pillow_does(tmp_path: Path, orientation: int) -> None:
    from PIL import ImageOps

    source = Image.fromarray(xray_like(80, 120, orientation))
    data = with_orientation(source, "PNG", orientation)  # lossless, so the pixels compare exactly
    with Image.open(io.BytesIO(data)) as opened:
        expected = np.asarray(ImageOps.exif_transpose(opened).convert("L"))
    assert np.array_equal(load_image(write(tmp_path, "o.png", data)).pixels, expected)


def test_rotated_jpeg_is_upright_in_the_models_reduced_copy_too(tmp_path: Path) -> None:
    upright = xray_like(1000, 1900, 5)  # 2 x 2 x 224 fits: the model's copy is decoded at 1/2
    path = write(tmp_path, "phone.jpg", with_orientation(Image.fromarray(upright).rotate(90, expand=True), "JPEG", 6,
                                                          quality=95))
    full, reduced = load_image(path), load_model_image(path, (224, 224))
    assert full.pixels.shape == (1000, 1900) and np.abs(full.pixels.astype(int) - upright).mean() < 2
    assert reduced.pixels.shape == (500, 950) and reduced.full_size == (1900, 1000)
    assert np.abs(reduced.pixels.astype(int) - cv2.resize(upright, (950, 500), interpolation=cv2.INTER_AREA)).mean() < 2


def test_model_copy_reduction_is_the_largest_keeping_twice_the_input(tmp_path: Path) -> None:
    big = write(tmp_path, "big.jpg", encode(Image.fromarray(xray_like(1800, 3700, 1)), "JPEG", quality=90))
    assert load_model_image(big, (224, 224)).pixels.shape == (450, 925)  # 1/4: 1800 / 8 = 225 < 448
    small = write(tmp_path, "small.jpg", encode(Image.fromarray(xray_like(800, 900, 2)), "JPEG", quality=90))
    assert np.array_equal(load_model_image(small, (224, 224)).pixels, load_image(small).pixels)  # < 896: full size
    png = write(tmp_path, "big.png", encode(Image.fromarray(xray_like(1000, 1000, 3)), "PNG"))
    viewer = load_image(png)
    assert load_model_image(png, (224, 224), viewer) is viewer  # nothing to gain: the viewer's decode is reused


def test_rgba_is_composited_over_black(tmp_path: Path) -> None:
    alpha = np.tile(np.array([0, 128, 255], np.uint8).repeat(40), (96, 1))[:, :120]
    image = Image.fromarray(GRAY[:, :120]).convert("RGBA")
    image.putalpha(Image.fromarray(alpha))
    loaded = load_image(write(tmp_path, "cut_out.png", encode(image, "PNG")))
    expected = np.rint(GRAY[:, :120].astype(np.float64) * alpha / 255)
    assert np.abs(loaded.pixels.astype(int) - expected).max() <= 1
    assert loaded.pixels[:, :40].max() == 0 and np.array_equal(loaded.pixels[:, 80:], GRAY[:, 80:120])


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_gif_and_webp_are_refused_with_their_name(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path, f"x.{fmt.lower()}", encode(Image.fromarray(GRAY), fmt))
    with pytest.raises(UnsupportedFormatError, match=f"This is a {fmt} image; PneumoScan reads JPEG, PNG, BMP, TIFF"):
        load_image(path)
    assert image_io.is_refused_path(path) and not is_image_path(path)


def png_header(width: int, height: int, depth: int, colour_type: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


def test_budget_counts_decoded_bytes_not_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100 MP of 16-bit RGB (600 MiB decoded) is refused from the header; 100 MP of 8-bit gray is decoded."""
    calls = []
    monkeypatch.setattr(cv2, "imdecode", lambda *args: calls.append(1))
    with pytest.raises(ImageTooLargeError, match=r"10000 x 10000 pixels x 3 channels x 16 bits = 572 MiB decoded, "
                                                 r"above the limit of 512 MiB; it was not decoded"):
        load_image(write(tmp_path, "deep_rgb.png", png_header(10000, 10000, 16, 2)))
    assert calls == [] and 10000 * 10000 * 6 > MAX_DECODED_BYTES
    with pytest.raises(CorruptImageError):  # reaches the decoder (the fake returns None)
        load_image(write(tmp_path, "gray.png", png_header(10000, 10000, 8, 0)))
    assert calls == [1]


# --------------------------------------------------------------------------------------------------
# DICOM headers that lie
# --------------------------------------------------------------------------------------------------


def eight_bit_lut(entries: int = 256) -> object:
    from pydicom.dataset import Dataset

    lut = Dataset()
    lut.add_new(0x00283002, "US", [entries, 0, 8])
    lut.add_new(0x00283006, "US", list(range(entries)))
    return lut


def test_voi_lut_that_does_not_cover_the_pixels_is_not_applied(tmp_path: Path) -> None:
    """An 8-bit LUT over 12-bit data: pydicom would wrap the values into a near-black image."""
    ramp = ramp16()  # 0 .. 4000
    loaded = load_image(write(tmp_path, "lut.dcm", make_dicom(ramp, VOILUTSequence=[eight_bit_lut()])))
    plain = load_image(write(tmp_path, "plain.dcm", make_dicom(ramp))).pixels
    assert np.array_equal(loaded.pixels, plain)  # the image's own range instead
    assert loaded.warnings == ("The DICOM's VOI LUT covers stored values 0 to 255, but the pixels range from 0 to "
                               "4000; it was not applied (it would distort the image). The image's own range is "
                               "shown instead.",)
    windowed = load_image(write(tmp_path, "both.dcm", make_dicom(ramp, VOILUTSequence=[eight_bit_lut()],
                                                                  WindowCenter=2000, WindowWidth=1000)))
    expected = linear_window(ramp.astype(np.float64), 2000, 1000)
    assert np.abs(windowed.pixels.astype(float) - expected).max() <= 1.0 and "window is used" in windowed.warnings[0]


def test_voi_lut_that_covers_the_pixels_is_applied(tmp_path: Path) -> None:
    ramp = (ramp16() // 16).astype(np.uint16)  # 0 .. 250: inside the 256-entry table
    loaded = load_image(write(tmp_path, "lut.dcm", make_dicom(ramp, VOILUTSequence=[eight_bit_lut()])))
    assert loaded.warnings == () and np.array_equal(loaded.pixels, ramp.astype(np.uint8))  # identity on 0..255


@pytest.mark.parametrize("width", [0, -100])
def test_window_width_not_positive_is_ignored_with_a_warning(tmp_path: Path, width: int) -> None:
    ramp = ramp16()
    loaded = load_image(write(tmp_path, "w.dcm", make_dicom(ramp, WindowCenter=2000, WindowWidth=width)))
    assert np.array_equal(loaded.pixels, load_image(write(tmp_path, "p.dcm", make_dicom(ramp))).pixels)
    assert loaded.warnings == (f"The DICOM's Window Width is {width} (it must be positive); the window was ignored. "
                               "The image's own range is shown instead.",)


def test_palette_color_dicom_is_converted_through_its_tables(tmp_path: Path) -> None:
    indices = (xray_like(96, 96, 4) // 2).astype(np.uint8)  # 0..127
    entries = np.arange(256)
    tables = {"Red": entries * 256, "Green": (255 - entries) * 256, "Blue": np.full(256, 128 * 256)}
    attributes = {}
    for colour, table in tables.items():
        attributes[f"{colour}PaletteColorLookupTableDescriptor"] = [256, 0, 16]
        attributes[f"{colour}PaletteColorLookupTableData"] = np.asarray(table, "<u2").tobytes()
    loaded = load_image(write(tmp_path, "palette.dcm", make_dicom(indices, "PALETTE COLOR", 8, **attributes)))
    rgb = np.stack([entries[indices], 255 - entries[indices], np.full_like(indices, 128)], axis=-1).astype(np.float64)
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    stretched = (luma - luma.min()) * 255 / (luma.max() - luma.min())
    assert loaded.source_channels == 3 and loaded.colour_deviation > 6
    assert np.corrcoef(loaded.pixels.ravel(), stretched.ravel())[0, 1] > 0.99
