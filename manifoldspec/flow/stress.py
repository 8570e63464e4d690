"""Token stress-energy terms T(x_t, g) for eq. (8).

A stress term is any callable ``T(token, g) -> tensor`` with the shape of the metric
representation it is given: (N..., n, n) on a periodic grid, (V, 3, 3) ambient tensors at
the vertices of a surface mesh. The shipped one is built from eq. (1)'s warp: a token
x_t = (α, μ, v) — a :class:`~manifoldspec.geometry.warp.TokenWarp` with one or more
bumps — contributes

    T(x_t, g)(ξ) = c · Σ_i α_i G_i(ξ) v_i v_iᵀ,     G_i = exp(−|ξ − μ_i|²/2σ²),

i.e. the metric perturbation h(ξ) of eq. (1) scaled by a coupling c (1/time units).
On a surface mesh only the part proportional to g can act within a conformal flow;
:func:`conformal_part` extracts it (DESIGN.md §6, THEOREMS.md §1.1.4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array
from ..geometry.warp import TokenWarp


@dataclass(frozen=True, eq=False)
class WarpStress:
    """T(token, g) = coupling · h_token(points), evaluated at fixed sample points.

    Parameters
    ----------
    points : ndarray (P, d)
        Where the metric is sampled: ``grid.points()`` (chart coordinates) or mesh vertices.
    coupling : float
        c, in 1/time; c = 0 switches the term off.
    shape : tuple, optional
        Leading shape of the metric array (grid shape); default (P,).
    """

    points: np.ndarray
    coupling: float = 1.0
    shape: tuple | None = None

    def __post_init__(self):
        pts = as_finite_array(self.points, "points", ndim=2)
        c = float(self.coupling)
        if not np.isfinite(c):
            raise ManifoldSpecError(f"coupling: must be finite, got {self.coupling!r}")
        shape = (len(pts),) if self.shape is None else tuple(self.shape)
        if int(np.prod(shape)) != len(pts):
            raise ManifoldSpecError(f"shape: {shape} does not hold {len(pts)} points")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "coupling", c)
        object.__setattr__(self, "shape", shape)

    def __call__(self, token, g) -> np.ndarray:
        d = self.points.shape[1]
        if token is None:
            return np.zeros(self.shape + (d, d))
        if not isinstance(token, TokenWarp):
            raise ManifoldSpecError(f"token: expected a TokenWarp (α, μ, v, σ), got {type(token).__name__}")
        if token.dim != d:
            raise ManifoldSpecError(f"token: dimension {token.dim} does not match the points' dimension {d}")
        return self.coupling * token.perturbation(self.points).reshape(self.shape + (d, d))


def tokens_from_warp(warp: TokenWarp, steps: int) -> list:
    """Split a multi-token warp into a per-step stream x_1, x_2, ... (one bump per step, cycled)."""
    if not isinstance(warp, TokenWarp):
        raise ManifoldSpecError(f"warp: expected a TokenWarp, got {type(warp).__name__}")
    out = []
    for s in range(int(steps)):
        i = s % warp.n_tokens
        out.append(TokenWarp(warp.alpha[i:i + 1], warp.mu[i:i + 1], warp.v[i:i + 1], warp.sigma, warp.period))
    return out


def conformal_part(T: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """½ tr_{g0}(P T P) at each vertex: τ_0 with T's conformal part = τ g (2D surfaces).

    Parameters
    ----------
    T : ndarray (V, 3, 3)
        Ambient stress tensors at the vertices.
    normals : ndarray (V, 3)
        Unit normals of the background surface (P = I − n nᵀ is the tangent projector).

    Returns
    -------
    ndarray (V,)
        ½ tr(P T P) = ½ (tr T − nᵀ T n); divide by e^{2u} for tr_g T / 2 with g = e^{2u} g0.
    """
    trace = np.einsum("vii->v", T) - np.einsum("vi,vij,vj->v", normals, T, normals)
    return 0.5 * trace
