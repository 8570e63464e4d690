"""(Near-)degenerate clusters of a base spectrum, for degenerate-safe perturbation theory.

Why clusters: first-order perturbation theory divides by gaps λ_k − λ_m. Inside a
degenerate eigenspace (torus shells of 4 or 8 modes, sphere multiplets of 2l+1) the gap
is zero, and on a mesh the discretization splits a multiplet by a tiny amount (1e-4
relative on a level-3 icosphere, THEOREMS.md §3 item 8), which is just as bad. The
perturbation engine therefore never divides by a gap *inside* a cluster: it diagonalizes
the perturbation there (quasi-degenerate / effective-Hamiltonian form), and divides only
by gaps *between* clusters, which are at least ``rtol · |λ|`` by construction.

Tolerance (documented default ``CLUSTER_RTOL = 1e-2``)
    Consecutive ascending eigenvalues λ_i ≤ λ_{i+1} are in one cluster when

        λ_{i+1} − λ_i ≤ rtol · max(|λ_i|, |λ_{i+1}|) + atol,

    with ``atol = rtol · 1e-8 · max|λ|`` by default (so a zero eigenvalue next to a
    rounding-level one is grouped). Because the in-cluster treatment is exact for any
    grouping (a Hermitian block is diagonalized), a larger ``rtol`` only costs time; a
    smaller one is unsafe when the perturbation ‖εH‖ is comparable to a split gap.
    Rule of thumb: discretization splitting ≪ rtol·λ ≪ the true spectral gap, and
    ‖εH‖ ≪ the gaps between clusters (the perturbation series needs that anyway).
"""
from __future__ import annotations

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array

CLUSTER_RTOL = 1e-2


def cluster_indices(lam, rtol: float = CLUSTER_RTOL, atol: float | None = None) -> list[np.ndarray]:
    """Group ascending eigenvalues into (near-)degenerate clusters.

    Parameters
    ----------
    lam : array (K,)
        Base eigenvalues λ0, ascending (1/length²).
    rtol : float
        Relative gap tolerance (see module docstring), ≥ 0.
    atol : float, optional
        Absolute gap tolerance; default ``rtol · 1e-8 · max|λ|``.

    Returns
    -------
    list of int arrays
        Consecutive index ranges, covering 0..K−1 in order.
    """
    lam = as_finite_array(lam, "lam0 (base eigenvalues)", ndim=1)
    if not (np.isfinite(rtol) and rtol >= 0):
        raise ManifoldSpecError(f"rtol (cluster tolerance): must be a finite number ≥ 0, got {rtol}")
    if lam.size == 0:
        return []
    if np.any(np.diff(lam) < -1e-12 * max(1.0, float(np.abs(lam).max()))):
        raise ManifoldSpecError("lam0 (base eigenvalues): must be sorted ascending")
    if atol is None:
        atol = rtol * 1e-8 * float(np.abs(lam).max())
    tol = rtol * np.maximum(np.abs(lam[:-1]), np.abs(lam[1:])) + atol
    breaks = np.nonzero(np.diff(lam) > tol)[0] + 1
    return np.split(np.arange(len(lam)), breaks)


def cluster_labels(clusters: list[np.ndarray], k: int) -> np.ndarray:
    """Cluster id of every index, shape (k,)."""
    lab = np.empty(k, dtype=np.int64)
    for c, idx in enumerate(clusters):
        lab[idx] = c
    return lab


def complete_clusters(lam, k: int, rtol: float = CLUSTER_RTOL) -> int:
    """Smallest k' ≥ k such that the first k' eigenvalues do not cut a cluster of ``lam``.

    A cluster that reaches the end of ``lam`` may continue beyond it: pass a base set
    larger than the k you need.
    """
    for idx in cluster_indices(lam, rtol):
        if idx[-1] >= k - 1:
            return int(idx[-1] + 1)
    return len(lam)
