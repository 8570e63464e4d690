"""Mode-space perturbation algebra (eq. 7) on random pencils with exact degeneracies.

Oracle: the Rayleigh–Ritz solution of (Λ0 + δK̃) c = λ (I + δM̃) c, which is exact in the
subspace (dense generalized eigh); the perturbative forms must converge to it at the
orders of THEOREMS.md §3 (class C: error ratio over a decade of ε).
"""
import numpy as np
import pytest
import scipy.linalg as sla

from manifoldspec import ManifoldSpecError
from manifoldspec.spectral.clusters import cluster_indices, complete_clusters
from manifoldspec.spectral.perturb import (divided_differences, first_order, first_order_eigenvalues,
                                           first_order_eigenvectors, heat_filter, ritz, ritz_lowdin,
                                           second_order_eigenvalues, spectral_function, symmetric_first_order)

# exact multiplicities 1, 3, 2, 4, 1, 1, 3 (K = 15, awkward)
LAM0 = np.array([0.0, 1, 1, 1, 2, 2, 4, 4, 4, 4, 5, 7, 9, 9, 9])
EPS = (2e-2, 6.3e-3, 2e-3)


def _pencil(rng, complex_):
    K = len(LAM0)

    def herm():
        A = rng.normal(size=(K, K)) + (1j * rng.normal(size=(K, K)) if complex_ else 0)
        return A + A.conj().T

    K1, M1, K2, M2 = herm(), 0.3 * herm(), herm(), 0.3 * herm()
    # a full (nonlinear) change: first- plus second-order parts in ε
    return lambda eps: (eps * K1 + eps**2 * K2, eps * M1 + eps**2 * M2)


def _order(eps, err):
    return np.polyfit(np.log(eps), np.log(err), 1)[0]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_eigenvalue_orders_against_ritz(rng, complex_):
    pert = _pencil(rng, complex_)
    e1, e2 = [], []
    for eps in EPS:
        dK, dM = pert(eps)
        lr = ritz(LAM0, dK, dM)[0]
        e1.append(np.abs(first_order_eigenvalues(LAM0, dK, dM) - lr).max())
        e2.append(np.abs(second_order_eigenvalues(LAM0, dK, dM) - lr).max())
    assert 1.8 <= _order(EPS, e1) <= 2.2
    assert 2.7 <= _order(EPS, e2) <= 3.3
    assert e2[-1] < 1e-2 * e1[-1]


def test_first_order_degenerate_block_equals_design_formula(rng):
    # exact degeneracy: Λ_C + H_CC = λ_C + (δK̃ − λ_C δM̃)_CC (DESIGN.md §5)
    dK, dM = _pencil(rng, True)(1e-2)
    fo = first_order(LAM0, dK, dM)
    for idx in fo.clusters:
        lc = LAM0[idx[0]]
        w = sla.eigvalsh(dK[np.ix_(idx, idx)] - lc * dM[np.ix_(idx, idx)])
        np.testing.assert_allclose(fo.eigenvalues[idx], lc + w, atol=1e-13)
    assert [len(c) for c in fo.clusters] == [1, 3, 2, 4, 1, 1, 3]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_eigenvectors_second_order_in_m_norm(rng, complex_):
    """Eq. (7) vs the exact subspace eigenvectors: cluster projectors and M-normalization O(ε²)."""
    pert = _pencil(rng, complex_)
    span_err, gram_err, gram_err_noself, single_err = [], [], [], []
    cl = cluster_indices(LAM0)
    for eps in EPS:
        dK, dM = pert(eps)
        B = np.eye(len(LAM0)) + dM
        _, X = ritz(LAM0, dK, dM)  # exact, Xᴴ B X = I
        _, Y = first_order_eigenvectors(LAM0, dK, dM)
        _, Y0 = first_order_eigenvectors(LAM0, dK, dM, self_term=False)
        worst = 0.0
        for idx in cl:
            P = X[:, idx] @ X[:, idx].conj().T @ B  # B-orthogonal projector on the exact cluster span
            R = Y[:, idx] - P @ Y[:, idx]
            worst = max(worst, np.sqrt(np.abs(np.einsum("ik,ij,jk->k", R.conj(), B, R)).max()))
        span_err.append(worst)
        gram_err.append(np.abs(Y.conj().T @ B @ Y - np.eye(len(LAM0))).max())
        gram_err_noself.append(np.abs(Y0.conj().T @ B @ Y0 - np.eye(len(LAM0))).max())
        # simple eigenvalues: the vectors themselves (phase aligned)
        s = [c[0] for c in cl if len(c) == 1]
        ph = np.sum(X[:, s].conj() * (B @ Y[:, s]), axis=0)
        d = Y[:, s] - X[:, s] * (ph / np.abs(ph))
        single_err.append(np.sqrt(np.abs(np.einsum("ik,ij,jk->k", d.conj(), B, d)).max()))
    assert 1.8 <= _order(EPS, span_err) <= 2.2
    assert 1.8 <= _order(EPS, gram_err) <= 2.2
    assert 1.8 <= _order(EPS, single_err) <= 2.2
    # without the −½δM̃ self-term the normalization error is only O(ε) (THEOREMS.md PT-2)
    assert 0.8 <= _order(EPS, gram_err_noself) <= 1.2


