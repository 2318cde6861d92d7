"""Issue 22 (and issue 20 item 7): concurrent scans, resumes bound to what wrote the CSV, full disks, closed
pipes, signals, CSVs a person saved, odd names. Each case runs the real command line (in this process, or
in a real subprocess where a signal or a pipe is the point)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import cli
from app.core.io.outputs import exclusive_output, lock_path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(argv: list[str], capsys) -> tuple[int, str, str]:  # noqa: ANN001
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def scan(folder: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return ["scan", str(folder), "--out", str(out), "--model", str(model), *extra]


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "unexpected error" not in err and "Traceback" not in err, err
    return err


def _copy_folder(sample_folder: Path, tmp_path: Path, name: str) -> Path:
    other = tmp_path / name
    shutil.copytree(sample_folder, other)
    return other


# ---- item 0: one scan per output


def test_a_second_scan_on_a_locked_output_is_refused_naming_the_pid(small_onnx_model: Path, sample_folder: Path,
                                                                      tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    assert run(scan(sample_folder, out, small_onnx_model), capsys)[0] == 1  # broken.jpg
    before = out.read_bytes()
    with exclusive_output(out):  # as a running scan holds it
        assert lock_path(out).read_text().strip() == str(os.getpid())
        code, _, err = run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)
        assert code == 2 and f"being written by another scan (pid {os.getpid()})" in one_line(err)
        code, _, err = run(["watch", str(sample_folder), "--out", str(out), "--model", str(small_onnx_model)], capsys)
        assert code == 2 and f"(pid {os.getpid()})" in one_line(err)
    assert out.read_bytes() == before and not lock_path(out).exists()  # released and removed
    assert run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)[0] == 1  # free again


def test_a_running_scan_holds_the_lock_for_its_whole_run(small_onnx_model: Path, sample_folder: Path, tmp_path: Path) -> None:
    from app.core.scan.folder import scan_folder
    from app.core.screening import Screener

    out = tmp_path / "r.csv"
    updates = scan_folder(Screener(small_onnx_model), sample_folder, out, batch_size=2)
    next(updates)
    with pytest.raises(Exception, match=f"pid {os.getpid()}"):
        with exclusive_output(out):
            pass
    updates.close()
    with exclusive_output(out):  # released on close
        pass


# ---- items 1-2: a resume is bound to the folder, the recursion, the decision and the files


def test_resume_of_another_folders_csv_is_refused_and_the_csv_kept(small_onnx_model: Path, sample_folder: Path,
                                                                     tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "a.csv"
    other = _copy_folder(sample_folder, tmp_path, "b")  # the same file names
    run(scan(sample_folder, out, small_onnx_model), capsys)
    before = out.read_bytes()
    code, _, err = run(scan(other, out, small_onnx_model, "--resume"), capsys)
    assert code == 2 and f"a scan of the folder {sample_folder.resolve()}, not of {other.resolve()}" in one_line(err)
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--resume", "--recursive"), capsys)
    assert code == 2 and "without --recursive" in one_line(err)
    assert out.read_bytes() == before


def test_resume_after_the_threshold_or_clahe_changed_is_refused(small_onnx_model: Path, sample_folder: Path,
                                                                  tmp_path: Path, capsys) -> None:  # noqa: ANN001
    model_dir = tmp_path / "model"
    shutil.copytree(small_onnx_model.parent, model_dir)
    model = model_dir / small_onnx_model.name
    out = tmp_path / "r.csv"
    run(scan(sample_folder, out, model), capsys)
    before = out.read_bytes()
    code, _, err = run(scan(sample_folder, out, model, "--resume", "--clahe", "on"), capsys)
    assert code == 2 and "CLAHE off, not threshold" in one_line(err)
    card_path = model_dir / "model_card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["threshold"] = 0.3
    card_path.write_text(json.dumps(card), encoding="utf-8")
    code, _, err = run(scan(sample_folder, out, model, "--resume"), capsys)
    assert code == 2 and "threshold 0.300000" in one_line(err) and "model card" in err
    assert out.read_bytes() == before


def test_resume_scores_a_changed_file_again_and_records_site_and_fingerprint(small_onnx_model: Path, sample_folder: Path,
                                                                               tmp_path: Path, capsys) -> None:  # noqa: ANN001
    import csv

    out = tmp_path / "r.csv"
    run(scan(sample_folder, out, small_onnx_model), capsys)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    first = sorted(sample_folder.glob("00_*"))[0]
    stat = first.stat()
    assert rows[first.name]["file_size"] == str(stat.st_size) and rows[first.name]["file_mtime_ns"] == str(stat.st_mtime_ns)
    assert rows[first.name]["site_sha256"] == "" and rows[first.name]["folder"] == str(sample_folder.resolve())
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # replaced by another export
    code, printed, err = run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)
    assert "1 files changed since their rows were written" in err
    assert printed.startswith("2 new: ")  # the changed file and broken.jpg's error row
    with open(out, newline="", encoding="utf-8") as handle:
        again = {row["path"]: row for row in csv.DictReader(handle)}
    assert again[first.name]["file_mtime_ns"] == str(stat.st_mtime_ns + 10**9) and len(again) == len(rows)


# ---- issue 20 item 7


def test_resume_with_overwrite_and_out_in_a_missing_folder_are_refused(small_onnx_model: Path, sample_folder: Path,
                                                                         tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--resume", "--overwrite"), capsys)
    assert code == 2 and "--resume and --overwrite" in one_line(err)
    typo = tmp_path / "resluts" / "deep" / "r.csv"
    code, _, err = run(scan(sample_folder, typo, small_onnx_model), capsys)
    assert code == 2 and f"the folder {tmp_path / 'resluts'} does not exist" in one_line(err)
    assert not (tmp_path / "resluts").exists() and not out.exists()


def test_resume_of_a_finished_csv_reports_what_it_holds(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                         capsys) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    broken = sample_folder / "broken.jpg"
    broken.unlink()
    assert run(scan(sample_folder, out, small_onnx_model), capsys)[0] == 0
    flagged = out.read_text(encoding="utf-8").count(",PNEUMONIA,")
    code, printed, _ = run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)
    assert code == 0 and printed.startswith(f"0 new: 0 flagged PNEUMONIA, 0 with warnings, 0 errors; 12 already in "
                                            f"the CSV: {flagged} flagged PNEUMONIA")


# ---- items 3-5: full disk, closed stdout, permissions, long names


@pytest.fixture()
def tiny_disk(tmp_path: Path):  # noqa: ANN201
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (not root, or no mount permission)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    """Fill the rest of the disk with one file, `filler`."""
    with open(disk / "filler", "ab", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 1024)
        except OSError:
            pass


def test_a_full_disk_keeps_the_previous_results_and_removes_the_temporary_file(small_onnx_model: Path, sample_folder: Path,
                                                                                tiny_disk: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tiny_disk / "r.csv"
    assert run(scan(sample_folder, out, small_onnx_model), capsys)[0] == 1
    before = out.read_bytes()
    _fill(tiny_disk)
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--overwrite"), capsys)
    assert code == 2 and f"No space left on the device of {out}; the previous results are kept" in one_line(err)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "r.csv"]  # no .part, no lock left
    (tiny_disk / "filler").unlink()


def test_full_disk_mid_scan_leaves_only_complete_rows(small_onnx_model: Path, sample_folder: Path, tiny_disk: Path,
                                                      capsys, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from app.core.scan import results_csv as scan_csv

    images = sorted(sample_folder.glob("*.jpeg"))
    for i in range(60):  # more rows than the CSV's last page of the disk holds
        (sample_folder / f"{i:03d}_copy.jpeg").write_bytes(images[i % len(images)].read_bytes())
    out = tiny_disk / "r.csv"
    real_write = scan_csv.CsvSink.write
    calls = []

    def write_then_fill(self, rows) -> None:  # noqa: ANN001
        calls.append(len(rows))
        if len(calls) == 2:  # the disk fills up after the first batch
            _fill(tiny_disk)
        real_write(self, rows)

    monkeypatch.setattr(scan_csv.CsvSink, "write", write_then_fill)
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--batch-size", "4"), capsys)
    written = int(err.split("the previous results are kept, ")[1].split(" rows written")[0])
    assert code == 2 and "No space left on the device of" in one_line(err) and 4 <= written < 73
    assert out.read_bytes().endswith(b"\r\n") and out.read_bytes().count(b"\r\n") == written + 1  # complete rows only
    (tiny_disk / "filler").unlink()
    monkeypatch.undo()
    assert run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)[0] == 1  # completes it


def test_a_closed_stdout_pipe_exits_quietly(small_onnx_model: Path, sample_folder: Path) -> None:
    images = [str(path) for path in sorted(sample_folder.glob("*.jpeg"))]
    command = [sys.executable, "-m", "app.cli", "predict", *images, "--model", str(small_onnx_model)]
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    predict = subprocess.run(command, stdout=reader.stdin, stderr=subprocess.PIPE, env=ENV, timeout=120)
    reader.stdin.close()
    assert reader.stdout.read().count(b"\n") == 1
    reader.wait()
    assert predict.stderr == b"" and predict.returncode in (0, 141), predict.stderr


def test_stdout_on_a_full_device_is_one_line(small_onnx_model: Path, sample_folder: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    image = str(sorted(sample_folder.glob("*.jpeg"))[0])
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "app.cli", "predict", image, "--model", str(small_onnx_model)],
                              stdout=full, stderr=subprocess.PIPE, env=ENV, timeout=120)
    err = done.stderr.decode()
    assert done.returncode == 2 and "cannot write the results to stdout: No space left" in one_line(err)


def test_a_replace_that_is_not_permitted_is_one_line(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                     capsys, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    run(scan(sample_folder, out, small_onnx_model), capsys)
    before = out.read_bytes()

    def not_permitted(*_args: object) -> None:  # as a sticky folder answers for another user's file
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "replace", not_permitted)
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--overwrite"), capsys)
    assert code == 2 and f"Cannot write {out}: Operation not permitted; the previous results are kept" in one_line(err)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_name_too_long_for_the_temporary_file_is_refused_before_work(small_onnx_model: Path, sample_folder: Path,
                                                                        tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / ("r" * 246 + ".csv")  # 250 bytes: legal, but not its temporary file
    code, _, err = run(scan(sample_folder, out, small_onnx_model), capsys)
    assert code == 2 and "the file name is too long (250 bytes" in one_line(err)
    assert list(tmp_path.glob(".r*")) == []


# ---- item 7: signals and what a killed scan leaves


def _scan_process(folder: Path, out: Path, model: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "app.cli", "scan", str(folder), "--out", str(out), "--batch-size", "1",
               "--model", str(model)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)


def test_sigterm_mid_scan_says_stopped_and_exits_143(small_onnx_model: Path, sample_folder: Path, tmp_path: Path) -> None:
    images = sorted(sample_folder.glob("*.jpeg"))
    for i in range(300):
        (sample_folder / f"{i:03d}_copy.jpeg").write_bytes(images[i % len(images)].read_bytes())
    out = tmp_path / "r.csv"
    process = _scan_process(sample_folder, out, small_onnx_model)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.read_bytes().count(b"\n") < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "Stopped after " in err.decode() and b"Traceback" not in err, err
    assert not lock_path(out).exists() and [p for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_killed_scans_temporary_file_is_removed_at_the_next_start(small_onnx_model: Path, sample_folder: Path,
                                                                      tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    stale = tmp_path / ".r.csv.0123abcd.part"  # what a SIGKILL before the first batch leaves
    stale.write_text("path,status\n", encoding="utf-8")
    unrelated = tmp_path / ".r.csv.notes.part"
    unrelated.write_text("mine", encoding="utf-8")
    run(scan(sample_folder, out, small_onnx_model), capsys)
    assert not stale.exists() and unrelated.read_text(encoding="utf-8") == "mine"


# ---- items 8-9: CSVs a person opened and saved, or a write cut off


def test_a_trailing_blank_line_is_accepted(small_onnx_model: Path, sample_folder: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    run(scan(sample_folder, out, small_onnx_model), capsys)
    out.write_bytes(out.read_bytes() + b"\r\n\n")
    code, printed, err = run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)
    assert code == 1 and err == "" and printed.startswith("1 new: ")  # broken.jpg tried again, nothing refused


def test_a_row_cut_after_a_line_break_in_a_quoted_name_is_scored_again(small_onnx_model: Path, sample_folder: Path,
                                                                        tmp_path: Path, capsys) -> None:  # noqa: ANN001
    shutil.copy(sorted(sample_folder.glob("*.jpeg"))[0], sample_folder / "zz\nline.jpeg")
    out = tmp_path / "r.csv"
    run(scan(sample_folder, out, small_onnx_model), capsys)
    data = out.read_bytes()
    cut = data[: data.index(b'"zz\n') + 4]  # killed right after the line break inside the quotes
    out.write_bytes(cut)
    code, printed, err = run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)
    assert "was cut off by an interrupted write; its file is scored again" in one_line(err)
    assert code == 1 and printed.startswith("2 new: ") and out.read_bytes().count(b'"zz\nline.jpeg"') == 1


def test_a_stray_quote_is_a_damaged_csv_at_its_line(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                     capsys) -> None:  # noqa: ANN001
    out = tmp_path / "r.csv"
    run(scan(sample_folder, out, small_onnx_model), capsys)
    lines = out.read_bytes().splitlines(keepends=True)
    lines[2] = b'"' + lines[2]
    damaged = b"".join(lines[:3] + lines[3:] * 1500)  # large: the quote runs into the csv field limit
    out.write_bytes(damaged)
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--resume"), capsys)
    assert code == 2 and "is a damaged CSV at line 3" in one_line(err)
    assert out.read_bytes() == damaged


# ---- item 6: entries the listing cannot look into


def test_a_link_into_a_folder_that_cannot_be_entered_gets_an_error_row(small_onnx_model: Path, sample_folder: Path,
                                                                        tmp_path: Path, capsys,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import csv

    locked = tmp_path / "locked"
    locked.mkdir()
    (sample_folder / "link").symlink_to(locked)
    real_is_dir = Path.is_dir

    def is_dir(self: Path) -> bool:  # as Python 3.11 answers for a link into a folder without x permission
        if self.name == "link":
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_dir(self)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    out = tmp_path / "r.csv"
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--recursive"), capsys)
    assert code == 1 and "unexpected" not in err.lower()
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    assert rows["link"]["status"] == "error" and "Permission denied" in rows["link"]["error"]


def test_proc_as_the_folder_is_a_plain_refusal(small_onnx_model: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    code, _, err = run(scan(Path("/proc"), tmp_path / "r.csv", small_onnx_model), capsys)
    assert code == 2 and "No images in /proc" in one_line(err)


def test_a_permission_error_row_is_plain(tmp_path: Path) -> None:
    from app.core.errors import describe_error

    text = describe_error(PermissionError(13, "Permission denied", str(tmp_path / "a.png")))
    assert text.startswith("Cannot read this file: permission denied") and "Unexpected" not in text


# ---- item 10: names that are not UTF-8


def test_non_utf8_names_are_printed_and_written_losslessly(small_onnx_model: Path, sample_folder: Path,
                                                           tmp_path: Path) -> None:
    name = b"caf\xe9.jpeg"  # Latin-1 bytes from another system's archive
    try:
        target = os.path.join(os.fsencode(sample_folder), name)
        with open(target, "wb") as handle:
            handle.write(sorted(sample_folder.glob("*.jpeg"))[0].read_bytes())
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    (sample_folder / "broken.jpg").unlink()
    env = {**ENV, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    predict = subprocess.run([sys.executable, "-m", "app.cli", "predict", os.fsdecode(target), "--model",
                              str(small_onnx_model)], capture_output=True, env=env, timeout=120)
    assert predict.returncode == 0 and name in predict.stdout and predict.stderr == b"", predict.stderr
    out = tmp_path / "r.csv"
    done = subprocess.run([sys.executable, "-m", "app.cli", "scan", str(sample_folder), "--out", str(out), "--model",
                           str(small_onnx_model)], capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert b"\n" + name + b",ok," in out.read_bytes() or b"\n" + name + b",warning," in out.read_bytes()
    again = subprocess.run([sys.executable, "-m", "app.cli", "scan", str(sample_folder), "--out", str(out), "--resume",
                            "--model", str(small_onnx_model)], capture_output=True, env=env, timeout=120)
    assert again.returncode == 0 and again.stdout.startswith(b"0 new: "), again.stderr  # recognised on resume


# ---- items 11-13: hostile files


def test_a_sparse_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from app.core.errors import ImageTooLargeError
    from app.core.io.images import load_image

    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: no disk space, but 2 GiB to read
    with pytest.raises(ImageTooLargeError, match="2.0 GiB, above the limit of 1 GiB; it was not read"):
        load_image(huge)


def test_a_deflated_dicom_is_measured_before_it_is_inflated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import DeflatedExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    from app.core.io import dicom, images as image_io
    from app.core.errors import ImageTooLargeError

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows = ds.Columns = 2000
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.SamplesPerPixel, ds.PixelRepresentation = 16, 16, 15, 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.zeros((2000, 2000), np.uint16).tobytes()  # 8 MB, deflated to a few kB
    path = tmp_path / "bomb.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(dicom, "MAX_DECODED_BYTES", 1 << 20)  # the DICOM reader's budget, scaled down with the file
    with pytest.raises(ImageTooLargeError, match="inflates to more than 1 MiB"):
        image_io.load_image(path)


def test_a_jpeg_with_thousands_of_scans_is_refused_before_decoding(tmp_path: Path) -> None:
    from app.core.errors import CorruptImageError
    from app.core.io.images import load_image

    sample = sorted((REPO / "assets" / "samples").glob("*.jpeg"))[0].read_bytes()
    scan = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x00"  # a start-of-scan segment, over and over
    hostile = tmp_path / "scans.jpeg"
    hostile.write_bytes(sample[:-2] + scan * 2000 + b"\xff\xd9")
    started = time.monotonic()
    with pytest.raises(CorruptImageError, match="scans"):
        load_image(hostile)
    assert time.monotonic() - started < 5


# ---- items 14-15: cluster options


@pytest.mark.parametrize("spec", ["0/10001", "0/1000000000000000000", "0/" + "9" * 5000])
def test_shard_counts_are_bounded_with_a_plain_message(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                       spec: str, capsys) -> None:  # noqa: ANN001
    code, _, err = run(scan(sample_folder, tmp_path / "r.csv", small_onnx_model, "--shard", spec), capsys)
    assert code == 2 and "at most 10000" in one_line(err) and len(err) < 300


def test_a_local_cluster_of_5000_digits_is_a_plain_refusal(small_onnx_model: Path, sample_folder: Path, tmp_path: Path,
                                                            capsys) -> None:  # noqa: ANN001
    code, _, err = run(scan(sample_folder, tmp_path / "r.csv", small_onnx_model, "--dask", "local:" + "9" * 5000), capsys)
    assert code == 2 and "--dask" in one_line(err)


def test_an_address_that_is_not_a_dask_scheduler_fails_within_10_s(small_onnx_model: Path, sample_folder: Path,
                                                                   tmp_path: Path, capsys) -> None:  # noqa: ANN001
    import socket
    import threading

    pytest.importorskip("distributed")
    from app.core.scan.distributed import probe_scheduler
    from app.core.errors import PneumoScanError

    silent = socket.create_server(("127.0.0.1", 0))  # listens, never says a word (as an HTTP server waits)
    address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
    started = time.monotonic()
    code, _, err = run(scan(sample_folder, tmp_path / "r.csv", small_onnx_model, "--dask", address), capsys)
    assert code == 2 and f"{address} did not answer as a Dask scheduler within 10 s" in one_line(err)
    assert time.monotonic() - started < 15
    silent.close()

    garbage = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: garbage.accept()[0].sendall(b"\xff" * 64), daemon=True).start()
    with pytest.raises(PneumoScanError, match="answered, but not as a Dask scheduler"):
        probe_scheduler(f"tcp://127.0.0.1:{garbage.getsockname()[1]}", timeout_s=5)
    garbage.close()


def test_a_large_file_whose_header_refuses_it_is_not_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import struct
    import zlib

    from app.core.errors import ImageTooLargeError
    from app.core.io.images import load_image

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 16, 2, 0, 0, 0))  # 60 GB decoded
    path = tmp_path / "bomb.png"
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
        handle.truncate(800 * 1024**2)  # sparse: 800 MB that are never read
    reads: list[int] = []
    real_open = builtins.open

    class Counting:
        def __init__(self, handle) -> None:  # noqa: ANN001
            self.handle = handle

        def read(self, size: int = -1) -> bytes:
            data = self.handle.read(size)
            reads.append(len(data))
            return data

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    monkeypatch.setattr(builtins, "open", lambda file, mode="r", *a, **k: Counting(real_open(file, mode, *a, **k))
                        if str(file) == str(path) else real_open(file, mode, *a, **k))
    with pytest.raises(ImageTooLargeError, match="100000 x 100000"):
        load_image(path)
    assert sum(reads) <= 1 << 20


def test_another_users_csv_in_a_sticky_folder_is_refused_before_work(small_onnx_model: Path, sample_folder: Path,
                                                                      tmp_path: Path, capsys,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp: anyone may create, only the owner may replace
    out = shared / "r.csv"
    run(scan(sample_folder, out, small_onnx_model), capsys)
    before = out.read_bytes()
    monkeypatch.setattr(os, "geteuid", lambda: 4321)  # another user than the file's and the folder's owner
    code, _, err = run(scan(sample_folder, out, small_onnx_model, "--overwrite"), capsys)
    assert code == 2 and "belongs to another user in a shared folder" in one_line(err)
    assert out.read_bytes() == before
