"""What goes into the PyInstaller bundle and what is cut from it; used by build.spec, tested without building.

Plain Python (no PyInstaller import), so tests/test_resources.py can check the layout and the rules.

Trimming, measured on Linux with tensorflow-cpu 2.21 / PySide6-Essentials 6.12 / opencv-python-headless 5
(`benchmarks/bundle.py` re-measures; the report in the issue has the numbers):

* EXCLUDES: packages that are installed (dev and training extras) and that Keras or TensorFlow import
  only when available (`try: import sklearn / matplotlib / scipy ... except ImportError`), plus tools.
  None of them is imported by the app's code paths with the TensorFlow backend.
* DROP_RULES: files the Analysis collects but the app never loads. Found by running the self-test and
  the GUI from source and listing the shared libraries in /proc/self/maps: e.g. TensorFlow's StableHLO
  extension and XLA op library, Qt's embedded-Linux platforms (eglfs, linuxfb, vnc), evdev input plugins,
  network plugins (tls, networkinformation), the PDF image-format plugin and its library, translations.
* strip=True on Linux (build.spec): TensorFlow's libraries ship with their full symbol tables
  (libtensorflow_cc.so.2: 788 MB -> 583 MB stripped); only .symtab/.strtab go, the dynamic symbols stay.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, NamedTuple

APP_NAME = "PneumoScan"
MODEL_FILE = "pneumoscan_mobilenetv2.keras"  # = app.core.resources.MODEL_FILE (checked by a test)
CARD_FILE = "model_card.json"  # = app.core.model_card.CARD_NAME
BUNDLE_MODEL_ENV = "PNEUMOSCAN_BUNDLE_MODEL"  # build time only: bundle this model instead of resources/'s
ICON_BASE = os.path.join("assets", "icons", "pneumoscan")  # + .ico (Windows), .icns (macOS), .png

# Modules the entry script does not import statically (the GUI's and the self-test's lazy imports are
# found by the analysis; these are belt and braces for names only reached through strings).
HIDDEN_IMPORTS = [
    "app.selftest",
    "app.cli",
    "app.ui.main",
    "app.ui.window",
    "app.core.screening",
    "app.core.classifier",
    "app.core.domain",
    "app.core.gradcam",
    "app.core.scan",
]

EXCLUDES = [
    # optional extras Keras/TensorFlow import when present (keras.src.wrappers, keras.src.visualization,
    # tf.python.keras.engine.training_arrays_v1: all guarded by try/except ImportError)
    "sklearn", "scipy", "matplotlib", "mpl_toolkits", "skimage", "pandas", "joblib", "threadpoolctl",
    "narwhals", "kiwisolver", "cycler", "fontTools", "contourpy", "imageio", "tifffile", "lazy_loader",
    "networkx", "pooch",
    # TensorFlow's distributed runtime / debugger transports and TensorBoard (never imported for inference)
    "grpc", "grpc_tools", "tensorboard", "tensorboard_data_server", "tensorboard_plugin_profile",
    "portpicker", "jax", "jaxlib", "torch", "openvino", "tf_keras",
    # tools, tests and interactive shells
    "tkinter", "_tkinter", "IPython", "ipykernel", "jupyter_client", "notebook", "jedi", "pytest", "_pytest",
    "pytestqt", "importlinter", "grimp", "PyInstaller", "setuptools", "pip", "wheel", "pydoc_data",
    "lib2to3", "model_training",
    # Qt modules the app does not use (only QtCore, QtGui, QtWidgets)
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtNetwork", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtSql", "PySide6.QtTest",
    "PySide6.QtXml", "PySide6.QtConcurrent", "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtPrintSupport", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets", "PySide6.QtMultimedia", "PySide6.QtSvgWidgets",
    # Pillow extensions for formats and features the app never uses (JPEG/PNG/BMP/TIFF stay)
    "PIL._avif", "PIL._webp", "PIL._imagingft", "PIL._imagingcms", "PIL._imagingtk", "PIL.ImageTk",
]


class Rule(NamedTuple):
    pattern: str  # fnmatch pattern on the bundle path with "/" separators ("*" also crosses "/")
    why: str


DROP_RULES = [
    # TensorFlow: never loaded for CPU inference and Grad-CAM (checked with /proc/self/maps)
    Rule("tensorflow/include/*", "C++ headers"),
    Rule("tensorflow/xla_aot_runtime_src/*", "XLA AOT runtime sources"),
    Rule("tensorflow/compiler/mlir/stablehlo/stablehlo_extension*", "StableHLO Python extension (not imported)"),
    Rule("tensorflow/compiler/tf2xla/ops/_xla_ops*", "XLA op library (only for jit_compile)"),
    Rule("tensorflow/python/autograph/impl/testing/*", "test helpers"),
    Rule("*.lib", "Windows import libraries"),
    Rule("*.a", "static libraries"),
    Rule("*.h", "C headers"),
    Rule("*.pyi", "type stubs"),
    Rule("*.pxd", "Cython declarations"),
    Rule("*.pyx", "Cython sources"),
    # Qt: translations and plugins for platforms, inputs and features the app does not use
    Rule("PySide6/Qt/translations/*", "Qt translations (the app is English only)"),
    Rule("PySide6/translations/*", "Qt translations (Windows layout)"),
    Rule("PySide6/Qt/plugins/platforms/*eglfs*", "embedded-Linux platform"),
    Rule("PySide6/Qt/plugins/platforms/*linuxfb*", "framebuffer platform"),
    Rule("PySide6/Qt/plugins/platforms/*minimalegl*", "EGL test platform"),
    Rule("PySide6/Qt/plugins/platforms/*vnc*", "VNC platform"),
    Rule("PySide6/Qt/plugins/platforms/*vkkhrdisplay*", "Vulkan display platform"),
    Rule("PySide6/plugins/platforms/*direct2d*", "Direct2D platform (Windows; qwindows stays)"),
    Rule("PySide6/Qt/plugins/egldeviceintegrations/*", "eglfs device integrations"),
    Rule("PySide6/Qt/lib/libQt6EglFS*", "eglfs support libraries"),
    Rule("PySide6/Qt/plugins/generic/*", "evdev/tslib input for embedded Linux"),
    Rule("PySide6/Qt/plugins/networkinformation/*", "network status plugins (no QtNetwork)"),
    Rule("PySide6/plugins/networkinformation/*", "network status plugins (Windows layout)"),
    Rule("PySide6/Qt/plugins/tls/*", "TLS backends (no QtNetwork)"),
    Rule("PySide6/plugins/tls/*", "TLS backends (Windows layout)"),
    Rule("PySide6/Qt/plugins/imageformats/*pdf*", "PDF image format"),
    Rule("PySide6/plugins/imageformats/*pdf*", "PDF image format (Windows layout)"),
    Rule("PySide6/Qt/lib/libQt6Pdf*", "QtPdf (only the PDF image format plugin needs it)"),
    Rule("PySide6/Qt6Pdf*", "QtPdf (Windows)"),
    Rule("PySide6/Qt/lib/QtPdf.framework/*", "QtPdf (macOS)"),
    Rule("PySide6/Qt/plugins/wayland-graphics-integration-client/*vulkan*", "Vulkan buffer integration"),
]


def _normalise(dest: str) -> str:
    return dest.replace("\\", "/")


def drop_reason(dest: str, rules: Iterable[Rule] = DROP_RULES) -> str | None:
    """Why the bundle path `dest` is left out, or None to keep it."""
    path = _normalise(dest)
    for rule in rules:
        if fnmatch.fnmatchcase(path, rule.pattern):
            return rule.why
    return None


def filter_toc(toc: Iterable[tuple], removed: dict[str, list[tuple[str, int]]] | None = None,
               rules: Iterable[Rule] = DROP_RULES) -> list[tuple]:
    """The TOC entries (dest, src, typecode) not matched by `rules`; records the removed ones per reason."""
    rules = list(rules)
    kept = []
    for entry in toc:
        reason = drop_reason(entry[0], rules)
        if reason is None:
            kept.append(entry)
        elif removed is not None:
            try:
                size = os.path.getsize(entry[1]) if entry[1] else 0
            except OSError:
                size = 0
            removed.setdefault(reason, []).append((_normalise(entry[0]), size))
    return kept


def describe_removed(removed: dict[str, list[tuple[str, int]]]) -> list[str]:
    lines = []
    for reason, entries in sorted(removed.items(), key=lambda kv: -sum(s for _, s in kv[1])):
        total = sum(size for _, size in entries)
        lines.append(f"  {total / 1e6:8.1f} MB  {len(entries):4d} file(s)  {reason}")
    return lines


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class BundleError(RuntimeError):
    """The tree is not ready to be bundled (missing or mismatched model files)."""


def model_files(root: str | os.PathLike[str], environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(source file, bundle folder) for the model, its card and the domain statistics the card names.

    Reads resources/ (or the folder of $PNEUMOSCAN_BUNDLE_MODEL) and checks the sha256 values now, so a
    build never ships a model the app would refuse at start-up.
    """
    environ = os.environ if environ is None else environ
    override = environ.get(BUNDLE_MODEL_ENV)
    model = Path(override) if override else Path(root) / "resources" / MODEL_FILE
    card_path = model.parent / CARD_FILE
    if not model.is_file() or not card_path.is_file():
        raise BundleError(f"No model to bundle: {model} and {card_path} are needed (train the model into "
                          f"resources/, or set {BUNDLE_MODEL_ENV} to a .keras file with its card beside it).")
    if model.name != MODEL_FILE:
        raise BundleError(f"The bundled model must be called {MODEL_FILE} (the app looks for that name), not {model.name}.")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if card.get("sha256") != _sha256(model):
        raise BundleError(f"{model} does not match the sha256 in {card_path}; the app would refuse it.")
    files = [(str(model), "resources"), (str(card_path), "resources")]
    domain = card.get("domain") or {}
    if domain.get("file"):
        stats = model.parent / domain["file"]
        if not stats.is_file():
            raise BundleError(f"The model card names domain statistics {stats}, which do not exist.")
        if domain.get("sha256") and domain["sha256"] != _sha256(stats):
            raise BundleError(f"{stats} does not match the sha256 in {card_path}.")
        files.append((str(stats), "resources"))
    return files


