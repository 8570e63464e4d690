"""Laplace–Beltrami spectra of the evolving mesh metric.

Two discretizations (docs/ricci_flow.md discusses which one a test can trust):

* :func:`intrinsic_p1_operators` — P1 stiffness (cotan) and consistent mass computed from
  the current edge lengths alone: the spectrum of the piecewise-flat surface the flow
  actually evolves. O(h²) accurate (≈ 2e-3 at l ≈ 4 on 10k vertices).
* :func:`sphere_p2_conformal_operators` — for flows that start from an icosphere: P2 on the
  exact round sphere with the metric e^{2w} g_round, w = u(t) − u(0) interpolated linearly
  on each triangle. In 2D √g g⁻¹ is conformally invariant, so the stiffness is the round
  one (the lead's ``assemble``) and only the mass carries e^{2w}.

Eigenpairs come from :func:`manifoldspec.spectral.solve_operators` (M-orthonormal).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError
from .mesh_curvature import cotan_laplacian, cotangents, p1_mass, triangle_areas


def intrinsic_p1_operators(triangles: np.ndarray, L: np.ndarray, n_vertices: int):
    """(K, M) csr (V, V) of P1 elements on the piecewise-flat metric with side lengths L (F, 3)."""
    area = triangle_areas(L)
    K = cotan_laplacian(triangles, cotangents(L, area), n_vertices)
    return K, p1_mass(triangles, area, n_vertices)


def intrinsic_spectrum(triangles, L, n_vertices: int, k: int):
    """Smallest k eigenvalues (k,) and M-orthonormal eigenvectors (V, k) of the intrinsic P1 problem."""
    from ..spectral import solve_operators

    K, M = intrinsic_p1_operators(triangles, L, n_vertices)
    return solve_operators(K, M, k)


def sphere_p2_conformal_operators(disc, w_vertex: np.ndarray, *, K0=None):
    """(K, M) of P2 on the exact sphere for g = e^{2w} g_round, w given at the icosphere vertices.

    Parameters
    ----------
    disc : Discretization
        ``discretize(Sphere(r), level, order=2)``.
    w_vertex : ndarray (V,)
        Log scale factor at the P1 vertices (interpolated linearly in each element).
    K0 : sparse matrix, optional
        The round P2 stiffness, reused across times (conformally invariant in 2D).
    """
    from ..spectral import assemble
    from ..spectral.surface_fem import weighted_mass

    if disc.order != 2 or not disc.exact_sphere:
        raise ManifoldSpecError("disc: expected an order-2 discretization of a Sphere (exact geometry)")
    w_vertex = np.asarray(w_vertex, dtype=float)
    if w_vertex.shape != (len(disc.vertices),):
        raise ManifoldSpecError(f"w_vertex: expected shape ({len(disc.vertices)},), got {w_vertex.shape}")
    # e^{2w} at the quadrature points, w interpolated linearly from the vertices of each triangle
    M = weighted_mass(disc, lambda N1: np.exp(2 * (w_vertex[disc.triangles] @ N1.T)))
    if K0 is None:
        K0 = assemble(disc).K
    return sp.csr_matrix(K0), M
