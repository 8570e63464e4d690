"""Analytic real spherical harmonics on the round sphere of radius r, with surface gradients.

Basis: Y_lm real, orthonormal in L²(S²_r, dA):  ∫ Y_lm Y_l'm' dA = δ δ, with eigenvalue
l(l+1)/r² of −Δ. Order: l = 0, 1, ..., lmax; inside l, m = −l..l (so each multiplet of
2l+1 is one contiguous degenerate cluster).

Quadrature: Gauss–Legendre in z = cos θ times the periodic trapezoid rule in φ. With
n_z ≥ (degree+1)/2 nodes and n_φ > degree points it integrates every polynomial of that
degree on the sphere exactly (products of harmonics times polynomial metric terms); for
smooth non-polynomial terms it converges spectrally. Its nodes avoid the poles, where the
(θ, φ) frame is singular.
"""
from __future__ import annotations

import numpy as np

from .._checks import ManifoldSpecError, positive_int, positive_scalar


def sphere_modes(lmax: int) -> np.ndarray:
    """Integer pairs (l, m) of all real harmonics with l ≤ lmax, shape ((lmax+1)², 2)."""
    if int(lmax) != lmax or lmax < 0:
        raise ManifoldSpecError(f"lmax: must be an integer ≥ 0, got {lmax!r}")
    return np.array([(l, m) for l in range(int(lmax) + 1) for m in range(-l, l + 1)], dtype=np.int64)


def sphere_eigenvalues(modes: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """l(l+1)/r², shape (K,)."""
    l = np.asarray(modes)[:, 0].astype(float)
    return l * (l + 1) / positive_scalar(radius, "radius") ** 2


def sphere_quadrature(n_z: int, n_phi: int):
    """Product rule on the unit sphere: angles θ (P,), φ (P,) and weights (P,) summing to 4π."""
    n_z, n_phi = positive_int(n_z, "n_z"), positive_int(n_phi, "n_phi")
    z, wz = np.polynomial.legendre.leggauss(n_z)
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    Z, PHI = np.meshgrid(z, phi, indexing="ij")
    W = np.outer(wz, np.full(n_phi, 2 * np.pi / n_phi))
    return np.arccos(Z).ravel(), PHI.ravel(), W.ravel()


def sphere_frame(theta, phi):
    """Points n (P, 3) on the unit sphere and the orthonormal tangent frame e_θ, e_φ (P, 3) each."""
    st, ct, sp_, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    n = np.stack([st * cp, st * sp_, ct], axis=-1)
    e_t = np.stack([ct * cp, ct * sp_, -st], axis=-1)
    e_p = np.stack([-sp_, cp, np.zeros_like(phi)], axis=-1)
    return n, e_t, e_p


def real_sph_harm(modes: np.ndarray, theta, phi, radius: float = 1.0):
    """Values and frame gradients of the L²(S²_r)-orthonormal real harmonics.

    Parameters
    ----------
    modes : int (K, 2)
        (l, m) pairs, e.g. from :func:`sphere_modes`.
    theta, phi : arrays (P,)
        Colatitude in (0, π) (poles excluded: the frame is singular there) and longitude.
    radius : float

    Returns
    -------
    Y : ndarray (P, K)
        Values (1/length).
    grad : ndarray (P, K, 2)
        Components of the surface gradient in the frame (e_θ, e_φ) (1/length²).
    """
    from scipy.special import sph_harm_y

    r = positive_scalar(radius, "radius")
    theta, phi = np.asarray(theta, float), np.asarray(phi, float)
    st = np.sin(theta)
    if np.any(st <= 0):
        raise ManifoldSpecError("theta: the poles θ = 0, π are not allowed (the frame is singular there)")
    P, K = len(theta), len(modes)
    Y = np.empty((P, K))
    grad = np.empty((P, K, 2))
    for j, (l, m) in enumerate(np.asarray(modes)):
        y, dy = sph_harm_y(l, abs(m), theta, phi, diff_n=1)
        # real form; (−1)^m undoes the Condon–Shortley phase (sign only, orthonormality unaffected)
        s = (-1) ** abs(m) * np.sqrt(2.0)
        if m > 0:
            val, dt, dp = s * y.real, s * dy[..., 0].real, s * dy[..., 1].real
        elif m < 0:
            val, dt, dp = s * y.imag, s * dy[..., 0].imag, s * dy[..., 1].imag
        else:
            val, dt, dp = y.real, dy[..., 0].real, dy[..., 1].real
        Y[:, j] = val / r
        grad[:, j, 0] = dt / r**2
        grad[:, j, 1] = dp / (st * r**2)
    return Y, grad
