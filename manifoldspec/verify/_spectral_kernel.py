"""The SMT retrieval kernel on the flat torus, B = f(Λ0) + F∘H (DESIGN.md §5 spectral-function form).

Shared by the RoPE, linear-attention and memory checks; the arithmetic is the perturbation
engine's :func:`~manifoldspec.spectral.perturb.spectral_function` (H = δK̃ − ½(Λ0δM̃ + δM̃Λ0),
F the divided differences of f, f′ on ties).
"""
from __future__ import annotations

import numpy as np

from ..spectral.perturb import heat_filter, spectral_function

__all__ = ["heat_filter", "kernel_matrix"]


def kernel_matrix(lam: np.ndarray, f, fprime, dK=None, dM=None) -> np.ndarray:
    """B = f(Λ0) + F∘H, Hermitian (K, K); H = 0 (B = f(Λ0)) when dK is None."""
    if dK is None:
        return np.diag(np.asarray(f(lam), dtype=float)).astype(complex)
    return spectral_function(lam, dK, dM, f, fprime)
