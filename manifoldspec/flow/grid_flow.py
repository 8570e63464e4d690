"""Ricci flow ∂g/∂t = −2 Ric(g) + T(x_t, g) of a metric on a periodic chart grid (eq. 8).

Right-hand side (DESIGN.md §6, docs/ricci_flow.md)::

    F(g) = −2 Ric + [L_W g]  + [(2/n) r g]  + T(token, g)
            Ricci    DeTurck    normalized     token stress-energy

* DeTurck term: W^k = g^{ij}(Γ^k_ij − Γ̃^k_ij) with the flat background Γ̃ = 0 of the
  chart, L_W g_ij = ∇_i W_j + ∇_j W_i. It makes the flow strictly parabolic (its
  linearization at a flat metric is ∂h/∂t = Δh, so a perturbation of frequency q decays
  like exp(−|q|² t)); solutions differ from Ricci flow by a diffeomorphism only, so every
  diffeomorphism-invariant quantity (curvature norms, volume, spectrum) is unchanged.
  It is on by default (required for n = 3; optional in 2D, where plain Ricci flow is
  only weakly parabolic).
* Normalized flow: r = ∫R dV / ∫dV, which keeps the volume constant (T = 0).

Time steppers:

* ``explicit`` — forward Euler. Stability rule (enforced): the principal symbol is at
  most |k_max|² / λ_min(g) with |k_max|² = Σ_a (π N_a / L_a)², so
  Δt ≤ Δt_max = 0.9 · 2 λ_min(g) / |k_max|²  (≈ 0.18 h² λ_min(g) for n = 2, h = L/N).
  A larger requested Δt is split into sub-steps (``on_unstable="substep"``) or refused
  (``"raise"``). Every step is checked to stay finite and positive definite.
* ``semi-implicit`` — the stabilized linearly-implicit scheme: the stiff principal part is
  replaced by a constant-coefficient Laplacian a·Δ treated implicitly in Fourier space,
  ĝ^{n+1} = ĝ^n + Δt F̂(g^n) / (1 + a Δt |k|²),  a = max 1/λ_min(g) (≥ the largest
  diffusion coefficient), which is linearly stable for any Δt; first-order accurate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._checks import ManifoldSpecError, positive_scalar
from .grid_curvature import (PeriodicGrid, check_grid_metric, christoffel, gradient, integrate, metric_inverse,
                             ricci_tensor, scalar_curvature)

STABILITY_SAFETY = 0.9
METHODS = ("explicit", "semi-implicit")


def deturck_term(g: np.ndarray, grid: PeriodicGrid, gamma: np.ndarray, ginv: np.ndarray) -> np.ndarray:
    """L_W g = ∇_i W_j + ∇_j W_i with W^k = g^{ij} Γ^k_ij (flat chart background), shape (N..., n, n)."""
    W_up = np.einsum("...ij,...kij->...k", ginv, gamma)
    W = np.einsum("...jk,...k->...j", g, W_up)  # lower the index
    dW = gradient(W, grid)  # (N..., i, j) = ∂_i W_j
    cov = dW - np.einsum("...lij,...l->...ij", gamma, W)  # ∇_i W_j
    return cov + np.swapaxes(cov, -1, -2)


def ricci_flow_rhs(g: np.ndarray, grid: PeriodicGrid, *, deturck: bool = False, normalized: bool = False) -> np.ndarray:
    """Right-hand side −2Ric [+ L_W g] [+ (2/n) r g] without the token term, shape (N..., n, n)."""
    ginv = metric_inverse(g)
    gamma = christoffel(g, grid, ginv)
    ric = ricci_tensor(g, grid, gamma=gamma)
    rhs = -2.0 * ric
    if deturck:
        rhs = rhs + deturck_term(g, grid, gamma, ginv)
    if normalized:
        R = np.einsum("...ij,...ij->...", ginv, ric)
        vol = integrate(np.ones(grid.shape), g, grid)
        r = integrate(R, g, grid) / vol
        rhs = rhs + (2.0 / grid.dim) * r * g
    return rhs


def stable_dt(g: np.ndarray, grid: PeriodicGrid, safety: float = STABILITY_SAFETY) -> float:
    """Largest stable forward-Euler step: safety · 2 λ_min(g) / |k_max|² (time units = length²)."""
    lam_min = float(np.linalg.eigvalsh(g)[..., 0].min())
    return safety * 2.0 * lam_min / grid.k_max_squared()


def _token_term(stress, token, g):
    if stress is None:
        return 0.0
    T = np.asarray(stress(token, g), dtype=float)
    if T.shape != g.shape:
        raise ManifoldSpecError(f"stress: T(token, g) must return the metric's shape {g.shape}, got {T.shape}")
    if not np.all(np.isfinite(T)):
        raise ManifoldSpecError("stress: T(token, g) returned NaN or infinite values")
    return 0.5 * (T + np.swapaxes(T, -1, -2))


def _accept(g_new: np.ndarray, t: float) -> np.ndarray:
    if not np.all(np.isfinite(g_new)):
        raise ManifoldSpecError(f"flow: the metric became non-finite at t = {t:.6g}; reduce dt")
    lam = np.linalg.eigvalsh(g_new)[..., 0]
    if lam.min() <= 0:
        raise ManifoldSpecError(f"flow: the metric lost positive definiteness at t = {t:.6g} "
                                f"(smallest eigenvalue {lam.min():.3e}); reduce dt or the token term")
    return g_new


def explicit_step(g, grid: PeriodicGrid, dt: float, *, deturck: bool = False, normalized: bool = False,
                  stress: Callable | None = None, token=None, on_unstable: str = "substep",
                  t: float = 0.0) -> tuple[np.ndarray, int]:
    """Advance by ``dt`` with forward Euler, honouring the stability rule.

    Returns
    -------
    g : ndarray (N..., n, n)
        The metric at t + dt.
    substeps : int
        Number of Euler sub-steps taken (1 when dt was already stable).
    """
    if on_unstable not in ("substep", "raise"):
        raise ManifoldSpecError(f"on_unstable: expected 'substep' or 'raise', got {on_unstable!r}")
    dt = positive_scalar(dt, "dt")
    done, n_sub = 0.0, 0
    while done < dt * (1 - 1e-12):
        limit = stable_dt(g, grid)
        if on_unstable == "raise" and dt > limit:
            raise ManifoldSpecError(
                f"dt: {dt:.3e} exceeds the explicit stability limit {limit:.3e} = 0.9·2·λ_min(g)/|k_max|²; "
                f"use a smaller dt, method='semi-implicit', or on_unstable='substep'")
        # equal sub-steps: fewest that respect the current limit
        n_left = int(np.ceil((dt - done) / limit - 1e-12))
        h = (dt - done) / max(n_left, 1)
        F = flow_rhs(g, grid, deturck=deturck, normalized=normalized, stress=stress, token=token)
        g = _accept(g + h * F, t + done + h)
        done += h
        n_sub += 1
    return g, n_sub


def flow_rhs(g, grid: PeriodicGrid, *, deturck: bool = False, normalized: bool = False,
             stress: Callable | None = None, token=None) -> np.ndarray:
    """The full right-hand side F(g) = −2Ric [+ L_W g] [+ (2/n) r g] + T(token, g), shape (N..., n, n)."""
    return ricci_flow_rhs(g, grid, deturck=deturck, normalized=normalized) + _token_term(stress, token, g)


def semi_implicit_step(g, grid: PeriodicGrid, dt: float, *, deturck: bool = False, normalized: bool = False,
                       stress: Callable | None = None, token=None, t: float = 0.0,
                       stabilizer: float | None = None, rhs: np.ndarray | None = None) -> np.ndarray:
    """One stabilized semi-implicit step (implicit a·Δ in Fourier space), any dt > 0.

    ``stabilizer`` a defaults to max over the grid of 1/λ_min(g). ``rhs`` is F(g) from
    :func:`flow_rhs` when the caller already has it (error control steps one state with two dt).
    """
    dt = positive_scalar(dt, "dt")
    a = 1.0 / float(np.linalg.eigvalsh(g)[..., 0].min()) if stabilizer is None else positive_scalar(stabilizer, "stabilizer")
    F = flow_rhs(g, grid, deturck=deturck, normalized=normalized, stress=stress, token=token) if rhs is None else rhs
    axes = tuple(range(grid.dim))
    Fh = np.fft.fftn(F, axes=axes)
    Fh /= (1.0 + a * dt * grid.k_squared())[(...,) + (None, None)]
    return _accept(g + dt * np.real(np.fft.ifftn(Fh, axes=axes)), t + dt)


@dataclass(frozen=True, eq=False)
class GridFlowResult:
    """Recorded states of a grid flow.

    Attributes
    ----------
    times : ndarray (S,)
        Recorded times (length² units).
    metrics : ndarray (S, N..., n, n)
        Metric at each recorded time.
    volume : ndarray (S,)
        ∫ dV_g.
    curvature_l2 : ndarray (S,)
        ‖R‖_{L²(g)}, zero exactly on a flat metric.
    steps : int
        Time steps requested; ``substeps`` counts explicit Euler sub-steps actually taken.
    rejected : int
        Attempts rejected by the error control (:func:`~manifoldspec.flow.adaptive.adaptive_grid_flow`).
    """

    grid: PeriodicGrid
    times: np.ndarray
    metrics: np.ndarray
    volume: np.ndarray
    curvature_l2: np.ndarray
    steps: int
    substeps: int
    rejected: int = 0

    @property
    def final(self) -> np.ndarray:
        return self.metrics[-1]

    @classmethod
    def from_metrics(cls, grid: PeriodicGrid, times, metrics, steps: int, substeps: int, rejected: int = 0):
        """Result with the volume and curvature norm evaluated at every recorded metric (S, N..., n, n)."""
        metrics = np.asarray(metrics)
        vol = np.array([integrate(np.ones(grid.shape), m, grid) for m in metrics])
        l2 = np.array([np.sqrt(max(integrate(scalar_curvature(m, grid) ** 2, m, grid), 0.0)) for m in metrics])
        return cls(grid, np.asarray(times, dtype=float), metrics, vol, l2, steps, substeps, rejected)


def grid_flow(g0, grid: PeriodicGrid, *, dt: float, steps: int, method: str = "explicit",
              deturck: bool | None = None, normalized: bool = False, stress: Callable | None = None,
              tokens=None, record_every: int = 1, on_unstable: str = "substep", progress: bool = False) -> GridFlowResult:
    """Evolve a sampled metric by eq. (8) for ``steps`` steps of size ``dt``.

    Parameters
    ----------
    g0 : ndarray (N_1, ..., N_n, n, n)
        Initial SPD metric on ``grid``.
    dt : float
        Time step (length² units).
    method : {"explicit", "semi-implicit"}
    deturck : bool, optional
        Add the DeTurck term (default True). In 2D, plain Ricci flow (False) is only weakly
        parabolic: fine for metrics conformal to the chart, but gauge modes of a general
        metric are undamped and explicit runs can drift into grid-scale noise.
    normalized : bool
        Volume-preserving flow.
    stress : callable (token, g) -> (N..., n, n), optional
        Token stress-energy T; called once per step with ``tokens[step]`` (or ``None``).
    tokens : sequence, optional
        One token per step (length ≥ steps); ``None`` passes ``None`` every step.
    record_every : int
        Record the state every this many steps (the initial and final states always).

    Returns
    -------
    GridFlowResult
    """
    if method not in METHODS:
        raise ManifoldSpecError(f"method: expected one of {METHODS}, got {method!r}")
    g = check_grid_metric(g0, grid, "g0").copy()
    steps = int(steps)
    if steps < 1:
        raise ManifoldSpecError(f"steps: must be a positive integer, got {steps}")
    if tokens is not None and len(tokens) < steps:
        raise ManifoldSpecError(f"tokens: need at least one token per step ({steps}), got {len(tokens)}")
    deturck = True if deturck is None else bool(deturck)
    dt = positive_scalar(dt, "dt")
    rec_t, rec_g = [0.0], [g.copy()]
    n_sub, t = 0, 0.0
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"Ricci flow ({method})", unit="step")
    for s in it:
        token = None if tokens is None else tokens[s]
        if method == "explicit":
            g, k = explicit_step(g, grid, dt, deturck=deturck, normalized=normalized, stress=stress, token=token,
                                 on_unstable=on_unstable, t=t)
            n_sub += k
        else:
            g = semi_implicit_step(g, grid, dt, deturck=deturck, normalized=normalized, stress=stress, token=token, t=t)
            n_sub += 1
        t += dt
        if (s + 1) % record_every == 0 or s == steps - 1:
            rec_t.append(t)
            rec_g.append(g.copy())
    return GridFlowResult.from_metrics(grid, rec_t, np.stack(rec_g), steps, n_sub)
