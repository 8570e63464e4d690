"""Error-controlled time stepping for the Ricci flows: step doubling around a first-order step.

Each attempt advances the state y by one step of size h (y₁) and by two steps of h/2 (y₂).
Both steppers are first order, so the local error of y₂ is about ‖y₂ − y₁‖ (the leading error
terms are C h² and C h²/2). The step is accepted when

    ‖y₂ − y₁‖_∞ ≤ tol · h / t_end                     (error per unit time)

and y₂ is kept. Summed over the accepted steps, the local errors stay below ``tol``; the flows are
parabolic and damp earlier errors, so the error at ``t_end`` is about ``tol`` or smaller (tests
measure it against exact decay laws). The next step is h · min(2, max(0.2, 0.9 · tol_h/err)):
with err ∝ h² and tol_h ∝ h the ratio is linear in h. A rejected attempt retries with the smaller h.
Each attempt costs three steps of the underlying scheme; with the implicit schemes the h and h/2
steps from the same state share its right-hand side (grid) or linearization (mesh), so two of those.

Richardson's 2y₂ − y₁ would be second order but is not used: it can leave the positive cone
(metric not positive definite, e^{2u} ≤ 0) where the plain steps cannot.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array, positive_scalar

GROW_MAX, SHRINK_MIN, SAFETY = 2.0, 0.2, 0.9


@dataclass(frozen=True, eq=False)
class AdaptiveRun:
    """Accepted states of :func:`integrate_adaptive`.

    Attributes
    ----------
    times : (S,) accepted times, starting at 0 and ending at t_end
    states : list of S states
    accepted, rejected : int
        Accepted and rejected attempts.
    evaluations : int
        Steps of the underlying scheme taken (3 per attempt).
    errors : (S − 1,) estimated local error of each accepted step
    """

    times: np.ndarray
    states: list
    accepted: int
    rejected: int
    evaluations: int
    errors: np.ndarray


def integrate_adaptive(y0, step: Callable, t_end: float, tol: float, *, dt0: float | None = None,
                       dt_min: float | None = None, max_attempts: int = 100_000, progress: bool = False) -> AdaptiveRun:
    """Integrate y' = F(y) from 0 to ``t_end`` with a first-order ``step(y, h, t) -> y`` to tolerance ``tol``.

    Parameters
    ----------
    y0 : ndarray
        Initial state.
    step : callable (y, h, t) -> ndarray
        One step of a first-order scheme; may raise :class:`ManifoldSpecError` when a step is too
        large (lost positivity, non-finite values): the attempt then counts as rejected and h shrinks.
    t_end, tol : float > 0
        Final time; target max-norm error of the state at ``t_end``.
    dt0 : float, optional
        First trial step (default t_end / 64).
    dt_min : float, optional
        Give up below this step (default t_end · 1e-9).
    max_attempts : int
        Give up after this many attempts.
    """
    t_end, tol = positive_scalar(t_end, "t_end"), positive_scalar(tol, "tol")
    h = positive_scalar(dt0, "dt0") if dt0 is not None else t_end / 64
    dt_min = t_end * 1e-9 if dt_min is None else positive_scalar(dt_min, "dt_min")
    y, t = np.asarray(y0, dtype=float), 0.0
    times, states, errors = [0.0], [y.copy()], []
    acc = rej = evals = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=t_end, desc="adaptive Ricci flow", unit="time", bar_format="{l_bar}{bar}| t = {n:.4g}/{total:.4g}")
    while t < t_end * (1 - 1e-12):
        if acc + rej >= max_attempts:
            raise ManifoldSpecError(f"tol: {tol:g} not reached within {max_attempts} attempts (t = {t:.6g}); "
                                    "raise tol or max_attempts")
        left = t_end - t
        # land on t_end without a sliver: take the rest if it is at most 1.1 h, halve it if below 2 h
        h = left if left <= 1.1 * h else (0.5 * left if left < 2 * h else h)
        if h < dt_min:
            raise ManifoldSpecError(f"tol: the step fell below dt_min = {dt_min:.3e} at t = {t:.6g}; "
                                    f"tol = {tol:g} is too tight for this scheme, or the flow is near a singularity")
        try:
            y1 = step(y, h, t)
            y_half = step(y, 0.5 * h, t)
            y2 = step(y_half, 0.5 * h, t + 0.5 * h)
            err = float(np.max(np.abs(y2 - y1)))
        except ManifoldSpecError:
            err = np.inf
        finally:
            evals += 3
        allowed = tol * h / t_end
        if err <= allowed:
            t, y = t + h, y2
            times.append(t)
            states.append(y.copy())
            errors.append(err)
            acc += 1
            if bar is not None:
                bar.update(h)
        else:
            rej += 1
        factor = GROW_MAX if err == 0 else SAFETY * allowed / err
        h *= min(GROW_MAX, max(SHRINK_MIN, factor))
    if bar is not None:
        bar.close()
    return AdaptiveRun(np.array(times), states, acc, rej, evals, np.array(errors))


def adaptive_grid_flow(g0, grid, *, t_end: float, tol: float, method: str = "semi-implicit",
                       deturck: bool | None = None, normalized: bool = False, stress: Callable | None = None,
                       dt0: float | None = None, progress: bool = False):
    """:func:`~manifoldspec.flow.grid_flow.grid_flow` to time ``t_end`` with error control instead of a fixed dt.

    Parameters
    ----------
    g0 : ndarray (N_1, ..., N_n, n, n)
        Initial SPD metric on ``grid``.
    t_end : float
        Final time (length² units).
    tol : float
        Target max-norm error of the metric components at ``t_end``.
    method : {"semi-implicit", "explicit"}
        The underlying first-order scheme (explicit sub-steps to its stability limit).
    stress : callable (token, g) -> (N..., n, n), optional
        A time-independent token term, called with ``token=None``.

    Returns
    -------
    GridFlowResult
        Recorded at every accepted step; ``steps`` accepted steps, ``substeps`` scheme steps taken
        (Euler sub-steps included), ``rejected`` rejected attempts.
    """
    from .grid_curvature import check_grid_metric
    from .grid_flow import METHODS, GridFlowResult, explicit_step, flow_rhs, semi_implicit_step

    if method not in METHODS:
        raise ManifoldSpecError(f"method: expected one of {METHODS}, got {method!r}")
    g0 = check_grid_metric(g0, grid, "g0")
    deturck = True if deturck is None else bool(deturck)
    kw = dict(deturck=deturck, normalized=normalized, stress=stress, token=None)
    sub = [0]
    last = [None, None]  # (state, F(state)): each attempt steps the same state with h and h/2

    def step(g, h, t):
        if method == "explicit":
            g, k = explicit_step(g, grid, h, t=t, **kw)
            sub[0] += k
            return g
        sub[0] += 1
        if last[0] is not g:
            last[:] = [g, flow_rhs(g, grid, **kw)]
        return semi_implicit_step(g, grid, h, t=t, rhs=last[1], **kw)

    run = integrate_adaptive(g0, step, t_end, tol, dt0=dt0, progress=progress)
    return GridFlowResult.from_metrics(grid, run.times, np.stack(run.states), run.accepted, sub[0], run.rejected)


def adaptive_mesh_flow(mesh, *, t_end: float, tol: float, u0=None, method: str = "implicit",
                       normalized: bool = False, stress: Callable | None = None, dt0: float | None = None,
                       progress: bool = False):
    """:func:`~manifoldspec.flow.mesh_flow.mesh_flow` to time ``t_end`` with error control instead of a fixed dt.

    ``tol`` is the target max-norm error of the log scale factors u at ``t_end`` (a relative error
    of the edge lengths). ``stress`` is a time-independent token term (called with ``token=None``).
    Returns a :class:`~manifoldspec.flow.mesh_flow.MeshFlowResult` recorded at every accepted step.
    """
    from .mesh_flow import (METHODS, ConformalMesh, MeshFlowResult, explicit_mesh_step, flow_diagnostics,
                            implicit_mesh_step, mesh_linearization)

    if not isinstance(mesh, ConformalMesh):
        raise ManifoldSpecError(f"mesh: expected a ConformalMesh (see conformal_mesh()), got {type(mesh).__name__}")
    if method not in METHODS:
        raise ManifoldSpecError(f"method: expected one of {METHODS}, got {method!r}")
    u0 = np.zeros(mesh.n_vertices) if u0 is None else as_finite_array(u0, "u0", shape=(mesh.n_vertices,))
    sub = [0]
    last = [None, None]  # (state, its linearization): each attempt steps the same state with h and h/2

    def step(u, h, t):
        if method == "explicit":
            u, k = explicit_mesh_step(mesh, u, h, normalized=normalized, stress=stress)
            sub[0] += k
            return u
        sub[0] += 1
        if last[0] is not u:
            last[:] = [u, mesh_linearization(mesh, u, normalized=normalized, stress=stress)]
        return implicit_mesh_step(mesh, u, h, normalized=normalized, stress=stress, linearization=last[1])

    run = integrate_adaptive(u0, step, t_end, tol, dt0=dt0, progress=progress)
    d = np.array([flow_diagnostics(mesh, u) for u in run.states])
    return MeshFlowResult(mesh, run.times, np.stack(run.states), d[:, 0], d[:, 1], d[:, 2], d[:, 3], run.accepted,
                          sub[0], run.rejected)
