"""The bordered (Nelson-type) eigenpair derivative against the full modal formula and finite differences."""
import numpy as np
import pytest
import scipy.linalg as sla

import manifoldspec as ms
from manifoldspec import ManifoldSpecError
from manifoldspec.spectral.eigen_derivative import eigenpair_derivative


def _pencil(rng, n):
    A = rng.normal(size=(n, n))
    B = rng.normal(size=(n, n))
    K0 = A @ A.T
    M0 = B @ B.T + n * np.eye(n)
    S1, S2 = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    return K0, M0, S1 + S1.T, 0.1 * (S2 + S2.T)


def test_matches_the_full_modal_formula(rng):
    # with all n modes the modal sum is exact: λ' = xᵀ(K1 − λM1)x, x' = Σ_{j≠i} x_j (x_jᵀ(K1 − λM1)x)/(λ − λ_j)
    # − ½(xᵀM1x) x (THEOREMS.md §3 item 5 quotes agreement to 2e-14)
    n = 30
    K0, M0, K1, M1 = _pencil(rng, n)
    lam, X = sla.eigh(K0, M0)
    for i in (0, 7, n - 1):
        x = X[:, i]
        r = (K1 - lam[i] * M1) @ x
        dlam_modal = x @ r
        dx_modal = sum(X[:, j] * (X[:, j] @ r) / (lam[i] - lam[j]) for j in range(n) if j != i) - 0.5 * (x @ M1 @ x) * x
        dlam, dx = eigenpair_derivative(K0, M0, lam[i], x, K1, M1)
        assert abs(dlam - dlam_modal) <= 1e-11 * max(1.0, abs(dlam_modal))
        assert np.abs(dx - dx_modal).max() <= 1e-9 * np.abs(dx_modal).max()
        assert abs(dx @ M0 @ x + 0.5 * x @ M1 @ x) <= 1e-10  # normalization kept to first order


def test_matches_central_differences_of_a_resolve(rng):
    n = 25
    K0, M0, K1, M1 = _pencil(rng, n)
    lam, X = sla.eigh(K0, M0)
    i, h = 4, 1e-5
    dlam, dx = eigenpair_derivative(K0, M0, lam[i], X[:, i], K1, M1)

    def pair(e):
        l, V = sla.eigh(K0 + e * K1, M0 + e * M1)
        v = V[:, i]
        return l[i], v * np.sign(v @ M0 @ X[:, i])  # same sign as the base eigenvector

    (lp, vp), (lm, vm) = pair(h), pair(-h)
    assert abs((lp - lm) / (2 * h) - dlam) <= 1e-7 * max(1.0, abs(dlam))
    assert np.abs((vp - vm) / (2 * h) - dx).max() <= 1e-6 * np.abs(dx).max()


def test_needs_no_other_modes_unlike_a_truncated_modal_sum():
    # a warped torus FE pencil (100 dofs, base already warped so λ₁ is simple); a second token's bump is
    # turned on with ε. Measured against central differences of dense re-solves: bordered 1.1e-8 (the FD
    # error), modal sum over the 20 lowest modes 2.3e-2, over 40 modes 3.8e-3
    from manifoldspec.geometry.metric import SumMetric

    torus = ms.FlatTorus((2 * np.pi, 2 * np.pi))
    disc = ms.discretize(torus, 10, 1)
    base = ms.random_warp(4, 2, sigma=0.8, amplitude=0.8, period=torus.lengths, seed=1)
    pert = ms.TokenWarp([0.6], [[2.0, 3.0]], [[1.0, 0.5]], 0.7, period=torus.lengths)
    ops = lambda e: ms.assemble(disc, SumMetric(base, pert.scaled(e).perturbation))  # noqa: E731
    h = 1e-4
    op0, opp, opm = ops(0.0), ops(h), ops(-h)
    K1, M1 = (opp.K - opm.K) / (2 * h), (opp.M - opm.M) / (2 * h)  # exact up to O(h²)
    lam, X = sla.eigh(op0.K.toarray(), op0.M.toarray())
    i = 1
    assert min(lam[i] - lam[i - 1], lam[i + 1] - lam[i]) > 1e-2 * lam[i]  # simple, well separated
    dlam, dx = eigenpair_derivative(op0.K, op0.M, lam[i], X[:, i], K1, M1)
    (l2, V2), (l3, V3) = sla.eigh(opp.K.toarray(), opp.M.toarray()), sla.eigh(opm.K.toarray(), opm.M.toarray())
    s2, s3 = np.sign(V2[:, i] @ op0.M @ X[:, i]), np.sign(V3[:, i] @ op0.M @ X[:, i])
    fd = (s2 * V2[:, i] - s3 * V3[:, i]) / (2 * h)
    r = (K1 - lam[i] * M1) @ X[:, i]
    trunc = sum(X[:, j] * (X[:, j] @ r) / (lam[i] - lam[j]) for j in range(20) if j != i) \
        - 0.5 * (X[:, i] @ M1 @ X[:, i]) * X[:, i]
    assert np.abs(dx - fd).max() <= 1e-6 * np.abs(fd).max()
    assert np.abs(trunc - fd).max() > 1e-2 * np.abs(fd).max()
    assert abs((l2[i] - l3[i]) / (2 * h) - dlam) <= 1e-8 * max(1.0, abs(dlam))


def test_degenerate_and_bad_input_are_refused(rng):
    n = 6
    K0 = np.diag([1.0, 2.0, 2.0, 3.0, 4.0, 5.0])
    M0 = np.eye(n)
    K1 = np.diag(rng.normal(size=n))
    x = np.eye(n)[1]
    with pytest.raises(ManifoldSpecError, match="lam"):
        eigenpair_derivative(K0, M0, 2.0, x, K1, 0 * K1)  # λ = 2 is double: the bordered system is singular
    with pytest.raises(ManifoldSpecError, match="gap"):
        eigenpair_derivative(K0, M0, 2.0, x, K1, 0 * K1, gap=0.0)
    with pytest.raises(ManifoldSpecError, match="M0-normalized"):
        eigenpair_derivative(K0, M0, 1.0, 2 * np.eye(n)[0], K1, 0 * K1)
    with pytest.raises(ManifoldSpecError, match="not an eigenpair"):
        eigenpair_derivative(K0, M0, 1.5, np.eye(n)[0], K1, 0 * K1)
    with pytest.raises(ManifoldSpecError, match="K1"):
        eigenpair_derivative(K0, M0, 1.0, np.eye(n)[0], np.ones((3, 3)), 0 * K0)
    with pytest.raises(ManifoldSpecError, match="x"):
        eigenpair_derivative(K0, M0, 1.0, [np.nan] * n, K1, 0 * K1)
