"""Issue 18: the menus get what they act on from the window, never reach into it; the
window's close asks the menus to shut down rather than driving their runner; no cycle."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "pvsvet"


def _attribute_chains(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            parts, cur = [node.attr], node.value
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                out.add(".".join([cur.id] + parts[::-1]))
    return out


def test_menus_do_not_reach_into_the_window():
    chains = _attribute_chains(PKG / "menus.py")
    bad = {c for c in chains if c.startswith(("self.w.panes", "self.w.docks", "self.w.state",
                                               "self.w.settings", "self.w.table"))}
    assert not bad, bad


def test_close_does_not_drive_the_menus_runner():
    assert not {c for c in _attribute_chains(PKG / "main_window.py")
                if c.startswith("self.menus.runner")}


def test_loading_does_not_import_state():
    tree = ast.parse((PKG / "loading.py").read_text())
    names = {getattr(n, "module", None) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "state" not in names and "pvsvet.state" not in names


def test_every_engine_score_space_has_its_one_gui_entry():
    """A new space is one entry in pvsvet.catalog.SCORE_SPACES (columns, loading, filter
    and ranking follow from it); this fails until the engine's new space has it."""
    from engine.anomaly.features import SPACE_NAMES
    from engine.labels import RANK_PREFERENCE
    from pvsvet.catalog import COLUMN_KEYS, SCORE_SPACES

    assert set(SCORE_SPACES) == set(SPACE_NAMES) | {"active"}
    assert set(RANK_PREFERENCE) <= set(SPACE_NAMES)
    assert all(f"score_{sp}" in COLUMN_KEYS for sp in SCORE_SPACES)
