"""The Qt desktop GUI: a thin face over the headless engine in `app.core` (which never imports Qt)."""

from app.ui._pyside_none_guard import protect_none

protect_none()  # PySide6 6.12.0 on Python < 3.12 leaks references to None; see the module
