"""The context stage never queries VizieR for an object without a position (issue 17,
defect 7: three queries at (nan, nan), 38 s each)."""
from __future__ import annotations

import socket
import warnings

import numpy as np

from engine.config import ContextConfig
from engine.context import run_context
from engine.progress import run_quiet
from engine.store import LightCurve, Store


def _closed_port() -> int:
    """A loopback port nobody listens on: any query would fail there, and count."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_objects_without_positions_are_skipped_and_counted(tmp_path):
    path = tmp_path / "s.h5"
    n = 5
    e = np.zeros(0)
    with Store.create(path) as st:
        st.append_objects({"id": [f"o{i}" for i in range(n)], "ra": np.full(n, np.nan),
                           "dec": [np.nan, 1.0, np.nan, np.nan, np.nan],
                           "class": ["RRab"] * n},
                          [LightCurve(e, e, e, e.astype("u1")) for _ in range(n)])
        st.write_group("scores/cartesian", {"score": np.linspace(1, 0.2, n),
                                            "rank": np.arange(1, n + 1)})
    cfg = ContextConfig(top_n=n, n_normal=0, offline=False, hr_background=False,
                        vizier_server=f"http://127.0.0.1:{_closed_port()}", timeout_s=2,
                        retries=0, cache_dir=str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)     # no "All-NaN slice" either
        summary = run_quiet(run_context(path, cfg))
    assert summary["no_position"] == n and summary["objects"] == 0
    assert summary["requests"] == 0 and summary["query_failed"] == 0
    with Store(path) as st:
        assert st.read("context/row").shape == (0,)
        assert st.last_run("context")["n_no_position"] == n
