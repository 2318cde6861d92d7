"""What goes into the PyInstaller bundle and what is cut from it; used by build.spec, tested without building.

Plain Python (no PyInstaller import), so tests/test_resources.py can check the layout and the rules.

The bundle runs the model on ONNX Runtime: it carries the ONNX export, never TensorFlow or Keras
(a plain build on a machine with the training extra installed would pull in 1.3 GB of them).

* EXCLUDES: TensorFlow, Keras, the converters and everything only they use, installed by the dev and
  training extras; the keras backend's modules (`app.core.model.keras_classifier`, `app.core.model.keras_graph`); tools.
  `forbidden_entries` is the check build.spec runs on the finished analysis: the build fails if any of
  TensorFlow's tree got in anyway (tests/test_resources.py checks a built dist/ too).
* DROP_RULES: files the Analysis collects but the app never loads. Found by running the self-test and
  the GUI from source and listing the shared libraries in /proc/self/maps: e.g. ONNX Runtime's C-API
  library (the Python module links its own copy), Qt's embedded-Linux platforms (eglfs, linuxfb, vnc),
  evdev input plugins, network plugins (tls, networkinformation), the PDF image-format plugin and its
  library, translations.
* packaging/stub_libraries.py (Linux): OpenCV's FFmpeg and OpenBLAS libraries, which cv2 links but the app
  never calls, are replaced by stubs (83 MiB with what only they needed).
* STRIP_RULES (Linux): libpython ships with its full symbol table (23 -> 6 MB); only .symtab/.strtab go,
  the dynamic symbols stay. Not PyInstaller's strip=True: it strips everything, and breaks the
  patchelf-rewritten libraries of manylinux wheels (numpy.libs/libscipy_openblas64_*.so then fails to load).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import struct
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

APP_NAME = "PneumoScan"
MODEL_FILE = "pneumoscan_mobilenetv2.keras"  # = app.core.resources.MODEL_FILE (checked by a test); its card names the ONNX files
CARD_FILE = "model_card.json"  # = app.core.model.card.CARD_NAME
BUNDLE_MODEL_ENV = "PNEUMOSCAN_BUNDLE_MODEL"  # build time only: bundle this model instead of resources/'s
ICON_BASE = os.path.join("assets", "icons", "pneumoscan")  # + .ico (Windows), .icns (macOS), .png
# Issue 21's size goal for dist/PneumoScan, in MB of 10**6 bytes (the built-bundle test and
# packaging/smoke_test.sh check it; `du -sm` shows MiB, 5 % fewer).
MAX_BUNDLE_MB = 350

# Modules the entry script does not import statically (the GUI's and the self-test's lazy imports are
# found by the analysis; these are belt and braces for names only reached through strings).
HIDDEN_IMPORTS = [
    "app.selftest",
    "app.cli",
    "app.ui.main",
    "app.ui.window",
    "app.core.screening",
    "app.core.model.backend",
    "app.core.model.onnx_backend",
    "app.core.model.domain",
    "app.core.model.scope",
    "app.core.model.site",
    "app.core.explain.gradcam",
    "app.core.scan.folder",
]

# Top-level packages that must never be in the bundle (checked by `forbidden_entries`).
FORBIDDEN_TREES = ("tensorflow", "tensorflow_cpu", "keras", "tf_keras", "tf2onnx", "onnx", "tensorboard", "jax", "torch")

EXCLUDES = [
    *FORBIDDEN_TREES,
    # the keras backend (imported only when chosen; the bundle has no TensorFlow to run it)
    "app.core.model.keras_classifier", "app.core.model.keras_graph",
    # what only TensorFlow, Keras and the converters use, and training/test extras
    "h5py", "ml_dtypes", "optree", "absl", "flatbuffers", "gast", "astunparse", "opt_einsum", "google.protobuf",
    "wrapt", "termcolor", "namex", "rich", "tensorflow_io_gcs_filesystem", "libclang",
    "sklearn", "scipy", "matplotlib", "mpl_toolkits", "skimage", "pandas", "joblib", "threadpoolctl",
    "narwhals", "kiwisolver", "cycler", "fontTools", "contourpy", "imageio", "tifffile", "lazy_loader",
    "networkx", "pooch", "grpc", "grpc_tools", "tensorboard_data_server", "tensorboard_plugin_profile",
    "portpicker", "jaxlib", "openvino",
    # ONNX Runtime's tools for building and tuning models (inference needs only onnxruntime.capi)
    "onnxruntime.transformers", "onnxruntime.quantization", "onnxruntime.tools", "onnxruntime.datasets",
    # never loaded by the self-test, the GUI or a DICOM prediction (traced with strace; 10 MB): pydicom's
    # test-data downloader's optional HTTP stack, TLS (the app opens no connection; hashlib keeps libcrypto),
    # the interactive line editor, and the NumPy modules the app never imports
    "requests", "urllib3", "certifi", "charset_normalizer", "idna", "ssl", "_ssl", "readline",
    "numpy.random", "numpy.fft", "numpy.f2py", "numpy.testing", "numpy._core._multiarray_tests",
    # `scan --dask` (the cluster extra, for a Python install on a cluster): `from distributed import ...`
    # already failed in the bundle, whose --dask said "needs dask.distributed"; it still does, without
    # the 9 MB of dask, distributed, tornado, msgpack, fsspec, jinja2, click, toolz, ...
    "dask", "distributed",
    # reached without dask only by diagnostics: numpy.show_config() (prints JSON without yaml) and
    # onnxruntime.print_debug_info() (lists loaded DLLs with psutil)
    "yaml", "psutil",
    # tools, tests and interactive shells
    "tkinter", "_tkinter", "IPython", "ipykernel", "jupyter_client", "notebook", "jedi", "pytest", "_pytest",
    "pytestqt", "importlinter", "grimp", "PyInstaller", "setuptools", "pip", "wheel", "pydoc_data",
    "lib2to3", "model_training",
    # Qt modules the app does not use (only QtCore, QtGui, QtWidgets)
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtNetwork", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtSql", "PySide6.QtTest",
    "PySide6.QtXml", "PySide6.QtConcurrent", "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtPrintSupport", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets", "PySide6.QtMultimedia", "PySide6.QtSvg", "PySide6.QtSvgWidgets", "PySide6.QtDBus",
    # Pillow extensions for formats and features the app never uses (JPEG/PNG/BMP/TIFF stay)
    "PIL._avif", "PIL._webp", "PIL._imagingft", "PIL._imagingcms", "PIL._imagingtk", "PIL.ImageTk",
]


class Rule(NamedTuple):
    pattern: str  # fnmatch pattern on the bundle path with "/" separators ("*" also crosses "/")
    why: str


DROP_RULES = [
    Rule("onnxruntime/capi/libonnxruntime.so*", "ONNX Runtime's C-API library (the Python module has its own copy)"),
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
    Rule("PySide6/Qt/plugins/platformthemes/*gtk3*", "GTK3 theme plugin (would bundle the build machine's "
         "GLib/Cairo/Pango beside the user's GTK; Qt's own dialogs and the xdg portal remain)"),
    Rule("PySide6/Qt/lib/libQt6Network*", "QtNetwork (nothing kept links it)"),
]


def _normalise(dest: str) -> str:
    return dest.replace("\\", "/")


def drop_reason(dest: str, rules: Iterable[Rule] = DROP_RULES) -> str | None:
    """Why the bundle path `dest` is left out, or None to keep it (case-insensitive, "/" or "\\")."""
    path = _normalise(dest).lower()
    for rule in rules:
        if fnmatch.fnmatchcase(path, rule.pattern.lower()):
            return rule.why
    return None


def _symlink_target(entry: tuple) -> str:
    """The bundle path a SYMLINK entry (dest, relative target, "SYMLINK") points to."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(_normalise(entry[0])), _normalise(entry[1])))


