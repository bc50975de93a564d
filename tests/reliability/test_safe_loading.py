"""Safe loading of a received store's model: a Lambda layer whose Python code has a
side effect (the stand-in for "runs a shell command") is refused, and never runs."""
from __future__ import annotations

import numpy as np
import pytest

from engine.config import VAEConfig
from engine.errors import ModelError, PvsvetError
from engine.store import Store

pytest.importorskip("keras")


def test_lambda_layer_model_blob_is_refused_and_its_code_never_runs(tmp_path, monkeypatch):
    import keras

    from engine.vae import nets, serial

    marker = tmp_path / "ran"
    monkeypatch.setenv("PVSVET_TEST_MARKER", str(marker))
    x = keras.Input((2, 160))
    # no closure (Keras stores the bytecode only): the path comes from the environment
    payload = keras.layers.Lambda(
        lambda t: (open(__import__("os").environ["PVSVET_TEST_MARKER"], "w").write("x"), t)[1])
    blob = serial.model_to_bytes(keras.Model(x, payload(x)))
    marker.unlink()                 # building the model above called the lambda once
    arch = nets.architecture(VAEConfig())
    with pytest.raises(ModelError, match="cannot load.*(Lambda|safe)"):
        serial.model_from_bytes(blob, serial.model_attrs(arch), None, "store.h5")
    assert not marker.exists()
    # the same blob in a store: every loader path refuses it
    path = tmp_path / "s.h5"
    with Store.create(path) as st:
        st.write_group("vae", {"model": np.frombuffer(blob, np.uint8)},
                       attrs=serial.model_attrs(arch))
    from engine.vae.encoding import load_model
    with pytest.raises(PvsvetError):
        load_model(path)
    assert not marker.exists()
    # the control: without safe mode the same blob does run its code on loading
    blob_file = tmp_path / "m.keras"
    blob_file.write_bytes(blob)
    keras.saving.load_model(blob_file, compile=False, safe_mode=False)
    assert marker.exists()
