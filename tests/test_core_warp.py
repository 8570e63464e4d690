"""Token-warped spectra: orthonormality, limits, exact scaling, Weyl's law, area."""
import numpy as np
import pytest
import scipy.linalg as sla

import manifoldspec as ms
from manifoldspec.geometry.metric import ScaledMetric


def torus_warp(n_tokens=7, amplitude=0.4, seed=3):
    return ms.random_warp(n_tokens, 2, sigma=0.6, amplitude=amplitude, period=(2 * np.pi, 2 * np.pi), seed=seed)


def sphere_warp(seed=4):
    return ms.random_warp(5, 3, sigma=0.5, amplitude=0.4, center_radius=1.0, seed=seed)


@pytest.fixture(scope="module")
def torus_disc():
    return ms.discretize(ms.FlatTorus(), 20, 2)


@pytest.fixture(scope="module")
def sphere_disc():
    return ms.discretize(ms.Sphere(), 3, 2)


@pytest.mark.parametrize("which", ["torus", "sphere"])
def test_eigenvectors_m_orthonormal(which, torus_disc, sphere_disc):
    disc, warp = (torus_disc, torus_warp()) if which == "torus" else (sphere_disc, sphere_warp())
    spec = ms.solve(disc, 40, warp)
    assert spec.orthonormality_error() < 1e-10
    # and they are eigenpairs: residual ‖Kφ − λMφ‖ relative to ‖Kφ‖
    R = spec.K @ spec.eigenvectors - (spec.M @ spec.eigenvectors) * spec.eigenvalues
    assert np.abs(R).max() < 1e-8 * max(1.0, np.abs(spec.K @ spec.eigenvectors).max())


def test_shift_invert_matches_dense_reference():
    # plain reference: dense generalized eigh of the same (K, M), a warped torus with degenerate-ish clusters
    disc = ms.discretize(ms.FlatTorus((2 * np.pi, 2 * np.pi)), 10, 2)
    ops = ms.assemble(disc, torus_warp(amplitude=0.05))
    ref = sla.eigh(ops.K.toarray(), ops.M.toarray(), eigvals_only=True)[:37]
    lam = ms.solve(disc, 37, operators=ops).eigenvalues
    np.testing.assert_allclose(lam, ref, rtol=1e-9, atol=1e-9)


def test_lobpcg_agrees_with_shift_invert(sphere_disc):
    a = ms.solve(sphere_disc, 12, sphere_warp())
    b = ms.solve(sphere_disc, 12, sphere_warp(), method="lobpcg")
    np.testing.assert_allclose(b.eigenvalues, a.eigenvalues, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("which", ["torus", "sphere"])
def test_alpha_to_zero_recovers_unwarped(which, torus_disc, sphere_disc):
    disc, warp = (torus_disc, torus_warp()) if which == "torus" else (sphere_disc, sphere_warp())
    lam0 = ms.solve(disc, 25).eigenvalues
    d = [np.abs(ms.solve(disc, 25, warp.scaled(eps)).eigenvalues - lam0).max() for eps in (1e-2, 1e-3, 1e-4)]
    # the change is linear in α and vanishes with it
    assert d[2] < 1e-3 * max(lam0) and 8 < d[0] / d[1] < 12 and 8 < d[1] / d[2] < 12


@pytest.mark.parametrize("which", ["torus", "sphere"])
def test_warp_changes_spectrum(which, torus_disc, sphere_disc):
    disc, warp = (torus_disc, torus_warp()) if which == "torus" else (sphere_disc, sphere_warp())
    lam0 = ms.solve(disc, 25).eigenvalues
    lam = ms.solve(disc, 25, warp).eigenvalues
    assert np.abs(lam - lam0)[1:].max() > 1e-2 * lam0[1:].max()


@pytest.mark.parametrize("c", [0.5, 1.7])
@pytest.mark.parametrize("which", ["torus", "sphere"])
def test_uniform_scaling_divides_eigenvalues(c, which, torus_disc, sphere_disc):
    disc, warp = (torus_disc, torus_warp()) if which == "torus" else (sphere_disc, sphere_warp())
    lam = ms.solve(disc, 20, warp).eigenvalues
    lam_c = ms.solve(disc, 20, ScaledMetric(c, warp)).eigenvalues
    np.testing.assert_allclose(lam_c[1:] * c**2, lam[1:], rtol=1e-10)


def test_area_is_integral_of_sqrt_det_g(torus_disc):
    warp = torus_warp()
    # independent oracle: periodic trapezoid rule (spectrally accurate for smooth periodic integrands)
    n = 256
    x = np.arange(n) * 2 * np.pi / n
    X, Y = np.meshgrid(x, x)
    g = warp(np.column_stack([X.ravel(), Y.ravel()]))
    exact = np.sqrt(np.linalg.det(g)).sum() * (2 * np.pi / n) ** 2
    assert abs(ms.assemble(torus_disc, warp).area - exact) < 1e-6 * exact


def test_weyl_law_on_warped_torus():
    warp = ms.random_warp(12, 2, sigma=0.7, amplitude=0.8, period=(2 * np.pi,) * 2, seed=7)
    spec = ms.solve(ms.discretize(ms.FlatTorus(), 40, 2), 300, warp)
    lam = spec.eigenvalues
    k = np.arange(1, len(lam) + 1)
    ratio = k / (spec.area * lam / (4 * np.pi))
    # Weyl: N(λ)/(Aλ/4π) → 1; the remainder on a closed surface is O(√λ), i.e. O(k^-1/2) relative
    top, mid = abs(ratio[250:].mean() - 1), abs(ratio[40:60].mean() - 1)
    assert top < 0.03
    assert top < mid + 0.01
    assert spec.area > 1.02 * 4 * np.pi**2  # the warp really changed the area


def test_random_warp_places_centres_on_the_manifold():
    box = ms.random_warp(50, 2, box=(2.0, 0.5), seed=1)
    assert np.all(box.mu >= 0) and np.all(box.mu <= [2.0, 0.5]) and box.period is None
    pts = np.random.default_rng(0).normal(size=(30, 3))
    onmesh = ms.random_warp(20, 3, points=pts, seed=2)
    assert all(np.any(np.all(pts == m, axis=1)) for m in onmesh.mu)
    sph = ms.random_warp(20, 3, center_radius=2.5, seed=3)
    np.testing.assert_allclose(np.linalg.norm(sph.mu, axis=1), 2.5)
    with pytest.raises(ms.ManifoldSpecError, match="points"):
        ms.random_warp(3, 3, points=np.zeros((4, 2)))
