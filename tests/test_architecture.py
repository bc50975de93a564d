"""The one-way rule: engine never imports Qt, pyqtgraph or pvsvet (import-linter)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "KEPT" in out.stdout and "BROKEN" not in out.stdout


def test_engine_imports_without_qt():
    code = ("import sys, engine.cli; engine.cli.build_parser(); "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'pvsvet', "
            "'tensorflow'))]; assert not bad, bad")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_command_of_the_contract_is_registered():
    """The CLI skips a command whose module lacks an entry; none may be missing."""
    import argparse

    from engine.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)
    bench = next(a for a in sub.choices["bench"]._actions
                 if isinstance(a, argparse._SubParsersAction))
    assert set(bench.choices) == {"gp", "vae", "forest", "anomaly", "knn", "gui", "fetch", "real",
                                  "incremental", "all"}


def test_the_engine_never_starts_the_gui():
    """Import-linter sees imports, not ``python -m pvsvet...`` subprocesses: the GUI
    benchmark is ``pvsvet --bench``, and ``bench gui`` only says so."""
    import engine

    root = Path(engine.__file__).parent
    hits = [p for p in root.rglob("*.py") if "pvsvet.bench" in p.read_text()
            or '"-m", "pvsvet' in p.read_text()]
    assert hits == []
