"""Geodesic distance from a point on (M, g) by the heat method (Crane, Weischedel & Wardetzky 2013).

Varadhan's formula d(x₀, x) = lim_{t→0} √(−4t log k_t(x₀, x)) says the *direction* of the heat
kernel's gradient is the direction of the distance's gradient, and that survives discretization far
better than the values. So, on the finite-element space of :mod:`.assemble`:

1. one backward-Euler heat step from a unit impulse: (M + tK) u = e_{x₀};
2. at every quadrature point the unit field X = −∇u / |∇u|_g (g-length, in chart or reference
   coordinates);
3. the φ whose gradient best fits X: K φ = b, b_i = ∫ g(X, ∇N_i) dVol_g, with φ(x₀) = 0.

It works on any metric the assembly takes (token warps included), on every chart dimension and on
triangle surfaces, P1 or P2. On a domain with boundary step 1 is the average of the Neumann and the
Dirichlet step (as Crane et al. recommend): the Neumann step alone makes isolines meet the boundary at
right angles and stops converging there. t defaults to h_p·max(h_p, ℓ_g/20), with h_p = h_g/order, h_g
the mean element size and ℓ_g = vol_g^{1/n}, both measured in g (Crane et al. use t = h², which on our
structured meshes leaves a 5 % bias that does not shrink with h); g → c²g then gives d → c·d exactly.
The error is first order in h (orders in tests/test_core_geodesic.py); it is largest at the source and
on the cut locus, where the distance is not smooth.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse.linalg as spla

from .._checks import ManifoldSpecError, positive_scalar
from ..geometry.metric import as_metric
from .assemble import assemble
from .discretize import Discretization
from .surface_fem import element_metric


class _EvaluatedOnce:
    """``metric`` with its last evaluation kept: assemble() and the gradient fields ask for g at the same
    quadrature points, and a token warp's g costs as much as a sparse factorization."""

    def __init__(self, metric):
        self.metric, self.x, self.g = metric, None, None

    def __call__(self, x):
        if self.x is None or self.x.shape != np.shape(x) or not np.array_equal(self.x, x):
            self.x, self.g = np.array(x, copy=True), self.metric(x)
        return self.g


def _element_fields(disc: Discretization, metric):
    """Per-element gradient data: dN (E, q, n_loc, n), Ginv (E, q, n, n), dvol (E, q), dofs (E, n_loc) in the
    full numbering, and P (n_full, n_dofs) from reduced to full dofs."""
    if disc.kind == "surface":
        _, dN, Ginv, dvol = element_metric(disc, metric)
        return np.broadcast_to(dN, (len(dvol),) + dN.shape), Ginv, dvol, disc.elements, None
    basis = disc.basis
    x = basis.global_coordinates().value  # (n, E, q)
    n, E, q = x.shape
    g = metric(np.moveaxis(x, 0, -1).reshape(-1, n))  # SPD already checked by assemble()
    dN = np.moveaxis(np.stack([b[0].grad for b in basis.basis]), (2, 3), (0, 1))  # (E, q, n_loc, n)
    return (dN, np.linalg.inv(g).reshape(E, q, n, n), basis.dx * np.sqrt(np.linalg.det(g)).reshape(E, q),
            basis.element_dofs.T, disc.P)


def _source_dof(disc: Discretization, source) -> int:
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        if not 0 <= int(source) < disc.n_dofs:
            raise ManifoldSpecError(f"source: dof index must lie in 0..{disc.n_dofs - 1}, got {source}")
        return int(source)
    p = np.asarray(source, dtype=float)
    if p.shape != (disc.dof_points.shape[1],) or not np.all(np.isfinite(p)):
        raise ManifoldSpecError(f"source: expected a dof index or a finite point of shape "
                                f"({disc.dof_points.shape[1]},), got {source!r}")
    diff = disc.dof_points - p
    period = disc.manifold.period if disc.kind == "chart" else None
    if period is not None:  # nearest periodic image
        L = np.asarray(period)
        diff = diff - L * np.round(diff / L)
    return int(np.argmin((diff**2).sum(1)))


def boundary_dofs(disc: Discretization) -> np.ndarray:
    """Indices of the dofs on the boundary of ``disc`` (empty for closed manifolds).

    Chart boxes: scikit-fem's boundary dofs. Surfaces: the vertices (and P2 side midpoints) of the sides
    that belong to exactly one triangle.
    """
    if disc.kind == "chart":
        if disc.manifold.period is not None:
            return np.zeros(0, dtype=np.int64)
        full = np.unique(disc.basis.get_dofs().flatten())
        return np.flatnonzero(np.asarray(disc.P[full].sum(axis=0)).ravel())  # reduced numbering
    el = disc.elements
    sides = np.array([[0, 1], [1, 2], [2, 0]])
    ends = np.sort(el[:, sides], axis=-1).reshape(-1, 2)  # (3E, 2) vertex pairs, element-major
    _, inverse, count = np.unique(ends, axis=0, return_inverse=True, return_counts=True)
    lone = count[inverse.ravel()] == 1  # (3E,) sides of one triangle only
    out = [ends[lone].ravel()]
    if disc.order == 2:
        out.append(el[:, 3:].ravel()[lone])  # the midpoint dof of side c is local node 3 + c
    return np.unique(np.concatenate(out))


