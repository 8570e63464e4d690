"""The fixed base basis of the SMT layer: Fourier modes of the flat torus Tⁿ = [0, L)ⁿ.

e_m(x) = exp(i κ_m·x)/√V with κ_m = 2π m/L, eigenvalue λ_m = |κ_m|² of −Δ (L²-orthonormal).
The mode set is always made of *whole* eigenvalue shells, so it is closed under m → −m:
kernels Σ_{mk} e_m(x) A_mk conj(e_k(y)) with A conjugation-symmetric are then real.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._checks import ManifoldSpecError, positive_int, positive_scalar
from ..spectral.torus_modes import torus_eigenvalues, torus_modes, torus_wavevectors


@dataclass(frozen=True, eq=False)
class TorusModeBasis:
    """Base basis data (numpy, float64); cast to torch with :meth:`kappa_t` / :meth:`lam0_t`.

    Attributes
    ----------
    modes : int (K, n)
    lengths : (n,) side lengths L_j
    kappa : (K, n) wave vectors κ_m
    lam0 : (K,) base eigenvalues |κ_m|² (exact shells: equal values are bit-identical)
    volume : float, V = Π L_j
    """

    modes: np.ndarray
    lengths: np.ndarray
    kappa: np.ndarray
    lam0: np.ndarray
    volume: float

    @property
    def n_modes(self) -> int:
        return len(self.lam0)

    @property
    def dim(self) -> int:
        return self.kappa.shape[1]

    def kappa_t(self, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.kappa, dtype=like.dtype, device=like.device)

    def lam0_t(self, like: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.lam0, dtype=like.dtype, device=like.device)


def torus_basis(n_modes: int, latent_dim: int = 2, lengths=None) -> TorusModeBasis:
    """At least ``n_modes`` lowest torus modes, rounded up to whole shells.

    Parameters
    ----------
    n_modes : int
        Requested K (the returned basis may hold a few more to complete the last shell).
    latent_dim : int
        n, the torus dimension.
    lengths : sequence of n floats, optional
        Side lengths (default 2π each, so κ_m = m and λ_m = |m|²).
    """
    n_modes = positive_int(n_modes, "n_modes")
    latent_dim = positive_int(latent_dim, "latent_dim")
    if lengths is None:
        lengths = [2 * np.pi] * latent_dim
    lengths = np.asarray([positive_scalar(x, "lengths") for x in np.atleast_1d(lengths)])
    if len(lengths) != latent_dim:
        raise ManifoldSpecError(f"lengths: expected {latent_dim} side lengths (latent_dim), got {len(lengths)}")
    modes = torus_modes(lengths, n_modes, whole_shells=True)
    # recompute λ from integer modes so that equal shells are bit-identical (exact ties)
    return TorusModeBasis(modes, lengths, torus_wavevectors(modes, lengths), torus_eigenvalues(modes, lengths),
                          float(np.prod(lengths)))
