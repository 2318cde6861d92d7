"""What every `pneumoscan-cli` command shares: the exit-code text, the option types and common options, the
usage error, the stop signals, the input check and the one way to open the model."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from app.core.errors import PneumoScanError
from app.core.model.backend import BACKEND_NAMES
from app.core.scan.folder import MAX_BATCH_SIZE, MAX_PROCESSES

CLAHE_CHOICES = {"model": None, "on": True, "off": False}
HEATMAP_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # chosen by --out's suffix
EXIT_CODES = """exit codes:
  0  every file was scored
  1  some files could not be scored (their lines or CSV rows say why); merge: files missing or duplicated
  2  usage or environment error: bad option, missing path, output refused or unwritable, bad model"""


class UsageError(PneumoScanError):
    """A path or option the user must change; reported before the model loads (exit 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a job scheduler's time limit): stopped as Ctrl-C stops, with exit code 143."""


def raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def stop_code(exc: KeyboardInterrupt) -> int:
    return 143 if isinstance(exc, Terminated) else 130  # 128 + the signal's number


def unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text!r}")
    return value


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a whole number in [low, high]; anything else is refused, never clamped."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, not {text!r}")
        return value
    return parse


batch_size = whole_number(1, MAX_BATCH_SIZE)
processes = whole_number(0, MAX_PROCESSES)


def add_common(parser: argparse.ArgumentParser, clahe: bool = True, site: bool = True) -> None:
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras or .onnx model with model_card.json beside it (default: the bundled model, or $PNEUMOSCAN_MODEL)")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                        help="run the model on ONNX Runtime or on TensorFlow/Keras (default: onnx when the model "
                        "has an ONNX export, else keras; or $PNEUMOSCAN_BACKEND)")
    if clahe:
        parser.add_argument("--clahe", choices=tuple(CLAHE_CHOICES), default="model",
                            help="CLAHE before the model: as the model card says, or forced on/off (default: %(default)s)")
    if site:
        parser.add_argument("--site", type=Path, default=None, metavar="SITE.json",
                            help="a site calibration of this model (pneumoscan-cli calibrate): its temperature, offset and threshold")


def open_screener(model: Path | None, backend: str | None, site: Path | None = None, bundle=None):  # noqa: ANN001, ANN202 - lazy: --help stays instant
    """The `Screener` of `model` (None: the bundled model) on `backend`, or of `bundle` (a `ModelBundle` already
    opened from them, so nothing is read or hashed twice)."""
    from app.core.errors import ModelError
    from app.core.screening import Screener

    try:
        with _native_stderr_silenced():
            return Screener(bundle or model, backend, site)
    except PneumoScanError:
        raise
    except Exception as exc:  # a damaged statistics file, an odd archive: a bad model, not a crash
        raise ModelError(f"The model {model or 'bundled with PneumoScan'} could not be opened "
                         f"({type(exc).__name__}: {exc}); reinstall or retrain it.") from exc


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null: TensorFlow's C++ start-up notices (oneDNN, absl) ignore TF_CPP_MIN_LOG_LEVEL."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def check_inputs(paths: list[Path]) -> None:
    """A path that does not exist is a typing mistake: refused before the model loads."""
    missing = [str(path) for path in paths if not os.path.lexists(path)]
    if missing:
        raise UsageError(f"No such file: {', '.join(missing)}")
