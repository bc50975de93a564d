"""Settings: one resolver, validation at the door, machine settings never from a store.

Issue 19 defect 1: a store's saved ``[pipeline] scheduler`` made ``run`` connect to it
and dask unpickled what came back. The attack test starts the "scheduler" itself on
127.0.0.1 and checks that a plain ``run`` of such a store never connects.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine import config as C
from engine.errors import ConfigError
from engine.progress import run_quiet
from engine.store import Store

pytest.importorskip("engine.simulate")


@pytest.fixture(autouse=True)
def no_machine_file(tmp_path, monkeypatch):
    """Tests never read the user's own machine file."""
    monkeypatch.setenv("PVSVET_MACHINE_CONFIG", str(tmp_path / "no-machine.toml"))


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> Path:
    from engine.simulate import make_demo

    path = tmp_path_factory.mktemp("settings") / "tiny.h5"
    run_quiet(make_demo(str(path), 60, 5))
    return path


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def _save_raw(store: Path, run_settings: dict) -> None:
    """Write settings into /meta as a colleague's pvsvet (or an attacker) would."""
    with Store(store, "a") as s:
        meta = dict(s.meta.get("config") or {})
        meta[C.META_KEY] = run_settings
        s.set_config(meta)


class Listener:
    """A TCP server on 127.0.0.1 that only counts who connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _engine(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_a_stores_scheduler_is_never_contacted(tiny_store, tmp_path):
    """The scheduler attack: the store names a dask scheduler the test runs on 127.0.0.1;
    a plain `run` of that store interpolates locally and never connects to it."""
    store = _copy(tiny_store, tmp_path / "received.h5")
    server = Listener()
    try:
        _save_raw(store, {"pipeline": {"scheduler": f"tcp://127.0.0.1:{server.port}",
                                       "workers": 1},
                          "interp": {"chunk_size": 30},
                          "context": {"vizier_server": f"127.0.0.1:{server.port}",
                                      "cache_dir": str(tmp_path / "elsewhere"),
                                      "offline": True}})
        out = _engine("run", str(store), "--stages", "interpolate", "--json", "-q")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["ran"] == ["interpolate"]
        assert "machine setting [pipeline] scheduler ignored" in out.stderr
        assert server.accepted == 0
    finally:
        server.close()
    with Store(store) as s:
        assert s.has("interp/mean")
    resolved = C.resolve(store)
    assert resolved.config.pipeline.scheduler == "" and resolved.config.context.vizier_server == ""
    assert resolved.config.context.cache_dir == ""
    assert resolved.config.interp.chunk_size == 30      # science settings do travel
    assert resolved.source == "store"


def test_saved_settings_hold_no_machine_settings(tiny_store, tmp_path):
    store = _copy(tiny_store, tmp_path / "s.h5")
    cfg = dataclasses.replace(
        C.Config(), pipeline=C.PipelineConfig(scheduler="tcp://10.0.0.1:8786"),
        context=C.ContextConfig(bayestar_path="/somewhere/bayestar.h5", top_n=7))
    C.save(store, cfg)
    with Store(store) as s:
        saved = s.meta["config"][C.META_KEY]
    assert "scheduler" not in saved["pipeline"] and "bayestar_path" not in saved["context"]
    assert saved["context"]["top_n"] == 7
    for section, keys in C.MACHINE.items():
        assert not keys & set(saved.get(section, {}))


def test_machine_settings_come_from_the_machine_file_file_and_flags(tiny_store, tmp_path,
                                                                   monkeypatch):
    store = _copy(tiny_store, tmp_path / "m.h5")
    C.save(store, dataclasses.replace(C.Config(), score=C.ScoreConfig(n_estimators=77)))
    machine = tmp_path / "machine.toml"
    machine.write_text('[pipeline]\nworkers = 1\n[context]\ncache_dir = "qcache"\n')
    monkeypatch.setenv("PVSVET_MACHINE_CONFIG", str(machine))
    r = C.resolve(store)
    assert (r.config.pipeline.workers, r.config.context.cache_dir) == (1, "qcache")
    assert r.config.score.n_estimators == 77 and r.machine == "machine file"
    r = C.resolve(store, overrides={"pipeline": {"workers": 3, "scheduler": None}})
    assert r.config.pipeline.workers == 3 and r.machine == "flags"
    toml = tmp_path / "run.toml"
    toml.write_text("[score]\nn_estimators = 12\n[pipeline]\nworkers = 2\n")
    r = C.resolve(store, toml)
    assert (r.config.score.n_estimators, r.config.pipeline.workers, r.source) == (12, 2, "file")
    # a science setting in the machine file is refused, naming the file
    machine.write_text("[score]\nn_estimators = 5\n")
    with pytest.raises(ConfigError, match=r"machine.toml: \[score\] n_estimators is a science"):
        C.resolve(store)


def test_every_command_resolves_the_same_settings(tiny_store, tmp_path):
    """Standalone commands read the store's saved settings, like `run` and the GUI."""
    from engine.anomaly.cli import config_from_args
    from engine.cli import build_parser
    from pvsvet.runs import store_config

    store = _copy(tiny_store, tmp_path / "r.h5")
    cfg = dataclasses.replace(C.Config(), score=C.ScoreConfig(spaces=("cartesian", "vetting"),
                                                              n_estimators=64))
    C.save(store, cfg)
    args = build_parser().parse_args(["score", str(store)])
    assert config_from_args(args) == cfg.score
    assert store_config(store).score == cfg.score


