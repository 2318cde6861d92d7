"""resource_path from a source checkout and from a PyInstaller bundle, and the bundle's data layout."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from app.core import resources
from app.core.model.card import CARD_NAME
from app.core.resources import MODEL_ENV, MODEL_FILE, base_dir, default_model_path, resource_path, sample_images

REPO = Path(__file__).resolve().parents[1]


def _bundle_config():
    spec = importlib.util.spec_from_file_location("bundle_config", REPO / "packaging" / "bundle_config.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bundle_config", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def no_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    monkeypatch.delenv(MODEL_ENV, raising=False)


@pytest.fixture()
def fake_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder laid out like dist/PneumoScan/_internal, installed as sys._MEIPASS."""
    (tmp_path / "resources").mkdir()
    samples = tmp_path / "assets" / "samples"
    samples.mkdir(parents=True)
    for name in ("PNEUMONIA_b.jpeg", "NORMAL_a.jpeg", "NORMAL_c.PNG", "README.md"):
        (samples / name).write_bytes(b"x")
    (samples / "nested.jpeg").mkdir()  # a folder with an image suffix is not a sample
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.delenv(MODEL_ENV, raising=False)
    return tmp_path


def test_source_checkout_resolves_to_the_repository(no_bundle: None) -> None:
    assert base_dir() == REPO
    assert resource_path("assets", "samples") == REPO / "assets" / "samples"
    assert resource_path("assets", "samples").is_dir()
    assert default_model_path() == REPO / "resources" / MODEL_FILE


def test_source_samples_have_both_labels(no_bundle: None) -> None:
    names = [p.name for p in sample_images()]
    assert names == sorted(names)
    assert any(n.startswith("NORMAL_") for n in names) and any(n.startswith("PNEUMONIA_") for n in names)
    assert all(Path(n).suffix.lower() in (".jpeg", ".jpg", ".png") for n in names)


def test_source_icons_exist() -> None:
    for suffix in (".png", ".ico", ".icns"):
        assert (REPO / "assets" / "icons" / f"pneumoscan{suffix}").stat().st_size > 1000


def test_meipass_is_the_base_in_a_bundle(fake_bundle: Path) -> None:
    assert base_dir() == fake_bundle
    assert resource_path("resources", "x.json") == fake_bundle / "resources" / "x.json"
    assert default_model_path() == fake_bundle / "resources" / MODEL_FILE


def test_bundle_samples_are_listed_from_meipass(fake_bundle: Path) -> None:
    assert [p.name for p in sample_images()] == ["NORMAL_a.jpeg", "NORMAL_c.PNG", "PNEUMONIA_b.jpeg"]
    assert all(p.parent == fake_bundle / "assets" / "samples" for p in sample_images())


