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


def test_the_paper_preset_restores_the_papers_training_settings():
    from pathlib import Path

    cfg = C.load(Path(__file__).parents[2] / "docs" / "paper.toml").vae
    assert (cfg.batch_size, cfg.dropout, cfg.kl_weight, cfg.learning_rate) == (1024, 0.1, 1.0, 1e-3)
    assert (cfg.lr_schedule, cfg.align, cfg.epochs, cfg.patience) == ("constant", "none", 895, 500)
    # the network itself is the same as the defaults'
    default = C.VAEConfig()
    assert (cfg.filters, cfg.kernel, cfg.strides, cfg.dense, cfg.latent_dim) == (
        default.filters, default.kernel, default.strides, default.dense, default.latent_dim)