@pytest.mark.parametrize("toml, key", [
    ("[vae]\nkl_weight = nan\n", "kl_weight"),
    ("[interp]\nn_phase = -1\n", "n_phase"),
    ("[interp]\nbatch_size = 0\n", "batch_size"),
    ("[vae]\nlatent_dim = 0\n", "latent_dim"),
    ("[vae]\nepochs = 'ten'\n", "epochs"),
    ("[vae]\nkernel = [3]\n", "kernel"),
    ("[vae]\nalign = 'left'\n", "align"),
    ("[score]\nspaces = ['cartesian', 'polar']\n", "spaces"),
    ("[score]\nlast_angle = 'other'\n", "last_angle"),
    ("[context]\ngrid = 'silicon'\n", "grid"),
    ("[pipeline]\nscheduler = 'not a url'\n", "scheduler"),
    ("[pipeline]\ndask_local = -1\n", "dask_local"),
    ("[interp]\nsplit = [0.5, 0.2, 0.1]\n", "split"),
    ("[interp]\nlphi_bounds = [2.0, 0.01]\n", "lphi_bounds"),
    ("[interp]\nn_phase = 100\n", "n_phase"),
    ("[vae]\nn_decode = 0\n", "n_decode"),          # the default diagnostic space needs it
])
def test_bad_settings_are_refused_when_read(tmp_path, toml, key):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        C.load(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and key in msg and "\n" not in msg


def test_a_bad_config_is_not_saved_and_the_run_fails_first(tiny_store, tmp_path):
    """A refused --config is never written into the store (a later plain run still works)."""
    store = _copy(tiny_store, tmp_path / "b.h5")
    bad = tmp_path / "bad.toml"
    bad.write_text("[score]\nspaces = ['cartesian', 'nope']\n")
    out = _engine("run", str(store), "--config", str(bad))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "[score] spaces" in out.stderr and str(bad) in out.stderr
    with Store(store) as s:
        assert C.META_KEY not in (s.meta.get("config") or {})


@pytest.mark.parametrize("flags, key", [(["--workers", "0"], "workers"),
                                        (["--dask-local", "-1"], "dask_local"),
                                        (["--scheduler", "not a url"], "scheduler")])
def test_bad_run_flags_are_refused(tiny_store, flags, key):
    out = _engine("run", str(tiny_store), "--dry-run", *flags)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"[pipeline] {key}" in out.stderr


def test_replace_validates_too():
    """The GUI and the tests build configs with dataclasses.replace: checked as well."""
    with pytest.raises(ConfigError, match="n_estimators"):
        dataclasses.replace(C.ScoreConfig(), n_estimators=0)
    with pytest.raises(ConfigError, match="must be bool"):
        C.VAEConfig(deterministic=1)


def test_retired_setting_is_dropped_with_a_warning(caplog):
    cfg = C.from_dict({"score": {"contamination": "auto", "n_estimators": 9}}, "old.toml")
    assert cfg.score.n_estimators == 9
    assert "contamination is no longer used" in caplog.text


_SECTIONS = {f.name: type(getattr(C.Config(), f.name)) for f in dataclasses.fields(C.Config)}
_values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.lists(st.one_of(st.integers(-5, 500), st.floats(-1, 10)), max_size=4))


@st.composite
def _settings(draw):
    out = {}
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(_SECTIONS)))
        key = draw(st.sampled_from([f.name for f in dataclasses.fields(_SECTIONS[section])]))
        value = draw(_values)
        if value is not None:
            out.setdefault(section, {})[key] = value
    return out


@pytest.mark.badinput
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_settings())
def test_any_settings_give_a_valid_config_or_one_config_error(data):
    """Property: the loader never lets an invalid value through and never raises anything
    but a one-line ConfigError; what it accepts survives a TOML round trip."""
    try:
        cfg = C.from_dict(data, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml") and "\n" not in str(exc)
        return
    for section in dataclasses.fields(cfg):
        C.check_section(getattr(cfg, section.name))
        for f in dataclasses.fields(getattr(cfg, section.name)):
            v = getattr(getattr(cfg, section.name), f.name)
            assert not (isinstance(v, float) and not math.isfinite(v))
    import tomllib
    assert C.from_dict(tomllib.loads(C.dumps(cfg))) == cfg


_CLUSTER_PROBE = """
import json, sys
import psutil
from distributed import Client
from distributed.security import Security
from engine.executors import DaskExecutor

if __name__ == "__main__":
    out = {}
    with DaskExecutor(local_workers=1) as ex:
        out["address"] = ex.address
        out["computed"] = sorted(dict(ex.imap_unordered(abs, [(0, -3), (1, 4)])).items())
        me = psutil.Process()
        out["listening"] = sorted({c.laddr.ip for p in [me, *me.children(recursive=True)]
                                   for c in p.net_connections(kind="inet")
                                   if c.status == psutil.CONN_LISTEN})
        refused = []
        for security in (None, Security.temporary()):
            try:
                kwargs = {"security": security} if security else {}
                Client(ex.address, timeout=3, **kwargs).close()
                refused.append(False)
            except Exception:
                refused.append(True)
        out["refused"] = refused
    print(json.dumps(out))
"""


def test_the_local_dask_cluster_listens_on_loopback_with_mutual_tls(tmp_path):
    """Defect 7: every listener of --dask-local binds 127.0.0.1; a client without the
    cluster's certificate (another local user) is refused; the cluster still computes.
    (In a fresh interpreter, as `run --dask-local` is: no other test's dask state.)"""
    probe = tmp_path / "probe.py"
    probe.write_text(_CLUSTER_PROBE)
    out = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True,
                         timeout=240, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["address"].startswith("tls://127.0.0.1:")
    assert got["computed"] == [[0, 3], [1, 4]]
    assert got["listening"] == ["127.0.0.1"]
    assert got["refused"] == [True, True]
