"""Matrix elements H_mk from every base: torus closed form, torus/sphere quadrature, finite elements.

Oracles: the periodic trapezoid rule (spectrally accurate) with analytic modes; the closed-form
degenerate slopes of THEOREMS.md §3 (PT-3 sphere, PT-4 torus quartet) and their
non-perturbative reference values; spherical-harmonic orthonormality.
"""
import numpy as np
import pytest

from manifoldspec import CallableMetric, ConformalMetric, FlatTorus, ManifoldSpecError, TokenWarp, discretize, solve
from manifoldspec.geometry.warp import random_warp
from manifoldspec.spectral.clusters import cluster_indices
from manifoldspec.spectral.matrix_elements import (fe_elements, sparsify, sphere_elements, torus_elements,
                                                   torus_quadrature_elements)
from manifoldspec.spectral.perturb import first_order, ritz
from manifoldspec.spectral.sphere_modes import real_sph_harm, sphere_modes, sphere_quadrature
from manifoldspec.spectral.torus_modes import torus_matrix_elements, torus_modes

TAU = 2 * np.pi


@pytest.mark.parametrize("n, lengths, k, n_quad", [(2, (TAU, 5.0), 19, 64), (3, (TAU, TAU, 7.0), 27, 40)],
                         ids=["n2", "n3"])
def test_closed_form_matches_quadrature(n, lengths, k, n_quad):
    warp = random_warp(5, n, sigma=0.6, amplitude=0.4, period=lengths, seed=11)
    modes = torus_modes(lengths, k)
    closed = torus_elements(modes, lengths, warp, drop_tol=0.0).dense()
    quad = torus_quadrature_elements(modes, lengths, warp, n_quad=n_quad, linearized=True).dense()
    for a, b in zip(closed, quad):
        assert np.abs(a - b).max() / np.abs(a).max() < 1e-8
        np.testing.assert_allclose(a, a.conj().T, atol=1e-15)
    # the sparse pattern path equals the dense closed form of torus_modes
    dK, dM = torus_matrix_elements(modes, lengths, warp.alpha, warp.mu, warp.v, warp.sigma)
    np.testing.assert_allclose(closed[0], dK, atol=1e-14)
    np.testing.assert_allclose(closed[1], dM, atol=1e-14)


def test_torus_quartet_slopes_closed_form():
    """THEOREMS.md PT-4: the λ = 1 quartet of g = I + αG e_xe_xᵀ, s = ½."""
    s = 0.5
    warp = TokenWarp([1.0], [[np.pi, np.pi]], [[1.0, 0.0]], s, (TAU, TAU))
    me = torus_elements(torus_modes((TAU, TAU), 5), (TAU, TAU), warp)
    fo = first_order(me.eigenvalues, *me.dense())
    c = s**2 / (2 * np.pi)
    want = [-c * (1 + np.exp(-2 * s**2)), -c, 0.0, c * np.exp(-2 * s**2)]
    np.testing.assert_allclose(fo.eigenvalues[1:5] - 1.0, want, atol=1e-13)


def test_torus_quartet_nonperturbative_reference():
    """PT-4 at α = ½ (Fourier–Galerkin reference values): exact quadrature + Ritz in 161 modes."""
    warp = TokenWarp([0.5], [[np.pi, np.pi]], [[1.0, 0.0]], 0.5, (TAU, TAU))
    modes = torus_modes((TAU, TAU), 150, whole_shells=True)
    me = torus_quadrature_elements(modes, (TAU, TAU), warp, n_quad=48)
    lam = ritz(me.eigenvalues, *me.dense())[0]
    np.testing.assert_allclose(lam[1:6], [0.969932301, 0.981571898, 0.999924247, 1.01065549, 1.95428168], atol=5e-8)


def test_sphere_harmonics_orthonormal():
    modes = sphere_modes(6)
    th, ph, w = sphere_quadrature(12, 25)
    Y, grad = real_sph_harm(modes, th, ph, radius=1.7)
    wa = w * 1.7**2
    np.testing.assert_allclose(Y.T @ (wa[:, None] * Y), np.eye(len(modes)), atol=1e-13)
    # Dirichlet form: ∫ ∇Y_m·∇Y_k dA = λ δ_mk with λ = l(l+1)/r²
    G = np.einsum("pma,pka,p->mk", grad, grad, wa)
    lam = modes[:, 0] * (modes[:, 0] + 1) / 1.7**2
    np.testing.assert_allclose(G, np.diag(lam), atol=1e-12)


