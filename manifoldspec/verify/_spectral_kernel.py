"""The SMT retrieval kernel on the flat torus, B = f(Λ0) + F∘H (DESIGN.md §5 spectral-function form).

Shared by the RoPE, linear-attention and memory checks. H = δK̃ − ½(Λ0δM̃ + δM̃Λ0)
comes from the closed-form torus matrix elements; F_mk = (f(λ_m) − f(λ_k))/(λ_m − λ_k),
F_kk = f′(λ_k) (also used inside degenerate clusters, where the divided difference is f′).
"""
from __future__ import annotations

import numpy as np


def heat_filter(tau: float):
    """f(λ) = exp(−τλ) and its derivative."""
    return (lambda lam: np.exp(-tau * lam)), (lambda lam: -tau * np.exp(-tau * lam))


def divided_differences(lam: np.ndarray, f, fprime, rtol: float = 1e-9) -> np.ndarray:
    """F_mk = (f(λ_m) − f(λ_k))/(λ_m − λ_k), with f′ where λ_m ≈ λ_k. Shape (K, K)."""
    lm, lk = lam[:, None], lam[None, :]
    close = np.abs(lm - lk) <= rtol * (1 + np.abs(lm))
    den = np.where(close, 1.0, lm - lk)
    return np.where(close, fprime(0.5 * (lm + lk)), (f(lm) - f(lk)) / den)


def kernel_matrix(lam: np.ndarray, f, fprime, dK=None, dM=None) -> np.ndarray:
    """B = f(Λ0) + F∘H, Hermitian (K, K); H = 0 when dK is None."""
    B = np.diag(f(lam)).astype(complex)
    if dK is not None:
        H = dK - 0.5 * (lam[:, None] * dM + dM * lam[None, :])
        B = B + divided_differences(lam, f, fprime) * H
    return B
