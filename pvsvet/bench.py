"""The GUI benchmark: ``pvsvet --bench [--n N] [--bench-store STORE]``.

:func:`drive` runs this module in subprocesses (``python -m pvsvet.bench
build|measure``): one builds a store of N synthetic objects with every group filled
(or reuses ``--bench-store``), fresh ones measure, so each start-up is a cold process.
It lives in pvsvet, not in the engine's ``bench`` command: the engine never starts
the GUI. Targets (DESIGN.md section 7): start-up <= 2 s, a selection updates all
panes in <= 50 ms, a k-nearest-neighbour query of the similar-objects view <= 20 ms.

``measure`` reports the time from process start (``--t0``, the parent's clock just
before it started this process) to a usable window — store loaded, table shown,
first row selected, event loop idle — the time for a selection to update every
pane, light-curve read from the file and repaint included, and the build and query
times of the latent-space neighbour index (:mod:`engine.neighbours`) on the store's
latent means.
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


def knn_figures(latent, k: int = 15, queries: int = 200, seed: int = 0) -> dict:
    """Build time of the neighbour index on ``latent`` and per-query times (ms)."""
    import numpy as np

    from engine.neighbours import NeighbourIndex, query_seconds

    index = NeighbourIndex().fit(latent)
    q = query_seconds(index, k, queries, seed) * 1e3
    return {"knn_build_s": round(index.build_seconds_, 3), "knn_k": k,
            "knn_query_ms_median": round(float(np.median(q)), 3),
            "knn_query_ms_p95": round(float(np.percentile(q, 95)), 3),
            "knn_query_ms_max": round(float(q.max()), 3), "knn_queries": int(len(q))}


def measure(args: argparse.Namespace) -> dict:
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        app, window, load_s = _window(args.store, os.path.join(tmp, "bench.ini"))
        ready = time.time()
        n = len(window.state.catalog)
        times = np.array(_selections(app, window, args.selections, args.seed)) * 1e3
        latent = window.state.latent
        window.close()
    startup = ready - args.t0 if args.t0 else ready - T_IMPORT
    knn = knn_figures(latent) if latent is not None else {"knn": "no latent means"}
    return {"n_objects": n, "startup_s": round(startup, 3), **knn,
            "python_start_to_import_s": round(T_IMPORT - args.t0, 3) if args.t0 else None,
            "store_load_s": round(load_s, 3),
            "selection_ms_median": round(float(np.median(times)), 2),
            "selection_ms_p95": round(float(np.percentile(times, 95)), 2),
            "selection_ms_max": round(float(times.max()), 2),
            "selections": int(len(times)),
            "targets": {"startup_s": 2.0, "selection_ms": 50.0, "knn_query_ms": 20.0}}


def _child(args: list[str], out, timeout: float) -> dict:
    import subprocess
    from pathlib import Path

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, "-m", "pvsvet.bench", *args, "--json-out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not Path(out).exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"pvsvet --bench: '{args[0]}' failed: {' | '.join(tail)}")
    return json.loads(Path(out).read_text())


def drive(n: int, store: str = "", selections: int = 50, repeat: int = 3,
          keep: bool = False) -> dict:
    """Build (unless ``store`` exists) and measure ``repeat`` cold starts; the median
    start-up's figures, with every start-up and selection median listed."""
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp(prefix="pvsvet-bench-gui-"))
    path = Path(store) if store else tmp / f"gui-{n}.h5"
    result: dict = {"benchmark": "gui", "store": str(path)}
    try:
        if not path.exists():
            result.update(_child(["build", "--store", str(path), "--n", str(n)],
                                 tmp / "build.json", 3600))
        runs = [_child(["measure", "--store", str(path), "--t0", repr(time.time()),
                        "--selections", str(selections)], tmp / f"measure{i}.json", 600)
                for i in range(max(1, repeat))]
        result.update(sorted(runs, key=lambda r: r["startup_s"])[len(runs) // 2])
        result["startup_s_all"] = [r["startup_s"] for r in runs]
        result["selection_ms_median_all"] = [r["selection_ms_median"] for r in runs]
        return result
    finally:
        if not store and not keep:
            path.unlink(missing_ok=True)
            for f in tmp.glob(f"{path.name}.*"):   # the label journal the window opened
                f.unlink()
        for f in tmp.glob("*.json"):
            f.unlink()
        if not any(tmp.iterdir()):
            tmp.rmdir()


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
