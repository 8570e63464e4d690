"""Conformal Ricci flow of a triangle mesh (2D: Ric = K g, so ∂g/∂t = −2Ric is du/dt = −K).

The state is a per-vertex log scale factor u (V,), acting on the background edge
lengths by vertex scaling ℓ_ij = e^{(u_i+u_j)/2} ℓ⁰_ij (a constant u = c scales the
metric by e^{2c}, as g = e^{2u} g0). With the pointwise angle-defect curvature
K_i = Θ_i / A_i (mesh_curvature.py) the semi-discrete flow is

    du_i/dt = −K_i + [r/2] + [τ_i / 2],     r = 4πχ / A  (normalized flow),

where τ g is the conformal part of the token term T (τ = ½ tr_g T). Because
∂A/∂u_i = 2A_i for the circumcentric dual areas, dA/dt = −2 Σ Θ_i = −4πχ exactly
(−8π on a sphere) for T = 0, and 0 for the normalized flow, at every resolution.

Time steppers:

Both steppers update the metric factor s = e^{2u} linearly, u ← u + ½ log(1 + 2δ) with
δ ≈ Δt·du/dt: for a uniform scaling A_i ∝ s, so ds/dt = −2Θ_i s/A_i is constant and the
round sphere r(t)² = r0² − 2t is reproduced exactly in time by either scheme (a plain
u ← u + δ update has an O(Δt) error that blows up near extinction).

* ``explicit`` — forward Euler. The Jacobian of the defects is the cotan Laplacian,
  ∂Θ/∂u = L, so the linearization is du/dt = −A⁻¹ L u; by Gershgorin its spectrum lies in
  [0, ρ], ρ = max_i (L_ii + Σ_j |L_ij|) / A_i (∝ 1/h²). Rule (enforced):
  Δt ≤ 0.9 · 2/ρ; a larger Δt is split into sub-steps or refused.
* ``implicit`` — linearly implicit Euler: (A/Δt + L) δ = −Θ + A (r + τ)/2,
  one sparse SPD solve per step, linearly stable for any Δt; first order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._checks import ManifoldSpecError, as_finite_array, positive_scalar
from .mesh_curvature import (check_triangles, cotan_laplacian, euler_characteristic, mesh_curvature,
                             scaled_lengths, side_lengths)
from .stress import conformal_part

STABILITY_SAFETY = 0.9
METHODS = ("explicit", "implicit")


@dataclass(frozen=True, eq=False)
class ConformalMesh:
    """A closed background mesh for the conformal flow.

    Attributes
    ----------
    vertices : ndarray (V, 3)
        Background embedding (only its edge lengths and vertex normals are used).
    triangles : ndarray (F, 3), consistently oriented.
    L0 : ndarray (F, 3)
        Background side lengths (column j opposite corner j).
    chi : int
        Euler characteristic V − E + F.
    normals : ndarray (V, 3)
        Area-weighted unit vertex normals (for the token term's tangent projection).
    """

    vertices: np.ndarray
    triangles: np.ndarray
    L0: np.ndarray
    chi: int
    normals: np.ndarray

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    def lengths(self, u) -> np.ndarray:
        return scaled_lengths(self.L0, self.triangles, u)

    def curvature(self, u) -> dict:
        """Curvature data (see :func:`mesh_curvature`) of the metric e^{2u} g0."""
        return mesh_curvature(self.triangles, self.lengths(u), self.n_vertices)

    def metric_tensors(self, u) -> np.ndarray:
        """Ambient representation e^{2u_i}(I − n_i n_iᵀ) of the metric at the vertices, (V, 3, 3)."""
        P = np.eye(3)[None] - self.normals[:, :, None] * self.normals[:, None, :]
        return np.exp(2 * u)[:, None, None] * P


def conformal_mesh(vertices, triangles) -> ConformalMesh:
    """Build a :class:`ConformalMesh` from an embedded closed triangle mesh."""
    v = as_finite_array(vertices, "vertices", shape=(None, 3))
    t = check_triangles(triangles, len(v))
    fn = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])  # 2·area·unit normal
    nrm = np.zeros_like(v)
    for j in range(3):
        np.add.at(nrm, t[:, j], fn)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-300)
    return ConformalMesh(v, t, side_lengths(v, t), euler_characteristic(t, len(v)), nrm)


def _tau(mesh: ConformalMesh, u, stress, token):
    """½ tr_g T at the vertices (V,), or 0."""
    if stress is None:
        return 0.0
    g = mesh.metric_tensors(u)
    T = np.asarray(stress(token, g), dtype=float)
    if T.shape != g.shape or not np.all(np.isfinite(T)):
        raise ManifoldSpecError(f"stress: T(token, g) must return finite values of shape {g.shape}, got {T.shape}")
    return conformal_part(T, mesh.normals) * np.exp(-2 * u)


def flow_velocity(mesh: ConformalMesh, u, *, normalized: bool = False, stress=None, token=None):
    """du/dt (V,) and the curvature data at u."""
    c = mesh.curvature(u)
    vel = -c["K"] + 0.5 * _tau(mesh, u, stress, token)
    if normalized:
        vel = vel + 2 * np.pi * mesh.chi / c["area"]
    return vel, c


def mesh_stable_dt(mesh: ConformalMesh, u, curv: dict | None = None, safety: float = STABILITY_SAFETY) -> float:
    """Gershgorin bound 0.9 · 2 / max_i (L_ii + Σ_j|L_ij|)/A_i for forward Euler."""
    c = mesh.curvature(u) if curv is None else curv
    Lc = cotan_laplacian(mesh.triangles, c["cot"], mesh.n_vertices)
    row = np.asarray(abs(Lc).sum(axis=1)).ravel()
    return safety * 2.0 / float(np.max(row / c["dual_area"]))


def explicit_mesh_step(mesh, u, dt, *, normalized=False, stress=None, token=None, on_unstable="substep"):
    """Forward Euler over ``dt`` with the stability rule; returns (u, substeps)."""
    if on_unstable not in ("substep", "raise"):
        raise ManifoldSpecError(f"on_unstable: expected 'substep' or 'raise', got {on_unstable!r}")
    done, n = 0.0, 0
    while done < dt * (1 - 1e-12):
        vel, c = flow_velocity(mesh, u, normalized=normalized, stress=stress, token=token)
        limit = mesh_stable_dt(mesh, u, c)
        if on_unstable == "raise" and dt > limit:
            raise ManifoldSpecError(f"dt: {dt:.3e} exceeds the explicit stability limit {limit:.3e} "
                                    "(0.9·2/ρ, ρ the Gershgorin bound of A⁻¹L); use a smaller dt, "
                                    "method='implicit', or on_unstable='substep'")
        h = (dt - done) / max(int(np.ceil((dt - done) / limit - 1e-12)), 1)
        u = _update(u, h * vel)
        done += h
        n += 1
    return u, n


def mesh_linearization(mesh, u, *, normalized=False, stress=None, token=None):
    """(du/dt (V,), cotan Laplacian L (V, V), dual areas A (V,)) at u: what an implicit step needs."""
    vel, c = flow_velocity(mesh, u, normalized=normalized, stress=stress, token=token)
    return vel, cotan_laplacian(mesh.triangles, c["cot"], mesh.n_vertices), c["dual_area"]


def implicit_mesh_step(mesh, u, dt, *, normalized=False, stress=None, token=None, linearization=None):
    """Linearly implicit Euler: (A/Δt + L) δ = A·(du/dt); returns the new u.

    ``linearization`` is :func:`mesh_linearization` at u when the caller already has it (error
    control steps one state with two dt).
    """
    if linearization is None:
        linearization = mesh_linearization(mesh, u, normalized=normalized, stress=stress, token=token)
    vel, Lc, A = linearization
    # r (normalized) and τ (tokens) are lagged: lower order, and r is a global coupling
    delta = spla.spsolve((sp.diags(A / dt) + Lc).tocsc(), A * vel)
    return _update(u, delta)


def _update(u, delta, t=None):
    """u + ½ log(1 + 2δ): a linear step in s = e^{2u}; refuses a step that would collapse s.

    ``t`` (the time the step ends at) goes into the message; callers that do not know it leave it out
    and :func:`mesh_flow` adds the step's interval.
    """
    arg = 1.0 + 2.0 * delta
    if not np.all(arg > 0) or not np.all(np.isfinite(arg)):
        when = "" if t is None else f" near t ≈ {t:.6g}"
        raise ManifoldSpecError(f"flow: a step would make the metric factor e^(2u) non-positive{when} "
                                "(the surface is close to extinction, or dt is too large); reduce dt")
    return u + 0.5 * np.log(arg)


@dataclass(frozen=True, eq=False)
class MeshFlowResult:
    """Recorded states of a mesh flow.

    Attributes
    ----------
    times : (S,) ; u : (S, V) log scale factors ; area : (S,) total area ;
    gauss_bonnet : (S,) Σ Θ_i − 2πχ (zero to rounding) ; curvature_variance : (S,)
    area-weighted variance of K ; mean_curvature : (S,) Σ Θ_i / A ; steps, substeps : time steps
    and scheme steps taken ; rejected : attempts rejected by the error control (adaptive runs).
    """

    mesh: ConformalMesh
    times: np.ndarray
    u: np.ndarray
    area: np.ndarray
    gauss_bonnet: np.ndarray
    curvature_variance: np.ndarray
    mean_curvature: np.ndarray
    steps: int
    substeps: int
    rejected: int = 0

    def lengths(self, i: int = -1) -> np.ndarray:
        return self.mesh.lengths(self.u[i])


def flow_diagnostics(mesh, u):
    """(area, Gauss–Bonnet residual Σ Θ − 2πχ, area-weighted variance of K, mean curvature) at u."""
    c = mesh.curvature(u)
    A = c["area"]
    Kbar = c["defect"].sum() / A
    var = float(np.sum(c["dual_area"] * (c["K"] - Kbar) ** 2) / A)
    return A, float(c["defect"].sum() - 2 * np.pi * mesh.chi), var, Kbar


def mesh_flow(mesh: ConformalMesh, *, dt: float, steps: int, u0=None, method: str = "explicit",
              normalized: bool = False, stress: Callable | None = None, tokens=None, record_every: int = 1,
              on_unstable: str = "substep", progress: bool = False, callback=None) -> MeshFlowResult:
    """Run the conformal mesh flow for ``steps`` steps of ``dt`` (length² units).

    Parameters
    ----------
    mesh : ConformalMesh
    u0 : ndarray (V,), optional
        Initial log scale factors (default 0: the background metric).
    method : {"explicit", "implicit"}
    normalized : bool
        Area-preserving flow du/dt = 2πχ/A − K.
    stress : callable (token, g) -> (V, 3, 3), optional
        Token term; only its conformal part ½ tr_g T acts (a conformal flow cannot
        represent the trace-free part).
    tokens : sequence, optional
        One token per step.
    callback : callable (step, t, u), optional
        Called after each recorded step.
    """
    if not isinstance(mesh, ConformalMesh):
        raise ManifoldSpecError(f"mesh: expected a ConformalMesh (see conformal_mesh()), got {type(mesh).__name__}")
    if method not in METHODS:
        raise ManifoldSpecError(f"method: expected one of {METHODS}, got {method!r}")
    dt = positive_scalar(dt, "dt")
    steps = int(steps)
    if steps < 1:
        raise ManifoldSpecError(f"steps: must be a positive integer, got {steps}")
    if tokens is not None and len(tokens) < steps:
        raise ManifoldSpecError(f"tokens: need at least one token per step ({steps}), got {len(tokens)}")
    u = np.zeros(mesh.n_vertices) if u0 is None else as_finite_array(u0, "u0", shape=(mesh.n_vertices,)).copy()
    rec = {"t": [0.0], "u": [u.copy()], "diag": [flow_diagnostics(mesh, u)]}
    n_sub, t = 0, 0.0
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"mesh Ricci flow ({method})", unit="step")
    for s in it:
        token = None if tokens is None else tokens[s]
        try:
            if method == "explicit":
                u, k = explicit_mesh_step(mesh, u, dt, normalized=normalized, stress=stress, token=token,
                                          on_unstable=on_unstable)
                n_sub += k
            else:
                u = implicit_mesh_step(mesh, u, dt, normalized=normalized, stress=stress, token=token)
                n_sub += 1
        except ManifoldSpecError as exc:
            raise ManifoldSpecError(f"{exc} (step {s + 1} of {steps}, from t = {t:.6g} to {t + dt:.6g})") from None
        t += dt
        if not np.all(np.isfinite(u)):
            raise ManifoldSpecError(f"flow: the scale factors became non-finite at t = {t:.6g}; reduce dt")
        if (s + 1) % record_every == 0 or s == steps - 1:
            rec["t"].append(t)
            rec["u"].append(u.copy())
            rec["diag"].append(flow_diagnostics(mesh, u))  # raises if the metric degenerated
            if callback is not None:
                callback(s + 1, t, u)
    d = np.array(rec["diag"])
    return MeshFlowResult(mesh, np.array(rec["t"]), np.stack(rec["u"]), d[:, 0], d[:, 1], d[:, 2], d[:, 3], steps, n_sub)
