"""Band labels of the input formats -> band codes of the store (:data:`engine.store.BANDS`).

ZTF g and r (and the SDSS/PS1 g and r close to them) map to the two pipeline bands
``g`` (0) and ``r`` (1). Other known bands (u, i, z, y) keep their own code and stay
out of the two-band pipeline. Labels that name no known band get the code of
``other``; the object is flagged ``OTHER_BANDS`` and the label is reported.
"""
from __future__ import annotations

import logging

import numpy as np

from ..store import BAND_CODE

logger = logging.getLogger(__name__)

#: lower-cased label -> store band name. "R" is ZTF r in the BTS/ANTARES files.
_ALIASES = {
    "g": "g", "zg": "g", "ztf_g": "g", "ztfg": "g", "ztf-g": "g", "sdss_g": "g", "ps1_g": "g",
    "r": "r", "zr": "r", "ztf_r": "r", "ztfr": "r", "ztf-r": "r", "sdss_r": "r", "ps1_r": "r",
    "i": "i", "zi": "i", "ztf_i": "i", "ztfi": "i", "ztf-i": "i", "sdss_i": "i", "ps1_i": "i",
    "z": "z", "sdss_z": "z", "ps1_z": "z",
    "u": "u", "sdss_u": "u",
    "y": "y", "ps1_y": "y",
}
#: ZTF filter ids (alerts, ALeRCE ``fid``): 1 g, 2 r, 3 i.
ZTF_FID = {1: "g", 2: "r", 3: "i"}
OTHER = BAND_CODE["other"]


def band_code(label: str) -> int:
    """Store band code of one label (``other`` when unknown)."""
    name = _ALIASES.get(label.strip().lower())
    return BAND_CODE[name] if name else OTHER


def band_codes(labels: list[str] | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of many labels and the sorted distinct labels that were not recognised."""
    labels = np.asarray(labels)
    uniq, inverse = np.unique(labels, return_inverse=True)
    codes = np.array([band_code(str(u)) for u in uniq], dtype="u1")
    unknown = sorted(str(u) for u, c in zip(uniq, codes) if c == OTHER)
    return codes[inverse].reshape(labels.shape), unknown


def fid_codes(fid: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of ZTF filter ids; unknown ids are reported as ``fid=<n>``."""
    fid = np.asarray(fid).astype(int)
    uniq, inverse = np.unique(fid, return_inverse=True)
    codes = np.array([BAND_CODE[ZTF_FID[f]] if f in ZTF_FID else OTHER for f in uniq], "u1")
    unknown = [f"fid={f}" for f, c in zip(uniq, codes) if c == OTHER]
    return codes[inverse], unknown
