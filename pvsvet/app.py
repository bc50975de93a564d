"""``pvsvet [STORE] [--screenshot PNG [--select ID]]``: start the application
(``pvsvet --bench [--n N]``: the GUI benchmark, :mod:`pvsvet.bench`).

Bootstrap only: parse arguments (before any Qt import, so ``--help`` is instant),
make the QApplication and theme, open the store (or the demo store, building it
on the first start), and show the main window.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)



def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pvsvet", description="Vet anomalous periodic variable stars: a ranked table "
        "linked to light curves, latent space, HR diagram and SED.")
    p.add_argument("store", nargs="?", help="pvsvet store (HDF5); default: the last store, "
                   "else the demo catalogue (built on the first start)")
    p.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    p.add_argument("--select", metavar="ID", help="with --screenshot: the object to show")
    p.add_argument("--pane", metavar="NAME", help="bring this view to the front (e.g. "
                   "similar, why, period); with --screenshot: save that view alone")
    p.add_argument("--settings", metavar="INI", help="settings file (default: the user's)")
    p.add_argument("--author", metavar="NAME", help="record labels as NAME (kept in the "
                   "settings, as Edit ▸ Label author does; default: $PVSVET_AUTHOR, else "
                   "the login name, as for pvsvet-engine label)")
    p.add_argument("--bench", action="store_true",
                   help="benchmark the GUI offscreen (start-up, selection, neighbour query) "
                   "on a synthetic store of --n objects (or STORE) and print the figures "
                   "as JSON")
    p.add_argument("--n", type=int, default=730000, help="with --bench: objects (730000)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    return p


def make_app(argv: list[str] | None = None, offscreen: bool = False):
    """The QApplication with pvsvet's theme (dark, readable fonts)."""
    if offscreen:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    import pyqtgraph as pg

    app = QApplication.instance() or QApplication(argv or ["pvsvet"])
    app.setOrganizationName("pvsvet")
    app.setApplicationName("pvsvet")
    # the style and style sheet once per application: setting either re-polishes every
    # live widget, so doing it again for each window (each GUI test) grew with all of them
    if not app.property("pvsvet_themed"):
        app.setStyle("Fusion")
        from .resources import ResourceError, resource

        try:
            app.setStyleSheet(resource("style.qss").read_text())
        except ResourceError as exc:    # unstyled is still usable: say so, do not stop
            logger.warning("%s", exc)
        app.setProperty("pvsvet_themed", True)
    pg.setConfigOptions(background="#1b1d21", foreground="#c9ccd1", antialias=True,
                        imageAxisOrder="row-major")
    if getattr(app, "_pvsvet_gc", None) is None:
        # Python's cyclic garbage collector runs in whichever thread allocates when its
        # threshold is reached: a run's worker thread could then destroy Qt objects (a
        # closed window's menus), which Qt allows in the GUI thread only (a deadlock of
        # the worker, waiting for the GIL inside ~QObject, and the GUI thread, waiting for
        # Qt's lock, was caught this way). pyqtgraph's collector turns the automatic one
        # off and collects, by the same thresholds, from a timer in the GUI thread.
        from pyqtgraph.util.garbage_collector import GarbageCollector

        app._pvsvet_gc = GarbageCollector(interval=1.0)
    return app


def make_settings(path: str | None):
    from PySide6.QtCore import QSettings
    return QSettings(path, QSettings.IniFormat) if path else QSettings("pvsvet", "pvsvet")


def demo_path() -> Path:
    from PySide6.QtCore import QStandardPaths
    base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)
    return Path(base or Path.home() / ".pvsvet") / "demo.h5"


def choose_store(args, settings) -> tuple[Path, bool]:
    """(store, is_demo): the argument, else the last store, else the demo store."""
    if args.store:
        return Path(args.store), False
    last = settings.value("last_store")
    if last and Path(str(last)).exists() and Path(str(last)) != demo_path():
        return Path(str(last)), False
    return demo_path(), True


def select_initial(window, object_id: str | None) -> None:
    state = window.state
    if object_id:
        row = state.catalog.row_of_id(object_id)
        if row is None:
            logger.warning("--select %s: no such object in %s", object_id, state.path)
        else:
            state.selection.set_current(row)
            return
    if state.selection.current is None and len(state.view):
        state.selection.set_current(int(state.view.rows[0]))


def screenshot(window, app, png: str, pane: str = "") -> bool:
    """Let the window settle (pending reconstructions, and work of any pane with a
    ``pending()`` method) and save it, or only the dock of ``pane``."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        app.processEvents()
        lc = window.panes["light_curve"]
        waiting = any(isinstance(v, str) and v.startswith("decoding")
                      for v in lc._recon.values())
        waiting |= any(getattr(p, "pending", lambda: False)() for p in window.panes.values())
        if not waiting:
            break
        time.sleep(0.05)
    for _ in range(5):
        app.processEvents()
    if not (window.docks[pane] if pane else window).grab().save(png):
        print(f"pvsvet: --screenshot {png}: cannot write the image (does its folder exist, "
              "and does the name end in .png?)", file=sys.stderr)
        return False
    return True


def raise_pane(window, key: str) -> bool:
    """Show the dock ``key`` in front of its tab group; False (and one line) if unknown."""
    if key not in window.docks:
        print(f"pvsvet: --pane {key}: no such view; use one of {', '.join(window.docks)}",
              file=sys.stderr)
        return False
    window.docks[key].show()
    window.docks[key].raise_()
    return True


def _can_open(store) -> bool:
    """Whether the store opens (read-only); if not, say why on one line. A screenshot
    must exit, not wait on the message box the window would show."""
    from engine.errors import PvsvetError
    from engine.store import Store

    try:
        Store(store, "r", wait=2.0).close()
    except PvsvetError as exc:
        print(f"pvsvet: {exc}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bench:
        return _bench(args)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    app = make_app(sys.argv[:1], offscreen=bool(args.screenshot))
    from .main_window import MainWindow
    from .state import AppState

    settings = make_settings(args.settings)
    window = MainWindow(AppState(), settings)
    if args.author is not None and args.author.strip():
        window.menus.set_author(args.author)
    store, is_demo = choose_store(args, settings)
    if args.screenshot and not store.exists():
        # a screenshot never builds the demo, and a message box would wait for a click
        print(f"pvsvet: {store}: no such store"
              + (" (run pvsvet once to build the demo)" if is_demo else ""), file=sys.stderr)
        return 1
    if args.screenshot and not _can_open(store):
        return 1
    if is_demo and not args.screenshot:
        from .demo_dialog import ensure_demo
        window.show()
        ensure_demo(window, store)
    elif not window.open_store(store):
        if args.screenshot:
            return 1
    select_initial(window, args.select)
    if args.pane and not raise_pane(window, args.pane):
        return 1
    if args.screenshot:
        window.resize(1680, 1000)
        window.show()
        return 0 if screenshot(window, app, args.screenshot, args.pane or "") else 1
    window.show()
    return app.exec()


def _bench(args) -> int:
    import json

    from .bench import drive

    print(json.dumps(drive(args.n, args.store or ""), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
