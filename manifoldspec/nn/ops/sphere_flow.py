"""The linearized normalized Ricci flow (eq. 8) on the S² base: a per-degree decay of the warp coefficients.

Derivation (the S² counterpart of the torus's D = exp(−|q|² dt), DESIGN.md §6). Write the warped metric
as g = (1 + w) g_round ≈ e^{2u} g_round, so w = 2u to first order. The normalized flow ∂_t g = (r̄ − R) g
(THEOREMS.md §1.1.3) is ∂_t u = (r̄ − R)/2, with

    R = e^{−2u}(R₀ − 2Δu),  R₀ = 2 (unit sphere)        →  R ≈ 2 − 4u − 2Δu
    r̄ = ∫R dA / A = 8π / A,  A = ∫e^{2u} dA₀ ≈ 4π(1 + 2ū)   →  r̄ ≈ 2 − 4ū    (ū: dA₀-mean of u)

(Gauss–Bonnet gives ∫R dA = 8π for every metric on S²), hence, to first order,

    ∂_t u = Δu + 2(u − ū).

On a degree-l harmonic Δ = −l(l+1), and u − ū removes exactly the l = 0 part, so each Y_lm component of u
(and of w = 2u) decays as exp(−ρ_l t) with

    ρ_0 = 0,   ρ_l = l(l+1) − 2  (l ≥ 1):   0, 0, 4, 10, 18, …  for l = 0, 1, 2, 3, 4, …

l = 0 is the area (kept by the normalized flow), l = 1 the Möbius (conformal gauge) directions; the rates
−4, −10 of l = 2, 3 are those of THEOREMS.md RF-6, which the core's mesh flow reproduces. Every ρ_l ≥ 0,
so no weight below exceeds 1.

Why the flow acts exactly on the K2-vector A: the layer sees w only through δM̃_jk = ∫ w Y_j Y_k dA, and
Y_j Y_k (j, k ≤ L) has no component above degree 2L, so δM̃ depends only on A_i = ∫ w Y_i dA, i ≤ 2L
(K2 = (2L+1)² of them), and each A_i decays on its own: A ← D∘A with D_i = exp(−ρ_{l_i}·dt) per head.
The flow is linear, so the recurrence A_t = D∘A_{t−1} + a_t is the sum of the flowed token warps.
"""
from __future__ import annotations

import torch

from ..._checks import ManifoldSpecError


def flow_rates(basis, like: torch.Tensor) -> torch.Tensor:
    """ρ_{l_i} of each of the K2 modes up to degree 2L: (K2,), like's dtype and device (module docstring)."""
    l = basis.l2_index_t(like.device).to(like.dtype)
    return torch.where(l > 0, l * (l + 1) - 2, torch.zeros((), dtype=like.dtype, device=like.device))


def check_flow_dt(flow_dt, nh: int):
    """Raise a ManifoldSpecError naming ``flow_dt`` unless it is None or a finite tensor (nh,) with entries ≥ 0."""
    if flow_dt is None:
        return
    if not torch.is_tensor(flow_dt) or tuple(flow_dt.shape) != (nh,):
        got = tuple(flow_dt.shape) if torch.is_tensor(flow_dt) else type(flow_dt).__name__
        raise ManifoldSpecError(f"flow_dt: expected a tensor of shape ({nh},) (one flow step per head) or None, "
                                f"got {got}")
    # a negative dt would make the decay exp(+ρ dt) grow without bound: anti-diffusion, not eq. 8
    if not bool(torch.isfinite(flow_dt).all()) or bool((flow_dt < 0).any()):
        raise ManifoldSpecError(f"flow_dt: every entry must be finite and ≥ 0, got {flow_dt.detach().cpu().tolist()}")


def log_decay(basis, flow_dt: torch.Tensor) -> torch.Tensor:
    """r = ρ·dt ≥ 0 per head and mode, (nh, K2): one token step multiplies A by exp(−r)."""
    return flow_dt[:, None] * flow_rates(basis, flow_dt)


def lag_weights(r: torch.Tensor, n: int) -> torch.Tensor:
    """W[h, t, s, i] = exp(−r_hi·(t − s)) for s ≤ t, 0 for s > t: (nh, n, n, K2).

    The lag is clamped to ≥ 0 before the exponential, so only exp of non-positive numbers is taken (a
    cumulative sum of D^{−s}∘a_s would overflow under strong decay); the masked entries get no gradient.
    """
    t = torch.arange(n, device=r.device)
    lag = t[:, None] - t[None, :]
    w = torch.exp(-r[:, None, None, :] * lag.clamp(min=0).to(r.dtype)[None, :, :, None])
    return torch.where((lag >= 0)[None, :, :, None], w, torch.zeros((), dtype=r.dtype, device=r.device))


def carry_weights(r: torch.Tensor, n: int) -> torch.Tensor:
    """D^{t+1} = exp(−r·(t + 1)), t = 0 … n − 1: (nh, n, K2), the decay of a chunk's starting A at token t."""
    t1 = torch.arange(1, n + 1, dtype=r.dtype, device=r.device)
    return torch.exp(-r[:, None, :] * t1[None, :, None])


__all__ = ["carry_weights", "check_flow_dt", "flow_rates", "lag_weights", "log_decay"]
