"""Folding (eq. 1), phases, the normalised wavelength axis and the scaling of eq. 6."""
import numpy as np
import pytest

from engine.config import ZTF_LAMBDA
from engine.fold import (band_coordinates, epoch_phase, fold, normalised_wavelength,
                         phase_distance, phase_grid, scale, unscale)


def test_fold_is_eq1_and_periodic():
    t = np.array([58000.0, 58000.25, 58001.0, 58000.75 + 3 * 0.5])
    phase = fold(t, 0.5)
    np.testing.assert_allclose(phase, t / 0.5 - np.floor(t / 0.5))
    np.testing.assert_allclose(phase, [0.0, 0.5, 0.0, 0.5], atol=1e-9)
    np.testing.assert_allclose(fold(t + 7 * 0.5, 0.5), phase, atol=1e-9)
    assert np.all((phase >= 0) & (phase < 1))


def test_fold_never_returns_one():
    # a remainder of -1e-17 would give 1.0 without the guard
    t = np.nextafter(np.array([3.0]), 0) * 1.0
    assert np.all(fold(t, 1.0) < 1.0)


@pytest.mark.parametrize("period", [0.0, -1.0, np.nan, np.inf])
def test_fold_rejects_bad_period(period):
    with pytest.raises(ValueError, match="period"):
        fold(np.array([1.0]), period)


def test_epoch_phase_and_distance():
    assert epoch_phase(10.3, 1.0) == pytest.approx(0.3)
    assert phase_distance(0.95, 0.05) == pytest.approx(0.1)
    assert phase_distance(0.2, 0.7) == pytest.approx(0.5)


def test_phase_grid_even_and_half_open():
    g = phase_grid(160)
    assert len(g) == 160 and g[0] == 0 and g[-1] < 1
    np.testing.assert_allclose(np.diff(g), 1 / 160)


def test_normalised_wavelength_eq3():
    lam = band_coordinates(3676.0, 7226.0)
    assert lam[0] == pytest.approx((ZTF_LAMBDA["g"] - 3676.0) / 3550.0)
    assert 0 < lam[0] < lam[1] < 1
    assert normalised_wavelength(7226.0, 3676.0, 7226.0) == pytest.approx(1.0)


def test_scale_and_inverse():
    rng = np.random.default_rng(0)
    mean_mag = 17 + rng.normal(size=(5, 2, 160)) * np.array([0.5, 0.3])[:, None]
    std_mag = rng.uniform(0.01, 0.05, size=(5, 2, 160))
    m, s, mbar, sigma = scale(mean_mag, std_mag)
    np.testing.assert_allclose(m.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(m.std(axis=-1), 1)
    np.testing.assert_allclose(s, std_mag / sigma[..., None])
    back_m, back_s = unscale(m, s, mbar, sigma)
    np.testing.assert_allclose(back_m, mean_mag)
    np.testing.assert_allclose(back_s, std_mag)


def test_scale_flat_band_gives_nan_not_inf():
    mean_mag = np.zeros((2, 160))
    mean_mag[0] = np.sin(np.linspace(0, 6, 160))
    m, s, _, sigma = scale(mean_mag, np.ones((2, 160)))
    assert sigma[1] == 0 and np.all(np.isnan(m[1])) and np.all(np.isfinite(m[0]))
