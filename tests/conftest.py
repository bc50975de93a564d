"""Shared fixtures. Real survey data is read from ../shared/data and skipped when absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PVSVET_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real photometry); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real survey data not found at ../shared/data")
    return SHARED_DATA
