"""Perturbation vs a full finite-element re-solve on the SAME discretization (torus and sphere).

Discretization error cancels, so the only error left is perturbative: O(ε²) first order,
O(ε³) second order, O(ε²) eigenvectors (cluster projectors, M-norm). Base spectra have
degenerate clusters (torus shells, split 2+2 by the mesh diagonal; sphere multiplets 2l+1,
l = 3 split 3+4 by the icosphere). Reference: dense generalized eigh of (K(g), M(g)).
"""
import numpy as np
import pytest
import scipy.linalg as sla

from manifoldspec import FlatTorus, Sphere, assemble, discretize
from manifoldspec.geometry.warp import random_warp
from manifoldspec.spectral.clusters import cluster_indices
from manifoldspec.spectral.matrix_elements import fe_elements
from manifoldspec.spectral.perturb import (first_order_eigenvalues, first_order_eigenvectors, ritz,
                                           second_order_eigenvalues)
from manifoldspec.spectral.spectrum import Spectrum

EPS = (2e-2, 6.3e-3, 2e-3)  # a decade
CASES = {
    # manifold, resolution, order, warp, number of eigenvalues compared (whole clusters)
    "torus": (FlatTorus((2 * np.pi, 2 * np.pi)), 11, 1,
              random_warp(3, 2, sigma=0.8, amplitude=1.0, period=(2 * np.pi, 2 * np.pi), seed=3), 13),
    "sphere": (Sphere(1.0), 1, 2, random_warp(3, 3, sigma=0.7, amplitude=1.0, center_radius=1.0, seed=3), 16),
}


def _dense(K, M):
    return sla.eigh(K.toarray(), M.toarray())


def _order(err):
    return np.polyfit(np.log(EPS), np.log(err), 1)[0]


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request):
    man, res, order, warp, k = CASES[request.param]
    disc = discretize(man, res, order)
    ops0 = assemble(disc)
    lam, Phi = _dense(ops0.K, ops0.M)
    base = Spectrum(lam, Phi, ops0, disc)  # complete base: every FE eigenpair
    runs = []
    for eps in EPS:
        ops = assemble(disc, warp.scaled(eps))
        runs.append((ops, _dense(ops.K, ops.M), fe_elements(base, operators=ops, drop_tol=0.0)))
    return base, k, runs


def test_base_has_degenerate_clusters(case):
    base, k, _ = case
    sizes = [len(c) for c in cluster_indices(base.eigenvalues[:k])]
    assert max(sizes) >= 4 and sum(sizes) == k


def test_first_order_eigenvalues_O_eps2_truncated_base(case):
    base, k, runs = case
    kb = 2 * k + 3  # a truncated base set, as in practice
    err, err_ritz = [], []
    for ops, (lam_ex, _), me in runs:
        dK, dM = (x[:kb, :kb] for x in me.dense())
        lam1 = first_order_eigenvalues(base.eigenvalues[:kb], dK, dM)
        err.append(np.abs(lam1[:k] - lam_ex[:k]).max())
        err_ritz.append(np.abs(ritz(base.eigenvalues[:kb], dK, dM)[0][:k] - lam_ex[:k]).max())
    assert 1.8 <= _order(err) <= 2.2
    assert 1.8 <= _order(err_ritz) <= 2.2  # truncation of the subspace: also O(ε²), smaller constant
    assert err[0] < 1e-2 * np.max(base.eigenvalues[:k])


def test_second_order_eigenvalues_O_eps3(case):
    base, k, runs = case
    err = []
    for ops, (lam_ex, _), me in runs:
        lam2 = second_order_eigenvalues(base.eigenvalues, *me.dense())
        err.append(np.abs(lam2[:k] - lam_ex[:k]).max())
    assert 2.7 <= _order(err) <= 3.3


def test_eigenvectors_O_eps2_in_M_norm(case):
    """Eq. (7): cluster projectors (M-orthogonal) and M-normalization converge at O(ε²)."""
    base, k, runs = case
    Phi0 = base.eigenvectors
    cl = cluster_indices(base.eigenvalues[:k])
    span, gram = [], []
    for ops, (lam_ex, X), me in runs:
        _, Y = first_order_eigenvectors(base.eigenvalues, *me.dense())
        V = Phi0 @ Y[:, :k]  # nodal first-order eigenvectors
        M = ops.M
        worst = 0.0
        for idx in cl:
            Xc = X[:, idx]  # exact, M-orthonormal
            R = V[:, idx] - Xc @ (Xc.T @ (M @ V[:, idx]))  # part outside the exact cluster span
            worst = max(worst, np.sqrt(np.max(np.einsum("ik,ik->k", R, M @ R))))
        span.append(worst)
        gram.append(np.abs(V.T @ (M @ V) - np.eye(k)).max())
    assert 1.8 <= _order(span) <= 2.2
    assert 1.8 <= _order(gram) <= 2.2
