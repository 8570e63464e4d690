"""Spectral coefficients of token values and their retrieval, eqs. (5)–(6), on any computed spectrum.

Eq. (5) writes N token values V_i placed at μ_i as K coefficients,
c_k = Σ_i V_i φ_k(μ_i) w_i (a quadrature of ∫ V φ_k dVol_g), and eq. (6) reads them back at a
query, Y(q) = Σ_k f(λ_k) c_k φ_k(q) (f ≡ 1 in the paper; a spectral filter such as the heat
kernel f = e^{−τλ} in the SMT layer). For a smooth field sampled with an accurate quadrature,
Y reproduces the field's projection on the first K eigenfunctions; for N point tokens it is the
band-limited kernel Σ_k f(λ_k) φ_k(q) φ_k(μ_i) applied to the values, whose capacity is K
(``manifoldspec verify --only retrieval_capacity``). The eigenfunctions are real and
M-orthonormal, so the result is basis-independent inside a degenerate cluster only when the
spectrum holds whole clusters.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array
from .spectrum import Spectrum


def _values(values, n: int) -> tuple[np.ndarray, bool]:
    v = as_finite_array(values, "values")
    if v.ndim not in (1, 2) or v.shape[0] != n:
        raise ManifoldSpecError(f"values: expected shape ({n},) or ({n}, d_v) for {n} token positions, got {v.shape}")
    return (v[:, None], True) if v.ndim == 1 else (v, False)


def spectral_coefficients(spec: Spectrum, mu, values, weights=None) -> np.ndarray:
    """Eq. (5): c_k = Σ_i V_i φ_k(μ_i) w_i.

    Parameters
    ----------
    spec : Spectrum
        K eigenpairs; φ_k are its M-orthonormal eigenfunctions (L²(dVol_g)-normalized).
    mu : array (N, d)
        Token positions in ambient coordinates (torus points are wrapped, surface points projected).
    values : array (N,) or (N, d_v)
        Token values V_i.
    weights : float or array (N,), optional
        Quadrature weights w_i ≥ 0 (units of volume). Default Area_g/N, the equal-weight rule eq. (5)
        implies for tokens spread over the manifold.

    Returns
    -------
    c : ndarray (K,) or (K, d_v), matching ``values``
    """
    Phi = spec.evaluate(mu)  # validates mu
    n = Phi.shape[0]
    V, flat = _values(values, n)
    if weights is None:
        w = np.full(n, spec.area / max(n, 1))
    else:
        w = as_finite_array(weights, "weights")
        if w.ndim == 0:
            w = np.full(n, float(w))
        elif w.shape != (n,):
            raise ManifoldSpecError(f"weights: expected a number or shape ({n},) for {n} token positions, got {w.shape}")
        if np.any(w < 0):
            raise ManifoldSpecError("weights: quadrature weights must be ≥ 0")
    c = Phi.T @ (w[:, None] * V)
    return c[:, 0] if flat else c


def filter_values(spec: Spectrum, f: Callable | None = None, tau: float | None = None) -> np.ndarray:
    """f(λ_k) for eq. (6): f ≡ 1 by default, the heat kernel e^{−τλ} with ``tau``, or any callable."""
    if f is not None and tau is not None:
        raise ManifoldSpecError("f, tau: give a filter function or a heat time, not both")
    lam = spec.eigenvalues
    if tau is not None:
        if not (np.isfinite(tau) and tau >= 0):
            raise ManifoldSpecError(f"tau: heat time must be a finite number ≥ 0, got {tau}")
        return np.exp(-tau * lam)
    if f is None:
        return np.ones_like(lam)
    fl = np.asarray(f(lam), dtype=float)
    if fl.shape != lam.shape or not np.all(np.isfinite(fl)):
        raise ManifoldSpecError(f"f: must return {lam.shape[0]} finite values for the eigenvalues, "
                                f"got shape {fl.shape}{'' if np.all(np.isfinite(fl)) else ' with NaN/inf'}")
    return fl


def retrieve(spec: Spectrum, q, coefficients, *, f: Callable | None = None, tau: float | None = None) -> np.ndarray:
    """Eq. (6): Y(q) = Σ_k f(λ_k) c_k φ_k(q).

    Parameters
    ----------
    spec : Spectrum
    q : array (Q, d)
        Query points in ambient coordinates.
    coefficients : array (K,) or (K, d_v)
        From :func:`spectral_coefficients` (same spectrum).
    f : callable λ -> f(λ), optional
        Spectral filter (default f ≡ 1, eq. 6 as written).
    tau : float, optional
        Heat time: f(λ) = e^{−τλ} (instead of ``f``).

    Returns
    -------
    Y : ndarray (Q,) or (Q, d_v)
    """
    c = as_finite_array(coefficients, "coefficients")
    if c.ndim not in (1, 2) or c.shape[0] != spec.k:
        raise ManifoldSpecError(f"coefficients: expected shape ({spec.k},) or ({spec.k}, d_v) for this spectrum's "
                                f"{spec.k} eigenpairs, got {c.shape}")
    fl = filter_values(spec, f, tau)
    scaled = fl[:, None] * c if c.ndim == 2 else fl * c
    return spec.evaluate(q) @ scaled
