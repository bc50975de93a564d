"""Sky positions, names and line-of-sight reddening of the synthetic catalogue."""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

# ICRS -> Galactic rotation (Hipparcos, ESA 1997 vol. 1 sec. 1.5.3); galactic = A @ icrs.
_ICRS_TO_GAL = np.array([
    [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
    [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
    [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
])
DEC_MIN = -30.0   # ZTF (Palomar) reaches about -30 deg


def galactic_to_icrs(l_deg: np.ndarray, b_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Galactic (l, b) -> ICRS (ra, dec), degrees."""
    l, b = np.radians(l_deg), np.radians(b_deg)
    v = np.stack([np.cos(b) * np.cos(l), np.cos(b) * np.sin(l), np.sin(b)])
    x, y, z = _ICRS_TO_GAL.T @ v
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    dec = np.degrees(np.arcsin(np.clip(z, -1, 1)))
    return ra, dec


def icrs_to_galactic(ra_deg: np.ndarray, dec_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (ra, dec) -> Galactic (l, b), degrees."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    v = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    x, y, z = _ICRS_TO_GAL @ v
    return np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arcsin(np.clip(z, -1, 1)))


def _draw_lb(disk_scale: np.ndarray, halo: np.ndarray, rng: np.random.Generator):
    n = len(disk_scale)
    in_halo = rng.random(n) < halo
    # disk: inner Galaxy favoured (l near 0 seen through the northern sky), |b| exponential
    l_disk = (rng.normal(0.0, 70.0, n)) % 360.0
    b_disk = rng.laplace(0.0, disk_scale, n)
    l_halo = rng.uniform(0.0, 360.0, n)
    b_halo = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    l = np.where(in_halo, l_halo, l_disk)
    b = np.clip(np.where(in_halo, b_halo, b_disk), -90.0, 90.0)
    return l, b


def draw_positions(disk_scale: np.ndarray, halo: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sky positions in the ZTF footprint (dec > -30 deg).

    Parameters
    ----------
    disk_scale : ndarray, deg
        Per-object scale of |b| for the disk population (small for Mira/SR).
    halo : ndarray
        Per-object probability of an isotropic (halo) position.

    Returns
    -------
    ra, dec : ndarray, deg
    """
    n = len(disk_scale)
    ra, dec = np.zeros(n), np.full(n, -90.0)
    todo = np.arange(n)
    for _ in range(50):   # rejection of the southern sky; a handful of rounds suffice
        l, b = _draw_lb(disk_scale[todo], halo[todo], rng)
        r, d = galactic_to_icrs(l, b)
        ra[todo], dec[todo] = r, d
        todo = todo[d < DEC_MIN]
        if not len(todo):
            break
    dec[todo] = rng.uniform(DEC_MIN, 90.0, len(todo))
    return ra, dec


def draw_ebv_total(b_deg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """E(B-V) to infinity along each line of sight, mag (a cosecant law with scatter)."""
    sinb = np.maximum(np.abs(np.sin(np.radians(b_deg))), 0.012)
    return np.minimum(0.018 / sinb * rng.lognormal(0.0, 0.5, len(b_deg)), 5.0)


def ebv_at(ebv_total: np.ndarray, b_deg: np.ndarray, dist_pc: np.ndarray,
           scale_height_pc: float = 125.0) -> np.ndarray:
    """E(B-V) to distance ``dist_pc`` in a dust layer of exponential scale height."""
    sinb = np.maximum(np.abs(np.sin(np.radians(b_deg))), 0.012)
    return ebv_total * -np.expm1(-dist_pc * sinb / scale_height_pc)
