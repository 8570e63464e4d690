"""The token warp of eq. (1): g(ξ) = I + Σ_i α_i exp(−|ξ − μ_i|²/2σ²) v_i v_iᵀ.

On a periodic chart the Gaussians are fully periodized (a sum over all lattice
images), which is what the closed-form torus matrix elements of DESIGN.md §5 assume.
On embedded surfaces the ambient distance in R^3 is used, and the pull-back
Jᵀ g J in the assembly projects v_i to each element's tangent plane.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array, positive_scalar

# Gaussian images further than this many σ contribute below exp(-40) ~ 4e-18.
_IMAGE_CUTOFF_SIGMAS = 9.0


def periodic_gaussian_1d(dx: np.ndarray, sigma, period: float) -> np.ndarray:
    """Σ_m exp(−(dx + m L)² / 2σ²) summed over all images m that matter (σ a scalar, or an array that
    broadcasts against dx: one width per bump)."""
    n_img = int(np.ceil(_IMAGE_CUTOFF_SIGMAS * np.max(sigma) / period)) + 1
    dx = np.mod(dx + 0.5 * period, period) - 0.5 * period
    out = np.zeros_like(dx)
    for m in range(-n_img, n_img + 1):
        out += np.exp(-((dx + m * period) ** 2) / (2 * sigma**2))
    return out


@dataclass(frozen=True, eq=False)
class TokenWarp:
    """Token-warped metric of eq. (1).

    Parameters
    ----------
    alpha : array (N,)
        Warp amplitudes α_i (dimensionless). The resulting metric must be SPD;
        α_i ≥ 0 always is.
    mu : array (N, d)
        Token positions μ_i in ambient coordinates (chart coordinates on the torus).
    v : array (N, d)
        Distortion vectors v_i.
    sigma : float
        Bump width σ > 0 (length units of the chart).
    period : tuple of d floats, optional
        Side lengths of a periodic chart (torus); ``None`` for no periodization.
    """

    alpha: np.ndarray
    mu: np.ndarray
    v: np.ndarray
    sigma: float
    period: tuple | None = None

    def __post_init__(self):
        alpha = as_finite_array(self.alpha, "alpha", ndim=1)
        n = len(alpha)
        mu = as_finite_array(self.mu, "mu (token positions)", ndim=2)
        if mu.shape[0] != n:
            raise ManifoldSpecError(f"mu (token positions): expected {n} rows to match alpha, got shape {mu.shape}")
        v = as_finite_array(self.v, "v (distortion vectors)", shape=(n, mu.shape[1]))
        sigma = positive_scalar(self.sigma, "sigma")
        period = self.period
        if period is not None:
            period = tuple(positive_scalar(p, f"period[{i}]") for i, p in enumerate(period))
            if len(period) != mu.shape[1]:
                raise ManifoldSpecError(f"period: expected {mu.shape[1]} side lengths, got {len(period)}")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "period", period)

    @property
    def n_tokens(self) -> int:
        return len(self.alpha)

    @property
    def dim(self) -> int:
        return self.mu.shape[1]

    def bumps(self, x) -> np.ndarray:
        """Gaussian bump values G_i(x), shape (P, N)."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ManifoldSpecError(f"points: expected shape (P, {self.dim}), got {x.shape}")
        diff = x[:, None, :] - self.mu[None, :, :]
        if self.period is None:
            return np.exp(-np.sum(diff**2, axis=-1) / (2 * self.sigma**2))
        out = np.ones(diff.shape[:2])
        for j, L in enumerate(self.period):
            out *= periodic_gaussian_1d(diff[..., j], self.sigma, L)
        return out

    def perturbation(self, x) -> np.ndarray:
        """h(x) = Σ_i α_i G_i(x) v_i v_iᵀ, shape (P, d, d)."""
        x = np.asarray(x, dtype=float)
        d = self.dim
        out = np.zeros((len(x), d, d))
        outer = self.v[:, :, None] * self.v[:, None, :]  # (N, d, d)
        chunk = max(1, int(2e6 // max(len(x), 1)))
        for s in range(0, self.n_tokens, chunk):
            w = self.bumps_slice(x, s, s + chunk) * self.alpha[s:s + chunk]
            out += np.einsum("pn,nab->pab", w, outer[s:s + chunk])
        return out

    def bumps_slice(self, x, start: int, stop: int) -> np.ndarray:
        sub = TokenWarp(self.alpha[start:stop], self.mu[start:stop], self.v[start:stop], self.sigma, self.period)
        return sub.bumps(x)

    def scaled(self, eps: float) -> "TokenWarp":
        """The same warp with every α_i multiplied by ``eps``."""
        return TokenWarp(eps * self.alpha, self.mu, self.v, self.sigma, self.period)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.eye(self.dim)[None] + self.perturbation(x)


def random_warp(n_tokens: int, dim: int, *, sigma: float = 0.5, amplitude: float = 0.3,
                period: tuple | None = None, center_radius: float | None = None,
                box: tuple | None = None, points: np.ndarray | None = None,
                seed: int = 0) -> TokenWarp:
    """A seeded random token warp (the CLI's default when no tokens file is given).

    Positions μ_i are drawn, by the first option given, uniformly on the periodic chart
    [0, period), uniformly in the box [0, box] (not periodized), among ``points`` (P, dim)
    such as a mesh's vertices, or uniformly on the sphere of radius ``center_radius``
    (default 1); α_i ~ amplitude·U(0.5, 1); v_i unit vectors.
    """
    rng = np.random.default_rng(seed)
    if period is not None:
        mu = rng.uniform(0, 1, (n_tokens, dim)) * np.asarray(period)
    elif box is not None:
        mu = rng.uniform(0, 1, (n_tokens, dim)) * np.asarray(box, dtype=float)
    elif points is not None:
        points = np.asarray(points, dtype=float)
        if points.ndim != 2 or points.shape[1] != dim or len(points) == 0:
            raise ManifoldSpecError(f"points: expected a non-empty array (P, {dim}), got shape {points.shape}")
        mu = points[rng.integers(0, len(points), n_tokens)].copy()
    else:
        mu = rng.normal(size=(n_tokens, dim))
        mu *= (center_radius or 1.0) / np.linalg.norm(mu, axis=1, keepdims=True)
    v = rng.normal(size=(n_tokens, dim))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    alpha = amplitude * rng.uniform(0.5, 1.0, n_tokens)
    return TokenWarp(alpha, mu, v, sigma, period)
