"""Dust-shell fits on DESK grids: recovery of known models from noisy 12-band photometry."""
from __future__ import annotations

import numpy as np
import pytest

from engine.context import dusty, sed
from engine.context.recovery import recovery
from engine.errors import StageError

@pytest.mark.parametrize("name", ["oxygen", "carbon"])
def test_recovers_desk_models_from_noisy_photometry(name):
    r = recovery(name, 60, seed=3)      # 60 models, 5% noise in the 12 bands
    assert r["teff_within_step"] >= 0.9, r
    assert r["lum_within_10pc"] >= 0.9, r
    assert r["tau10_within_20pc"] >= 0.9, r
    assert r["ms_per_fit"] < 50.0      # vectorised over the grid: milliseconds per fit


def test_grids_load_through_desk_and_are_normalised():
    for name, n in (("oxygen", 2000), ("carbon", 1340)):
        g = dusty.load_grid(name)
        assert len(g) == n and g.lam_flam.shape == (n, len(g.wavelength_um))
        integral = np.trapezoid(g.lam_flam, np.log(g.wavelength_um), axis=1)
        assert np.median(integral) == pytest.approx(1.0, abs=0.02)   # the flux_scale premise


def test_luminosity_is_the_analytic_scale_at_the_distance():
    grid = dusty.load_grid("oxygen")
    k, lum, dist = 777, 12000.0, 1500.0
    lf = grid.at(sed.WAVELENGTH_UM)[k] * lum * dusty.flux_scale(dist)
    fit = dusty.fit_sed(lf, 0.05 * lf, sed.WAVELENGTH_UM, dist, grid, kappa10=3000.0)
    assert fit.index == k and fit.chi2 == pytest.approx(0.0, abs=1e-12)
    assert fit.lum_lsun == pytest.approx(lum, rel=1e-9)
    far = dusty.fit_sed(lf, 0.05 * lf, sed.WAVELENGTH_UM, 2 * dist, grid, kappa10=3000.0)
    assert far.lum_lsun == pytest.approx(4 * lum, rel=1e-9)          # L ~ d^2 at fixed flux
    model = 10 ** np.interp(np.log(sed.WAVELENGTH_UM), np.log(fit.model_wavelength_um),
                            np.log10(np.maximum(fit.model_lam_flam, 1e-300)))
    np.testing.assert_allclose(model, lf, rtol=1e-6)     # the stored spectrum is the scaled model


def test_mass_loss_and_inner_radius_scalings():
    r1 = dusty.r_inner_cm(1e4, 3000.0, 1000.0)
    assert dusty.r_inner_cm(4e4, 3000.0, 1000.0) == pytest.approx(2 * r1)     # R_in ~ L^1/2
    assert 1e13 < r1 < 1e15
    md, mt = dusty.mass_loss(1.0, r1, 3000.0, 10.0, 200.0)
    grams_per_s = 4 * np.pi * 1.0 / 3000.0 * r1 * 10e5
    assert md == pytest.approx(grams_per_s * 3.15576e7 / 1.98847e33)
    assert mt == pytest.approx(200 * md)
    assert 1e-10 < md < 1e-5


def test_too_few_bands_is_a_clear_error():
    grid = dusty.load_grid("oxygen")
    lf = np.full(12, np.nan)
    lf[:3] = 1e-12
    with pytest.raises(StageError, match="only 3 bands"):
        dusty.fit_sed(lf, 0.1 * lf, sed.WAVELENGTH_UM, 1000.0, grid, kappa10=3000.0)
    with pytest.raises(StageError, match="distance"):
        dusty.fit_sed(lf, 0.1 * lf, sed.WAVELENGTH_UM, np.nan, grid, kappa10=3000.0)


def test_grid_family_is_grams_where_installed_else_dusty_with_a_note():
    have_grams = dusty.installed("grams-oxygen") and dusty.installed("grams-carbon")
    family, note = dusty.grid_family("auto")
    assert family == ("grams" if have_grams else "dusty")
    if not have_grams:                      # the desk wheel ships only the DUSTY grids
        assert "GRAMS grids not installed" in note
        with pytest.raises(StageError, match="GRAMS grids are not installed"):
            dusty.grid_family("grams")
        with pytest.raises(StageError, match="not installed"):
            dusty.load_grid("grams-oxygen")     # never a download from inside a fit
    assert dusty.grid_family("dusty")[0] == "dusty"
    with pytest.raises(StageError, match="grid_family = 'gram'"):
        dusty.grid_family("gram")
    assert dusty.grid_for("C-rich", "grams") == "grams-carbon"
    assert dusty.grid_for("M", "dusty") == "oxygen"


def test_each_fit_stores_its_grid_and_the_kappa_eq11_used(tmp_path):
    """Provenance of every dust-shell fit in /context: the grid, the kappa, and an Mdot
    that is eq. 11 with exactly that kappa."""
    from engine.config import ContextConfig
    from engine.context import load_context, run_context
    from engine.progress import run_quiet
    from engine.simulate import make_demo
    from engine.store import Store

    path = tmp_path / "d.h5"
    run_quiet(make_demo(path, 80, seed=7))
    cfg = ContextConfig(top_n=80, offline=True, kappa10_silicate=3100.0)
    run_quiet(run_context(path, cfg))
    with Store(path) as st:
        c = {k: st.read(f"context/{k}") for k in ("row", "fit_grid", "fit_kappa10", "fit_tau10",
                                                   "fit_r_in_cm", "fit_mdot_dust")}
        chem = st.read("sim/chemistry").astype("U")
        attrs = st.attrs("context")
    family = dusty.grid_family("auto")[0]
    assert attrs["grid_family"] == family and attrs["grid_note"]
    assert set(attrs["kappa10_sources"]) == {"O", "C"}
    fitted = c["fit_grid"] != b""
    assert fitted.sum() >= 10
    kappa = {"O": 3100.0, "C": ContextConfig().kappa10_carbon}
    for i in np.flatnonzero(fitted):
        grid = c["fit_grid"][i].decode()
        key = dusty.grid_for(chem[c["row"][i]], family) if chem[c["row"][i]] else None
        assert key is None or grid == dusty.GRID_LABEL[key]       # the object's chemistry
        want = kappa["C" if "carbon" in grid else "O"]
        assert c["fit_kappa10"][i] == want
        md, _ = dusty.mass_loss(c["fit_tau10"][i], c["fit_r_in_cm"][i], want, 10.0, 200.0)
        assert c["fit_mdot_dust"][i] == pytest.approx(md, rel=1e-12)
    assert np.isnan(c["fit_kappa10"][~fitted]).all()
    rec = load_context(path, int(c["row"][np.flatnonzero(fitted)[0]]))
    assert rec["fit"]["kappa10"] in kappa.values() and rec["fit"]["grid_note"] == attrs["grid_note"]


def test_carbon_kappa_follows_srinivasan_2010_and_every_kappa_is_sourced():
    from engine.config import ContextConfig

    assert ContextConfig().kappa10_carbon == pytest.approx(2.2e3)
    assert "Srinivasan et al. 2010" in dusty.KAPPA_SOURCES["C"]
    assert "Ossenkopf et al. 1992" in dusty.KAPPA_SOURCES["O"]
