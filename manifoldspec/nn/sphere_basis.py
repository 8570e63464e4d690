"""The base basis of the SMT layer on the unit sphere S²: real spherical harmonics Y_lm, l ≤ L.

Y_j, j = (l, m), are L²(S², dA)-orthonormal with eigenvalue λ_j = l(l+1) of −Δ; K = (L+1)².
Order and signs are those of :func:`manifoldspec.spectral.sphere_modes.real_sph_harm`
(l = 0, 1, …; inside l, m = −l … l; no Condon–Shortley phase; m > 0 ↔ cos mφ, m < 0 ↔ sin|m|φ),
so each multiplet of 2l+1 is one contiguous cluster with bit-identical eigenvalues.

The basis also carries the Gaunt tensor 𝒢_jki = ∫ Y_j Y_k Y_i dA (j, k ≤ L, i ≤ 2L): a token's mass
change on S² is a combination of its slices (:mod:`manifoldspec.nn.ops.sphere`).
:func:`sphere_features` evaluates the harmonics in torch, differentiably, at points of R³.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._checks import ManifoldSpecError, positive_int
from ..spectral.sphere_modes import real_sph_harm, sphere_eigenvalues, sphere_modes, sphere_quadrature


@dataclass(frozen=True, eq=False)
class SphereModeBasis:
    """Base basis data (numpy, float64, read-only); cast to torch with :meth:`lam0_t` / :meth:`gaunt_t`.

    Attributes
    ----------
    lmax : int, L
    modes : int (K, 2)      (l, m) pairs, K = (L+1)²
    lam0 : (K,)             base eigenvalues l(l+1) (exact ties inside a multiplet)
    modes2 : int (K2, 2)    (l, m) pairs up to 2L, K2 = (2L+1)² (the band of a product Y_j Y_k)
    gaunt : (K, K, K2)      𝒢_jki = ∫ Y_j Y_k Y_i dA, symmetric in (j, k)
    """

    lmax: int
    modes: np.ndarray
    lam0: np.ndarray
    modes2: np.ndarray
    gaunt: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False)  # torch copies per (name, dtype, device)

    def _t(self, name: str, dtype, device) -> torch.Tensor:
        # the numpy arrays are read-only (shared through the basis cache): copy once per dtype and device
        # (the Gaunt tensor would otherwise travel to the device on every call). Made outside inference
        # mode, so that a copy first made under torch.inference_mode() can still be saved for backward later.
        key = (name, dtype, str(device))
        if key not in self._cache:
            with torch.inference_mode(False):
                self._cache[key] = torch.tensor(np.array(getattr(self, name)), dtype=dtype, device=device)
        return self._cache[key]

    @property
    def n_modes(self) -> int:
        return len(self.lam0)

    @property
    def dim(self) -> int:
        """Manifold dimension (2); positions are given as ambient 3-vectors, see :attr:`ambient_dim`."""
        return 2

    @property
    def ambient_dim(self) -> int:
        return 3

    @property
    def volume(self) -> float:
        return 4 * math.pi

    def lam0_t(self, like: torch.Tensor) -> torch.Tensor:
        return self._t("lam0", like.dtype, like.device)

    def gaunt_t(self, like: torch.Tensor) -> torch.Tensor:
        return self._t("gaunt", like.dtype, like.device)

    def l2_index_t(self, device=None) -> torch.Tensor:
        """Degree l of each of the K2 modes up to 2L, int64 (K2,): expands per-degree tables to modes."""
        return self._t("modes2", torch.int64, device)[:, 0]


def _gaunt(lmax: int) -> np.ndarray:
    # The integrand Y_j Y_k Y_i has degree ≤ 4L: Gauss–Legendre with n_z nodes is exact up to degree
    # 2 n_z − 1 in z, the trapezoid rule with n_φ points up to frequency n_φ − 1 in φ. One node of margin each.
    n_z, n_phi = 2 * lmax + 2, 4 * lmax + 2
    theta, phi, w = sphere_quadrature(n_z, n_phi)
    Y1, _ = real_sph_harm(sphere_modes(lmax), theta, phi)
    Y2, _ = real_sph_harm(sphere_modes(2 * lmax), theta, phi)
    K = Y1.shape[1]
    G = (((Y1 * w[:, None])[:, :, None] * Y1[:, None, :]).reshape(len(w), K * K).T @ Y2).reshape(K, K, -1)
    G = 0.5 * (G + G.transpose(1, 0, 2))  # exact (j, k) symmetry, not just to rounding
    # the selection rules make most entries exactly zero; the quadrature leaves ~1e-17 there
    G[np.abs(G) < 1e-14 * np.abs(G).max()] = 0.0
    return G


@functools.lru_cache(maxsize=16)
def _basis(lmax: int) -> SphereModeBasis:
    modes, modes2 = sphere_modes(lmax), sphere_modes(2 * lmax)
    arrays = (modes, sphere_eigenvalues(modes), modes2, _gaunt(lmax))
    for a in arrays:  # shared by every caller through the cache
        a.setflags(write=False)
    return SphereModeBasis(lmax, *arrays)


def sphere_basis(n_modes: int) -> SphereModeBasis:
    """At least ``n_modes`` lowest real harmonics, rounded up to whole multiplets: K = (L+1)² ≥ n_modes.

    Cached per L (the Gaunt tensor, (L+1)⁴(2L+1)² floats, is computed once by an exact product quadrature).

    Raises
    ------
    ManifoldSpecError
        Naming ``n_modes`` unless it is a positive integer.
    """
    n_modes = positive_int(n_modes, "n_modes")
    lmax = math.isqrt(n_modes - 1)  # smallest L with (L+1)² ≥ n_modes
    return _basis(lmax)


def _legendre_rows(lmax: int, z: torch.Tensor):
    """Q_l^m(z) = N_lm P_l^m(z)/sin^m θ for 0 ≤ m ≤ l ≤ lmax, flattened at l(l+1)/2 + m: (..., (L+1)(L+2)/2).

    Polynomials in z (the sin^m θ factor lives in (x + iy)^m), so nothing is singular at the poles.
    Fully normalized recurrences (N_lm² = (2l+1)/(4π)·(l−m)!/(l+m)!): no overflow at any L.
    """
    one = torch.ones_like(z)
    d = 1.0 / math.sqrt(4 * math.pi)  # Q_m^m, a constant: d_m = d_{m−1} √((2m+1)/(2m))
    rows = [(one * d)[..., None]]
    for l in range(1, lmax + 1):
        prev = rows[-1]
        parts = []
        if l >= 2:
            m = torch.arange(l - 1, dtype=z.dtype, device=z.device)
            a = torch.sqrt((4.0 * l * l - 1) / (l * l - m * m))
            b = torch.sqrt(((l - 1.0) ** 2 - m * m) / (4.0 * (l - 1) ** 2 - 1))
            parts.append(a * (z[..., None] * prev[..., : l - 1] - b * rows[-2]))
        parts.append(math.sqrt(2 * l + 1) * z[..., None] * prev[..., l - 1:l])  # Q_l^{l−1}
        d = d * math.sqrt((2 * l + 1) / (2 * l))
        parts.append((one * d)[..., None])  # Q_l^l
        rows.append(torch.cat(parts, -1))
    return torch.cat(rows, -1)


def sphere_features(lmax: int, x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Real spherical harmonics Y_j(x/|x|), j = (l, m) with l ≤ ``lmax``, in :func:`sphere_modes` order.

    Parameters
    ----------
    lmax : int ≥ 0
    x : tensor (..., 3)
        Points of R³; each is projected to the unit sphere, x/|x| (with |x| clamped below by ``eps``:
        the direction of x = 0 is undefined, and a learned projection hits it only on a set of measure zero).
    eps : float

    Returns
    -------
    tensor (..., (lmax+1)²)

    Notes
    -----
    Cartesian recurrences: Y_lm = √2 Q_l^|m|(z) Re (x+iy)^m for m > 0, √2 Q_l^|m|(z) Im (x+iy)^|m| for
    m < 0, Q_l^0(z) for m = 0, with Q polynomial in z. Every step is a polynomial in the unit vector, so
    values and autograd gradients are finite everywhere, the poles included (x = 0 excepted).
    """
    if isinstance(lmax, bool) or int(lmax) != lmax or lmax < 0:
        raise ManifoldSpecError(f"lmax: must be an integer ≥ 0, got {lmax!r}")
    lmax = int(lmax)
    if x.dim() < 1 or x.shape[-1] != 3:
        raise ManifoldSpecError(f"x: last axis must hold 3 ambient coordinates (points of R³), got shape {tuple(x.shape)}")
    u = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(eps)
    X, Y, Z = u.unbind(-1)
    Q = _legendre_rows(lmax, Z)
    cos, sin = [torch.ones_like(X)], [torch.zeros_like(X)]
    for _ in range(lmax):  # (x + iy)^m = sin^m θ e^{imφ}, by complex multiplication in reals
        c, s = cos[-1], sin[-1]
        cos.append(X * c - Y * s)
        sin.append(X * s + Y * c)
    trig = torch.stack(sin[:0:-1] + cos, -1)  # index m + lmax: sin|m|… for m < 0, cos m… for m ≥ 0
    iq, it, nrm = _feature_index(lmax)
    dev = x.device
    return Q[..., iq.to(dev)] * trig[..., it.to(dev)] * nrm.to(dtype=u.dtype, device=dev)


@functools.lru_cache(maxsize=64)
def _feature_index(lmax: int):
    modes = sphere_modes(lmax)
    l, m = modes[:, 0], modes[:, 1]
    with torch.inference_mode(False):  # cached: must stay usable by autograd after a first call in inference mode
        return (torch.as_tensor(l * (l + 1) // 2 + np.abs(m)), torch.as_tensor(m + lmax),
                torch.as_tensor(np.where(m == 0, 1.0, math.sqrt(2.0))))


__all__ = ["SphereModeBasis", "sphere_basis", "sphere_features"]
