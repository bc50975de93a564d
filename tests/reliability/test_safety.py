"""Safety that must stay: nothing in the source unpickles, evaluates or runs a shell,
and ids from catalogues never become file paths. (Safe-mode model loading:
``test_safe_loading.py``.)"""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from engine.cli import main
from engine.config import ContextConfig
from engine.context import run_context
from engine.ingest.fetch_lightcurves import fetch_lightcurves
from engine.ingest.fetch_queue import FetchQueue
from engine.labels import LabelJournal
from engine.progress import run_quiet
from engine.store import Store

from ..engine.test_fetch_lightcurves import _cfg, irsa  # noqa: F401  (irsa: a fixture)

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for pkg in ("engine", "pvsvet") for p in (REPO / pkg).rglob("*.py"))

#: modules that turn bytes into running code or arbitrary objects
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve",
                  "jsonpickle"}
UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}          # builtins
UNSAFE_ATTRS = {("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execl"),
                ("yaml", "load"), ("yaml", "unsafe_load"), ("pickle", "loads")}


def _unsafe(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, f"import {a.name}") for a in node.names
                    if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            out.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in UNSAFE_CALLS:
                out.append((node.lineno, f"{f.id}()"))
            if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                    and (f.value.id, f.attr) in UNSAFE_ATTRS):
                out.append((node.lineno, f"{f.value.id}.{f.attr}()"))
            for kw in node.keywords:
                if (kw.arg in ("shell", "allow_pickle") and isinstance(kw.value, ast.Constant)
                        and kw.value.value is True):
                    out.append((node.lineno, f"{kw.arg}=True"))
                if kw.arg == "safe_mode" and isinstance(kw.value, ast.Constant) \
                        and kw.value.value is False:
                    out.append((node.lineno, "safe_mode=False"))
    return out


def test_the_checker_finds_what_it_looks_for():
    bad = ("import pickle\nfrom dill import loads\neval('1')\nexec('x=1')\nos.system('ls')\n"
           "subprocess.run('ls', shell=True)\nnp.load(f, allow_pickle=True)\n"
           "keras.saving.load_model(p, safe_mode=False)\nyaml.load(s)\n")
    assert len(_unsafe(ast.parse(bad))) == 9
    assert _unsafe(ast.parse("app.exec()\nnp.load(f, allow_pickle=False)\nre.compile('x')\n"
                             "# eval(x) in a comment\ns = 'pickle'\n")) == []


def test_no_pickle_eval_exec_or_shell_in_the_source():
    """Stored or received bytes never become code: no pickle (or its relatives), no
    eval/exec, no shell, no NumPy pickles, no Keras loading outside safe mode."""
    assert len(SOURCES) > 50
    found = [f"{p.relative_to(REPO)}:{line}: {what}" for p in SOURCES
             for line, what in _unsafe(ast.parse(p.read_text(), str(p)))]
    assert found == []


HOSTILE_IDS = ["../../escaped", "a/b", "/abs/olute", "..", "c\\d", "x:y",
               "~/home", "name with spaces", "CON"]


def test_ids_never_become_file_paths(tmp_path, irsa):  # noqa: F811
    """Catalogue ids like '../../x' and 'a/b' go into the store verbatim and never
    into a path: fetch, label, export and context create only their own fixed names."""
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    store = work / "s.h5"
    ids = HOSTILE_IDS
    with FetchQueue(store) as q:
        q.add([{"id": oid, "name": oid, "ra": 20.0 + i, "dec": 20.0, "period": 0.5,
                "class": "RR"} for i, oid in enumerate(ids)])
    summary = run_quiet(fetch_lightcurves(store, _cfg(irsa)))
    assert summary["fetched"] == len(ids), summary
    with Store(store) as st:
        assert sorted(st.object_index()) == sorted(ids)           # kept verbatim
    for oid in ids:
        assert main(["label", str(store), oid, "anomaly", "--note", oid]) == 0
    with LabelJournal(store) as j:
        assert sorted(j.current()) == sorted(ids)
    for fmt in ("ecsv", "csv", "votable"):
        assert main(["export", str(store), "-o", str(work / f"targets.{fmt}"),
                     "--format", fmt]) == 0
    run_quiet(run_context(store, dataclasses.replace(ContextConfig(), offline=True,
                                                     extinction_fallback="none",
                                                     hr_background=False)))
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    fragments = ("escaped", "olute", "home", "spaces", "CON")
    assert not [m for m in made if any(f in m for f in fragments)], made
    assert not [m for m in made if not m.startswith("deep")], made   # nothing escaped
    names = {Path(m).name for m in made}
    assert not names & {"b", "a", "d", "c\\d", "..", "abs"}, names
