"""Stiffness and mass matrices of the weak form of eq. (2) for a metric g.

    K_ij = ∫ √|g| g^{ab} ∂_a N_i ∂_b N_j dξ,   M_ij = ∫ √|g| N_i N_j dξ   (DESIGN.md §3)

so that the eigenvalues of K φ = λ M φ approximate those of −Δ_g.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError, check_spd
from ..geometry.metric import as_metric
from .discretize import Discretization
from .surface_fem import element_matrices, scatter


@dataclass(frozen=True, eq=False)
class Operators:
    """Assembled operators on the reduced degrees of freedom.

    Attributes
    ----------
    K : scipy.sparse.csr_matrix, shape (n_dofs, n_dofs)
        Stiffness (symmetric positive semi-definite).
    M : scipy.sparse.csr_matrix, shape (n_dofs, n_dofs)
        Mass (symmetric positive definite); the inner product of eigenfunctions.
    area : float
        Riemannian volume ∫ √|g| dξ of the whole manifold (boundary dofs included).
    """

    K: sp.csr_matrix
    M: sp.csr_matrix
    area: float


MASS = ("consistent", "lumped")


def assemble(disc: Discretization, metric=None, *, mass: str = "consistent") -> Operators:
    """Assemble K_g and M_g for ``metric`` on ``disc``.

    Parameters
    ----------
    disc : Discretization
    metric : None, metric object or callable
        Ambient points (P, d) -> SPD tensors (P, d, d); ``None`` is the flat /
        induced metric. Checked to be SPD at every quadrature point.
    mass : {"consistent", "lumped"}
        ``"lumped"`` replaces M by the diagonal of its row sums (each dof's share of the volume).
        Consistent mass gives upper bounds λ_h ≥ λ on exact geometry; lumping moves the low
        eigenvalues below (on the circle λ_h = (4/h²)sin²(kh/2) ≤ k², THEOREMS §5.4), and on a
        uniform right-triangle torus grid P1 + lumping is the 5-point finite-difference Laplacian.
        Row sums of P2 triangles vanish at the vertices, so lumping is refused where a row sum
        is not positive.

    Returns
    -------
    Operators
    """
    if not isinstance(disc, Discretization):
        raise ManifoldSpecError(f"disc: expected a Discretization from discretize(), got {type(disc).__name__}")
    if mass not in MASS:
        raise ManifoldSpecError(f"mass: expected one of {MASS}, got {mass!r}")
    metric = as_metric(metric)
    if disc.kind == "surface":
        Ke, Me, el = element_matrices(disc, metric)
        K = scatter(Ke, el, disc.n_dofs)
        M = scatter(Me, el, disc.n_dofs)
        area = float(Me.sum())
        ops = Operators(_symmetrize(K), _symmetrize(M), area)
    else:
        ops = _assemble_chart(disc, metric)
    return ops if mass == "consistent" else _lumped(ops, disc)


def _lumped(ops: Operators, disc: Discretization) -> Operators:
    w = np.asarray(ops.M.sum(axis=1)).ravel()
    bad = w <= 1e-10 * w.max()  # P2 vertex rows are zero up to rounding, of either sign
    if np.any(bad):
        raise ManifoldSpecError(f"mass: 'lumped' gives {int(bad.sum())} non-positive row sum(s) for "
                                f"{disc.describe()} (P2 triangles have zero vertex weights); use order=1 or "
                                "mass='consistent'")
    return Operators(ops.K, sp.diags(w).tocsr(), ops.area)


def _symmetrize(A: sp.csr_matrix) -> sp.csr_matrix:
    return ((A + A.T) * 0.5).tocsr()


def _assemble_chart(disc: Discretization, metric) -> Operators:
    from skfem import BilinearForm
    from skfem.helpers import grad

    basis = disc.basis
    x = basis.global_coordinates().value  # (d, n_el, n_q)
    d = x.shape[0]
    pts = np.moveaxis(x, 0, -1).reshape(-1, d)
    g = metric(pts)
    if g.shape != (len(pts), d, d):
        raise ManifoldSpecError(f"metric: returned shape {g.shape}, expected ({len(pts)}, {d}, {d})")
    check_spd(g, name="metric", where=pts)
    det = np.linalg.det(g)
    sqrt_det = np.sqrt(det)
    A = sqrt_det[:, None, None] * np.linalg.inv(g)
    A = np.moveaxis(A.reshape(x.shape[1], x.shape[2], d, d), (2, 3), (0, 1))  # (d, d, n_el, n_q)
    s = sqrt_det.reshape(x.shape[1:])

    @BilinearForm
    def stiffness(u, v, w):
        return np.einsum("ab...,a...,b...->...", w.A, grad(u), grad(v))

    @BilinearForm
    def mass(u, v, w):
        return w.s * u * v

    Kf = stiffness.assemble(basis, A=A)
    Mf = mass.assemble(basis, s=s)
    area = float(Mf.sum())
    P = disc.P
    return Operators(_symmetrize((P.T @ Kf @ P).tocsr()), _symmetrize((P.T @ Mf @ P).tocsr()), area)
