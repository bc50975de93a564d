"""The panes' VAE reconstructions, decoded in a worker process (pvsvet.decoder)."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from engine.config import VAEConfig
    from engine.progress import run_quiet
    from engine.vae import train
    from engine.vae.data import write_synthetic_interp

    path = tmp_path_factory.mktemp("dec") / "s.h5"
    write_synthetic_interp(path, 120, seed=2, excluded=3)
    run_quiet(train(path, VAEConfig(filters=(8, 16, 32), dense=32, batch_size=16, epochs=1,
                                    seed=1, minutes=0.0)))
    return path


def test_the_worker_decodes_what_the_engine_decodes_and_survives_a_kill(trained):
    from engine.vae import reconstruct as engine_reconstruct
    from pvsvet import decoder

    rows = [0, 5, 7]
    try:
        got = decoder.reconstruct(trained, rows)
        np.testing.assert_allclose(got, engine_reconstruct(trained, rows), rtol=0, atol=1e-6)
        assert got.shape == (3, 2, 160)
        workers = list(decoder._pool()._processes)     # one process of its own
        assert len(workers) == 1 and workers[0] != os.getpid()
        os.kill(workers[0], signal.SIGKILL)            # killed (say, out of memory)
        again = decoder.reconstruct(trained, [5])      # a fresh worker answers
        np.testing.assert_allclose(again[0], got[1], rtol=0, atol=1e-6)
        assert list(decoder._pool()._processes) != workers
    finally:
        decoder.shutdown()
