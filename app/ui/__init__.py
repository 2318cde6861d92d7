"""The Qt desktop GUI: a thin face over the headless engine in `app.core` (which never imports Qt)."""
