"""packaging/stub_libraries.py: the stand-ins for OpenCV's FFmpeg and OpenBLAS in the Linux bundle."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def stubs(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - the packaging module, imported as build.spec does
    monkeypatch.syspath_prepend(str(REPO / "packaging"))
    import stub_libraries

    return stub_libraries


def test_the_app_calls_only_the_opencv_functions_the_stubs_were_checked_against(stubs) -> None:  # noqa: ANN001
    """A new cv2 call must be checked against STUB_RULES (does it reach FFmpeg or LAPACK?) and then listed."""
    calls, aliases = set(), []
    for path in (REPO / "app").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        calls |= {name for name in re.findall(r"\bcv2\.([A-Za-z_]\w*)", text) if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name)}
        aliases += [str(path) for _ in re.findall(r"^\s*(?:import cv2 as|from cv2 import)", text, re.MULTILINE)]
    assert aliases == []
    assert calls, "the scan found no cv2 call at all"
    assert calls <= stubs.OPENCV_CALLS, f"not checked against the stubs: {sorted(calls - stubs.OPENCV_CALLS)}"


def test_the_rules_pick_opencvs_video_and_blas_libraries_only(stubs) -> None:  # noqa: ANN001
    def picked(dest: str) -> bool:
        return stubs.drop_reason(dest, stubs.STUB_RULES) is not None

    assert picked("opencv_python_headless.libs/libavcodec-e863e0e1.so.63.1.102")
    assert picked("opencv_python_headless.libs/libopenblasp-r0-59ffcd50.3.15.so")
    assert not picked("opencv_python_headless.libs/libavif-24bb8032.so.16.4.2")  # imdecode may reach AVIF
    assert not picked("opencv_python_headless.libs/libpng16-802956e1.so.16.59.0")
    assert not picked("numpy.libs/libscipy_openblas64_-32a4b2a6.so")


NM = {
    ("-D", "-S", "--defined-only", "/src/libavutil.so.61"): "0000000000001000 0000000000000010 T av_free@@LIBAVUTIL_61\n"
    "0000000000002000 0000000000000004 R av_md5_size@@LIBAVUTIL_61\n0000000000003000 T av_unused@@LIBAVUTIL_61\n"
    "0000000000004000 0000000000000010 T av_free@LIBAVUTIL_60\n                 w __gmon_start__\n",
    ("-D", "--undefined-only", "/src/cv2.abi3.so"): "                 U av_free@LIBAVUTIL_61\n                 U av_md5_size@LIBAVUTIL_61\n"
    "                 U malloc@GLIBC_2.2.5\n",
    ("-D", "--undefined-only", "/src/other.so"): "                 U av_unused@LIBAVUTIL_61\n",
}


def test_a_stub_defines_what_the_libraries_consumers_take_under_its_versions(stubs, tmp_path: Path) -> None:  # noqa: ANN001
    built: dict[str, tuple[str, str, str]] = {}

    def build(source: str, script: str, soname: str, target: Path) -> None:
        built[soname] = (source, script, str(target))
        target.write_bytes(b"\x7fELF")

    lib = tmp_path / "libavutil.so.61"
    lib.write_bytes(b"\0" * 1000)
    toc = [("cv2/cv2.abi3.so", "/src/cv2.abi3.so", "EXTENSION"), ("other.so", "/src/other.so", "EXTENSION"),
           ("opencv_python_headless.libs/libavutil-9a3cc128.so.61", str(lib), "BINARY")]
    needs = {"/src/cv2.abi3.so": ["libavutil-9a3cc128.so.61"], "/src/other.so": []}  # other.so does not link it
    nm_calls = {**NM, ("-D", "-S", "--defined-only", str(lib)): NM[("-D", "-S", "--defined-only", "/src/libavutil.so.61")]}
    out, replaced, saved = stubs.stub_selected(toc, tmp_path / "stubs", nm=lambda args: nm_calls[tuple(args)],
                                               build=build, needed=lambda path: needs[path])
    source, script, target = built["libavutil-9a3cc128.so.61"]
    assert out[:2] == toc[:2] and out[2] == (toc[2][0], target, "BINARY")
    assert replaced == [str(lib)] and saved == 1000 - 4
    assert 'void av_free(void) { left_out("av_free"); }' in source and "char av_md5_size[4];" in source
    assert "av_unused" not in source  # only other.so, which does not link the library, takes it
    assert re.search(r"LIBAVUTIL_61 \{\s*global:\s*av_free;\s*av_md5_size;\s*local: \*;\s*\};", script)


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("nm") is None or
                    (shutil.which("gcc") or shutil.which("cc")) is None, reason="builds an ELF stub with gcc and nm")
def test_a_compiled_stub_exports_its_versions_and_aborts_loudly_when_called(stubs, tmp_path: Path) -> None:  # noqa: ANN001
    target = tmp_path / "libfake-1234.so.1"
    symbols = [stubs.Symbol("fake_decode", "FAKE_1", False, 0), stubs.Symbol("fake_table", "FAKE_1", True, 16)]
    stubs.compile_stub(*stubs.stub_source(target.name, symbols), target.name, target)
    exported = stubs.defined_symbols(str(target))
    assert exported["fake_decode"] == stubs.Symbol("fake_decode", "FAKE_1", False, exported["fake_decode"].size)
    assert exported["fake_table"].is_data and exported["fake_table"].size == 16
    assert "left_out" not in exported  # local: *
    assert subprocess.run(["readelf", "-d", str(target)], capture_output=True, text=True).stdout.count("NEEDED") == 1  # libc
    run = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(target)!r}).fake_decode()"],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert f"fake_decode was called, but the bundle carries a stub of {target.name}" in run.stderr