def tree_files(root: str | os.PathLike[str], folder: str,
               skip: tuple[str, ...] = (".*", "*.pyc", "*.log", "*.tmp", "*.partial", "__pycache__")) -> list[tuple[str, str]]:
    """(source file, bundle folder) for every file under `root/folder`, keeping the relative layout."""
    base = Path(root)
    out = []
    for path in sorted((base / folder).rglob("*")):
        rel = path.relative_to(base)
        if not path.is_file() or any(fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in skip):
            continue
        out.append((str(path), str(rel.parent)))
    return out


def app_datas(root: str | os.PathLike[str], environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Everything the app reads through `resource_path`: resources/ (model, card, domain statistics and
    any other file there) and assets/ (sample X-rays with their attribution README, icons)."""
    datas = model_files(root, environ)
    bundled = {Path(src).name for src, _ in datas}
    for src, dest in tree_files(root, "resources"):
        if dest == "resources" and Path(src).name in bundled:
            continue  # already added (and checked) by model_files
        if Path(src).suffix == ".keras" or Path(src).name == CARD_FILE:
            continue  # another model's files: only the one the app loads is bundled
        datas.append((src, dest))
    datas += tree_files(root, "assets")
    return datas


def icon_file(root: str | os.PathLike[str], platform: str) -> str | None:
    suffix = {"win32": ".ico", "darwin": ".icns"}.get(platform, ".png")
    path = Path(root) / (ICON_BASE + suffix)
    return str(path) if path.is_file() else None
