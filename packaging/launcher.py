"""Entry script of the PyInstaller bundle (build.spec).

* `--version`, `--self-test`: headless checks (app.selftest), before any Qt object exists;
* a `pneumoscan-cli` command as the first argument (`CLI_COMMANDS`): the command line (app.cli);
* anything else: the GUI (app.ui.main), with the arguments it knows (a file to open, --model, --backend,
  --smoke-gui).
"""

import sys

CLI_COMMANDS = ("predict", "heatmap", "scan", "merge", "watch", "evaluate", "calibrate")  # every pneumoscan-cli command


def run(argv: list[str]) -> int:
    from app.selftest import main as selftest_main, wants_selftest

    if wants_selftest(argv):
        return selftest_main(argv)
    if argv and argv[0] in CLI_COMMANDS:
        from app.cli import main as cli_main

        return cli_main(argv)
    from app.ui.main import main as gui_main

    return gui_main(argv) or 0


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # a `scan --workers N` decode process runs its task, not the GUI
    if sys.stderr is not None:  # None in the windowed Windows executable
        import faulthandler

        faulthandler.enable()  # a native crash (Qt, ONNX Runtime) leaves a Python traceback on stderr
    sys.exit(run(sys.argv[1:]))
