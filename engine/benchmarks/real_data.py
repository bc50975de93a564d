"""Real light curves for ``bench real``: readers of the shared survey files, and builders of
real anomalies made the ways catalogues go wrong.

Every curve here is real photometry. Normal stars are left unchanged; an anomaly is a real
curve given a wrong catalogue period (an unrelated one, or the aliases P*2, P/2 and the
1-day alias), two real stars' bands mismatched or their fluxes blended, a real transient
given a periodic star's period and class, a real curve with eclipses of an unseen
companion or a fade added to its magnitudes. The builders know nothing of the scores.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

#: SDSS Stripe 82 type -> the demo's (Chen et al. 2020) class
S82_CLASS = {"ab": "RR", "c": "RRc"}
#: magnitudes above this are missing-value sentinels (99.99 in the S82 files)
MAX_MAG = 30.0


@dataclass(frozen=True)
class RealCurve:
    """One real light curve and the catalogue entry it is given.

    ``band``: labels as in the files ("g", "r", "R", "u", ...); ``kind``: "" for a normal
    star, else how it was made anomalous; ``source``: survey and file it came from.
    """

    id: str
    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    band: np.ndarray
    period: float
    cls: str
    kind: str = ""
    source: str = ""

    def in_band(self, name: str) -> np.ndarray:
        return np.char.lower(self.band.astype(str)) == name


def read_csv_curve(path: Path) -> tuple[np.ndarray, ...]:
    """(time, mag, err, band) of a ``time,mag,magerr,band`` file (``#`` comments allowed),
    without missing-value rows."""
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(line for line in fh if not line.startswith("#"))][1:]
    t = np.array([float(r[0]) for r in rows])
    m = np.array([float(r[1]) for r in rows])
    e = np.array([float(r[2]) for r in rows])
    b = np.array([r[3].strip() for r in rows])
    ok = np.isfinite(m) & (m < MAX_MAG) & np.isfinite(e) & (e > 0) & np.isfinite(t)
    return t[ok], m[ok], e[ok], b[ok]


def read_s82(data: Path) -> list[RealCurve]:
    """The SDSS Stripe 82 RR Lyrae (Sesar et al. 2010) with their catalogue periods."""
    root = data / "sdss_s82_rrlyrae"
    if not (root / "periods.csv").is_file():
        return []
    with open(root / "periods.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        path = root / "light-curves" / f"{r['Num']}.csv"
        if path.is_file():
            t, m, e, b = read_csv_curve(path)
            out.append(RealCurve(f"s82-{r['Num']}", t, m, e, b, float(r["Per"]),
                                 S82_CLASS.get(r["Type"].strip(), "RR"),
                                 source=f"SDSS S82 {r['Num']}"))
    return out


def read_bts(data: Path, n: int, rng: np.random.Generator) -> list[RealCurve]:
    """``n`` ZTF BTS SNe Ia drawn at random (no period or class yet)."""
    files = sorted((data / "ztf_bts_snia" / "light-curves").glob("*.csv"))
    if not files:
        return []
    pick = rng.choice(len(files), min(n, len(files)), replace=False)
    out = []
    for i in np.sort(pick):
        t, m, e, b = read_csv_curve(files[i])
        out.append(RealCurve(f"bts-{files[i].stem}", t, m, e, b, np.nan, "",
                             source=f"ZTF BTS {files[i].stem}"))
    return out


def read_snad101(path: Path) -> RealCurve | None:
    """SNAD101 (real ZTF DR8 g and r), with the period a periodogram gives it."""
    if not path.is_file():
        return None
    t, m, e, b = read_csv_curve(path)
    return RealCurve("snad101", t, m, e, b, periodogram_period(t, m, e, b == "r"), "",
                     kind="snad101", source="SNAD101, ZTF DR8 (snad-space/ztf-viewer)")


def periodogram_period(t, m, e, sel, low: float = 0.1, high: float = 500.0) -> float:
    """Best Lomb-Scargle period of the selected points: what a periodic-variable
    catalogue would have assigned."""
    from astropy.timeseries import LombScargle

    freq, power = LombScargle(t[sel], m[sel], e[sel]).autopower(
        minimum_frequency=1 / high, maximum_frequency=1 / low, samples_per_peak=5)
    return float(1 / freq[np.argmax(power)])


# -- builders: each returns a new RealCurve with ``kind`` set ---------------------------

def wrong_period(c: RealCurve, rng: np.random.Generator) -> RealCurve:
    """An unrelated catalogue period: 0.15-1 dex away and not within 2% of a ratio of
    small integers (those are the aliases, built separately)."""
    while True:
        ratio = 10 ** (rng.uniform(0.15, 1.0) * rng.choice([-1, 1]))
        near = [abs(ratio * q / p - 1) for p in range(1, 4) for q in range(1, 4)]
        if min(near) > 0.02:
            return replace(c, id=f"{c.id}-wrongP", period=c.period * ratio, kind="wrong_period")


def alias(c: RealCurve, kind: str) -> RealCurve:
    """The period at twice or half the true one, or its 1-day alias |1/P - 1|^-1."""
    if kind == "alias_2P":
        p = 2 * c.period
    elif kind == "alias_P/2":
        p = c.period / 2
    else:
        f = 1 / c.period
        p = 1 / abs(f - 1) if abs(f - 1) > 0.05 else 1 / (f + 1)
    return replace(c, id=f"{c.id}-{kind.replace('/', '_')}", period=p, kind=kind)


def mismatched_bands(a: RealCurve, b: RealCurve) -> RealCurve:
    """``a``'s g band with ``b``'s r band, under ``a``'s period and class (a cross-match
    that paired two stars)."""
    ga, rb = a.in_band("g"), b.in_band("r")
    return replace(a, id=f"{a.id}-mismatch", time=np.concatenate([a.time[ga], b.time[rb]]),
                   mag=np.concatenate([a.mag[ga], b.mag[rb]]),
                   err=np.concatenate([a.err[ga], b.err[rb]]),
                   band=np.concatenate([a.band[ga], b.band[rb]]), kind="mismatched_bands")


def blend(a: RealCurve, b: RealCurve, rng: np.random.Generator) -> RealCurve:
    """``a`` blended with a second variable ``b`` of similar brightness: the fluxes add.
    ``b``'s magnitude at ``a``'s epochs is read off ``b``'s own real points folded on its
    own period (linear in phase), offset to 0-0.7 mag fainter than ``a``."""
    mag = a.mag.copy()
    offset = rng.uniform(0.0, 0.7)
    for name in ("g", "r"):
        sa, sb = a.in_band(name), b.in_band(name)
        if sa.sum() == 0 or sb.sum() < 3:
            continue
        phase_b = (b.time[sb] / b.period) % 1
        order = np.argsort(phase_b)
        pb, mb = phase_b[order], b.mag[sb][order]
        at = np.interp((a.time[sa] / b.period) % 1, pb, mb, period=1.0)
        at = at - np.median(b.mag[sb]) + np.median(a.mag[sa]) + offset
        mag[sa] = -2.5 * np.log10(10 ** (-0.4 * a.mag[sa]) + 10 ** (-0.4 * at))
    return replace(a, id=f"{a.id}-blend", mag=mag, kind="blend")


def transient(sn: RealCurve, period: float, cls: str) -> RealCurve:
    """A real supernova taken for a periodic variable: given a star's period and class."""
    return replace(sn, period=float(period), cls=cls, kind="transient")


