"""The shipped files live in the top-level resources/ folder and travel with a wheel."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pvsvet.resources import INSTALLED, ResourceError, candidates, resource

ROOT = Path(__file__).resolve().parents[2]


def test_resources_are_found_at_the_top_level():
    qss = resource("style.qss")
    assert qss == ROOT / "resources" / "style.qss" and "QTableView" in qss.read_text()
    assert not (ROOT / "pvsvet" / "resources").exists()
    with pytest.raises(ResourceError, match="nothing.qss: not found"):
        resource("nothing.qss")


def test_a_wheel_carries_every_resource_where_an_installed_pvsvet_looks(tmp_path):
    import shutil

    leftovers = [p for p in (ROOT / "build", ROOT / "pvsvet.egg-info") if not p.exists()]
    try:
        _check_wheel(tmp_path)
    finally:                     # setuptools builds in the tree: leave it as it was
        for p in leftovers:
            shutil.rmtree(p, ignore_errors=True)


def _check_wheel(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                         capture_output=True, text=True, cwd=tmp_path)
    if out.returncode:
        pytest.skip(f"cannot build a wheel here: {out.stderr.strip()[-200:]}")
    wheel = next(tmp_path.glob("pvsvet-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.name for p in (ROOT / "resources").iterdir() if p.is_file())
    data = f"pvsvet-0.1.0.data/data/{INSTALLED.as_posix()}/"
    assert shipped and all(data + name in names for name in shipped)
    assert candidates()[1] == Path(sys.prefix) / INSTALLED     # where the data files land
