"""Analytic Laplace–Beltrami spectra (eigenvalues of −Δ, with multiplicity).

These are the test oracles of DESIGN.md §4: flat torus (circle, 2- and 3-torus), box
(interval, rectangle, box; Neumann/Dirichlet), round sphere. :func:`p1_circle_eigenvalues` and
:func:`fd_torus_eigenvalues` are exact spectra of *discrete* operators (THEOREMS §5.4): what the
P1 finite-element matrices on a uniform circle mesh, or the 5-point stencil on a uniform torus
grid, give to rounding, so a test of the assembly needs no convergence study.
"""
from __future__ import annotations

import itertools

import numpy as np

from .._checks import ManifoldSpecError, positive_int, positive_scalar
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


def riemannian_length(manifold, metric) -> float:
    """Length ∫₀^L √g(x) dx of a circle or interval (a 1-D FlatTorus or Box) under ``metric``.

    Parameters
    ----------
    manifold : FlatTorus or Box with one side length L
    metric : callable, points (P, 1) -> (P, 1, 1) SPD

    Returns
    -------
    float
        By adaptive quadrature (scipy.integrate.quad) to about 1e-13 relative.
    """
    from scipy.integrate import quad

    from .metric import as_metric

    if not isinstance(manifold, (FlatTorus, Box)) or manifold.dim != 1:
        raise ManifoldSpecError(f"manifold: expected a circle or interval (one side length), got {manifold!r}")
    g = as_metric(metric)

    def speed(x):
        gx = float(g(np.array([[x]]))[0, 0, 0])
        if not gx > 0:
            raise ManifoldSpecError(f"metric: must be positive, got g = {gx} at x = {x}")
        return np.sqrt(gx)

    val, _ = quad(speed, 0.0, manifold.lengths[0], limit=1000, epsabs=0.0, epsrel=1e-13)
    return float(val)


def exact_eigenvalues(manifold, k: int, metric=None) -> np.ndarray:
    """First ``k`` exact eigenvalues of −Δ_g, ascending, repeated by multiplicity.

    Parameters
    ----------
    manifold : FlatTorus, Box or Sphere
    k : int
        Number of eigenvalues.
    metric : callable, optional
        Only for a circle or interval (1-D FlatTorus/Box), where every metric is isometric to the
        flat one of the same Riemannian length L_g (:func:`riemannian_length`): the spectrum is
        (2πm/L_g)² on the circle, (πm/L_g)² on the interval. Other manifolds: unwarped only.

    Returns
    -------
    ndarray, shape (k,)
        In units of 1/length².
    """
    k = positive_int(k, "k")
    if metric is not None:
        if not isinstance(manifold, (FlatTorus, Box)) or manifold.dim != 1:
            raise ManifoldSpecError("metric: exact spectra of a warped metric are known only in 1-D (circle, "
                                    f"interval), got {type(manifold).__name__} of dimension {manifold.dim}")
        Lg = riemannian_length(manifold, metric)
        manifold = FlatTorus((Lg,)) if isinstance(manifold, FlatTorus) else Box((Lg,), manifold.bc)
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


def p1_circle_eigenvalues(n_elements: int, k: int, *, length: float = 2 * np.pi, mass: str = "consistent") -> np.ndarray:
    """Exact eigenvalues of the P1 pencil (K, M) on a uniform periodic mesh of a circle.

    With h = L/N and κ = 2πm/L the discrete Fourier modes are eigenvectors, and
    consistent mass: λ = (6/h²)(1 − cos κh)/(2 + cos κh) = κ² + κ⁴h²/12 + … (≥ κ²);
    lumped mass:     λ = (4/h²) sin²(κh/2) (≤ κ²).

    Parameters
    ----------
    n_elements : int
        N, elements (= nodes) on the circle.
    k : int
        Number of eigenvalues, at most N.
    length : float
        Circumference L.
    mass : {"consistent", "lumped"}

    Returns
    -------
    ndarray, shape (k,)
        Ascending, each nonzero value twice (once at m = N/2 for even N), in 1/length².
    """
    n, k = positive_int(n_elements, "n_elements"), positive_int(k, "k")
    if k > n:
        raise ManifoldSpecError(f"k: an {n}-element periodic mesh has {n} eigenvalues, got k={k}")
    h = positive_scalar(length, "length") / n
    j = np.arange(n)
    th = np.sort(2 * np.pi * np.minimum(j, n - j) / n)[:k]  # κh for the grid's wavenumbers 0, ±1, ±2, …
    if mass == "consistent":
        return np.sort(6 / h**2 * (1 - np.cos(th)) / (2 + np.cos(th)))
    if mass == "lumped":
        return np.sort(4 / h**2 * np.sin(th / 2) ** 2)
    raise ManifoldSpecError(f"mass: expected 'consistent' or 'lumped', got {mass!r}")


def fd_torus_eigenvalues(lengths, n: int, k: int) -> np.ndarray:
    """Exact eigenvalues of the 5-point (7-point in 3D) finite-difference Laplacian on a uniform periodic grid.

    Σ_j (4/h_j²) sin²(m_j h_j / 2) over the grid's wavenumbers, h_j = L_j/n. On the right-triangle
    torus mesh of :func:`~manifoldspec.spectral.discretize` in 2D this is P1 with lumped mass.

    Parameters
    ----------
    lengths : sequence of float
        Side lengths L_j.
    n : int
        Grid intervals per side.
    k : int
        Number of eigenvalues, at most n^dim.

    Returns
    -------
    ndarray, shape (k,)
    """
    lengths = [positive_scalar(L, f"lengths[{i}]") for i, L in enumerate(lengths)]
    n = positive_int(n, "n")
    k = positive_int(k, "k")
    if k > n ** len(lengths):
        raise ManifoldSpecError(f"k: a grid of {n}^{len(lengths)} points has {n ** len(lengths)} eigenvalues, got k={k}")
    per_axis = [4 * (n / L) ** 2 * np.sin(np.pi * np.arange(n) / n) ** 2 for L in lengths]
    total = per_axis[0]
    for lam in per_axis[1:]:
        total = (total[:, None] + lam[None, :]).ravel()
    return np.sort(total)[:k]


def weyl_count(area: float, lam) -> np.ndarray:
    """Weyl's law in 2D, N(λ) ≈ Area·λ/(4π)."""
    return area * np.asarray(lam, dtype=float) / (4 * np.pi)