def geodesic_distance(disc: Discretization, source, metric=None, *, t: float | None = None,
                      boundary: str = "average") -> np.ndarray:
    """Geodesic distance d_g(x₀, ·) at every degree of freedom, by the heat method.

    Parameters
    ----------
    disc : Discretization
        Any closed manifold (torus, circle, sphere, closed triangle surface), a Neumann box or a triangle
        surface with boundary (see ``boundary``).
    source : int or array_like (d,)
        A dof index, or a point (the nearest dof, periodic images included, is used); x₀ in the result.
    metric : optional
        The metric g (see :func:`manifoldspec.assemble`); ``None`` is the flat / induced metric.
    t : float, optional
        Heat-step time in units of length² of g. Default h_p·max(h_p, ℓ_g/20) (module docstring).
        Larger t smooths more (less accurate, more robust); far smaller t lets u underflow far from x₀.
    boundary : {"average", "neumann"}
        Domains with a boundary only. ``"neumann"``: the heat step with the natural condition, whose
        ∇u = 0 at the boundary turns the isolines normal to it, so the error stalls near it (2.1e-2 at
        32² and 64² on the unit square from its centre). ``"average"`` (Crane et al.): u = ½(u_N + u_D) with
        u_D the step with u = 0 on the boundary, which converges (2.4e-2, 1.1e-2). A source on the
        boundary, where u_D vanishes, uses the Neumann step alone.

    Returns
    -------
    d : ndarray, shape (n_dofs,)
        Distances in units of g's length, d[x₀] = 0.

    Raises
    ------
    ManifoldSpecError
        Dirichlet boxes; a bad ``source`` or ``boundary``; t ≤ 0; a heat step whose solution changes sign
        or underflows (the message says to take a larger t or a finer mesh).
    """
    if not isinstance(disc, Discretization):
        raise ManifoldSpecError(f"disc: expected a Discretization from discretize(), got {type(disc).__name__}")
    if getattr(disc.manifold, "bc", "neumann") == "dirichlet":
        raise ManifoldSpecError("disc: the heat method needs the natural (Neumann) boundary condition; "
                                "discretize Box(..., bc='neumann') instead of 'dirichlet'")
    if boundary not in ("average", "neumann"):
        raise ManifoldSpecError(f"boundary: expected 'average' or 'neumann', got {boundary!r}")
    src = _source_dof(disc, source)
    metric = _EvaluatedOnce(as_metric(metric))
    ops = assemble(disc, metric)
    dN, Ginv, dvol, dofs, P = _element_fields(disc, metric)
    if t is None:
        n = disc.dim
        h_g = (math.factorial(n) * ops.area / len(dofs)) ** (1.0 / n)  # n-simplices of side h fill n!·vol/h^n
        # Crane et al.'s t = h² biases distances by ~5 % on structured meshes (the resolvent's decay length is
        # then one element, where the mesh's anisotropy shows); t ∝ h·diameter converges, at first order
        h_p = h_g / disc.order
        t = h_p * max(h_p, ops.area ** (1.0 / n) / 20.0)
    t = positive_scalar(t, "t")

    e = np.zeros(disc.n_dofs)
    e[src] = 1.0
    A = (ops.M + t * ops.K).tocsc()
    u = spla.splu(A).solve(e)
    edge = boundary_dofs(disc) if boundary == "average" else np.zeros(0, dtype=np.int64)
    if len(edge) and src not in edge:
        inner = np.setdiff1d(np.arange(disc.n_dofs), edge)
        u_d = np.zeros_like(u)
        u_d[inner] = spla.splu(A[inner][:, inner].tocsc()).solve(e[inner])
        u = 0.5 * (u + u_d)
    if u.min() < -1e-10 * u.max():  # t far below h²: (M + tK)⁻¹ ≈ M⁻¹, whose entries alternate in sign
        raise ManifoldSpecError(f"t: the heat step oscillates (min u / max u = {u.min() / u.max():.2e}) at t = {t:.3g} "
                                "on this mesh; use a larger t or a finer mesh")
    u_full = u if P is None else P @ u
    du = np.einsum("eqia,ei->eqa", dN, u_full[dofs])
    norm = np.sqrt(np.einsum("eqa,eqab,eqb->eq", du, Ginv, du))
    if not np.all(np.isfinite(norm)) or np.any(norm <= 1e-300):
        raise ManifoldSpecError(f"t: the heat step underflowed at {int((norm <= 1e-300).sum())} quadrature points "
                                f"(t = {t:.3g}); use a larger t")
    X = -du / norm[..., None]
    b_loc = np.einsum("eq,eqia,eqab,eqb->ei", dvol, dN, Ginv, X, optimize=True)
    n_full = len(u_full)
    b_full = np.bincount(dofs.ravel(), weights=b_loc.ravel(), minlength=n_full)
    b = b_full if P is None else P.T @ b_full

    keep = np.setdiff1d(np.arange(disc.n_dofs), [src])  # pin φ(x₀) = 0: K has the constants as kernel
    K = ops.K.tocsr()
    d = np.zeros(disc.n_dofs)
    d[keep] = spla.splu(K[keep][:, keep].tocsc()).solve(b[keep])
    return d


def distance_interpolant(disc: Discretization, values: np.ndarray):
    """A callable x (P, d) -> values interpolated at chart points x (chart kind only), e.g. for
    :func:`manifoldspec.verify.uncertainty_curve.spread_matrix`."""
    if disc.kind != "chart":
        raise ManifoldSpecError("disc: interpolation at arbitrary points is available on chart domains only")
    values = np.asarray(values, dtype=float)
    if values.shape != (disc.n_dofs,):
        raise ManifoldSpecError(f"values: expected shape ({disc.n_dofs},), got {values.shape}")
    full = disc.P @ values
    period = disc.manifold.period

    def f(x):
        x = np.asarray(x, dtype=float)
        if period is not None:
            x = np.mod(x, np.asarray(period))
        return disc.basis.probes(x.T) @ full

    return f

