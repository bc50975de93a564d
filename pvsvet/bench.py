"""GUI benchmark worker: ``python -m pvsvet.bench build|measure`` (run by
``pvsvet-engine bench gui`` in subprocesses, so the engine never imports Qt).

``measure`` reports the time from process start (``--t0``, the parent's clock just
before it started this process) to a usable window — store loaded, table shown,
first row selected, event loop idle — and the time for a selection to update every
pane, light-curve read from the file and repaint included.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

T_IMPORT = time.time()


def build(args: argparse.Namespace) -> dict:
    from .synthetic import build_store

    t = time.perf_counter()
    build_store(args.store, args.n, seed=args.seed, per_band=args.per_band,
                stages=("interp", "vae", "scores", "context"))
    return {"build_s": round(time.perf_counter() - t, 2), "n_objects": args.n}


def _idle(app) -> None:
    """Return when the event loop has processed everything pending (paint included)."""
    from PySide6.QtCore import QTimer
    QTimer.singleShot(0, app.quit)
    app.exec()


def _window(store: str, settings_path: str):
    from .app import make_app, make_settings, select_initial
    from .main_window import MainWindow
    from .state import AppState

    app = make_app(["pvsvet-bench"], offscreen=True)
    window = MainWindow(AppState(), make_settings(settings_path))
    window.resize(1680, 1000)
    t_load = time.perf_counter()
    if not window.open_store(store):
        raise SystemExit(f"{store}: cannot open")
    load_s = time.perf_counter() - t_load
    select_initial(window, None)
    window.show()
    _idle(app)
    return app, window, load_s


def _selections(app, window, count: int, seed: int) -> list[float]:
    import numpy as np

    state = window.state
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(state.catalog), size=min(count, len(state.catalog)), replace=False)
    times = []
    for row in rows:
        t = time.perf_counter()
        state.selection.set_current(int(row))
        app.processEvents()          # repaint of every pane
        times.append(time.perf_counter() - t)
    return times


def measure(args: argparse.Namespace) -> dict:
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        app, window, load_s = _window(args.store, os.path.join(tmp, "bench.ini"))
        ready = time.time()
        n = len(window.state.catalog)
        times = np.array(_selections(app, window, args.selections, args.seed)) * 1e3
        window.close()
    startup = ready - args.t0 if args.t0 else ready - T_IMPORT
    return {"n_objects": n, "startup_s": round(startup, 3),
            "python_start_to_import_s": round(T_IMPORT - args.t0, 3) if args.t0 else None,
            "store_load_s": round(load_s, 3),
            "selection_ms_median": round(float(np.median(times)), 2),
            "selection_ms_p95": round(float(np.percentile(times, 95)), 2),
            "selection_ms_max": round(float(times.max()), 2),
            "selections": int(len(times)),
            "targets": {"startup_s": 2.0, "selection_ms": 50.0}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pvsvet.bench")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write a synthetic store with every group filled")
    b.add_argument("--store", required=True)
    b.add_argument("--n", type=int, default=730000)
    b.add_argument("--per-band", type=int, default=60)
    b.add_argument("--seed", type=int, default=0)
    m = sub.add_parser("measure", help="start-up and selection times, offscreen")
    m.add_argument("--store", required=True)
    m.add_argument("--t0", type=float, default=0.0, help="parent's time.time() at spawn")
    m.add_argument("--selections", type=int, default=50)
    m.add_argument("--seed", type=int, default=1)
    for q in (b, m):
        q.add_argument("--json-out", default="", help="write the figures here as JSON")
    args = p.parse_args(argv)
    out = build(args) if args.cmd == "build" else measure(args)
    text = json.dumps(out)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            fh.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
