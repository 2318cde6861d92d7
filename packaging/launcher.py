"""Entry script of the PyInstaller bundle (build.spec): the GUI, or a headless check when asked.

`--version`, `--self-test` and `--smoke-gui` go straight to `app.selftest` so that they work without a
display and never create a Qt application they do not need; everything else starts the GUI.
"""

import sys


def run() -> int:
    argv = sys.argv[1:]
    from app.selftest import main as selftest_main, wants_selftest

    if wants_selftest(argv):
        return selftest_main(argv)
    from app.ui.main import main as gui_main

    return gui_main(argv) or 0


if __name__ == "__main__":
    sys.exit(run())
