"""``pvsvet-engine bench vae`` runs end to end on a tiny synthetic set (figures not checked)."""
from __future__ import annotations

import argparse

import pytest

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_bench_vae_reports_every_figure(tmp_path):
    from engine.benchmarks import vae

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int)
    vae.configure(parser)
    args = parser.parse_args(["--n", "300", "--data", "synthetic", "--minutes", "0.2",
                              "--every", "0.05", "--time-curves", "1000",
                              "--workdir", str(tmp_path)])
    out = vae.run(args)
    assert out["n_objects"] == 300 and out["epochs"] >= 2
    # one point per 3 s of training (pauses excluded; two epochs at least between
    # points), the last one the committed model
    epochs = [p["epoch"] for p in out["curve"]]
    assert len(epochs) >= 2 and epochs == sorted(set(epochs)) and epochs[-1] == out["epochs"]
    assert out["stopped"] in ("schedule", "budget")
    for key in ("train_samples_per_s", "encode_lc_per_s", "decode_lc_per_s",
                "encode_stage_lc_per_s"):
        assert out[key] > 0
    assert 0 <= out["frac_res_lt1_test"] <= 1