def _size(entry: tuple) -> int:
    try:
        return os.path.getsize(entry[1]) if entry[2] != "SYMLINK" else 0
    except (OSError, TypeError):
        return 0


def filter_toc(toc: Iterable[tuple], removed: dict[str, list[tuple[str, int]]] | None = None,
               rules: Iterable[Rule] = DROP_RULES) -> list[tuple]:
    """The TOC entries (dest, src, typecode) not matched by `rules`; records the removed ones per reason.

    A SYMLINK entry goes with its target (PyInstaller links shared libraries into the top folder)."""
    rules = list(rules)
    kept = []
    for entry in toc:
        reason = drop_reason(entry[0], rules)
        if reason is None and entry[2] == "SYMLINK":
            reason = drop_reason(_symlink_target(entry), rules)
        if reason is None:
            kept.append(entry)
        elif removed is not None:
            removed.setdefault(reason, []).append((_normalise(entry[0]), _size(entry)))
    return kept


def elf_needed(path: str) -> list[str]:
    """The DT_NEEDED names of a 64- or 32-bit little/big-endian ELF file; [] for anything else."""
    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if ident[:4] != b"\x7fELF":
                return []
            is64, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
            header = f.read(48 if is64 else 36)
            if is64:
                shoff, shentsize, shnum = struct.unpack_from(order + "Q", header, 24)[0], *struct.unpack_from(order + "HH", header, 42)
            else:
                shoff, shentsize, shnum = struct.unpack_from(order + "I", header, 16)[0], *struct.unpack_from(order + "HH", header, 30)
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            fmt = order + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
            sections = [struct.unpack_from(fmt, table, i * shentsize) for i in range(shnum)]
            names: list[str] = []
            for sh in sections:
                if sh[1] != 6:  # SHT_DYNAMIC
                    continue
                strtab = sections[sh[6]]  # sh_link: the dynamic string table
                f.seek(strtab[4])
                strings = f.read(strtab[5])
                f.seek(sh[4])
                data = f.read(sh[5])
                entry = struct.Struct(order + ("qQ" if is64 else "iI"))
                for offset in range(0, len(data) - entry.size + 1, entry.size):
                    tag, value = entry.unpack_from(data, offset)
                    if tag == 0:
                        break
                    if tag == 1:  # DT_NEEDED
                        names.append(strings[value:strings.index(b"\0", value)].decode("utf-8", "replace"))
            return names
    except (OSError, struct.error, IndexError, ValueError):
        return []


