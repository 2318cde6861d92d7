"""`pneumoscan-cli`'s entry point: one command run, its errors turned into one line and an exit code."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from app.cli import folders, images, labelled
from app.cli.common import stop_code
from app.cli.parser import build_parser
from app.core.errors import PneumoScanError


def _quiet_frameworks() -> None:
    """TensorFlow's and ONNX Runtime's start-up chatter is not the user's business on stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ORT_LOGGING_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "3")
    warnings.filterwarnings("ignore", module=r"(keras|tensorflow|absl|onnxruntime)(\.|$)")


def _log_unexpected(exc: BaseException) -> Path | None:
    """The traceback in a log file (the user gets one line and this path)."""
    path = Path(tempfile.gettempdir()) / f"pneumoscan-cli-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    except OSError:
        return None
    return path


def _lossless_streams() -> None:
    """A file name that is not valid UTF-8 (bytes from another system) is printed as its own bytes, as `ls` does
    to a pipe (escaped with backslashes when the terminal is not UTF-8), instead of raising UnicodeEncodeError
    in the middle of a scan."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # not a test's capture object
            utf8 = stream.encoding.lower().replace("-", "") == "utf8"
            stream.reconfigure(errors="surrogateescape" if utf8 else "backslashreplace")  # never an exception


def main(argv: list[str] | None = None) -> int:
    _quiet_frameworks()
    _lossless_streams()
    args = build_parser().parse_args(argv)
    try:
        commands = {"predict": images.predict, "heatmap": images.heatmap, "scan": folders.scan, "watch": folders.watch,
                    "merge": folders.merge, "evaluate": labelled.evaluate, "calibrate": labelled.calibrate}
        code = commands[args.command](args)
        sys.stdout.flush()  # a full or closed stdout shows here, not at exit
        return code
    except PneumoScanError as exc:
        print(f"pneumoscan-cli: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("pneumoscan-cli: stopped.", file=sys.stderr)
        return stop_code(exc)
    except OSError as exc:
        if not _is_stdout_error(exc):
            return _unexpected(exc)
        _detach_stdout()
        if exc.errno == errno.EPIPE:  # `| head -1`: the reader has all it wants; quiet, as Unix tools are
            return 141
        print(f"pneumoscan-cli: cannot write the results to stdout: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - anything not anticipated: one line, the traceback in a file
        return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    log = _log_unexpected(exc)
    print(f"pneumoscan-cli: unexpected error ({type(exc).__name__}: {exc})"
          + (f"; details in {log}" if log else ""), file=sys.stderr)
    return 2


def _is_stdout_error(exc: OSError) -> bool:
    """A closed pipe or a full device behind stdout: every file PneumoScan writes reports its own errors as an
    `OutputError`, so an EPIPE or ENOSPC that reaches `main` is stdout's."""
    return exc.errno in (errno.EPIPE, errno.ENOSPC)


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit does not fail a second time."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
