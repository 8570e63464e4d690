"""Closed-form torus matrix elements of a token warp, as a torch autograd Function.

Per token i (DESIGN.md §5, basis of :mod:`manifoldspec.nn.basis`), with q = κ_k − κ_m:

    a_i(m, k) = α_i (2πσ²)^{n/2}/V · exp(−σ²|q|²/2) · exp(i q·μ_i)
    δK̃_i(m, k) = a_i · (½|v_i|² κ_m·κ_k − (κ_m·v_i)(κ_k·v_i))
    δM̃_i(m, k) = a_i · ½|v_i|²

This is the torch twin of :func:`manifoldspec.spectral.torus_modes.torus_matrix_elements`
(summed over tokens) and of ``accumulate_torus_elements`` (on a pattern); the tests compare
them. The backward is written out (no K x K x n intermediates kept per token).

Gradient convention for complex outputs: PyTorch passes the conjugate-Wirtinger cotangent g,
and for a real input x the gradient is Re Σ conj(∂z/∂x) g.
"""
from __future__ import annotations

import math

import torch

from ..basis import TorusModeBasis


def _pair_tables(kappa: torch.Tensor):
    q = kappa[None, :, :] - kappa[:, None, :]  # (K, K, n), q[m, k] = κ_k − κ_m
    return q, (q * q).sum(-1), kappa @ kappa.T


def _amplitudes(alpha, mu, sigma, kappa, volume):
    n = kappa.shape[1]
    q, q2, _ = _pair_tables(kappa)
    sig = sigma.expand_as(alpha)
    c = (2 * math.pi * sig**2) ** (n / 2) / volume  # (...)
    pref = c[..., None, None] * torch.exp(-0.5 * sig[..., None, None] ** 2 * q2)  # (..., K, K)
    phase = torch.polar(torch.ones_like(pref), torch.einsum("...j,mkj->...mk", mu, q))
    return pref * phase, q, q2, sig  # b = pref·phase (without α)


class _TorusTokenElements(torch.autograd.Function):
    @staticmethod
    def forward(ctx, alpha, mu, v, sigma, kappa, volume):
        b, q, q2, sig = _amplitudes(alpha, mu, sigma, kappa, volume)
        s = (v * v).sum(-1)  # (...)
        kv = v @ kappa.T  # (..., K)
        dot = kappa @ kappa.T
        RK = 0.5 * s[..., None, None] * dot - kv[..., :, None] * kv[..., None, :]
        a = alpha[..., None, None] * b
        ctx.save_for_backward(alpha, mu, v, sigma, kappa)
        ctx.volume = volume
        return a * RK, a * (0.5 * s)[..., None, None]

    @staticmethod
    def backward(ctx, gK, gM):
        alpha, mu, v, sigma, kappa = ctx.saved_tensors
        n = kappa.shape[1]
        b, q, q2, sig = _amplitudes(alpha, mu, sigma, kappa, ctx.volume)
        s = (v * v).sum(-1)
        kv = v @ kappa.T
        dot = kappa @ kappa.T
        zero = torch.zeros((), dtype=b.dtype, device=b.device)
        gK = zero if gK is None else gK
        gM = zero if gM is None else gM
        RK = 0.5 * s[..., None, None] * dot - kv[..., :, None] * kv[..., None, :]
        E = RK * gK + (0.5 * s)[..., None, None] * gM  # (..., K, K) complex
        cb = b.conj()
        W = alpha[..., None, None] * cb * E  # conj(a)·E
        g_alpha = (cb * E).real.sum((-1, -2))
        g_mu = torch.einsum("...mk,mkj->...j", W.imag, q)  # Re(−i q conj(a) E)
        Z = (alpha[..., None, None] * cb * gK).real if torch.is_tensor(gK) and gK.dim() else None
        g_v = 2 * v * (alpha[..., None, None] * cb * (0.5 * dot * gK + 0.5 * gM)).real.sum((-1, -2))[..., None]
        if Z is not None:
            g_v = g_v - torch.einsum("...mk,mj,...k->...j", Z, kappa, kv) - torch.einsum("...mk,...m,kj->...j", Z, kv, kappa)
        g_sig = (W.real * (n / sig[..., None, None] - sig[..., None, None] * q2)).sum((-1, -2))
        g_sig = g_sig.sum_to_size(sigma.shape) if sigma.dim() else g_sig.sum()
        return g_alpha, g_mu, g_v, g_sig, None, None


def torus_token_elements(basis: TorusModeBasis, alpha, mu, v, sigma):
    """Per-token projected operator changes (δK̃_i, δM̃_i) on the flat torus.

    Parameters
    ----------
    basis : TorusModeBasis
    alpha : tensor (...)            warp amplitudes α_i (≥ 0 for an SPD metric)
    mu : tensor (..., n)            bump centres μ_i (chart coordinates, period L)
    v : tensor (..., n)             distortion vectors v_i
    sigma : tensor, broadcastable to ``alpha``   bump widths σ > 0

    Returns
    -------
    dK, dM : complex tensors (..., K, K)
        Hermitian per token; dK[..., m, k] = ⟨e_m, δK_i e_k⟩ (L² inner product).
        Sum over the token axis for the whole warp (first order in α).
    """
    sigma = torch.as_tensor(sigma, dtype=alpha.dtype, device=alpha.device)
    return _TorusTokenElements.apply(alpha, mu, v, sigma, basis.kappa_t(alpha), basis.volume)


def symmetric_token_h(basis: TorusModeBasis, dK, dM):
    """H = δK̃ − ½(Λ0 δM̃ + δM̃ Λ0) (DESIGN.md §5), same shape as ``dK``."""
    lam = basis.lam0_t(dK.real)
    return dK - 0.5 * (lam[:, None] + lam[None, :]) * dM


def mode_features(basis: TorusModeBasis, x):
    """e_m(x) = exp(i κ_m·x)/√V at points x (..., n); returns complex (..., K)."""
    kappa = basis.kappa_t(x)
    ang = x @ kappa.T
    return torch.polar(torch.full_like(ang, basis.volume ** -0.5), ang)
