"""Warped metrics against exact oracles (THEOREMS.md §1.2 E6/E7, §1.4 item 5, §6): spectra with a
non-trivial metric, where the unwarped tests of test_core_spectra.py say nothing about the metric path.

* Hidden-flat ridge g = (1 + a(x))dx² + dy² on [0, 2π)²: flat (x ↦ arclength), so its spectrum is that
  of the flat torus with periods L_x = ∫₀^{2π} √(1 + a) dx and 2π. Exact: λ_(m,n) = (2πm/L_x)² + n².
* Conformal ridge g = (1 + a(x))(dx² + dy²): separable, −v'' + n²v = λ(1 + a)v; THEOREMS.md gives the
  1-D reference eigenvalues to 9 digits. Area 4π²·mean(1 + a) exactly.
* Hersch (S²: λ₁A ≤ 8π) and Nadirashvili (T²: λ₁A ≤ 8π²/√3) hold for any metric, with reference values
  for two warps.
a(x) = α exp(−(x − π)²/(2s²)), α = s = ½ (its periodic images are below 3e-9).
"""
import numpy as np
import pytest
from scipy.integrate import quad

import manifoldspec as ms

ALPHA, S = 0.5, 0.5
TORUS = ms.FlatTorus((2 * np.pi, 2 * np.pi))


def ridge(x):
    return ALPHA * np.exp(-(np.asarray(x)[..., 0] - np.pi) ** 2 / (2 * S**2))


def hidden_flat(x):
    g = np.zeros((len(x), 2, 2))
    g[:, 0, 0], g[:, 1, 1] = 1 + ridge(x), 1.0
    return g


def hidden_flat_exact(k):
    Lx = quad(lambda t: np.sqrt(1 + ALPHA * np.exp(-(t - np.pi) ** 2 / (2 * S**2))), 0, 2 * np.pi,
              epsabs=1e-13, epsrel=1e-13, points=[np.pi], limit=200)[0]
    m, n = np.meshgrid(np.arange(-4, 5), np.arange(-4, 5))
    return np.sort(((2 * np.pi * m / Lx) ** 2 + n**2).ravel())[:k], Lx


def test_hidden_flat_ridge_exact_periods():
    lam, Lx = hidden_flat_exact(9)
    # THEOREMS.md E6: L_x = 6.5733007751595, λ_(1,0) = 0.91367707276431 (independent of our quadrature)
    assert Lx == pytest.approx(6.5733007751595, abs=1e-12)
    assert lam[1] == pytest.approx(0.91367707276431, abs=1e-13)


@pytest.mark.parametrize("order,sizes", [(1, [16, 32, 64]), (2, [8, 16, 32])])
def test_hidden_flat_ridge_spectrum_converges_at_the_fe_order(order, sizes):
    exact, _ = hidden_flat_exact(9)  # 0, (1,0)×2, (0,1)×2, (1,±1)×4
    errs = []
    for r in sizes:
        lam = ms.solve(ms.discretize(TORUS, r, order), 9, metric=ms.CallableMetric(hidden_flat)).eigenvalues
        errs.append(np.max(np.abs(lam[1:] - exact[1:]) / exact[1:]))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))  # sizes double
    assert np.all(np.abs(rates - 2 * order) < 0.3), (errs, rates)
    assert errs[-1] < (6e-3 if order == 1 else 4e-5)  # 1.5× the observed finest errors (4.1e-3, 2.8e-5)


def test_conformal_ridge_matches_the_1d_references():
    metric = ms.ConformalMetric(lambda x: 0.5 * np.log1p(ridge(x)))
    # THEOREMS.md §6: n = 0: 0.869345161, 0.960985715; n = ±1: 0.89545464 (twice)
    ref = np.array([0.869345161, 0.89545464, 0.89545464, 0.960985715])
    errs = []
    for r in (16, 32):
        spec = ms.solve(ms.discretize(TORUS, r, 2), 5, metric=metric)
        errs.append(np.max(np.abs(spec.eigenvalues[1:5] - ref) / ref))
        # area 4π²·mean(1 + a), mean(1 + a) = 1.0997355700673 (E7)
        assert spec.area == pytest.approx(4 * np.pi**2 * 1.0997355700673, rel=1e-12)
    assert errs[1] < 5e-6 and errs[0] / errs[1] > 10, errs  # P2: O(h⁴) until the 9-digit references


def test_hersch_bound_reference_on_a_conformal_sphere():
    # g = e^{0.2(z² − 1/3)} g_round: λ₁A = 23.8251 ≤ 8π (THEOREMS.md §1.4 item 5)
    metric = ms.ConformalMetric(lambda x: 0.1 * (x[:, 2] ** 2 - 1 / 3))
    spec = ms.solve(ms.discretize(ms.Sphere(1.0), 3, 2), 4, metric=metric)
    assert spec.eigenvalues[1] * spec.area == pytest.approx(23.8251, abs=1e-4)
    assert spec.eigenvalues[1] * spec.area < 8 * np.pi


def test_nadirashvili_bound_reference_on_the_token_bump_torus():
    # the library's bump g = I + α G e_x e_xᵀ at the centre, α = σ = ½: λ₁A = 38.6517 ≤ 8π²/√3
    warp = ms.TokenWarp(alpha=[ALPHA], mu=[[np.pi, np.pi]], v=[[1.0, 0.0]], sigma=S, period=TORUS.lengths)
    spec = ms.solve(ms.discretize(TORUS, 32, 2), 3, metric=warp)
    assert spec.eigenvalues[1] * spec.area == pytest.approx(38.6517, abs=1e-4)
    assert spec.eigenvalues[1] * spec.area < 8 * np.pi**2 / np.sqrt(3)


@pytest.mark.parametrize("seed", range(3))
def test_hersch_bound_holds_for_random_token_warps(seed):
    # any metric on S²: λ₁A ≤ 8π, with equality only for the round one; the deficit must exceed the
    # discretization error (the change from icosphere level 2 to 3, ~2e-3 here) for the check to mean anything
    warp = ms.random_warp(6, 3, sigma=0.5, amplitude=0.4, center_radius=1.0, seed=seed)
    vals = []
    for level in (2, 3):
        spec = ms.solve(ms.discretize(ms.Sphere(1.0), level, 2), 4, metric=warp)
        vals.append(spec.eigenvalues[1] * spec.area)
    assert 8 * np.pi - vals[1] > 50 * abs(vals[1] - vals[0]), vals
    # and the round sphere attains the bound: λ₁ = 2, A = 4π
    spec = ms.solve(ms.discretize(ms.Sphere(1.0), 3, 2), 4)
    assert spec.eigenvalues[1] * spec.area == pytest.approx(8 * np.pi, rel=1e-5)
