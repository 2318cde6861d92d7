"""Headless screening engine: loading, preprocessing, prediction, Grad-CAM and folder scans.

Nothing in this package imports Qt (enforced by an import-linter contract in pyproject.toml), so the
GUI, the command line, the training module and the packaged app all share one implementation.

Its layers, top to bottom (each imports only those below it; a layers contract in pyproject.toml):
`scan` | `evaluate` -> `screening` (the `Screener`) -> `model` | `explain` -> `io` -> the shared vocabulary
(`errors`, `numbers`, `progress`, `resources`).
"""
