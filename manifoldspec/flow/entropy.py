"""Monotone quantities of 2D Ricci flow on the conformal mesh state: Perelman's λ and Hamilton's entropy.

Both are evaluated on the piecewise-flat metric that :mod:`.mesh_flow` evolves, the background
mesh with edge lengths ℓ_ij = e^{(u_i+u_j)/2} ℓ⁰_ij (see :class:`~.mesh_flow.ConformalMesh`).
On such a surface the curvature is a measure concentrated at the vertices,

    R dA = 2 Σ_i Θ_i δ_{v_i}        (Θ_i the angle defect, R = 2K the scalar curvature),

so every integral ∫ R · (…) dA below is that sum, with no further quadrature error, and
Σ_i 2Θ_i = 4πχ exactly (discrete Gauss–Bonnet). Where a pointwise value of R is needed (inside
the logarithm of the entropy) it is the vertex value R_i = 2Θ_i / A_i, A_i the circumcentric dual
area, the same K_i = Θ_i / A_i that drives the flow.

* :func:`perelman_lambda` — λ(g) = inf { ∫(R + |∇f|²) e^{−f} dA : ∫ e^{−f} dA = 1 }, the lowest
  eigenvalue of −4Δ_g + R (substitute φ = e^{−f/2}). Non-decreasing under the unnormalized flow
  ∂g/∂t = −2Ric (Perelman), with dλ/dt ≥ λ² in 2D, and λ ≤ 4πχ/A (take f constant).
  P1 on the flowed lengths: 4·(cotan stiffness) + diag(2Θ), consistent mass. Because the
  constant function is in the P1 space and its Rayleigh quotient is Σ 2Θ_i / A = 4πχ / A exactly,
  the discrete value obeys λ_h ≤ 4πχ/A_h to rounding (min–max), like the continuum.
* :func:`hamilton_entropy` — N = ∫ R log(R (T − t)) dA, the scale-invariant form for the
  unnormalized flow on a surface with R > 0 (Hamilton 1988; Chow et al., Thm 5.38), non-increasing.
  R > 0 forces S² (Gauss–Bonnet). With the default T − t = A/8π (the extinction time of the area
  law dA/dt = −8π), N = 8π KL(p ‖ q) with p_i = Θ_i/4π and q_i = A_i/A, so N_h ≥ 0 with equality
  exactly when K_i is uniform — the round sphere — as for the continuum.

Units: u is dimensionless, lengths are those of the background mesh; λ has units 1/length², N
units of R·dA (dimensionless).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError, as_finite_array, positive_scalar
from .mesh_curvature import cotan_laplacian, p1_mass
from .mesh_flow import ConformalMesh


def _curvature_of(mesh, u) -> dict:
    """Curvature data of e^{2u} g0 (see :func:`.mesh_curvature.mesh_curvature`), arguments validated."""
    if not isinstance(mesh, ConformalMesh):
        raise ManifoldSpecError(f"mesh: expected a ConformalMesh (see conformal_mesh()), got {type(mesh).__name__}")
    return mesh.curvature(as_finite_array(u, "u", shape=(mesh.n_vertices,)))


def _perelman_matrices(mesh, c: dict):
    """(P, M) from curvature data ``c`` of the current metric; see :func:`perelman_operators`."""
    L = cotan_laplacian(mesh.triangles, c["cot"], mesh.n_vertices)
    P = 4.0 * L + sp.diags(2.0 * c["defect"])
    return P.tocsr(), p1_mass(mesh.triangles, c["tri_area"], mesh.n_vertices)


def perelman_operators(mesh, u):
    """(P, M) csr (V, V): P1 matrices of −4Δ_g + R and of the L²(dA_g) inner product.

    Parameters
    ----------
    mesh : ConformalMesh
    u : ndarray (V,)
        Log scale factors (metric e^{2u} g0).

    Returns
    -------
    P : csr_matrix (V, V)
        4·L + diag(2Θ): L the cotan stiffness of the flowed lengths (dimensionless: the Dirichlet
        energy is scale invariant in 2D) and 2Θ_i = ∫ R φ_i² dA for the vertex curvature measure.
    M : csr_matrix (V, V)
        Consistent P1 mass of the flowed triangles (length²).
    """
    c = _curvature_of(mesh, u)
    return _perelman_matrices(mesh, c)


def _lower_bound(defect: np.ndarray, M) -> float:
    """A number strictly below the lowest eigenvalue of (4L + diag 2Θ, M), for the shift.

    L ⪰ 0 gives xᵀPx ≥ Σ 2Θ_i x_i² ≥ c xᵀ M_l x with c = min 2Θ_i/(M_l)_ii, M_l the row-sum
    (lumped) mass; per triangle M_l/4 ⪯ M ⪯ M_l, so λ ≥ c (c ≥ 0) or λ ≥ 4c (c < 0).
    """
    lumped = np.asarray(M.sum(axis=1)).ravel()
    c = float(np.min(2.0 * defect / lumped))
    bound = c if c >= 0 else 4.0 * c
    return bound - 0.1 * max(abs(bound), float(np.max(2.0 * defect / lumped)), 1e-12)


def perelman_lambda(mesh, u, *, return_eigenvector: bool = False):
    """Perelman's λ of the mesh metric e^{2u} g0: the lowest eigenvalue of −4Δ_g + R.

    Parameters
    ----------
    mesh : ConformalMesh
        Closed background mesh (:func:`~manifoldspec.flow.conformal_mesh`).
    u : ndarray (V,)
        Per-vertex log scale factors, e.g. ``MeshFlowResult.u[i]``.
    return_eigenvector : bool
        Also return the minimizer φ = e^{−f/2} at the vertices, (V,), normalized to
        ∫ φ² dA = 1, with the sign that makes Σ φ_i > 0 (the continuum ground state has one sign).

    Returns
    -------
    lam : float
        λ in 1/length² (background length units). On a round sphere of radius r, λ = 2/r².
    phi : ndarray (V,), only with ``return_eigenvector``.

    Notes
    -----
    P1 elements on the piecewise-flat metric (see :func:`perelman_operators`), solved by
    :func:`manifoldspec.spectral.solve_operators` with a shift below a guaranteed lower bound,
    so that the shifted matrix is positive definite even where R < 0.
    Discretization error O(h²) (measured in docs/ricci_flow.md).
    """
    from ..spectral import solve_operators

    c = _curvature_of(mesh, u)
    P, M = _perelman_matrices(mesh, c)
    lam, phi = solve_operators(P, M, 1, sigma=_lower_bound(c["defect"], M))
    if not return_eigenvector:
        return float(lam[0])
    v = phi[:, 0]
    return float(lam[0]), v * np.sign(v.sum())


def hamilton_entropy(mesh, u, t_remaining: float | None = None) -> float:
    """Hamilton's entropy N = ∫ R log(R·(T − t)) dA of the mesh metric e^{2u} g0 (requires R > 0).

    Parameters
    ----------
    mesh : ConformalMesh
        Closed background mesh; R > 0 forces a sphere (χ = 2).
    u : ndarray (V,)
        Per-vertex log scale factors.
    t_remaining : float > 0, optional
        T − t, the time left to extinction, in length² units. Default A/(4πχ) = A/8π on S²:
        the extinction time of the exact area law dA/dt = −8π, which the mesh flow obeys at every
        resolution. This is the discrete surface's own T: an inscribed mesh has an O(h²) area
        deficit, so it dies O(h²) earlier than the continuum solution it approximates, and the
        continuum T would add 8π log(A_h/A) = O(h²) to N (0.12 on a level-3 icosphere against
        1.3e-6 with the default; docs/ricci_flow.md). Pass it to use another T.

    Returns
    -------
    N : float
        Σ_i 2Θ_i log(R_i (T − t)), R_i = 2Θ_i/A_i (dimensionless). For the default T − t this
        equals 8π·KL(Θ/4π ‖ A_i/A) ≥ 0, zero exactly for uniform curvature.

    Raises
    ------
    ManifoldSpecError
        If some vertex has Θ_i ≤ 0 (R ≤ 0: the logarithm is undefined and the monotonicity theorem
        does not apply), or t_remaining ≤ 0.
    """
    c = _curvature_of(mesh, u)
    defect = c["defect"]
    if not np.all(defect > 0):
        bad = int(np.count_nonzero(~(defect > 0)))
        raise ManifoldSpecError(f"u: Hamilton's entropy needs R > 0 everywhere, but {bad} vertex(es) have "
                                f"R ≤ 0 (min R = {2 * float(np.min(c['K'])):.3g}); it is defined for positively "
                                "curved spheres only (Chow's theorem: the flow on S² gets there in finite time)")
    if t_remaining is None:
        tau = c["area"] / (4 * np.pi * mesh.chi)  # χ > 0 here: Σ Θ_i = 2πχ with every Θ_i > 0
    else:
        tau = positive_scalar(t_remaining, "t_remaining")
    R = 2.0 * c["K"]
    return float(np.sum(2.0 * defect * np.log(R * tau)))
