"""SED conversion, alpha_IR, extinction vectors, and dustmaps' BayestarQuery on a tiny map."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from engine.context import sed
from engine.context.extinction import ExtinctionMap, extinction, r_vector

DM_EDGES = np.arange(4.0, 19.01, 0.5)
N_SAMPLES = 4


def _expected_ebv(pix, dm, samples=np.arange(N_SAMPLES)):
    """The tiny map's reddening: linear in distance modulus, pixel and sample dependent."""
    return np.mean([0.05 * (pix + 1) * (dm - 4.0) + 0.01 * s for s in samples])


@pytest.fixture(scope="module")
def tiny_bayestar(tmp_path_factory):
    """A 12-pixel (nside 1, nested) map in the Bayestar19 HDF5 layout dustmaps reads."""
    path = tmp_path_factory.mktemp("b19") / "bayestar2019_tiny.h5"
    npix = 12
    info = np.zeros(npix, dtype=[("nside", "<u4"), ("healpix_index", "<i8"),
                                 ("DM_reliable_min", "<f4"), ("DM_reliable_max", "<f4"),
                                 ("converged", "u1")])
    info["nside"], info["healpix_index"] = 1, np.arange(npix)
    info["DM_reliable_min"], info["DM_reliable_max"], info["converged"] = 5.0, 17.0, 1
    pix = np.arange(npix)[:, None, None]
    samp = np.arange(N_SAMPLES)[None, :, None]
    samples = (0.05 * (pix + 1) * (DM_EDGES[None, None, :] - 4.0) + 0.01 * samp).astype("f4")
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("pixel_info", data=info)
        ds.attrs["DM_bin_edges"] = DM_EDGES
        f.create_dataset("samples", data=samples)
        f.create_dataset("best_fit", data=samples[:, 0, :])
    return path


def test_bayestar_tiny_map_through_dustmaps(tiny_bayestar):
    import healpy as hp
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    ext = ExtinctionMap(str(tiny_bayestar), mode="mean")
    assert ext.source == "bayestar2019"
    ra, dec, dist = np.array([10.0, 280.0, 150.0]), np.array([20.0, -5.0, 60.0]), \
        np.array([1000.0, 3000.0, 250.0])
    ebv, src = ext.query(ra, dec, dist)
    gal = SkyCoord(ra * u.deg, dec * u.deg).galactic
    pix = hp.ang2pix(1, np.radians(90 - gal.b.deg), np.radians(gal.l.deg), nest=True)
    dm = 5 * np.log10(dist) - 5
    want = [_expected_ebv(p, m) for p, m in zip(pix, dm)]
    np.testing.assert_allclose(ebv, want, rtol=1e-5)
    assert list(src) == ["bayestar2019"] * 3


def test_bayestar_without_distance_uses_fallback_flag(tiny_bayestar):
    ebv, src = ExtinctionMap(str(tiny_bayestar), fallback="none").query([10.0], [20.0], [np.nan])
    assert np.isnan(ebv[0]) and src[0] == "none"


def test_missing_map_falls_back_to_flagged_burstein_heiles(tmp_path):
    ext = ExtinctionMap(str(tmp_path / "absent.h5"), fallback="bh")
    assert ext.source == "bh1982-2d" and "not found" in ext.note
    ebv, src = ext.query([10.0], [20.0], [1000.0])           # high latitude: covered
    assert src[0] == "bh1982-2d" and 0 < ebv[0] < 1
    ext_none = ExtinctionMap("", fallback="none")
    ebv, src = ext_none.query([10.0], [20.0], [1000.0])
    assert np.isnan(ebv[0]) and src[0] == "none"             # never a silent zero


def test_extinction_vector_green19_and_xue16():
    r = dict(zip(sed.BAND_NAMES, r_vector()))
    assert r["g"] == 3.518 and r["Ks"] == 0.3026
    assert r["W1"] == pytest.approx(0.591 * 0.3026) and r["W4"] == pytest.approx(0.364 * 0.3026)
    np.testing.assert_allclose(extinction(0.5), 0.5 * r_vector())


def test_mag_to_flux_round_trip_and_zero_points():
    mags = np.zeros(12)
    flux, err = sed.mag_to_jy(mags, np.full(12, 0.1))
    np.testing.assert_allclose(flux, sed.ZERO_POINT_JY)          # m = 0 -> the zero point
    assert flux[sed.BAND_NAMES.index("J")] == 1594.0
    np.testing.assert_allclose(err, flux * 0.4 * np.log(10) * 0.1)
    np.testing.assert_allclose(sed.jy_to_mag(flux), mags, atol=1e-12)
    # dereddening brightens by A: flux(m - A) = flux(m) * 10^(0.4 A)
    dered, _ = sed.mag_to_jy(mags, np.full(12, 0.1), np.full(12, 1.0))
    np.testing.assert_allclose(dered / flux, 10 ** 0.4)
    lf = sed.jy_to_lam_flam(flux)
    np.testing.assert_allclose(sed.lam_flam_to_jy(lf), flux)


def test_alpha_ir_of_power_law():
    # lambda F_lambda ~ lambda^-2 between Ks and W1: alpha_IR = -2 (eq. 12)
    lf = sed.WAVELENGTH_UM ** -2.0
    assert sed.alpha_ir(lf) == pytest.approx(-2.0)
    lf[sed.BAND_NAMES.index("W1")] = np.nan
    assert np.isnan(sed.alpha_ir(lf))


def test_missing_error_gives_nan_error():
    _, err = sed.mag_to_jy(np.full(12, 10.0), np.r_[np.full(11, 0.05), np.nan])
    assert np.isnan(err[-1]) and np.isfinite(err[:-1]).all()
