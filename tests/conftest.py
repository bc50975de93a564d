"""Shared fixtures. Real survey data is read from ../shared/data and skipped when absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PVSVET_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real photometry); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real survey data not found at ../shared/data")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _collect_in_the_main_thread():
    """Once a test has made the QApplication (pvsvet.app.make_app), automatic garbage
    collection is off and the GUI thread collects on a timer, which runs only while an
    event loop does: after each test, the same collector's check runs here (this is the
    GUI thread), so tests without an event loop do not pile up garbage."""
    yield
    import gc

    if not gc.isenabled():
        from PySide6.QtWidgets import QApplication

        collector = getattr(QApplication.instance(), "_pvsvet_gc", None)
        if collector is not None:
            collector.check()
