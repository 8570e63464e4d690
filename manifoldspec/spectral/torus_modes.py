"""Analytic Fourier modes of the flat torus and the closed-form matrix elements H_mk.

Basis: e_m(ξ) = exp(i κ_m·ξ)/√V with κ_m = 2π m / L (componentwise), V = Π L_j;
these are L²-orthonormal eigenfunctions of −Δ with eigenvalue |κ_m|².

For a token warp g = I + h, h = Σ_i α_i G_i v_i v_iᵀ with fully periodized Gaussians,
the first-order operator changes are √|g| g⁻¹ − I ≈ ½ tr(h) I − h and √|g| − 1 ≈ ½ tr(h),
so with q = κ_k − κ_m (DESIGN.md §5, generalized to side lengths L_j):

    Ĝ_i(q)  = (2πσ²)^{n/2} / V · exp(−σ²|q|²/2) · exp(i q·μ_i)
    δK̃_mk  = Σ_i α_i (½|v_i|² κ_m·κ_k − (κ_m·v_i)(κ_k·v_i)) Ĝ_i(q)
    δM̃_mk  = Σ_i α_i ½|v_i|² Ĝ_i(q)

Both are Hermitian K x K matrices. This module is the plain numpy reference that the
streaming, torch and CUDA paths are tested against.
"""
from __future__ import annotations

import itertools

import numpy as np

from .._checks import as_finite_array, positive_int, positive_scalar


def torus_modes(lengths, k: int, *, whole_shells: bool = False) -> np.ndarray:
    """Integer mode vectors m of the first ``k`` torus eigenfunctions.

    Ordered by eigenvalue |2π m/L|², ties broken lexicographically (deterministic).

    Parameters
    ----------
    lengths : sequence of n floats
        Side lengths L_j.
    k : int
        Number of modes.
    whole_shells : bool
        If True, extend ``k`` so that no degenerate shell is cut.

    Returns
    -------
    ndarray of int, shape (K, n)
    """
    lengths = np.asarray([positive_scalar(x, "lengths") for x in np.atleast_1d(lengths)])
    k = positive_int(k, "k")
    n = len(lengths)
    r = 2
    while True:
        m = np.array(list(itertools.product(range(-r, r + 1), repeat=n)), dtype=np.int64)
        lam = np.sum((2 * np.pi * m / lengths) ** 2, axis=1)
        bound = (2 * np.pi * (r + 1) / lengths.max()) ** 2
        order = np.lexsort(tuple(m[:, j] for j in reversed(range(n))) + (np.round(lam, 12),))
        m, lam = m[order], lam[order]
        inside = lam < bound
        if inside.sum() > k:
            if whole_shells:
                last = lam[k - 1]
                k = int(np.sum(lam <= last * (1 + 1e-12) + 1e-15))
            return m[:k]
        r *= 2


def torus_wavevectors(modes: np.ndarray, lengths) -> np.ndarray:
    """κ_m = 2π m / L, shape (K, n)."""
    return 2 * np.pi * np.asarray(modes, dtype=float) / np.asarray(lengths, dtype=float)


def torus_eigenvalues(modes: np.ndarray, lengths) -> np.ndarray:
    """|κ_m|², shape (K,)."""
    return np.sum(torus_wavevectors(modes, lengths) ** 2, axis=1)


def torus_mode_values(modes: np.ndarray, lengths, x) -> np.ndarray:
    """e_m(x) = exp(i κ_m·x)/√V at points x (P, n); returns complex (P, K)."""
    kappa = torus_wavevectors(modes, lengths)
    x = np.asarray(x, dtype=float)
    return np.exp(1j * x @ kappa.T) / np.sqrt(np.prod(lengths))


def torus_matrix_elements(modes: np.ndarray, lengths, alpha, mu, v, sigma):
    """Closed-form first-order matrix elements (δK̃, δM̃) of a token warp on the flat torus.

    Parameters
    ----------
    modes : int array (K, n)
        Mode vectors from :func:`torus_modes`.
    lengths : sequence of n floats
    alpha : (N,), mu : (N, n), v : (N, n), sigma : float
        Token warp of eq. (1) (periodized).

    Returns
    -------
    dK, dM : complex ndarray, shape (K, K)
        Hermitian; dK[m, k] = ⟨e_m, δK e_k⟩ and dM[m, k] = ⟨e_m, δM e_k⟩.
    """
    lengths = np.asarray(lengths, dtype=float)
    n = len(lengths)
    alpha = as_finite_array(alpha, "alpha", ndim=1)
    mu = as_finite_array(mu, "mu", shape=(len(alpha), n))
    v = as_finite_array(v, "v", shape=(len(alpha), n))
    sigma = positive_scalar(sigma, "sigma")
    kappa = torus_wavevectors(modes, lengths)  # (K, n)
    q = kappa[None, :, :] - kappa[:, None, :]  # (K, K, n): q[m, k] = κ_k − κ_m
    pref = (2 * np.pi * sigma**2) ** (n / 2) / np.prod(lengths) * np.exp(-0.5 * sigma**2 * np.sum(q**2, -1))
    phase = np.exp(1j * np.einsum("mkj,ij->imk", q, mu))  # (N, K, K)
    v2 = np.sum(v**2, axis=1)  # (N,)
    kv = kappa @ v.T  # (K, N)
    dot = kappa @ kappa.T  # (K, K)
    a = alpha[:, None, None] * phase  # (N, K, K)
    dM = 0.5 * pref * np.einsum("i,imk->mk", v2, a)
    dK = pref * (0.5 * dot * np.einsum("i,imk->mk", v2, a) - np.einsum("mi,ki,imk->mk", kv, kv, a))
    return dK, dM
