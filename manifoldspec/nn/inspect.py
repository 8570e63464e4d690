"""What manifold a prompt induces: the spectrum an SMT state encodes, and the prompt's metric for the core.

An SMT layer reads a prompt as a metric on its base manifold: token t adds the bump warp of eq. (1)
(torus) or a conformal bump (sphere) at its key position μ_t, and the state's H is the sum of the
tokens' first-order operators h = δK̃ − ½(Λ0 δM̃ + δM̃ Λ0) (DESIGN.md §5, §7). Two views of that metric:

* :func:`warped_spectrum` — the eigenvalues of Λ0 + H, the first-order (eq. 7, Rayleigh–Ritz form on the
  layer's K modes) spectrum of the warped base, read off the state; with the flow decay on, of the
  flowed metric;
* :func:`prompt_warps` — the metric itself, per sequence and head, as an object the numerical core takes
  (``manifoldspec.solve(disc, k, metric=...)``, ``geodesic_distance``, …), so that the exact spectrum,
  eigenfunctions or distances of the prompt's manifold can be computed; ``flowed=True`` gives the metric
  after the layer's flow decay, the one a flow layer's state encodes.

The two agree to O(α²) (tests/test_nn_inspect.py checks the ratio of errors at α and α/10 against the
finite-element solve): the state is a first-order summary of the prompt's geometry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._checks import ManifoldSpecError, positive_scalar


def warped_spectrum(layer, state) -> torch.Tensor:
    """Eigenvalues of Λ0 + H per sequence and head: the first-order spectrum of the warped base.

    Parameters
    ----------
    layer : SpectralManifoldAttention (torus or sphere base)
    state : SMTState or SphereState returned by the layer (H of shape (B, n_heads, K, K))

    Returns
    -------
    (B, n_heads, K) real tensor, ascending, in 1/length² of the base (the unit sphere, or the torus
    [0, 2π)ⁿ). Without tokens (H = 0) it is the base spectrum Λ0. Differentiable (``torch.linalg.eigvalsh``;
    the gradient is undefined where eigenvalues coincide, as for any eigenvalue).
    """
    H = getattr(state, "H", None)
    K = layer.n_modes
    if not torch.is_tensor(H) or H.dim() != 4 or tuple(H.shape[1:]) != (layer.n_heads, K, K):
        got = tuple(H.shape) if torch.is_tensor(H) else type(state).__name__
        raise ManifoldSpecError(f"state: expected a layer state with H of shape (B, {layer.n_heads}, {K}, {K}), "
                                f"got {got}")
    lam0 = layer.basis.lam0_t(H.real)
    A = H + torch.diag_embed(lam0.to(H.dtype)).expand_as(H)
    return torch.linalg.eigvalsh(0.5 * (A + A.transpose(-1, -2).conj()))  # Hermitian to rounding; say so


@dataclass(frozen=True)
class SphereBumpWarp:
    """The conformal metric (1 + Σ_t α_t exp(−(1 − x·μ_t)/σ²)) g_round of the sphere base, as an ambient
    metric field x (P, 3) → (P, 3, 3) for the numerical core (its tangential part is the conformal metric).

    Attributes
    ----------
    alpha : (N,) ≥ 0 ; mu : (N, 3) unit vectors ; sigma : float > 0 (chord-distance width)
    """

    alpha: np.ndarray
    mu: np.ndarray
    sigma: float

    def __post_init__(self):
        alpha = np.asarray(self.alpha, dtype=float).reshape(-1)
        mu = np.asarray(self.mu, dtype=float).reshape(-1, 3)
        if len(mu) != len(alpha) or not np.all(np.isfinite(alpha)) or np.any(alpha < 0) or not np.all(np.isfinite(mu)):
            raise ManifoldSpecError(f"alpha, mu: expected finite α ≥ 0 (N,) and μ (N, 3), got {alpha.shape}, {mu.shape}")
        norms = np.linalg.norm(mu, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ManifoldSpecError("mu: a bump centre is the zero vector; it has no point on the sphere")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "mu", mu / norms)
        object.__setattr__(self, "sigma", positive_scalar(self.sigma, "sigma"))

    def factor(self, x) -> np.ndarray:
        """1 + w(x) at points x (P, 3) (projected to the sphere)."""
        u = np.asarray(x, dtype=float)
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        return 1.0 + np.exp(-(1.0 - u @ self.mu.T) / self.sigma**2) @ self.alpha

    def __call__(self, x) -> np.ndarray:
        return self.factor(x)[:, None, None] * np.eye(3)

    def scaled(self, factor: float) -> "SphereBumpWarp":
        """The same bumps with every α multiplied by ``factor`` ≥ 0."""
        return SphereBumpWarp(self.alpha * float(factor), self.mu, self.sigma)


def prompt_warps(layer, x, attention_mask=None, flowed: bool = False) -> list:
    """The metric each head of ``layer`` reads from the prompt ``x``, for the numerical core.

    Parameters
    ----------
    layer : SpectralManifoldAttention
    x : (B, T, d_model) tensor, the layer's input
    attention_mask : (B, T) 0/1, optional; padded tokens warp nothing and are left out
    flowed : bool
        ``False`` (default): the warps as read. ``True``: each token's warp after the layer's flow decay (eq. 8)
        ran from its step s to the end of the prompt, τ_s = (T − 1 − s)·dt (padded steps count), the metric
        whose first-order spectrum :func:`warped_spectrum` reads from a flow layer's state
        (:mod:`~manifoldspec.nn.flowed_warps`). For a layer without the flow the two are the same.

    Returns
    -------
    list of B lists of n_heads metrics: on the torus a :class:`manifoldspec.TokenWarp` (eq. 1, periodized
    on [0, 2π)ⁿ) with the prompt's α_t, μ_t, v_t and the head's σ; on the sphere a :class:`SphereBumpWarp`.
    With ``flowed=True`` on a flow layer, a :class:`~manifoldspec.nn.flowed_warps.FlowedTokenWarp` or
    :class:`~manifoldspec.nn.flowed_warps.FlowedSphereBumpWarp`. Use them with ``FlatTorus((2π,)*n)`` or
    ``Sphere()`` (radius 1) discretizations.

    Raises
    ------
    ManifoldSpecError
        for a layer with ``positions="index"`` (its μ_t do not come from the prompt alone) or ``warp=False``.
    """
    from ..geometry.warp import TokenWarp
    from .flowed_warps import FlowedSphereBumpWarp, FlowedTokenWarp
    from .layer_common import _check_x, padding_mask

    if layer.positions != "content" or not layer.warp:
        raise ManifoldSpecError("layer: prompt_warps needs positions='content' and warp=True (the ablations have no "
                                "prompt-dependent warp)")
    _check_x(x, layer.d_model)
    with torch.no_grad():
        m = padding_mask(attention_mask, x)
        _, k_pos, _, alpha, warp_v = layer.project(x, m)
        sigma, _, dt, _ = layer.geometry()
    T = x.shape[1]
    lag = np.arange(T - 1, -1, -1, dtype=float)  # steps from token s to the end of the prompt
    out = []
    for b in range(x.shape[0]):
        keep = slice(None) if m is None else m[b].bool().cpu().numpy()
        heads = []
        for h in range(layer.n_heads):
            a = alpha[b, h].double().cpu().numpy()[keep]
            mu = k_pos[b, h].double().cpu().numpy()[keep]
            s = float(sigma[h])
            tau = lag[keep] * float(dt[h]) if flowed and dt is not None else None
            if layer.base == "torus":
                v = warp_v[b, h].double().cpu().numpy()[keep]
                period = (2 * math.pi,) * layer.latent_dim
                heads.append(TokenWarp(a, mu, v, s, period=period) if tau is None
                             else FlowedTokenWarp(a, mu, v, s, tau, period))
            else:
                heads.append(SphereBumpWarp(a, mu, s) if tau is None else FlowedSphereBumpWarp(a, mu, s, tau))
        out.append(heads)
    return out
