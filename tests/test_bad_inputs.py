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

from app.core.io.outputs import csv_unescape
from app.core.scan.folder import scan_folder
from app.core.scan.row import CSV_COLUMNS
from tests.test_image_io import (
    eight_bit_lut,
    encode,
    make_dicom,
    png_header,
    png_with_declared_size,
    pydicom_sample,
    with_orientation,
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
    put("deep_rgb_100mp.png", png_header(10000, 10000, 16, 2), Expect("error", "572 MiB decoded, above the limit of 512 MiB"))
    put("animation.gif", encode(_gray(), "GIF"), Expect("error", "This is a GIF image; PneumoScan reads JPEG, PNG"))
    put("photo.webp", encode(_gray(), "WEBP"), Expect("error", "This is a WEBP image; PneumoScan reads JPEG, PNG"))
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
    put("lut_wraps.dcm", make_dicom(_dicom_pixels(24), VOILUTSequence=[eight_bit_lut()]),
        Expect("warning", "The DICOM's VOI LUT covers stored values 0 to 255, but the pixels range from"))
    put("window_zero.dcm", make_dicom(_dicom_pixels(25), WindowCenter=2000, WindowWidth=0),
        Expect("warning", "The DICOM's Window Width is 0 (it must be positive); the window was ignored."))
    entries = np.arange(256)
    palette = {f"{c}PaletteColorLookupTableDescriptor": [256, 0, 16] for c in ("Red", "Green", "Blue")}
    for colour, table in {"Red": entries, "Green": 255 - entries, "Blue": np.full(256, 128)}.items():
        palette[f"{colour}PaletteColorLookupTableData"] = np.asarray(table * 256, "<u2").tobytes()
    put("palette.dcm", make_dicom((xray_like(256, 256, 26) // 2).astype(np.uint8), "PALETTE COLOR", 8, **palette),
        Expect("warning", "colour image"))

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
    put("phone_rotated.jpg", with_orientation(_gray(seed=27).rotate(90, expand=True), "JPEG", 6), Expect("ok"))
    transparent = _gray(seed=28).convert("RGBA")
    transparent.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, 256).astype(np.uint8), (256, 1))))
    put("transparent_edge.png", encode(transparent, "PNG"), Expect("ok"))
    for name in ("=HYPERLINK(1).png", "+cmd.png", "-cmd.png", "@SUM(1).png"):  # formula-like names: escaped cells
        put(name, encode(_gray(seed=29), "PNG"), Expect("ok"))

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
        rows = [{**row, "path": csv_unescape(row["path"])} for row in csv.DictReader(handle)]
    return expected, rows, updates, out


def test_corpus_is_large_enough(scanned) -> None:  # noqa: ANN001
    expected, _, _, _ = scanned
    assert len([e for e in expected.values() if e.status == "error"]) >= 23
    assert len(expected) >= 55


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


def test_formula_like_names_are_escaped_in_the_csv(scanned) -> None:  # noqa: ANN001
    _, _, _, out = scanned
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        cells = [row["path"] for row in csv.DictReader(handle)]
    for name in ("=HYPERLINK(1).png", "+cmd.png", "-cmd.png", "@SUM(1).png"):
        assert "'" + name in cells and name not in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


# --------------------------------------------------------------------------------------------------
# The command line: every refusal before the model loads, exact messages, files byte-for-byte untouched
# --------------------------------------------------------------------------------------------------

import itertools  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import app.cli as cli  # noqa: E402
import app.cli.common as cli_common  # noqa: E402
import app.cli.images as cli_images  # noqa: E402
from tests.test_cli import cli_model  # noqa: E402, F401 - the fixture


class ModelLoaded(BaseException):  # noqa: N818 - not an Exception, so the CLI's own handlers cannot swallow it
    """The model was opened although the command should have been refused before."""


@pytest.fixture()
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise ModelLoaded

    monkeypatch.setattr(cli_common, "open_screener", refuse)


@pytest.fixture()
def tree(tmp_path: Path, test_model_path: Path) -> Path:
    """A folder of two X-rays, a results CSV, an unrelated CSV and a text file; the test model's card beside."""
    root = tmp_path / "work"
    (root / "xrays").mkdir(parents=True)
    for seed, name in enumerate(["a.png", "b.jpg"]):
        (root / "xrays" / name).write_bytes(encode(_gray(seed=seed), "PNG" if name.endswith("png") else "JPEG"))
    (root / "results.csv").write_text(",".join(CSV_COLUMNS) + "\n", encoding="utf-8")
    (root / "data.csv").write_text("name,size\nfoo,1\n", encoding="utf-8")
    (root / "notes.txt").write_text("my notes\n", encoding="utf-8")
    (root / "x.jpg").write_bytes(encode(_gray(seed=5), "JPEG"))
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:  # noqa: ANN001
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