def prune_orphans(kept: list[tuple], dropped_sources: Iterable[str], removed: dict[str, list[tuple[str, int]]] | None = None,
                  needed: Callable[[str], list[str]] = elf_needed) -> list[tuple]:
    """Leave out the shared libraries that only dropped files needed (e.g. the GTK stack of libqgtk3).

    Only libraries in the dependency closure of `dropped_sources` can go, and only when no kept binary
    outside that closure reaches them (Linux: DT_NEEDED names), so nothing collected for another reason
    is touched.
    """
    def names(entry: tuple) -> set[str]:
        base = posixpath.basename(_normalise(entry[0]))
        return {base, posixpath.basename(_symlink_target(entry))} if entry[2] == "SYMLINK" else {base}

    by_name: dict[str, list[tuple]] = {}
    for entry in kept:
        for name in names(entry):
            by_name.setdefault(name, []).append(entry)
    cache: dict[str, list[str]] = {}

    def needs(entry: tuple) -> list[str]:
        if entry[2] == "SYMLINK":
            return [posixpath.basename(_symlink_target(entry))]
        if entry[1] not in cache:
            cache[entry[1]] = needed(entry[1])
        return cache[entry[1]]

    closure: set[str] = set()
    todo = [n for source in dropped_sources for n in needed(source)]
    while todo:
        name = todo.pop()
        if name not in closure:
            closure.add(name)
            todo.extend(n for e in by_name.get(name, []) for n in needs(e))
    if not closure:
        return list(kept)
    reachable: set[str] = set()
    todo = [n for e in kept if not names(e) & closure for n in needs(e)]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(n for e in by_name.get(name, []) for n in needs(e))
    result = []
    for entry in kept:
        if entry[2] in ("BINARY", "SYMLINK") and names(entry) & closure and not names(entry) & reachable:
            if removed is not None:
                removed.setdefault("libraries only the left-out files needed", []).append((_normalise(entry[0]), _size(entry)))
        else:
            result.append(entry)
    return result


# Shared libraries that ship with their full symbol tables and were not rewritten by patchelf (auditwheel's
# *.libs/ folders and the extension modules that point into them were: stripping those breaks them, e.g.
# numpy.libs/libscipy_openblas64_*.so "ELF load command address/offset not page-aligned"). Linux only.
STRIP_RULES = [
    Rule("libpython3*.so*", "the Python runtime (23 -> 6 MB)"),
    Rule("python3*/lib-dynload/*.so", "standard-library extension modules"),
]


