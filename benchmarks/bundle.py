"""Benchmark the PyInstaller bundle against the source checkout: size, build time, cold start.

    python benchmarks/bundle.py              # measure dist/PneumoScan (builds it first if missing)
    python benchmarks/bundle.py --build      # rebuild with `pyinstaller --noconfirm --clean build.spec`
    python benchmarks/bundle.py --runs 5 --json bundle.json

Cold start = a new process each run, timed from spawn to the line the app prints when the step is
done (stdout is read line by line): `--self-test` (first sample predicted, whole test) and
`--smoke-gui` (main window shown, first prediction on screen). The source figures run the same
checks with this interpreter (`python -m app.selftest ...`) on the same model file as the bundle.
The first run may pay for a cold disk cache; the table shows the median of all runs and the first.
Goals (issue 12, ONNX Runtime instead of TensorFlow): build <= 3 min, bundle <= 350 MB, --self-test <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist" / "PneumoScan"
GOALS = {"build_s": 180.0, "size_mb": 350.0, "first_prediction_s": 2.0}
MIB = 1 << 20  # sizes in MiB, as `du -sm` reports them
SAMPLE_LINE = re.compile(r"^(ok|FAIL)\s+(NORMAL|PNEUMONIA)_")


def executable(dist: Path = DIST) -> Path:
    for name in ("PneumoScan-console.exe", "PneumoScan.exe", "PneumoScan"):
        if (dist / name).is_file():
            return dist / name
    raise FileNotFoundError(f"no PneumoScan executable in {dist}; build it first (pyinstaller --noconfirm --clean build.spec)")


def bundled_model(dist: Path = DIST) -> Path:
    found = sorted(dist.rglob("pneumoscan_mobilenetv2.onnx"))  # the bundle carries the ONNX export only
    if not found:
        raise FileNotFoundError(f"no bundled model under {dist}")
    return found[0]


def folder_size(folder: Path) -> tuple[int, dict[str, int]]:
    """Bytes of the regular files under `folder` (links not followed) and the bytes per top-level part."""
    total, parts = 0, {}
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        rel = path.relative_to(folder).parts
        key = "/".join(rel[:2]) if rel[0] == "_internal" else rel[0]
        parts[key] = parts.get(key, 0) + size
    return total, parts


def build(python: str = sys.executable, nice: bool = False) -> float:
    command = [python, "-m", "PyInstaller", "--noconfirm", "--clean", "build.spec"]
    if nice and os.name == "posix":
        command = ["nice", "-n", "19", *command]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-8000:])
        raise SystemExit(f"build failed (exit {result.returncode})")
    return elapsed


def timed_lines(command: list[str], patterns: dict[str, re.Pattern[str]], timeout_s: float = 600.0,
                env: dict[str, str] | None = None) -> tuple[dict[str, float], int, list[str]]:
    """Run `command`; seconds from spawn to the first stdout line matching each pattern, exit code, lines."""
    found: dict[str, float] = {}
    lines: list[str] = []
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=env, bufsize=1)
    timer = threading.Timer(timeout_s, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            now = time.perf_counter() - start
            lines.append(line.rstrip("\n"))
            for key, pattern in patterns.items():
                if key not in found and pattern.search(line):
                    found[key] = now
        code = process.wait()
    finally:
        timer.cancel()
    found["exit_s"] = time.perf_counter() - start
    return found, code, lines


SELF_TEST = {"first_prediction_s": SAMPLE_LINE, "self_test_s": re.compile(r"^self-test (PASSED|FAILED)")}
SMOKE_GUI = {"window_shown_s": re.compile(r"smoke-gui: window shown"),
             "model_loaded_s": re.compile(r"smoke-gui: model .* loaded"),
             "gui_first_prediction_s": re.compile(r"smoke-gui: first prediction shown")}


def measure(kind: str, runs: int, model: Path) -> dict[str, dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PNEUMOSCAN_MODEL", "PYTHONPATH")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if sys.platform.startswith("linux") and not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    if kind == "bundle":
        bases = {"--self-test": [str(executable())], "--smoke-gui": [str(executable())]}
    else:  # the GUI's entry point hands --smoke-gui to app.ui.smoke
        bases = {flag: [sys.executable, "-m", module, "--model", str(model)]
                 for flag, module in (("--self-test", "app.selftest"), ("--smoke-gui", "app.ui.main"))}
        env["PYTHONPATH"] = str(REPO)
    samples: dict[str, list[float]] = {}
    for run in range(runs):
        for flag, patterns in (("--self-test", SELF_TEST), ("--smoke-gui", SMOKE_GUI)):
            found, code, lines = timed_lines([*bases[flag], flag], patterns, env=env)
            if code != 0:
                print(f"[{kind}] {flag} run {run + 1} exited with {code}:", *lines[-8:], sep="\n  ", file=sys.stderr)
            found.pop("exit_s", None)
            for key, value in found.items():
                samples.setdefault(key, []).append(value)
        print(f"[{kind}] run {run + 1}/{runs}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in samples.items()), file=sys.stderr)
    return {key: {"median": statistics.median(values), "first": values[0], "min": min(values), "n": len(values)}
            for key, values in samples.items()}


def table(results: dict) -> str:
    rows = [("metric", "bundle", "source", "goal", "")]

    def fmt(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def verdict(value: float | None, goal: float | None) -> str:
        return "" if value is None or goal is None else ("ok" if value <= goal else "MISSED")

    size = results["size_mb"]
    rows.append(("size of dist/PneumoScan (MiB, du -sm)", fmt(size, 0), "-", f"<= {GOALS['size_mb']:.0f}", verdict(size, GOALS["size_mb"])))
    build_s = results.get("build_s")
    rows.append(("build time (s)", fmt(build_s, 0), "-", f"<= {GOALS['build_s']:.0f}", verdict(build_s, GOALS["build_s"])))
    labels = {
        "first_prediction_s": "--self-test: first prediction (s)",
        "self_test_s": "--self-test: whole test (s)",
        "window_shown_s": "GUI: window shown (s)",
        "model_loaded_s": "GUI: model loaded (s)",
        "gui_first_prediction_s": "GUI: first prediction shown (s)",
    }
    for key, label in labels.items():
        b = results["bundle"].get(key, {})
        s = results["source"].get(key, {})
        goal = GOALS["first_prediction_s"] if key in ("first_prediction_s", "gui_first_prediction_s") else None
        cell_b = f"{fmt(b.get('median'), 2)} (1st {fmt(b.get('first'), 2)})" if b else "-"
        cell_s = f"{fmt(s.get('median'), 2)} (1st {fmt(s.get('first'), 2)})" if s else "-"
        rows.append((label, cell_b, cell_s, f"<= {goal:.0f}" if goal else "", verdict(b.get("median"), goal)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="rebuild the bundle first and time the build")
    parser.add_argument("--nice", action="store_true", help="build under `nice -n 19` (shared machines)")
    parser.add_argument("--runs", type=int, default=3, help="cold starts per check and per variant (default 3)")
    parser.add_argument("--skip-source", action="store_true", help="measure the bundle only")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    results: dict = {"bundle": {}, "source": {}}
    if args.build or not DIST.is_dir():
        results["build_s"] = build(nice=args.nice)
        print(f"build: {results['build_s']:.0f} s", file=sys.stderr)
    total, parts = folder_size(DIST)
    results["size_mb"] = total / MIB
    results["largest_parts_mb"] = {k: round(v / MIB, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])[:12]}
    model = bundled_model()
    results["bundle"] = measure("bundle", args.runs, model)
    if not args.skip_source:
        results["source"] = measure("source", args.runs, model)
    try:
        load = os.getloadavg()
        results["machine"] = f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    except (AttributeError, OSError):
        results["machine"] = f"{os.cpu_count()} CPUs"

    print(table(results))
    print("\nlargest parts (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in results["largest_parts_mb"].items()))
    print(f"machine: {results['machine']}; medians of {args.runs} run(s), '1st' = first run")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