REFUSED = [  # (argv with {root} and {model}, the exact stderr line after "pneumoscan-cli: ")
    (["scan", "{root}/xrays", "--out", "{root}/xrays/a.png"],
     "--out {root}/xrays/a.png is inside the scanned folder and not a .csv; it could be one of the images. Choose a .csv file."),
    (["scan", "{root}/xrays", "--resume", "--out", "{root}/notes.txt"],
     "--out {root}/notes.txt exists and is not a CSV file; PneumoScan will not replace it."),
    (["scan", "{root}/xrays", "--out", "{root}/results.csv"],
     "{root}/results.csv already exists: add --resume to continue that scan, or --overwrite to replace it."),
    (["scan", "{root}/xrays", "--overwrite", "--out", "{root}/data.csv"],
     "{root}/data.csv is not a PneumoScan results file; it is not replaced. Choose another --out."),
    (["scan", "{root}/xrays", "--resume", "--out", "{root}/data.csv"],
     "{root}/data.csv is not a PneumoScan results file of this version; choose another output to resume."),
    (["scan", "{root}/xrays", "--out", "{root}"], "--out {root} is a folder; give a file name."),
    (["scan", "{root}/nope"], "Not a folder: {root}/nope"),
    (["heatmap", "{root}/x.jpg", "--out", "{root}/x.jpg"],
     "--out {root}/x.jpg is an input ({root}/x.jpg); it would be overwritten. Choose another file."),
    (["heatmap", "{root}/x.jpg", "--out", "{root}/xrays/../x.jpg"],
     "--out {root}/xrays/../x.jpg is an input ({root}/x.jpg); it would be overwritten. Choose another file."),
    (["heatmap", "{root}/x.jpg", "--out", "{root}/notes.txt"],
     "--out {root}/notes.txt: unknown image format '.txt'; use one of .png, .jpg, .jpeg, .tif, .tiff."),
    (["heatmap", "{root}/x.jpg", "--out", "{root}/overlay.gif"],
     "--out {root}/overlay.gif: unknown image format '.gif'; use one of .png, .jpg, .jpeg, .tif, .tiff."),
    (["heatmap", "{root}/x.jpg", "--out", "{root}/xrays/a.png"],
     "--out {root}/xrays/a.png already exists; add --overwrite to replace it."),
    (["heatmap", "{root}/x.jpg", "--out", "{root}/xrays"], "--out {root}/xrays is a folder; give a file name."),
    (["heatmap", "{root}/missing.jpg", "--out", "{root}/o.png"], "No such file: {root}/missing.jpg"),
    (["predict", "{root}/x.jpg", "{root}/missing.jpg"], "No such file: {root}/missing.jpg"),
]


@pytest.mark.parametrize(("argv", "message"), REFUSED, ids=[f"{a[0]}-{i}" for i, (a, _) in enumerate(REFUSED)])
def test_cli_refuses_before_the_model_loads_and_touches_nothing(
    tree: Path, test_model_path: Path, no_model: None, capsys, argv: list[str], message: str  # noqa: ANN001
) -> None:
    before = snapshot(tree)
    args = [part.format(root=tree) for part in argv] + ["--model", str(test_model_path)]
    assert run_cli(args, capsys) == (2, "", f"pneumoscan-cli: {message.format(root=tree)}\n")
    assert snapshot(tree) == before


def test_resume_onto_another_models_csv_is_refused_unchanged(tree: Path, test_model_path: Path, no_model: None, capsys) -> None:  # noqa: ANN001
    other = tree / "other.csv"
    other.write_text(",".join(CSV_COLUMNS) + "\na.png,ok,0.900000,PNEUMONIA,0.500000,9.9,0123456789ab,,,,,,,,,,,/x,false\n"
                     "broken.png,error,,,,,,,,,,,damaged,,,,,/x,false\n", encoding="utf-8")
    before = snapshot(tree)
    code, out, err = run_cli(["scan", str(tree / "xrays"), "--resume", "--out", str(other), "--model", str(test_model_path)], capsys)
    assert code == 2 and out == "" and err == (
        f"pneumoscan-cli: {other} holds results of model 9.9, not of this model (0.0.0-test); scan into a new CSV "
        "so that two models' results are not mixed.\n")
    assert snapshot(tree) == before  # the error row is not dropped either


