"""Analytic Laplace–Beltrami spectra (eigenvalues of −Δ, with multiplicity).

These are the test oracles of DESIGN.md §4: flat torus, box (Neumann/Dirichlet),
round sphere.
"""
from __future__ import annotations

import itertools

import numpy as np

from .._checks import ManifoldSpecError, positive_int
from .manifolds import Box, FlatTorus, Sphere


def _lattice_eigenvalues(lengths, k: int, start: int) -> np.ndarray:
    """Smallest k values of Σ_j (c π m_j / L_j)² over m_j ≥ start (c = 1) or m ∈ Z^n (c = 2)."""
    lengths = np.asarray(lengths, dtype=float)
    n = len(lengths)
    r = 4
    while True:
        rng = range(-r, r + 1) if start < 0 else range(start, r + 1)
        m = np.array(list(itertools.product(rng, repeat=n)), dtype=float)
        scale = (2 * np.pi if start < 0 else np.pi) / lengths
        lam = np.sort(np.sum((m * scale) ** 2, axis=1))
        # every value below the smallest one just outside the enumerated cube is complete
        bound = (min(scale) * (r + 1)) ** 2
        complete = lam[lam < bound]
        if len(complete) >= k:
            return complete[:k]
        r *= 2


def exact_eigenvalues(manifold, k: int) -> np.ndarray:
    """First ``k`` exact eigenvalues of −Δ on an unwarped manifold, ascending, repeated by multiplicity.

    Parameters
    ----------
    manifold : FlatTorus, Box or Sphere
    k : int
        Number of eigenvalues.

    Returns
    -------
    ndarray, shape (k,)
        In units of 1/length².
    """
    k = positive_int(k, "k")
    if isinstance(manifold, FlatTorus):
        return _lattice_eigenvalues(manifold.lengths, k, start=-1)
    if isinstance(manifold, Box):
        return _lattice_eigenvalues(manifold.lengths, k, start=0 if manifold.bc == "neumann" else 1)
    if isinstance(manifold, Sphere):
        lam = []
        l = 0
        while len(lam) < k:
            lam += [l * (l + 1) / manifold.radius**2] * (2 * l + 1)
            l += 1
        return np.array(lam[:k])
    raise ManifoldSpecError(f"manifold: no analytic spectrum is known for {type(manifold).__name__}")


def weyl_count(area: float, lam) -> np.ndarray:
    """Weyl's law in 2D, N(λ) ≈ Area·λ/(4π)."""
    return area * np.asarray(lam, dtype=float) / (4 * np.pi)