def test_env_override_wins_from_source_and_bundle(fake_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere" / "my.keras"
    monkeypatch.setenv(MODEL_ENV, str(other))
    assert default_model_path() == other
    monkeypatch.delattr(sys, "_MEIPASS")
    assert default_model_path() == other
    monkeypatch.setenv(MODEL_ENV, "")  # empty means unset
    assert default_model_path() == REPO / "resources" / MODEL_FILE


def test_only_resources_module_knows_meipass() -> None:
    users = [p.relative_to(REPO).as_posix() for p in (REPO / "app").rglob("*.py") if "_MEIPASS" in p.read_text(encoding="utf-8")]
    assert users == ["app/core/resources.py"]


# --- the bundle's layout (packaging/bundle_config.py, used by build.spec) ------------------------


def _model_folder(folder: Path, domain: bool = True) -> Path:
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    model = folder / MODEL_FILE
    model.write_bytes(b"weights")
    (folder / "m.onnx").write_bytes(b"graph")
    (folder / "m_head.npz").write_bytes(b"head")
    card = {"name": "t", "version": "1", "model_file": MODEL_FILE, "sha256": hashlib.sha256(b"weights").hexdigest(),
            "onnx": {"file": "m.onnx", "sha256": hashlib.sha256(b"graph").hexdigest(),
                     "head": {"file": "m_head.npz", "sha256": hashlib.sha256(b"head").hexdigest()}}}
    if domain:
        (folder / "domain_stats.npz").write_bytes(b"stats")
        card["domain"] = {"file": "domain_stats.npz", "sha256": hashlib.sha256(b"stats").hexdigest(), "cutoff": 3.0}
    (folder / CARD_NAME).write_text(json.dumps(card), encoding="utf-8")
    return model


def test_bundle_config_matches_the_app() -> None:
    cfg = _bundle_config()
    assert cfg.MODEL_FILE == resources.MODEL_FILE
    assert cfg.CARD_FILE == CARD_NAME


def test_bundle_datas_put_files_where_resource_path_looks(tmp_path: Path) -> None:
    cfg = _bundle_config()
    _model_folder(tmp_path / "resources")
    (tmp_path / "resources" / "roc.png").write_text("a training plot: not read by the app")
    (tmp_path / "assets" / "samples").mkdir(parents=True)
    (tmp_path / "assets" / "samples" / "NORMAL_x.jpeg").write_bytes(b"x")
    (tmp_path / "assets" / "samples" / ".DS_Store").write_bytes(b"x")
    datas = cfg.app_datas(tmp_path, environ={})
    dests = {(Path(src).name, Path(dest).as_posix()) for src, dest in datas}
    assert dests == {(CARD_NAME, "resources"), ("m.onnx", "resources"), ("m_head.npz", "resources"),
                     ("domain_stats.npz", "resources"), ("NORMAL_x.jpeg", "assets/samples")}  # no .keras: no TensorFlow


@pytest.mark.parametrize("tamper", ["m.onnx", "m_head.npz"])
def test_bundle_refuses_onnx_files_that_do_not_match_the_card(tmp_path: Path, tamper: str) -> None:
    cfg = _bundle_config()
    _model_folder(tmp_path / "resources")
    (tmp_path / "resources" / tamper).write_bytes(b"other")
    with pytest.raises(cfg.BundleError, match="sha256"):
        cfg.model_files(tmp_path, environ={})


def test_bundle_refuses_a_model_without_onnx_export(tmp_path: Path) -> None:
    cfg = _bundle_config()
    _model_folder(tmp_path / "resources")
    card = json.loads((tmp_path / "resources" / CARD_NAME).read_text(encoding="utf-8"))
    del card["onnx"]
    (tmp_path / "resources" / CARD_NAME).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(cfg.BundleError, match="model_training export"):
        cfg.model_files(tmp_path, environ={})


def test_bundle_without_the_keras_file_opens_the_onnx_export(fake_bundle: Path) -> None:
    (fake_bundle / "resources" / "pneumoscan_mobilenetv2.onnx").write_bytes(b"graph")
    assert default_model_path() == fake_bundle / "resources" / "pneumoscan_mobilenetv2.onnx"
    (fake_bundle / "resources" / MODEL_FILE).write_bytes(b"weights")
    assert default_model_path() == fake_bundle / "resources" / MODEL_FILE


def test_bundle_refuses_a_model_that_does_not_match_its_card(tmp_path: Path) -> None:
    cfg = _bundle_config()
    model = _model_folder(tmp_path / "resources")
    model.write_bytes(b"tampered")
    with pytest.raises(cfg.BundleError, match="sha256"):
        cfg.model_files(tmp_path, environ={})
    (tmp_path / "resources" / MODEL_FILE).unlink()
    with pytest.raises(cfg.BundleError, match="No model to bundle"):
        cfg.model_files(tmp_path, environ={})


def test_bundle_model_override(tmp_path: Path) -> None:
    cfg = _bundle_config()
    model = _model_folder(tmp_path / "elsewhere", domain=False)
    files = cfg.model_files(tmp_path, environ={cfg.BUNDLE_MODEL_ENV: str(model)})
    assert [(Path(src).parent, dest) for src, dest in files] == [(model.parent, "resources")] * 3


def test_real_bundle_layout_when_the_model_exists() -> None:
    cfg = _bundle_config()
    if not (REPO / "resources" / MODEL_FILE).is_file():
        pytest.skip("the bundled model is not in resources/ yet")
    datas = cfg.app_datas(REPO, environ={})
    assert (str(REPO / "resources" / "pneumoscan_mobilenetv2.onnx"), "resources") in datas
    assert any(Path(src).name.startswith("PNEUMONIA_") for src, _ in datas)


@pytest.mark.parametrize("dest, dropped", [
    ("onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so", False),
    ("onnxruntime/capi/libonnxruntime_providers_shared.so", False),  # loaded by the CPU execution provider
    ("onnxruntime/capi/libonnxruntime.so.1.32.0", True),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", False),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", False),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", False),
    ("PySide6/Qt/plugins/platforms/libqwayland.so", False),
    ("PySide6\\plugins\\platforms\\qwindows.dll", False),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", True),
    ("PySide6/Qt/plugins/imageformats/libqjpeg.so", False),
    ("PySide6/Qt/plugins/imageformats/libqpdf.so", True),
    ("PySide6/Qt/translations/qtbase_de.qm", True),
    ("cv2/cv2.abi3.so", False),
    ("assets/samples/NORMAL_IM-0117-0001.jpeg", False),
    ("resources/pneumoscan_mobilenetv2.onnx", False),
])
def test_drop_rules(dest: str, dropped: bool) -> None:
    assert (_bundle_config().drop_reason(dest) is not None) is dropped


