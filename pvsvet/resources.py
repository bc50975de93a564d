"""Where pvsvet's shipped files (style sheet, …) are: the top-level ``resources/`` folder.

In a source checkout (and an editable install) that is ``resources/`` beside the packages;
an installed wheel carries it as data files under ``<prefix>/share/pvsvet/resources``
(pyproject's ``[tool.setuptools.data-files]``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import PvsvetError

#: Where the data files of an installed pvsvet go, relative to the environment's prefix.
INSTALLED = Path("share") / "pvsvet" / "resources"


class ResourceError(PvsvetError):
    """A shipped file is missing (a broken installation)."""


def candidates() -> list[Path]:
    """The folders searched, in order: the checkout's, then the installed one."""
    return [Path(__file__).resolve().parents[1] / "resources", Path(sys.prefix) / INSTALLED]


def resource(name: str) -> Path:
    """Path of the shipped file ``name`` (ResourceError naming the places searched)."""
    for folder in candidates():
        path = folder / name
        if path.is_file():
            return path
    raise ResourceError(f"{name}: not found in " + ", ".join(str(c) for c in candidates())
                        + " (reinstall pvsvet)")