def strip_selected(toc: Iterable[tuple], folder: str | os.PathLike[str], rules: Iterable[Rule] = STRIP_RULES,
                   strip: Callable[[str], None] | None = None) -> tuple[list[tuple], int]:
    """Point the TOC entries matched by `rules` at stripped copies under `folder`; returns (toc, bytes saved).

    Copies are made once per source (kept while the source's size and mtime are unchanged), so a build
    without --clean does not strip again."""
    import shutil
    import subprocess

    def run_strip(path: str) -> None:
        subprocess.run(["strip", path], check=True, capture_output=True)

    strip = strip or run_strip
    rules = list(rules)
    out, saved = [], 0
    for entry in toc:
        dest, src, typecode = entry
        if typecode not in ("BINARY", "EXTENSION") or drop_reason(dest, rules) is None or not _is_elf(src):
            out.append(entry)
            continue
        target = Path(folder) / _normalise(dest)
        stamp = target.with_name(target.name + ".source")
        key = f"{os.path.abspath(src)}|{os.path.getsize(src)}|{os.stat(src).st_mtime_ns}"
        if not (target.is_file() and stamp.is_file() and stamp.read_text() == key):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            try:
                strip(str(target))
            except Exception:  # noqa: BLE001 - an unstrippable file is bundled as it is
                out.append(entry)
                continue
            stamp.write_text(key)
        saved += os.path.getsize(src) - os.path.getsize(target)
        out.append((dest, str(target), typecode))
    return out, saved


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def bundle_bytes(folder: str | os.PathLike[str]) -> int:
    """Bytes of the regular files under `folder`, links not followed (what the user downloads, unzipped)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def describe_removed(removed: dict[str, list[tuple[str, int]]]) -> list[str]:
    lines = []
    for reason, entries in sorted(removed.items(), key=lambda kv: -sum(s for _, s in kv[1])):
        total = sum(size for _, size in entries)
        lines.append(f"  {total / 1e6:8.1f} MB  {len(entries):4d} file(s)  {reason}")
    return lines


class BundleError(RuntimeError):
    """The tree is not ready to be bundled (missing or mismatched model files)."""


def _checked(folder: Path, name: str, sha256: str, what: str, card_path: Path) -> Path:
    """`folder / name` if it matches the card (the app's one check, `read_verified`, in the build's words)."""
    from app.core.model.verified import Wording, read_verified

    wording = Wording(missing="The model card {card} names {what} {path}, which does not exist.",
                      mismatch="{path} does not match the sha256 in {card}; the app would refuse it.")
    read_verified(folder, name, sha256, what, wording, BundleError, card_path)
    return folder / name


def model_files(root: str | os.PathLike[str], environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(source file, bundle folder) for the card, the ONNX model and head it names, and the domain statistics.

    Reads resources/ (or the folder of $PNEUMOSCAN_BUNDLE_MODEL) and checks the sha256 values now, so a
    build never ships a model the app would refuse at start-up: the files the app's onnx backend runs
    (`app.core.model.bundle.needed_files`), and the `.keras` its card is bound to. The `.keras` file stays
    behind: the bundle has no TensorFlow to run it (the app then opens the `.onnx` beside the card).
    """
    from app.core.errors import ModelError
    from app.core.model.bundle import needed_files
    from app.core.model.card import load_card

    environ = os.environ if environ is None else environ
    override = environ.get(BUNDLE_MODEL_ENV)
    model = Path(override) if override else Path(root) / "resources" / MODEL_FILE
    card_path = model.parent / CARD_FILE
    if not model.is_file() or not card_path.is_file():
        raise BundleError(f"No model to bundle: {model} and {card_path} are needed (train the model into "
                          f"resources/, or set {BUNDLE_MODEL_ENV} to a .keras file with its card beside it).")
    if model.name != MODEL_FILE:
        raise BundleError(f"The bundled model must be called {MODEL_FILE} (the app looks for that name), not {model.name}.")
    try:
        card = load_card(model)
    except ModelError as exc:
        raise BundleError(str(exc)) from None
    _checked(model.parent, model.name, card.sha256, "the model", card_path)
    if not card.onnx.file:
        raise BundleError(f"{model} has no ONNX export, which the bundle runs: "
                          f"python -m model_training export --model {model}")
    names = {"ONNX model": "the ONNX model", "Grad-CAM head": "the Grad-CAM head"}
    return [(str(card_path), "resources")] + [
        (str(_checked(model.parent, needed.entry.file, needed.entry.sha256, names.get(needed.what, needed.what), card_path)),
         "resources") for needed in needed_files(model, card, "onnx")]


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
    """Everything the app reads through `resource_path`: from resources/ the model card and the ONNX model,
    Grad-CAM head and domain statistics it names (not the training run's plots, splits and logs that sit beside them), and
    all of assets/ (sample X-rays with their attribution README, icons)."""
    return model_files(root, environ) + tree_files(root, "assets")


def icon_file(root: str | os.PathLike[str], platform: str) -> str | None:
    """The executable's icon: .ico on Windows, .icns on macOS; None elsewhere (an ELF file has no icon;
    Linux desktops take assets/icons/pneumoscan.png through a .desktop file)."""
    suffix = {"win32": ".ico", "darwin": ".icns"}.get(platform)
    path = Path(root) / (ICON_BASE + suffix) if suffix else None
    return str(path) if path is not None and path.is_file() else None


def forbidden_entries(toc: Iterable[tuple]) -> list[str]:
    """The TOC entries (modules by name, files by bundle path) that belong to a `FORBIDDEN_TREES` package."""
    found = []
    for entry in toc:
        name = _normalise(entry[0])
        top = re.split(r"[./]", name, maxsplit=1)[0].split("-")[0].lower()  # "keras.src", "tensorflow/x", "keras-3.dist-info"
        if top in FORBIDDEN_TREES or posixpath.basename(name).startswith("libtensorflow"):
            found.append(name)
    return found
