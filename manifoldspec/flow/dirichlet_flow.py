"""Conformal Ricci flow of a triangle mesh with boundary, with Dirichlet data for the scale factor.

On a surface with boundary the flow ∂g/∂t = −2Ric = −2Kg needs boundary conditions. Here they
fix the log scale factor u on the boundary, u = b(x, t), while the interior follows the same
semi-discrete flow as the closed meshes of :mod:`manifoldspec.flow.mesh_flow`,

    du_i/dt = −K_i = −Θ_i / A_i      (interior vertices; Θ_i = 2π − Σ corner angles),

with ℓ_ij = e^{(u_i+u_j)/2} ℓ⁰_ij. On a planar background this is ∂u/∂t = e^{−2u} Δu, whose
exact solutions give oracles (THEOREMS RF-9): the cigar u = −½ log(e^{4t} + r²), and for
time-independent data the harmonic extension of b as t → ∞ (K = −e^{−2u}Δu = 0).

Boundary vertices are those on an edge used by one triangle; their curvature (geodesic, not
Gaussian) never enters. Both steppers update the interior in s = e^{2u} as the closed-mesh flow does:

* ``explicit`` — forward Euler, Δt ≤ 0.9·2/ρ with ρ the Gershgorin bound of the interior rows of
  A⁻¹L (L the cotan Laplacian); a larger Δt is split into sub-steps.
* ``implicit`` — linearly implicit Euler on the interior,
  (A_I/Δt + L_II) δ_I = −Θ_I − L_IB δ_B, with δ_B = (e^{2Δu_B} − 1)/2 the known boundary change;
  one sparse SPD solve per step, stable for any Δt, first order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._checks import ManifoldSpecError, as_finite_array, positive_scalar
from .mesh_curvature import cotan_laplacian
from .mesh_flow import STABILITY_SAFETY, ConformalMesh, _update

METHODS = ("explicit", "implicit")


def boundary_vertices(triangles, n_vertices: int) -> np.ndarray:
    """Mask (V,) of the vertices on an edge that belongs to exactly one triangle."""
    t = np.asarray(triangles)
    e = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    edges, count = np.unique(e, axis=0, return_counts=True)
    mask = np.zeros(n_vertices, dtype=bool)
    mask[edges[count == 1].ravel()] = True
    return mask


@dataclass(frozen=True, eq=False)
class DirichletFlowResult:
    """Recorded states of :func:`dirichlet_mesh_flow`.

    Attributes
    ----------
    mesh : ConformalMesh
    boundary : (V,) bool, the Dirichlet vertices
    times : (S,) ; u : (S, V) log scale factors ; area : (S,) total area
    steps, substeps : time steps and scheme steps taken
    """

    mesh: ConformalMesh
    boundary: np.ndarray
    times: np.ndarray
    u: np.ndarray
    area: np.ndarray
    steps: int
    substeps: int


def _boundary_values(boundary, points, t):
    if callable(boundary):
        b = np.asarray(boundary(points, t), dtype=float)
    else:
        b = np.asarray(boundary, dtype=float)
    if b.shape != (len(points),) or not np.all(np.isfinite(b)):
        raise ManifoldSpecError(f"boundary: expected finite values of shape ({len(points)},) (one per boundary "
                                f"vertex), got shape {b.shape}" + ("" if b.shape != (len(points),) else " with NaN/inf"))
    return b


def _interior_state(mesh, u, B):
    c = mesh.curvature(u)
    L = cotan_laplacian(mesh.triangles, c["cot"], mesh.n_vertices)
    return c, L, ~B


def _limit(c, L, I, safety: float = STABILITY_SAFETY) -> float:
    row = np.asarray(abs(L).sum(axis=1)).ravel()
    return safety * 2.0 / float(np.max(row[I] / c["dual_area"][I]))


def dirichlet_stable_dt(mesh: ConformalMesh, u, boundary_mask, safety: float = STABILITY_SAFETY) -> float:
    """Explicit limit 0.9·2/max_{i interior} (L_ii + Σ_j|L_ij|)/A_i (the Gershgorin bound of A⁻¹L's interior rows)."""
    return _limit(*_interior_state(mesh, u, boundary_mask), safety)


def dirichlet_mesh_flow(mesh: ConformalMesh, *, dt: float, steps: int, boundary, u0=None,
                        method: str = "implicit", record_every: int = 1, progress: bool = False) -> DirichletFlowResult:
    """Run the conformal flow du/dt = −K inside a mesh with boundary, u = b(x, t) on the boundary.

    Parameters
    ----------
    mesh : ConformalMesh
        From :func:`~manifoldspec.flow.mesh_flow.conformal_mesh`; it must have a boundary and at
        least one interior vertex.
    dt : float
        Time step (length² units of the background metric).
    steps : int
    boundary : callable (points (Nb, 3), t) -> (Nb,), or array (Nb,)
        Dirichlet data for u at the boundary vertices (in vertex order), at time t.
    u0 : ndarray (V,), optional
        Initial log scale factors (default 0); its boundary entries are replaced by b(·, 0).
    method : {"implicit", "explicit"}
    record_every : int
        Keep every this many steps (the last step is always kept).

    Returns
    -------
    DirichletFlowResult
    """
    if not isinstance(mesh, ConformalMesh):
        raise ManifoldSpecError(f"mesh: expected a ConformalMesh (see conformal_mesh()), got {type(mesh).__name__}")
    if method not in METHODS:
        raise ManifoldSpecError(f"method: expected one of {METHODS}, got {method!r}")
    dt = positive_scalar(dt, "dt")
    if int(steps) != steps or steps < 1:
        raise ManifoldSpecError(f"steps: must be a positive integer, got {steps!r}")
    if int(record_every) != record_every or record_every < 1:
        raise ManifoldSpecError(f"record_every: must be a positive integer, got {record_every!r}")
    B = boundary_vertices(mesh.triangles, mesh.n_vertices)
    if not B.any() or B.all():
        raise ManifoldSpecError(f"mesh: Dirichlet flow needs boundary and interior vertices, got {int(B.sum())} "
                                f"boundary of {mesh.n_vertices} (a closed mesh: use mesh_flow)")
    pts = mesh.vertices[B]
    u = np.zeros(mesh.n_vertices) if u0 is None else as_finite_array(u0, "u0", shape=(mesh.n_vertices,)).copy()
    u[B] = _boundary_values(boundary, pts, 0.0)
    times, us, areas = [0.0], [u.copy()], [mesh.curvature(u)["area"]]
    t, n_sub = 0.0, 0
    it = range(int(steps))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"Dirichlet Ricci flow ({method})", unit="step")
    for s in it:
        if method == "implicit":
            u = _implicit_step(mesh, u, B, t, dt, _boundary_values(boundary, pts, t + dt))
            n_sub += 1
        else:
            u, k = _explicit_steps(mesh, u, B, t, dt, lambda tt: _boundary_values(boundary, pts, tt))
            n_sub += k
        t += dt
        if (s + 1) % record_every == 0 or s == steps - 1:
            times.append(t)
            us.append(u.copy())
            areas.append(mesh.curvature(u)["area"])  # raises if a triangle degenerated
    return DirichletFlowResult(mesh, B, np.array(times), np.stack(us), np.array(areas), int(steps), n_sub)


def _implicit_step(mesh, u, B, t, dt, b_next):
    c, L, I = _interior_state(mesh, u, B)
    dB = 0.5 * np.expm1(2.0 * (b_next - u[B]))  # the boundary's step in s = e^{2u}, as δ
    A = c["dual_area"][I]
    lhs = (sp.diags(A / dt) + L[I][:, I]).tocsc()
    rhs = -c["defect"][I] - L[I][:, B] @ dB
    new = u.copy()
    new[I] = _update(u[I], spla.spsolve(lhs, rhs), t + dt)
    new[B] = b_next
    return new


def _explicit_steps(mesh, u, B, t, dt, boundary_at):
    done, n = 0.0, 0
    while done < dt * (1 - 1e-12):
        c, L, I = _interior_state(mesh, u, B)
        limit = _limit(c, L, I)
        h = (dt - done) / max(int(np.ceil((dt - done) / limit - 1e-12)), 1)
        new = u.copy()
        new[I] = _update(u[I], -h * c["K"][I], t + done + h)
        new[B] = boundary_at(t + done + h)
        u, done, n = new, done + h, n + 1
    return u, n