def test_filter_toc_reports_what_it_removed(tmp_path: Path) -> None:
    cfg = _bundle_config()
    big = tmp_path / "libonnxruntime.so.1.32.0"
    big.write_bytes(b"0" * 1000)
    toc = [("onnxruntime/capi/libonnxruntime.so.1.32.0", str(big), "BINARY"),
           ("cv2/cv2.abi3.so", str(big), "EXTENSION")]
    removed: dict = {}
    assert cfg.filter_toc(toc, removed) == toc[1:]
    assert sum(size for entries in removed.values() for _, size in entries) == 1000


def test_icons_per_platform() -> None:
    cfg = _bundle_config()
    assert cfg.icon_file(REPO, "win32").endswith("pneumoscan.ico")
    assert cfg.icon_file(REPO, "darwin").endswith("pneumoscan.icns")
    assert cfg.icon_file(REPO, "linux") is None


def test_prune_orphans_keeps_what_kept_binaries_need() -> None:
    cfg = _bundle_config()
    needs = {"plugin_gtk.so": ["libgtk.so", "libglib.so", "libQt6Gui.so.6"], "libgtk.so": ["libglib.so", "libcairo.so"],
             "QtGui.abi3.so": ["libQt6Gui.so.6"], "libQt6Gui.so.6": ["libglib.so"], "libcairo.so": ["libpixman.so"]}
    toc = [("PySide6/QtGui.abi3.so", "QtGui.abi3.so", "EXTENSION"),
           ("PySide6/Qt/lib/libQt6Gui.so.6", "libQt6Gui.so.6", "BINARY"),
           ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
           ("libgtk.so", "libgtk.so", "BINARY"), ("libglib.so", "libglib.so", "BINARY"),
           ("libcairo.so", "libcairo.so", "BINARY"), ("libpixman.so", "libpixman.so", "BINARY")]
    removed: dict = {}
    kept = cfg.prune_orphans(toc, ["plugin_gtk.so"], removed, needed=lambda path: needs.get(Path(path).name, []))
    assert [e[0] for e in kept] == ["PySide6/QtGui.abi3.so", "PySide6/Qt/lib/libQt6Gui.so.6", "libQt6Gui.so.6", "libglib.so"]
    assert sorted(dest for entries in removed.values() for dest, _ in entries) == ["libcairo.so", "libgtk.so", "libpixman.so"]


