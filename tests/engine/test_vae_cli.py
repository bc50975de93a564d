"""``pvsvet-engine train`` / ``encode`` from the command line."""
from __future__ import annotations

import argparse
import json

import pytest

from engine.errors import StageError, StoreError
from engine.store import Store

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

from engine.vae import cli_encode, cli_train, configure_encode, configure_train  # noqa: E402
from engine.vae.data import write_synthetic_interp  # noqa: E402


def main(argv):
    """The ``pvsvet-engine`` subcommand wiring of engine.cli, for these two commands only."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    for name, conf, run in (("train", configure_train, cli_train),
                            ("encode", configure_encode, cli_encode)):
        conf(sub.add_parser(name))
        sub.choices[name].set_defaults(_handler=run)
    args = parser.parse_args(argv)
    return args._handler(args)

TOML = """[vae]
filters = [8, 16, 32]
dense = 32
batch_size = 32
seed = 1
"""


def test_train_then_encode_from_the_cli(tmp_path, capsys):
    store = tmp_path / "s.h5"
    write_synthetic_interp(store, 200, excluded=3)
    cfg = tmp_path / "small.toml"
    cfg.write_text(TOML)
    assert main(["train", str(store), "--config", str(cfg), "--epochs", "2",
                 "--minutes", "5", "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["epoch"] == 2 and out["stopped"] == "epochs"
    assert main(["encode", str(store), "--config", str(cfg), "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_encoded"] == 197
    with Store(store) as st:
        assert st.shape("vae/mu") == (200, 10)
        assert [r["stage"] for r in st.runs()][-2:] == ["train", "encode"]


def test_cli_errors_are_pvsvet_errors_naming_the_store(tmp_path):
    # engine.cli turns PvsvetError into a one-line message and exit code 1
    missing = tmp_path / "nope.h5"
    with pytest.raises(StoreError, match="nope.h5"):
        main(["train", str(missing), "--quiet"])
    store = tmp_path / "s.h5"
    write_synthetic_interp(store, 50)
    with pytest.raises(StageError, match="s.h5.*run `pvsvet-engine train` first"):
        main(["encode", str(store), "--quiet"])
