"""`pneumoscan-cli`: predict, heatmap, scan, watch, merge, evaluate and calibrate from a terminal, on the same
engine as the GUI.

Every path and option is checked before the model loads, and no output may overwrite an input or an
unrelated file (`app.core.io.outputs`). Results go to stdout, messages to stderr; the exit code says
which kind of answer it was (`EXIT_CODES`). An unexpected error prints one line and the path of a
log file holding its traceback.

The package holds one module per command family: `parser` (the options), `images` (predict, heatmap),
`folders` (scan, watch, merge), `labelled` (evaluate, calibrate), on `common` (the shared option types,
checks and the model's opening); `entry` runs one command and turns its errors into exit codes.
"""

from app.cli.entry import main
from app.cli.parser import build_parser

__all__ = ["build_parser", "main"]