def _naive_first_order_vectors(lam0, dK, dM):
    """Textbook non-degenerate eq. (7), no cluster guard — documents the failure."""
    G = dK - lam0[None, :] * dM
    gap = lam0[None, :] - lam0[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        A = G / gap
    np.fill_diagonal(A, -0.5 * np.diag(dM))
    return np.eye(len(lam0)) + A


def test_plain_nondegenerate_formula_fails_on_degenerate_cluster(rng):
    dK, dM = _pencil(rng, False)(1e-3)
    Y = _naive_first_order_vectors(LAM0, dK, dM)
    assert not np.all(np.isfinite(Y))  # division by the zero gap inside a cluster
    # a near-degenerate (mesh-split) cluster gives finite but useless numbers: O(ε/δ) ≫ 1
    lam_split = LAM0 + np.r_[0, 0, 1e-9, 2e-9, np.zeros(11)]
    Ys = _naive_first_order_vectors(lam_split, dK, dM)
    assert np.abs(Ys - np.eye(len(LAM0))).max() > 1e3
    # the cluster-safe form is finite and M-orthonormal to O(ε²) for both
    B = np.eye(len(LAM0)) + dM
    for lam in (LAM0, lam_split):
        _, Yc = first_order_eigenvectors(lam, dK, dM)
        assert np.all(np.isfinite(Yc))
        assert np.abs(Yc.conj().T @ B @ Yc - np.eye(len(LAM0))).max() < 1e-4


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_spectral_function_form_second_order(rng, complex_):
    f, fp = heat_filter(0.3)
    pert = _pencil(rng, complex_)
    err = []
    for eps in EPS:
        dK, dM = pert(eps)
        A = ritz_lowdin(LAM0, dK, dM)
        w, V = sla.eigh(A)
        exact = (V * f(w)) @ V.conj().T
        # the same from the generalized Ritz decomposition: S f(Λ) Sᴴ, S = B^{1/2} C
        lr, C = ritz(LAM0, dK, dM)
        S = sla.sqrtm(np.eye(len(LAM0)) + dM) @ C
        np.testing.assert_allclose((S * f(lr)) @ S.conj().T, exact, atol=1e-10)
        err.append(np.abs(spectral_function(LAM0, dK, dM, f, fp) - exact).max())
    assert 1.8 <= _order(EPS, err) <= 2.2


def test_spectral_function_finite_and_smooth_through_degeneracy():
    f, fp = heat_filter(0.7)
    rng = np.random.default_rng(7)
    H = rng.normal(size=(5, 5))
    dK, dM = 1e-2 * (H + H.T), np.zeros((5, 5))
    out = {}
    for delta in (1e-2, 1e-3, 1e-5, 1e-7, 1e-9, 0.0):
        lam = np.array([0.0, 1.0, 1.0 + delta, 3.0, 3.0])
        out[delta] = spectral_function(lam, dK, dM, f, fp)
        assert np.all(np.isfinite(out[delta]))
    # Lipschitz in the gap: |F(δ) − F(0)| = O(δ), through the tie threshold
    for delta in (1e-2, 1e-3, 1e-5, 1e-7, 1e-9):
        assert np.abs(out[delta] - out[0.0]).max() <= 2.0 * delta
    F = divided_differences(np.array([1.0, 1.0]), f, fp)
    np.testing.assert_allclose(F, fp(1.0) * np.ones((2, 2)), rtol=1e-14)


def test_symmetric_first_order_is_lowdin_expansion(rng):
    pert = _pencil(rng, True)
    rem = []
    for eps in (1e-3, 1e-4):
        dK, dM = pert(eps)
        H = symmetric_first_order(LAM0, dK, dM)
        np.testing.assert_allclose(H, H.conj().T, atol=0)
        rem.append(np.abs(ritz_lowdin(LAM0, dK, dM) - np.diag(LAM0) - H).max())
    assert 70 <= rem[0] / rem[1] <= 130  # O(ε²) remainder (class C)


def test_clusters_tolerance_and_completion():
    lam = np.array([0.0, 1e-15, 1.0, 1.0 + 1e-4, 1.5, 2.0, 2.0])
    cl = cluster_indices(lam, rtol=1e-2)
    assert [list(c) for c in cl] == [[0, 1], [2, 3], [4], [5, 6]]
    assert [len(c) for c in cluster_indices(lam, rtol=1e-6)] == [2, 1, 1, 1, 2]
    assert complete_clusters(lam, 3) == 4 and complete_clusters(lam, 5) == 5


def test_bad_input_raises_clear_errors():
    lam = np.array([0.0, 1.0, 2.0])
    Z = np.zeros((3, 3))
    with pytest.raises(ManifoldSpecError, match="dK"):
        first_order_eigenvalues(lam, np.ones((2, 2)), Z)
    with pytest.raises(ManifoldSpecError, match="Hermitian"):
        first_order_eigenvalues(lam, np.triu(np.ones((3, 3))), Z)
    with pytest.raises(ManifoldSpecError, match="NaN"):
        ritz(lam, Z, np.full((3, 3), np.nan))
    with pytest.raises(ManifoldSpecError, match="ascending"):
        cluster_indices([2.0, 1.0])
    with pytest.raises(ManifoldSpecError, match="positive definite"):
        ritz(lam, Z, -2 * np.eye(3))
