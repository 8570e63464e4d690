"""The prompt's metric after the flow decay (eq. 8): what an SMT state with ``flow_dt`` encodes.

The layer's flow is linear in the warp, so each token's warp flows on its own, for τ_s = (T − 1 − s)·dt from
its step s to the end of a T-token prompt (padded steps count: they are time steps of the recurrence).

* **Torus.** D_mk = exp(−|κ_k − κ_m|² dt) multiplies the frequency q = κ_k − κ_m of the warp, and a
  periodized Gaussian of width σ has coefficients ∝ σⁿ exp(−σ²|q|²/2). After τ it is the periodized Gaussian
  of width σ_s with σ_s² = σ² + 2τ and amplitude α(σ/σ_s)ⁿ (the bump spreads; its integral is kept):
  :class:`FlowedTokenWarp`, eq. (1) with one width per token.
* **Sphere.** The conformal bump w = α exp(−(1 − x·μ)/σ²) = α e^{−κ} Σ_l (2l + 1) i_l(κ) P_l(x·μ) (κ = 1/σ²,
  i_l the modified spherical Bessel functions) has its degree-l part multiplied by exp(−ρ_l τ), ρ_0 = 0,
  ρ_l = l(l + 1) − 2 (:mod:`.ops.sphere_flow`): :class:`FlowedSphereBumpWarp`, summed to rounding.

Both are exact flows of the warps :func:`~manifoldspec.nn.inspect.prompt_warps` returns; with τ ≡ 0 they are
those warps (tests/test_nn_inspect.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array, positive_scalar
from ..geometry.warp import TokenWarp, periodic_gaussian_1d


def _flow_times(tau, n: int) -> np.ndarray:
    tau = as_finite_array(tau, "tau (flow times)", ndim=1)
    if len(tau) != n or np.any(tau < 0):
        raise ManifoldSpecError(f"tau (flow times): expected {n} values ≥ 0, one per token, got shape {tau.shape}")
    return tau


@dataclass(frozen=True, eq=False)
class FlowedTokenWarp:
    """g(ξ) = I + Σ_i α_i (σ/σ_i)ⁿ G_{σ_i}(ξ − μ_i) v_i v_iᵀ, σ_i² = σ² + 2τ_i: the torus warp of eq. (1), each
    bump flowed for τ_i by the linearized Ricci–DeTurck flow (periodized on ``period``).

    Attributes
    ----------
    alpha : (N,) ≥ 0 ; mu, v : (N, n) ; sigma : float > 0 (width before the flow) ; tau : (N,) ≥ 0 (flow time,
    length² units) ; period : tuple of n side lengths
    """

    alpha: np.ndarray
    mu: np.ndarray
    v: np.ndarray
    sigma: float
    tau: np.ndarray
    period: tuple

    def __post_init__(self):
        base = TokenWarp(self.alpha, self.mu, self.v, self.sigma, self.period)  # the same checks as eq. (1)
        object.__setattr__(self, "alpha", base.alpha)
        object.__setattr__(self, "mu", base.mu)
        object.__setattr__(self, "v", base.v)
        object.__setattr__(self, "sigma", base.sigma)
        object.__setattr__(self, "period", base.period)
        object.__setattr__(self, "tau", _flow_times(self.tau, len(base.alpha)))

    @property
    def widths(self) -> np.ndarray:
        """σ_i = √(σ² + 2τ_i), (N,)."""
        return np.sqrt(self.sigma**2 + 2 * self.tau)

    @property
    def amplitudes(self) -> np.ndarray:
        """α_i (σ/σ_i)ⁿ, (N,)."""
        return self.alpha * (self.sigma / self.widths) ** self.mu.shape[1]

    def perturbation(self, x) -> np.ndarray:
        """Σ_i α_i (σ/σ_i)ⁿ G_{σ_i}(x − μ_i) v_i v_iᵀ at points x (P, n): (P, n, n)."""
        x = np.asarray(x, dtype=float)
        n = self.mu.shape[1]
        if x.ndim != 2 or x.shape[1] != n:
            raise ManifoldSpecError(f"points: expected shape (P, {n}), got {x.shape}")
        out = np.zeros((len(x), n, n))
        chunk = max(1, int(2e6 // max(len(x), 1)))
        for s in range(0, len(self.alpha), chunk):
            sl = slice(s, s + chunk)
            bump = np.ones((len(x), len(self.alpha[sl])))
            for j, L in enumerate(self.period):
                bump *= periodic_gaussian_1d(x[:, None, j] - self.mu[None, sl, j], self.widths[sl], L)
            out += np.einsum("pi,ia,ib->pab", bump * self.amplitudes[sl], self.v[sl], self.v[sl])
        return out

    def __call__(self, x) -> np.ndarray:
        return np.eye(self.mu.shape[1])[None] + self.perturbation(x)

    def scaled(self, factor: float) -> "FlowedTokenWarp":
        """The same flowed bumps with every α multiplied by ``factor``."""
        return FlowedTokenWarp(self.alpha * float(factor), self.mu, self.v, self.sigma, self.tau, self.period)


def bump_legendre_coefficients(sigma: float, rtol: float = 1e-17) -> np.ndarray:
    """c_l with exp(−(1 − t)/σ²) = Σ_l c_l P_l(t): c_l = (2l + 1) e^{−κ} i_l(κ), κ = 1/σ², up to the last l
    whose c_l exceeds ``rtol``·max c (the series converges faster than geometrically once l > κ)."""
    from scipy.special import ive

    kappa = 1.0 / positive_scalar(sigma, "sigma") ** 2
    l = np.arange(0, int(4 * kappa + 60))
    c = (2 * l + 1) * np.sqrt(np.pi / (2 * kappa)) * ive(l + 0.5, kappa)  # e^{−κ} i_l(κ) without overflow
    keep = np.flatnonzero(c > rtol * c.max())
    return c[: keep[-1] + 1]


@dataclass(frozen=True, eq=False)
class FlowedSphereBumpWarp:
    """The conformal metric (1 + Σ_i α_i Σ_l c_l e^{−ρ_l τ_i} P_l(x·μ_i)) g_round: the sphere base's bumps
    (:class:`~manifoldspec.nn.inspect.SphereBumpWarp`) after the linearized normalized Ricci flow ran τ_i on
    each (ρ_0 = 0, ρ_l = l(l + 1) − 2). An ambient field x (P, 3) → (P, 3, 3) for the numerical core.

    Attributes
    ----------
    alpha : (N,) ≥ 0 ; mu : (N, 3) unit vectors ; sigma : float > 0 ; tau : (N,) ≥ 0
    """

    alpha: np.ndarray
    mu: np.ndarray
    sigma: float
    tau: np.ndarray

    def __post_init__(self):
        from .inspect import SphereBumpWarp

        base = SphereBumpWarp(self.alpha, self.mu, self.sigma)
        object.__setattr__(self, "alpha", base.alpha)
        object.__setattr__(self, "mu", base.mu)
        object.__setattr__(self, "sigma", base.sigma)
        object.__setattr__(self, "tau", _flow_times(self.tau, len(base.alpha)))

    def factor(self, x) -> np.ndarray:
        """1 + w(x) at points x (P, 3) (projected to the sphere)."""
        u = np.asarray(x, dtype=float)
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        c = bump_legendre_coefficients(self.sigma)
        l = np.arange(len(c))
        rho = np.where(l > 0, l * (l + 1) - 2.0, 0.0)
        weights = c[:, None] * np.exp(-rho[:, None] * self.tau[None, :]) * self.alpha[None, :]  # (l, N)
        total = np.zeros(len(u))
        chunk = max(1, int(2e6 // max(len(u), 1)))  # tokens per pass: three (P, chunk) arrays at a time
        for s in range(0, len(self.alpha), chunk):
            t = np.clip(u @ self.mu[s:s + chunk].T, -1.0, 1.0)
            w = weights[:, s:s + chunk]
            p_prev, p = np.ones_like(t), t
            total += p_prev @ w[0] + (p @ w[1] if len(c) > 1 else 0.0)
            for k in range(1, len(c) - 1):  # Bonnet: (k + 1) P_{k+1} = (2k + 1) t P_k − k P_{k−1}
                p_prev, p = p, ((2 * k + 1) * t * p - k * p_prev) / (k + 1)
                total += p @ w[k + 1]
        return 1.0 + total

    def __call__(self, x) -> np.ndarray:
        return self.factor(x)[:, None, None] * np.eye(3)

    def scaled(self, factor: float) -> "FlowedSphereBumpWarp":
        """The same flowed bumps with every α multiplied by ``factor``."""
        return FlowedSphereBumpWarp(self.alpha * float(factor), self.mu, self.sigma, self.tau)
