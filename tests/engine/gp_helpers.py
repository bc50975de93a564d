"""Synthetic light curves for the interpolation tests (RR Lyrae-like, ZTF-like noise)."""
import numpy as np

from engine.store import BAND_CODE, LightCurve, Store


def rr_shape(phase, amp):
    """Sawtooth-like RRab light curve: fast rise (10% of the cycle), slow decline (mag)."""
    p = np.mod(phase, 1.0)
    rise = p > 0.9
    flux = np.where(rise, (p - 0.9) / 0.1, 1 - p / 0.9)
    return -amp * (flux - 0.5)


def make_lc(rng, period, n=(60, 60), amp=(1.0, 0.7), mean=(17.0, 16.8), err=0.02, kind="rr"):
    lcs = []
    for b, nb in zip((0, 1), n):
        t = np.sort(rng.uniform(58000, 59000, nb))
        ph = t / period - np.floor(t / period)
        if kind == "rr":
            m = rr_shape(ph, amp[b])
        elif kind == "sine":
            m = 0.5 * amp[b] * np.sin(2 * np.pi * ph)
        else:
            m = np.zeros(nb)
        m = mean[b] + m + rng.normal(0, err, nb)
        lcs.append(LightCurve(t, m, np.full(nb, err), np.full(nb, b, np.uint8)))
    return LightCurve(*(np.concatenate([getattr(lc, k) for lc in lcs])
                        for k in ("time", "mag", "magerr", "band")))


def make_store(path, n=40, seed=0, classes=("RR", "EW"), extra=()):
    """A store of ``n`` synthetic objects (+ ``extra``: (id, period, status, lc) rows)."""
    rng = np.random.default_rng(seed)
    lcs, ids, periods, cls, status = [], [], [], [], []
    for i in range(n):
        p = rng.uniform(0.3, 0.8)
        lcs.append(make_lc(rng, p, kind="rr" if i % 2 else "sine"))
        ids.append(f"obj{i}")
        periods.append(p)
        cls.append(classes[i % len(classes)])
        status.append(0)
    for oid, p, st, lc in extra:
        lcs.append(lc)
        ids.append(oid)
        periods.append(p)
        cls.append(classes[0])
        status.append(st)
    with Store.create(path) as store:
        store.append_objects({"id": ids, "period": periods, "class": cls, "status": status}, lcs)
    return path


__all__ = ["make_lc", "make_store", "rr_shape", "BAND_CODE"]
