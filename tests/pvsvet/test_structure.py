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


def _debian_package(soname: str) -> str:
    """Debian's name for the package of a shared library: libfoo.so.1 -> libfoo1,
    libfoo-x11.so.0 -> libfoo-x11-0 (a hyphen where the name ends in a digit)."""
    import re

    name, version = re.fullmatch(r"(lib.+)\.so\.(\d+)", soname).groups()
    return (name + ("-" if name[-1].isdigit() else "") + version).lower()


def test_the_readme_and_ci_install_every_x_library_the_window_plugin_links():
    """Issue 17, defect 11: on a bare machine the first command aborted (Qt's xcb plugin
    needs libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0) and the README named no system
    package. Every X library the installed plugin links (ldd) is named in both lists."""
    import re
    import shutil
    import subprocess

    import pytest
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists() or shutil.which("ldd") is None:
        pytest.skip("no xcb plugin or no ldd here")
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    needed = {_debian_package(s) for s in re.findall(r"\b(lib(?:xcb|xkbcommon|X11|Xau|Xdmcp)"
                                                      r"[\w-]*\.so\.\d+)", out)}
    assert {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"} <= needed
    root = PKG.parent
    readme = (root / "README.md").read_text()
    apt = set(re.search(r"apt-get install ([^`]+?)\n```", readme, re.S).group(1)
              .replace("\\", " ").split())
    ci = set(re.search(r'QT_SYSTEM_PACKAGES="([^"]+)"', (root / ".ci" / "run").read_text())
             .group(1).split())
    assert not needed - apt, sorted(needed - apt)
    assert not needed - ci, sorted(needed - ci)


def test_the_gui_test_stores_spell_classes_as_the_catalogue_does():
    """The synthetic GUI stores use the CPVS (Chen et al. 2020) class names of the demo
    and the engine, so a class-keyed view or setting tested on them (the vetting
    space's period question reads classes) sees the spelling a real store has."""
    from engine.simulate.classes import CLASSES as ENGINE
    from pvsvet.synthetic import CLASSES

    assert set(CLASSES) <= set(ENGINE), set(CLASSES) - set(ENGINE)