@pytest.mark.parametrize(("option", "value", "reason"), [
    ("--batch-size", "0", "must be a whole number from 1 to 1024, not '0'"),
    ("--batch-size", "-1", "must be a whole number from 1 to 1024, not '-1'"),
    ("--batch-size", "2000", "must be a whole number from 1 to 1024, not '2000'"),
    ("--opacity", "nan", "must be a number from 0 to 1, not 'nan'"),
    ("--opacity", "2", "must be a number from 0 to 1, not '2'"),
    ("--opacity", "-0.1", "must be a number from 0 to 1, not '-0.1'"),
])
def test_out_of_range_options_are_refused_not_clamped(tree: Path, no_model: None, capsys, option: str, value: str, reason: str) -> None:  # noqa: ANN001
    command = (["scan", str(tree / "xrays")] if option == "--batch-size"
               else ["heatmap", str(tree / "x.jpg"), "--out", str(tree / "o.png")])
    code, out, err = run_cli(command + [option, value], capsys)
    assert code == 2 and out == "" and err.strip().endswith(f"argument {option}: {reason}")


def test_empty_folder_says_so_and_suggests_recursive(tree: Path, test_model_path: Path, no_model: None, capsys) -> None:  # noqa: ANN001
    (tree / "empty").mkdir()
    code, out, err = run_cli(["scan", str(tree / "empty"), "--model", str(test_model_path)], capsys)
    assert (code, out) == (2, "") and err == f"pneumoscan-cli: No images in {tree / 'empty'} (JPEG, PNG, BMP, TIFF or DICOM).\n"
    nested = tree / "nested"
    shutil.copytree(tree / "xrays", nested / "day1")
    code, out, err = run_cli(["scan", str(nested), "--out", str(tree / "new.csv"), "--model", str(test_model_path)], capsys)
    assert code == 2 and err == (f"pneumoscan-cli: No images in {nested} (JPEG, PNG, BMP, TIFF or DICOM). "
                                 "Its sub-folders hold 2: add --recursive.\n")
    assert not (tree / "new.csv").exists() and not (tree.parent / "empty_pneumoscan.csv").exists()