def eclipses(c: RealCurve, rng: np.random.Generator, min_points: int = 3,
             tries: int = 50) -> RealCurve | None:
    """Eclipses of an unseen companion added to a real curve: flat-bottomed dips of
    0.4-1.0 mag lasting 8-15% of an unrelated 1-20 d period. None when no draw puts
    ``min_points`` points of each band in eclipse (sparse cadence)."""
    for _ in range(tries):
        p_ecl = 10 ** rng.uniform(0.0, 1.3)
        depth, width = rng.uniform(0.4, 1.0), rng.uniform(0.08, 0.15)
        phase = ((c.time - rng.uniform(0, p_ecl)) / p_ecl) % 1
        # trapezoid: full depth in the middle 60% of the dip
        x = np.abs(phase - 0.5) / (width / 2)
        dip = depth * np.clip((1 - x) / 0.4, 0, 1)
        hit = dip > 0.5 * depth
        if all((hit & c.in_band(b)).sum() >= min_points for b in ("g", "r")):
            return replace(c, id=f"{c.id}-eclipse", mag=c.mag + dip, kind="eclipse")
    return None


def fade(c: RealCurve, rng: np.random.Generator, min_points: int = 5) -> RealCurve | None:
    """An R CrB-like fade added to a real curve: a sudden drop of 1-3 mag at an observed
    epoch, recovering exponentially over 30-150 d. None when fewer than ``min_points``
    points are more than 0.3 mag down."""
    t = np.sort(c.time)
    for _ in range(20):
        t0 = t[rng.integers(0, max(1, len(t) - min_points))]
        depth, tau = rng.uniform(1.0, 3.0), rng.uniform(30.0, 150.0)
        dm = np.where(c.time >= t0, depth * np.exp(-(c.time - t0) / tau), 0.0)
        if (dm > 0.3).sum() >= min_points:
            return replace(c, id=f"{c.id}-fade", mag=c.mag + dm, kind="fade")
    return None


KINDS = ("wrong_period", "alias_2P", "alias_P/2", "alias_1d", "mismatched_bands", "blend",
         "eclipse", "fade", "transient", "snad101")


def build_anomalies(stars: list[RealCurve], per_kind: int, rng: np.random.Generator
                    ) -> tuple[list[RealCurve], list[RealCurve]]:
    """``per_kind`` anomalies of each star-based kind, each made from its own stars
    (none shared between kinds; the pair kinds use two), and the stars left unused."""
    out: list[RealCurve] = []
    pool = list(rng.permutation(len(stars)))

    def take() -> RealCurve | None:
        return stars[pool.pop()] if pool else None

    for kind in KINDS[:8]:
        made = 0
        while made < per_kind and pool:
            a = take()
            if kind == "wrong_period":
                new = wrong_period(a, rng)
            elif kind.startswith("alias"):
                new = alias(a, kind)
            elif kind in ("mismatched_bands", "blend"):
                b = take()
                if b is None:
                    break
                new = mismatched_bands(a, b) if kind == "mismatched_bands" else blend(a, b, rng)
            elif kind == "eclipse":
                new = eclipses(a, rng)
            else:
                new = fade(a, rng)
            if new is not None:
                out.append(new)
                made += 1
    return out, [stars[i] for i in pool]


def write_csv(c: RealCurve, path: Path) -> None:
    """One ``time,mag,magerr,band`` file (the ingest CSV format)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time", "mag", "magerr", "band"])
        for row in zip(c.time, c.mag, c.err, c.band):
            w.writerow([f"{row[0]:.6f}", f"{row[1]:.5f}", f"{row[2]:.5f}", row[3]])
