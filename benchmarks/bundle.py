"""Benchmark the PyInstaller bundle against an earlier build and the source checkout: size, build time, start.

    python benchmarks/bundle.py              # measure dist/PneumoScan (builds it first if missing)
    python benchmarks/bundle.py --build      # rebuild with `pyinstaller --noconfirm --clean build.spec`
    python benchmarks/bundle.py --compare-with /tmp/old/PneumoScan --runs 5 --json bundle.json

Each run starts new processes, timed from spawn to the line the app prints when the step is done
(stdout is read line by line): `--self-test` (first sample predicted, whole test, process exit) and
`--smoke-gui` (main window shown, first prediction on screen). A run first evicts the bundle's own
files from the page cache (posix_fadvise DONTNEED: no root, no effect on other programs' files) for
the cold self-test, then repeats it warm. `--compare-with` measures another dist folder (a build of an
earlier commit) in the same runs, alternating, so both see the same machine load. The source figures
run the same checks with this interpreter (`python -m app.selftest ...`) on the same model file.
Goals (issues 12 and 21): build <= 3 min, bundle <= 350 MB (10**6 bytes), --self-test <= 2 s.
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
GOALS = {"build_s": 180.0, "size_mb": 350.0, "self_test_s": 2.0}
MB, MIB = 10**6, 1 << 20  # the goal is in MB; `du -sm` reports MiB
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


def evict(folder: Path) -> None:
    """Drop `folder`'s files from the page cache, so the next start reads them from disk (Linux; else a no-op)."""
    if not hasattr(os, "posix_fadvise"):
        return
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def commands(kind: str, dist: Path | None, model: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PNEUMOSCAN_MODEL", "PYTHONPATH")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if sys.platform.startswith("linux") and not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    if dist is not None:
        return {"--self-test": [str(executable(dist))], "--smoke-gui": [str(executable(dist))]}, env
    env["PYTHONPATH"] = str(REPO)  # the GUI's entry point hands --smoke-gui to app.ui.smoke
    return {flag: [sys.executable, "-m", module, "--model", str(model)]
            for flag, module in (("--self-test", "app.selftest"), ("--smoke-gui", "app.ui.main"))}, env


def measure(variants: dict[str, Path | None], runs: int, model: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Per variant (a dist folder, or None for the source checkout): cold and warm self-test, warm GUI start."""
    samples: dict[str, dict[str, list[float]]] = {kind: {} for kind in variants}
    steps = (("cold", "--self-test", SELF_TEST), ("warm", "--self-test", SELF_TEST), ("warm", "--smoke-gui", SMOKE_GUI))
    for run in range(runs):
        for kind, dist in variants.items():
            bases, env = commands(kind, dist, model)
            for cache, flag, patterns in steps:
                if cache == "cold" and dist is not None:
                    evict(dist)
                found, code, lines = timed_lines([*bases[flag], flag], patterns, env=env)
                if code != 0:
                    print(f"[{kind}] {flag} run {run + 1} exited with {code}:", *lines[-8:], sep="\n  ", file=sys.stderr)
                if flag == "--smoke-gui":
                    found.pop("exit_s", None)
                for key, value in found.items():
                    samples[kind].setdefault(f"{cache}_{key}", []).append(value)
            print(f"[{kind}] run {run + 1}/{runs}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in samples[kind].items()),
                  file=sys.stderr)
    return {kind: {key: {"median": statistics.median(v), "first": v[0], "min": min(v), "max": max(v), "n": len(v)}
                   for key, v in found.items()} for kind, found in samples.items()}


def table(results: dict) -> str:
    kinds = list(results["timings"])
    rows = [("metric", *kinds, "goal", "")]

    def fmt(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def verdict(value: float | None, goal: float | None) -> str:
        return "" if value is None or goal is None else ("ok" if value <= goal else "MISSED")

    sizes = results["size_mb"]
    rows.append(("size of the dist folder (MB)", *(fmt(sizes.get(k), 0) for k in kinds), f"<= {GOALS['size_mb']:.0f}",
                 verdict(sizes.get(kinds[0]), GOALS["size_mb"])))
    rows.append(("  the same in MiB (du -sm)", *(fmt(sizes.get(k) and sizes[k] * MB / MIB, 0) for k in kinds), "", ""))
    build_s = results.get("build_s")
    rows.append(("build time (s)", fmt(build_s, 0), *("-" for _ in kinds[1:]), f"<= {GOALS['build_s']:.0f}",
                 verdict(build_s, GOALS["build_s"])))
    labels = {
        "cold_first_prediction_s": "--self-test, cold: first prediction (s)",
        "cold_self_test_s": "--self-test, cold: test done (s)",
        "cold_exit_s": "--self-test, cold: process exit (s)",
        "warm_first_prediction_s": "--self-test, warm: first prediction (s)",
        "warm_self_test_s": "--self-test, warm: test done (s)",
        "warm_exit_s": "--self-test, warm: process exit (s)",
        "warm_window_shown_s": "GUI: window shown (s)",
        "warm_model_loaded_s": "GUI: model loaded (s)",
        "warm_gui_first_prediction_s": "GUI: first prediction shown (s)",
    }
    for key, label in labels.items():
        cells = []
        for kind in kinds:
            m = results["timings"][kind].get(key)
            cells.append(f"{fmt(m['median'], 2)} ({fmt(m['min'], 2)}-{fmt(m['max'], 2)})" if m else "-")
        goal = GOALS["self_test_s"] if key.endswith("exit_s") else None
        first = results["timings"][kinds[0]].get(key)
        rows.append((label, *cells, f"<= {goal:.0f}" if goal else "", verdict(first and first["max"], goal)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="rebuild the bundle first and time the build")
    parser.add_argument("--nice", action="store_true", help="build under `nice -n 19` (shared machines)")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument("--compare-with", type=Path, default=None, metavar="DIST",
                        help="another dist/PneumoScan folder (e.g. built from an earlier commit), measured alongside")
    parser.add_argument("--skip-source", action="store_true", help="do not measure the source checkout")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    results: dict = {}
    if args.build or not DIST.is_dir():
        results["build_s"] = build(nice=args.nice)
        print(f"build: {results['build_s']:.0f} s", file=sys.stderr)
    variants: dict[str, Path | None] = {"bundle": DIST}
    if args.compare_with:
        variants["compared"] = args.compare_with
    if not args.skip_source:
        variants["source"] = None
    results["size_mb"] = {kind: folder_size(dist)[0] / MB for kind, dist in variants.items() if dist is not None}
    parts = folder_size(DIST)[1]
    results["largest_parts_mb"] = {k: round(v / MB, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])[:12]}
    results["timings"] = measure(variants, args.runs, bundled_model())
    try:
        load = os.getloadavg()
        results["machine"] = f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    except (AttributeError, OSError):
        results["machine"] = f"{os.cpu_count()} CPUs"

    print(table(results))
    print("\nlargest parts of dist/PneumoScan (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in results["largest_parts_mb"].items()))
    print(f"machine: {results['machine']}; medians (min-max) of {args.runs} run(s); a goal is met when the worst run meets it")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