def test_unreadable_folder_and_unwritable_output_exit_2(tree: Path, test_model_path: Path, no_model: None,  # noqa: ANN001
                                                        capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # as folders without read (then without write) permission answer, also for root
    monkeypatch.setattr(os, "access", lambda _path, mode: not mode & os.R_OK)
    code, _, err = run_cli(["scan", str(tree / "xrays"), "--out", str(tree / "r.csv"), "--model", str(test_model_path)], capsys)
    assert code == 2 and err == f"pneumoscan-cli: Cannot read the folder {tree / 'xrays'}: permission denied.\n"
    monkeypatch.setattr(os, "access", lambda _path, mode: not mode & os.W_OK)
    code, _, err = run_cli(["scan", str(tree / "xrays"), "--out", str(tree / "r.csv"), "--model", str(test_model_path)], capsys)
    assert code == 2 and err == f"pneumoscan-cli: Cannot write {tree / 'r.csv'}: no permission to write in {tree}.\n"


def test_each_command_exit_codes_0_and_1(tree: Path, cli_model: str, capsys) -> None:  # noqa: ANN001, F811
    good, bad = tree / "xrays" / "a.png", tree / "empty.png"
    bad.write_bytes(b"")
    assert run_cli(["predict", str(good), "--model", cli_model], capsys)[0] == 0
    assert run_cli(["predict", str(good), str(bad), "--model", cli_model], capsys)[0] == 1
    assert run_cli(["heatmap", str(good), "--out", str(tree / "o.png"), "--model", cli_model], capsys)[0] == 0
    assert run_cli(["heatmap", str(bad), "--out", str(tree / "o2.png"), "--model", cli_model], capsys)[0] == 1
    assert run_cli(["scan", str(tree / "xrays"), "--out", str(tree / "s.csv"), "--model", cli_model], capsys)[0] == 0
    (tree / "xrays" / "broken.png").write_bytes(b"")
    code, out, _ = run_cli(["scan", str(tree / "xrays"), "--out", str(tree / "s.csv"), "--overwrite", "--model", cli_model], capsys)
    assert code == 1 and "1 errors" in out


@pytest.mark.parametrize(("suffix", "fmt"), [(".png", "PNG"), (".jpg", "JPEG"), (".jpeg", "JPEG"), (".tif", "TIFF")])
def test_heatmap_writes_the_format_its_suffix_names(tree: Path, cli_model: str, capsys, suffix: str, fmt: str) -> None:  # noqa: ANN001, F811
    out = tree / f"overlay{suffix}"
    assert run_cli(["heatmap", str(tree / "x.jpg"), "--out", str(out), "--model", cli_model], capsys)[0] == 0
    with Image.open(out) as written:
        assert written.format == fmt
    assert [p.name for p in tree.iterdir() if p.name.endswith(".part")] == []
    before = out.read_bytes()
    assert run_cli(["heatmap", str(tree / "x.jpg"), "--out", str(out), "--opacity", "0", "--overwrite",
                    "--model", cli_model], capsys)[0] == 0
    assert out.read_bytes() != before  # replaced on request


def test_a_bad_model_and_an_unexpected_error_give_one_line(tree: Path, test_model_path: Path, capsys,  # noqa: ANN001
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from app.core.model.card import read_card, sha256_of

    folder = tree / "model"
    shutil.copytree(test_model_path.parent, folder)
    stats = folder / "domain_stats.npz"
    np.savez(stats, mean=np.array([object()]), precision=np.zeros((1, 1)))  # a pickled array: never loaded
    card = read_card(folder / test_model_path.name)
    dataclasses.replace(card, domain={"file": stats.name, "sha256": sha256_of(stats), "cutoff": 1.0}).save(folder)
    code, out, err = run_cli(["predict", str(tree / "x.jpg"), "--model", str(folder / test_model_path.name)], capsys)
    assert (code, out) == (2, "") and err.startswith(f"pneumoscan-cli: The model {folder / test_model_path.name} "
                                                     "could not be opened (ValueError: ") and err.count("\n") == 1

    def boom(_args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_images, "predict", boom)
    code, out, err = run_cli(["predict", str(tree / "x.jpg")], capsys)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("pneumoscan-cli: unexpected error (RuntimeError: boom); details in ")
    log = Path(err.strip().rsplit(" ", 1)[1])
    assert "Traceback" in log.read_text(encoding="utf-8") and "boom" in log.read_text(encoding="utf-8")
    log.unlink()


def test_no_cli_command_ever_writes_to_an_input(tree: Path, cli_model: str, capsys) -> None:  # noqa: ANN001, F811
    """Property: whatever the command and options, a path given as input keeps its bytes and stays a file."""
    image, folder = tree / "x.jpg", tree / "xrays"
    (tree / "link.png").symlink_to(image)
    os.link(image, tree / "hard.jpg")
    aliases = [image, tree / "link.png", tree / "hard.jpg", tree / "xrays" / ".." / "x.jpg", folder / "a.png",
               folder / "b.jpg", folder, folder / "a.png.csv"]
    commands = [
        lambda out, flags: ["heatmap", str(image), "--out", str(out), *flags],
        lambda out, flags: ["scan", str(folder), "--out", str(out), *flags],
        lambda out, flags: ["predict", str(image), str(folder / "a.png"), *flags[:0]],
    ]
    flag_sets = [[], ["--overwrite"], ["--resume"], ["--recursive", "--overwrite"], ["--opacity", "0.5", "--overwrite"]]
    rng = random.Random(13)
    cases = list(itertools.product(range(len(commands)), range(len(aliases)), range(len(flag_sets))))
    inputs_of = [[image], [folder / "a.png", folder / "b.jpg"], [image, folder / "a.png"]]  # per command
    accepted = [{"--overwrite", "--opacity", "0.5"}, {"--overwrite", "--resume", "--recursive"}, set()]
    for c, a, f in rng.sample(cases, 40):
        flags = [flag for flag in flag_sets[f] if flag in accepted[c]]
        before = {path: path.read_bytes() for path in inputs_of[c]}
        argv = commands[c](aliases[a], flags) + ["--model", cli_model]
        run_cli(argv, capsys)
        for path, data in before.items():
            assert path.is_file() and path.read_bytes() == data, (argv, path)


def test_framework_start_up_chatter_is_silenced(tree: Path, test_model_path: Path) -> None:
    """The real process: TensorFlow/ONNX Runtime print nothing on stderr; the result is on stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    done = subprocess.run([sys.executable, "-m", "app.cli", "predict", str(tree / "x.jpg"), "--model", str(test_model_path)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and done.stderr == "" and "probability of pneumonia" in done.stdout