def test_sphere_conformal_slopes_exact():
    """THEOREMS.md PT-3: g = e^{2εu} g_round, u = z² − 1/3; the linearized metric (1 + 2u) I gives
    exactly the first-order slopes dλ/dε = −2l(l+1)(2/3)(l(l+1) − 3m²)/((2l−1)(2l+3))."""
    u = lambda x: x[:, 2] ** 2 - 1 / 3  # noqa: E731
    lin = CallableMetric(lambda x: (1 + 2 * u(x))[:, None, None] * np.eye(3))
    me = sphere_elements(3, lin, linearized=True)
    dK, dM = me.dense()
    assert np.abs(dK).max() < 1e-13  # 2D conformal invariance of √|g| g⁻¹
    fo = first_order(me.eigenvalues, dK, dM)
    for idx in fo.clusters[1:]:
        l = int(round(np.sqrt(0.25 + me.eigenvalues[idx[0]]) - 0.5))
        m = np.arange(-l, l + 1)
        slope = -2 * l * (l + 1) * (2 / 3) * (l * (l + 1) - 3 * m**2) / ((2 * l - 1) * (2 * l + 3))
        np.testing.assert_allclose(fo.eigenvalues[idx] - me.eigenvalues[idx], np.sort(slope), atol=1e-12)


def test_sphere_conformal_nonperturbative_reference():
    """PT-3 at ε = 0.1: 1.89252978 / 2.05134006 (l = 1), 5.77215232 / 5.87481162 / 6.22639798 (l = 2)."""
    me = sphere_elements(12, ConformalMetric(lambda x: 0.1 * (x[:, 2] ** 2 - 1 / 3)))
    lam = ritz(me.eigenvalues, *me.dense())[0]
    np.testing.assert_allclose(lam[[1, 2, 4, 5, 7]], [1.89252978, 2.05134006, 5.77215232, 5.87481162, 6.22639798],
                               atol=2e-8)


def _block_invariants(lam_exact, dK, dM, clusters):
    """Quantities independent of the basis chosen inside each degenerate cluster."""
    out = []
    for a in clusters:
        out.append(np.linalg.eigvalsh(dK[np.ix_(a, a)] - lam_exact[a[0]] * dM[np.ix_(a, a)]))
        for b in clusters:
            out.append([np.linalg.norm(dK[np.ix_(a, b)]), np.linalg.norm(dM[np.ix_(a, b)])])
    return np.concatenate([np.ravel(o) for o in out])


def test_fe_elements_match_closed_form_on_fine_mesh():
    """FE matrix elements (P2, quadrature on the mesh) agree with the torus closed form."""
    L = (TAU, TAU)
    alpha = 1e-4  # closed form is first order in α: compare slopes
    warp = TokenWarp([alpha, alpha], [[1.0, 2.0], [4.0, 3.5]], [[1.0, 0.5], [0.2, -1.0]], 0.7, L)
    modes = torus_modes(L, 13)  # shells 0, 1, 2, 4 (1 + 4 + 4 + 4)
    lam_exact = np.sum(modes**2, axis=1).astype(float)
    cl = cluster_indices(lam_exact)
    cf = [x / alpha for x in torus_elements(modes, L, warp).dense()]
    ref = _block_invariants(lam_exact, *cf, cl)
    errs = []
    for res in (8, 16):
        base = solve(discretize(FlatTorus(L), res, 2), 13)
        fe = [x / alpha for x in fe_elements(base, warp).dense()]
        errs.append(np.abs(_block_invariants(lam_exact, *fe, cl) - ref).max() / np.abs(ref).max())
    assert errs[1] < 2e-4  # discretization (h⁴-type) plus O(α) nonlinearity
    assert errs[1] < errs[0] / 4  # and it converges with the mesh


def test_sparsify_and_drop_tolerance():
    A = np.array([[1.0, 1e-13, 0.0], [1e-13, 0.5, 2e-3], [0.0, 2e-3, 0.25]])
    S, dropped = sparsify(A, 1e-12)
    assert S.nnz == 5 and dropped == pytest.approx(1e-13)
    warp = random_warp(4, 2, sigma=1.0, period=(TAU, TAU), seed=2)
    modes = torus_modes((TAU, TAU), 41)
    full = torus_elements(modes, (TAU, TAU), warp, drop_tol=0.0)
    cut = torus_elements(modes, (TAU, TAU), warp, drop_tol=1e-3)
    assert cut.dK.nnz < full.dK.nnz
    assert np.abs(cut.dK.toarray() - full.dK.toarray()).max() <= cut.dropped


def test_matrix_element_errors():
    modes = torus_modes((TAU, TAU), 5)
    unperiodic = TokenWarp([0.1], [[1.0, 1.0]], [[1.0, 0.0]], 0.5)
    with pytest.raises(ManifoldSpecError, match="periodized"):
        torus_elements(modes, (TAU, TAU), unperiodic)
    with pytest.raises(ManifoldSpecError, match="drop_tol"):
        sparsify(np.eye(2), 2.0)
    with pytest.raises(ManifoldSpecError, match="positive definite"):
        torus_quadrature_elements(modes, (TAU, TAU), lambda x: -np.ones((len(x), 1, 1)) * np.eye(2), n_quad=8)
    base = solve(discretize(FlatTorus((TAU, TAU)), 6, 1), 5)
    with pytest.raises(ManifoldSpecError, match="metric"):
        fe_elements(base)
