"""Work-arounds for third-party bugs, applied once before any widget exists."""
from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

_done = False


def pin_singletons() -> None:
    """Make None, True and False effectively immortal on Python < 3.12.

    PySide6 6.12 drops one reference to None/True/False too many when Python
    overrides of Qt virtuals return (pyqtgraph's ``paint``, ``itemChange``, ...):
    measured here, ~20 references to None per repaint. Python 3.12+ makes these
    singletons immortal, so the bug is invisible there; on 3.11 the count reaches
    zero after some thousand repaints and the interpreter aborts ("deallocating
    None"). Raising their counts by 2**40 does what 3.12 does.
    """
    global _done
    if _done or sys.version_info >= (3, 12):
        return
    for obj in (None, True, False):
        cell = ctypes.c_ssize_t.from_address(id(obj))   # ob_refcnt is the first field
        cell.value += 1 << 40
    _done = True
    logger.debug("pinned the reference counts of None, True and False")
