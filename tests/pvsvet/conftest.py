"""GUI fixtures: small synthetic stores and a main window with temporary settings."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_store(path, n: int = 300, context: bool = True, seed: int = 0):
    """A store with /objects, /lightcurves, /interp, /vae, /scores/* and optionally /context,
    filled with synthetic numbers (``pvsvet.synthetic``: the store API, no GP or VAE)."""
    from pvsvet.synthetic import build_store

    stages = ("interp", "vae", "scores") + (("context",) if context else ())
    return build_store(path, n, seed=seed, per_band=40, stages=stages, chunk=1000)


@pytest.fixture
def gui_store(tmp_path):
    return make_store(tmp_path / "gui.h5")


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, gui_store, settings):
    from pvsvet.app import make_app
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState

    make_app()
    w = MainWindow(AppState(), settings)
    qtbot.addWidget(w)
    assert w.open_store(gui_store)
    w.show()
    yield w
    _dispose(w)


def _dispose(w) -> None:
    """Close and delete a window now, with its pool work done (no Qt objects left to the
    interpreter's final garbage collection)."""
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    w.close()
    w.menus.runner.wait(30000)
    QThreadPool.globalInstance().waitForDone(30000)
    w.deleteLater()
    QApplication.processEvents()


def pytest_sessionfinish(session, exitstatus):
    import gc
    gc.collect()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A SAMP hub on 127.0.0.1 with its lock file in tmp_path (the user's ~/.samp, and any
    hub of theirs, are left alone)."""
    pytest.importorskip("astropy.samp")
    from astropy.samp import SAMPHubServer

    lock = tmp_path / "samp.lock"
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lock.as_uri()}")
    h = SAMPHubServer(addr="127.0.0.1", lockfile=str(lock), web_profile=False, label="test")
    h.start()
    yield h
    h.stop()
