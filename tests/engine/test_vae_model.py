"""The VAE network: shapes, periodic padding, safe-mode storage, architecture checks."""
from __future__ import annotations

import numpy as np
import pytest

from engine.config import VAEConfig
from engine.errors import ConfigError, ModelError

pytest.importorskip("tensorflow")
# Keras converts its own tensors with np.array(copy=False) internally (numpy 2 notice).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

from engine.vae import nets, serial  # noqa: E402


@pytest.fixture(scope="module")
def arch():
    return nets.architecture(VAEConfig())


@pytest.fixture(scope="module")
def model(arch):
    return nets.build_vae(arch, seed=1)


def _curves(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2, 160)).astype("f4")


def test_shapes_follow_appendix_a(model):
    recon, mu, logvar = model(_curves(5), training=False)
    assert recon.shape == (5, 2, 160)
    assert mu.shape == logvar.shape == (5, 10)
    stack = nets.conv_stack(model)
    assert stack.output.shape[1:] == (2, 20, 128)      # 160 -> 80 -> 40 -> 20 phases
    filters = [model.get_layer("encoder").get_layer(f"conv{i}").filters for i in (1, 2, 3)]
    assert filters == [32, 64, 128]
    assert model.get_layer("encoder").get_layer("dense").units == 256


def test_periodic_padding_wraps_the_phase_axis():
    k = nets.keras_objects()
    x = np.arange(2 * 6, dtype="f4").reshape(1, 2, 6, 1)
    out = k.PeriodicPad((1, 2), (1, 1))(x).numpy()
    assert out.shape == (1, 4, 9, 1)
    np.testing.assert_array_equal(out[0, 1:3, 0, 0], x[0, :, -1, 0])    # wrapped from the end
    np.testing.assert_array_equal(out[0, 1:3, -2:, 0], x[0, :, :2, 0])  # wrapped from the start
    assert not out[0, 0].any() and not out[0, -1].any()                 # band axis: zeros


@pytest.mark.parametrize("shift", [8, 24, 152])
def test_conv_stack_is_equivariant_to_circular_phase_shifts(model, shift):
    # Three stride-2 layers: shifting the input by 8 phase bins shifts the last map by 1.
    stack = nets.conv_stack(model)
    x = _curves(3, seed=2)
    base = stack(x, training=False).numpy()
    shifted = stack(np.roll(x, shift, axis=2), training=False).numpy()
    np.testing.assert_allclose(shifted, np.roll(base, shift // 8, axis=2), rtol=1e-4, atol=1e-5)
    # ...and a shift that is not a multiple of the strides is not a plain roll
    odd = stack(np.roll(x, 3, axis=2), training=False).numpy()
    assert not any(np.allclose(odd, np.roll(base, k, axis=2), atol=1e-3) for k in range(20))


def test_save_load_round_trip_gives_the_same_outputs(model, arch):
    blob = serial.model_to_bytes(model)
    attrs = serial.model_attrs(arch)
    loaded = serial.model_from_bytes(blob, attrs, arch, "test")
    x = _curves(7, seed=3)
    mu0 = model.get_layer("encoder")(x, training=False)[0].numpy()
    mu1 = loaded.get_layer("encoder")(x, training=False)[0].numpy()
    np.testing.assert_allclose(mu1, mu0, rtol=1e-6)
    z = np.random.default_rng(4).normal(size=(7, 10)).astype("f4")
    np.testing.assert_allclose(loaded.get_layer("decoder")(z).numpy(),
                               model.get_layer("decoder")(z).numpy(), rtol=1e-6)


def test_model_with_another_architecture_is_refused(model, arch):
    blob = serial.model_to_bytes(model)
    attrs = serial.model_attrs(arch)
    other = nets.architecture(VAEConfig(latent_dim=8))
    with pytest.raises(ModelError, match="another architecture.*latent_dim"):
        serial.model_from_bytes(blob, attrs, other, "store.h5 /vae/model")
    with pytest.raises(ModelError, match="another pvsvet version"):
        serial.model_from_bytes(blob, {**attrs, "model_format": 99}, arch, "store.h5")


def test_bytes_that_do_not_match_their_attrs_are_refused(arch):
    small = nets.architecture(VAEConfig(latent_dim=4))
    blob = serial.model_to_bytes(nets.build_vae(small))
    with pytest.raises(ModelError, match="does not match"):
        serial.model_from_bytes(blob, serial.model_attrs(arch), None, "store.h5")
    with pytest.raises(ModelError, match="cannot load"):
        serial.model_from_bytes(b"not a zip file", serial.model_attrs(arch), None, "store.h5")


def test_stored_python_code_is_not_executed(arch):
    # A Lambda layer carries Python bytecode; safe mode must refuse to deserialise it.
    import keras

    x = keras.Input((2, 160))
    evil = keras.Model(x, keras.layers.Lambda(lambda t: t * 2.0)(x))
    blob = serial.model_to_bytes(evil)
    with pytest.raises(ModelError, match="cannot load.*(Lambda|safe)"):
        serial.model_from_bytes(blob, serial.model_attrs(arch), None, "store.h5")


def test_impossible_strides_are_a_config_error():
    with pytest.raises(ConfigError, match="not divisible"):
        nets.build_vae(nets.architecture(VAEConfig(), n_phase=150))