def test_symlinks_go_with_their_target() -> None:
    cfg = _bundle_config()
    toc = [("PySide6/Qt/lib/libQt6Pdf.so.6", "/x/libQt6Pdf.so.6", "BINARY"),
           ("libQt6Pdf.so.6", "PySide6/Qt/lib/libQt6Pdf.so.6", "SYMLINK"),
           ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK")]
    assert cfg.filter_toc(toc) == toc[2:]


def test_elf_needed_reads_a_real_library() -> None:
    cfg = _bundle_config()
    if not sys.platform.startswith("linux"):
        pytest.skip("ELF only")
    from numpy._core import _multiarray_umath

    assert any(name.startswith("libm.so") for name in cfg.elf_needed(_multiarray_umath.__file__))
    assert cfg.elf_needed(__file__) == []


def test_strip_selected_uses_copies_and_caches(tmp_path: Path) -> None:
    cfg = _bundle_config()
    lib = tmp_path / "src" / "libpython3.11.so.1.0"
    lib.parent.mkdir()
    lib.write_bytes(b"\x7fELF" + b"\0" * 1000)
    other = tmp_path / "src" / "libopenblas.so"
    other.write_bytes(b"\x7fELF" + b"\0" * 10)
    calls: list[str] = []

    def fake_strip(path: str) -> None:
        calls.append(path)
        Path(path).write_bytes(b"\x7fELF")

    toc = [("libpython3.11.so.1.0", str(lib), "BINARY"), ("numpy.libs/libopenblas.so", str(other), "BINARY")]
    out, saved = cfg.strip_selected(toc, tmp_path / "stripped", strip=fake_strip)
    assert saved == 1000 and len(calls) == 1
    assert out[0][1] == str(tmp_path / "stripped" / "libpython3.11.so.1.0") and out[1] == toc[1]
    out, saved = cfg.strip_selected(toc, tmp_path / "stripped", strip=fake_strip)
    assert len(calls) == 1 and saved == 1000  # cached: stripped once per source


def test_forbidden_entries_find_tensorflows_tree_by_module_and_by_path() -> None:
    cfg = _bundle_config()
    toc = [("tensorflow.python.ops", "x", "PYMODULE"), ("keras", "x", "PYMODULE"), ("keras-3.15.1.dist-info/METADATA", "x", "DATA"),
           ("tensorflow/libtensorflow_cc.so.2", "x", "BINARY"), ("libtensorflow_framework.so.2", "x", "SYMLINK"),
           ("tf2onnx.convert", "x", "PYMODULE"), ("onnx/onnx_cpp2py_export.so", "x", "EXTENSION"),
           ("onnxruntime.capi._pybind_state", "x", "PYMODULE"), ("onnxruntime/capi/libonnxruntime_providers_shared.so", "x", "BINARY"),
           ("app.core.model.onnx_backend", "x", "PYMODULE"), ("cv2/cv2.abi3.so", "x", "EXTENSION")]
    assert cfg.forbidden_entries(toc) == [e[0] for e in toc[:7]]
    assert set(cfg.FORBIDDEN_TREES) <= set(cfg.EXCLUDES)


def _built_bundle() -> Path:
    """The dist/ folder of the last build (packaging/smoke_test.sh or benchmarks/bundle.py). CI runs the
    built-bundle tests after its build with PNEUMOSCAN_REQUIRE_BUNDLE=1, where a missing bundle fails;
    elsewhere they skip."""
    dist = REPO / "dist" / _bundle_config().APP_NAME
    if not dist.is_dir():
        if os.environ.get("PNEUMOSCAN_REQUIRE_BUNDLE"):
            pytest.fail(f"PNEUMOSCAN_REQUIRE_BUNDLE is set but there is no bundle at {dist}")
        pytest.skip("no bundle built in dist/ (CI checks it after its build)")
    return dist


def test_built_bundle_has_no_tensorflow() -> None:
    cfg = _bundle_config()
    dist = _built_bundle()
    internal = dist / "_internal" if (dist / "_internal").is_dir() else dist
    files = [(p.relative_to(internal).as_posix(), "", "DATA") for p in internal.rglob("*")]
    assert cfg.forbidden_entries(files) == []
    assert any(name.startswith("onnxruntime/") for name, _, _ in files)


def test_built_bundle_is_within_the_size_goal() -> None:
    cfg = _bundle_config()
    size = cfg.bundle_bytes(_built_bundle())
    assert size <= cfg.MAX_BUNDLE_MB * 10**6, f"dist/PneumoScan is {size / 1e6:.0f} MB, above {cfg.MAX_BUNDLE_MB} MB"


def test_built_linux_bundle_carries_stubs_for_opencvs_video_and_blas_libraries() -> None:
    """The 83 MiB the stubs save, and the size test's margin: a build without gcc or nm bundles the real ones."""
    dist = _built_bundle()
    if not sys.platform.startswith("linux"):
        pytest.skip("the stubs are made for Linux builds only")
    libs = sorted((dist / "_internal").glob("opencv_python*.libs/lib*"))
    stubbed = [p for p in libs if p.name.startswith(("libavcodec-", "libopenblas"))]
    assert len(stubbed) == 2 and all(p.stat().st_size < 1 << 20 for p in stubbed)
    assert not [p.name for p in libs if p.name.startswith(("libvpx-", "libgfortran-", "libdav1d-"))]
