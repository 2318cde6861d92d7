"""Guard against a reference-count bug of PySide6 6.12.0 on Python < 3.12.

There, every call of a Qt method that returns void (``widget.update()``, ``label.setText()``,
``QCoreApplication.processEvents()``, ``QTest.qWait()``...) hands ``None`` back to Python without
taking a reference to it, so each call lowers ``None``'s reference count by one. Python 3.12 made
``None`` immortal (PEP 683), which hides the bug there; on 3.11 the count reaches zero after some
hundred thousand calls and the interpreter aborts with "Fatal Python error: none_dealloc: deallocating
None". Reproduce with::

    python -c "import sys; from PySide6.QtCore import QPoint; p = QPoint(); a = sys.getrefcount(None);
    [p.setX(1) for _ in range(100)]; print(sys.getrefcount(None) - a)"     # -100 with the bug, 0 without

Until the dependency is fixed (or the app requires Python >= 3.12), `protect_none()` detects the leak
at start-up and, only then, gives ``None`` 2**40 extra references that nothing ever releases, so the
leak cannot reach zero in any realistic session. It changes nothing where the bug is absent.
"""

from __future__ import annotations

import ctypes
import sys

EXTRA_REFERENCES = 1 << 40
_applied = False


def void_calls_leak_none() -> bool:
    from PySide6.QtCore import QPoint

    point = QPoint()
    before = sys.getrefcount(None)
    for _ in range(64):
        point.setX(1)
    return sys.getrefcount(None) - before <= -32


def protect_none() -> bool:
    """Apply the guard if this interpreter and PySide6 need it; True if it was applied (once)."""
    global _applied
    if _applied:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or not void_calls_leak_none():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += EXTRA_REFERENCES  # ob_refcnt is the first field
    _applied = True
    return True
