import pytest

from engine import config as C
from engine.errors import ConfigError


def test_toml_round_trip(tmp_path):
    cfg = C.Config(vae=C.VAEConfig(epochs=7, minutes=1.5), interp=C.InterpConfig(method="george"))
    path = tmp_path / "c.toml"
    path.write_text(C.dumps(cfg))
    assert C.load(path) == cfg


def test_partial_config_takes_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[score]\nn_estimators = 100\n")
    cfg = C.load(path)
    assert cfg.score.n_estimators == 100 and cfg.vae == C.VAEConfig()


@pytest.mark.parametrize("text, msg", [
    ("[nonsense]\na = 1\n", "unknown section"),
    ("[vae]\nlatent = 3\n", "unknown setting 'latent'"),
    ("[vae]\nepochs = 'many'\n", "must be int"),
    ("[vae\n", "not valid TOML"),
])
def test_bad_config_is_reported(tmp_path, text, msg):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=msg):
        C.load(path)


def test_hash_changes_with_settings():
    a = C.config_hash(C.InterpConfig())
    assert a == C.config_hash(C.InterpConfig())
    assert a != C.config_hash(C.InterpConfig(n_phase=100))
    assert a != C.config_hash(C.InterpConfig(), "input-2")
