"""Degenerate-safe perturbation of a base spectrum in mode space (eq. 7, DESIGN.md §5).

Setting. A base spectrum Λ0 = diag(λ0) with eigenvectors Φ0, orthonormal in the base
inner product (Φ0ᴴ M0 Φ0 = I), and perturbed operators K0 + δK, M0 + δM. Everything
here works on the projected matrices (the paper's H_mk)

    δK̃ = Φ0ᴴ δK Φ0,   δM̃ = Φ0ᴴ δM Φ0          (K_b x K_b, real symmetric or complex Hermitian)

so the base problem in the subspace is (Λ0 + δK̃) c = λ (I + δM̃) c, and a perturbed
eigenvector is φ = Φ0 c. Derivations: docs/perturbation.md.

Degeneracy. Eigenvalues are grouped into clusters (:mod:`.clusters`); inside a cluster
the perturbation is diagonalized, and gaps are only ever taken *between* clusters, so no
formula divides by a (near-)zero number. Quasi-degenerate clusters (split by a mesh) are
treated exactly through the symmetric (Löwdin) first-order operator

    H = δK̃ − ½ (Λ0 δM̃ + δM̃ Λ0),

which for an exactly degenerate cluster reduces to the block (δK̃ − λ_C δM̃)_CC of
DESIGN.md §5 / THEOREMS.md §3 item 7.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from .._checks import ManifoldSpecError, as_finite_array
from .clusters import CLUSTER_RTOL, cluster_indices, cluster_labels


def _as_matrix(A, name: str, k: int) -> np.ndarray:
    if sp.issparse(A):
        A = A.toarray()
    dtype = complex if np.iscomplexobj(A) else np.float64
    A = as_finite_array(A, name, shape=(k, k), dtype=dtype)
    scale = max(float(np.abs(A).max()), 1e-300)
    if np.abs(A - A.conj().T).max() > 1e-8 * scale:
        raise ManifoldSpecError(f"{name}: must be symmetric (real) or Hermitian (complex); "
                                f"relative asymmetry {np.abs(A - A.conj().T).max() / scale:.1e}")
    return 0.5 * (A + A.conj().T)


def _inputs(lam0, dK, dM):
    lam0 = as_finite_array(lam0, "lam0 (base eigenvalues)", ndim=1)
    k = len(lam0)
    return lam0, _as_matrix(dK, "dK (projected stiffness change)", k), _as_matrix(dM, "dM (projected mass change)", k)


def symmetric_first_order(lam0, dK, dM) -> np.ndarray:
    """H = δK̃ − ½(Λ0 δM̃ + δM̃ Λ0), shape (K, K), Hermitian.

    Λ0 + H is the first-order expansion of (I+δM̃)^{-1/2}(Λ0+δK̃)(I+δM̃)^{-1/2}, the
    subspace problem in the (I+δM̃)-orthonormal (Löwdin) frame.
    """
    lam0, dK, dM = _inputs(lam0, dK, dM)
    return dK - 0.5 * (lam0[:, None] + lam0[None, :]) * dM


@dataclass(frozen=True, eq=False)
class FirstOrder:
    """First-order result of :func:`first_order`.

    Attributes
    ----------
    eigenvalues : ndarray (K,)
        λ0 + first-order shifts, ascending inside each cluster.
    rotations : list of ndarray (|C|, |C|)
        Unitary U_C diagonalizing Λ_C + H_CC (the "good" basis of each cluster).
    clusters : list of int arrays
        Index sets used.
    """

    eigenvalues: np.ndarray
    rotations: list
    clusters: list


def first_order(lam0, dK, dM, *, rtol: float = CLUSTER_RTOL, clusters=None) -> FirstOrder:
    """First-order eigenvalues, degenerate-safe.

    For each cluster C the eigenvalues of Λ_C + H_CC (see :func:`symmetric_first_order`);
    for an exactly degenerate cluster this is λ_C + eig((δK̃ − λ_C δM̃)_CC).
    Error O(ε²) for a perturbation of size ε.

    Parameters
    ----------
    lam0 : (K,) ascending ; dK, dM : (K, K) dense or scipy.sparse, symmetric/Hermitian
    rtol : float
        Cluster tolerance (:func:`~manifoldspec.spectral.clusters.cluster_indices`).
    clusters : list of index arrays, optional
        Use these clusters instead.
    """
    lam0, dK, dM = _inputs(lam0, dK, dM)
    cl = cluster_indices(lam0, rtol) if clusters is None else clusters
    H = dK - 0.5 * (lam0[:, None] + lam0[None, :]) * dM
    out = np.empty(len(lam0))
    rots = []
    for idx in cl:
        w, U = sla.eigh(np.diag(lam0[idx]) + H[np.ix_(idx, idx)])
        out[idx] = w
        rots.append(U)
    return FirstOrder(out, rots, cl)


def first_order_eigenvalues(lam0, dK, dM, *, rtol: float = CLUSTER_RTOL) -> np.ndarray:
    """Shortcut for ``first_order(...).eigenvalues``, shape (K,)."""
    return first_order(lam0, dK, dM, rtol=rtol).eigenvalues


def first_order_eigenvectors(lam0, dK, dM, *, rtol: float = CLUSTER_RTOL, self_term: bool = True):
    """Eq. (7) for the generalized problem, cluster-safe: eigenvalues (K,) and coefficients Y (K, K).

    The perturbed eigenvector k is φ_k ≈ Φ0 Y[:, k], with

        Y = (I + A) · blockdiag(U_C),
        A_mk = (δK̃_mk − λ_k δM̃_mk) / (λ_k − λ_m)   for m, k in different clusters,
        A_CC = −½ δM̃_CC                             inside each cluster (the self-term),

    and U_C from :func:`first_order`. Then Yᴴ(I + δM̃)Y = I + O(ε²) (M-orthonormal in the
    perturbed mass), and the span of each cluster's columns is correct to O(ε²). Within a
    degenerate cluster that the perturbation splits, individual vectors are fixed only at
    the next order, so compare cluster projectors, not columns. Use a base set larger than
    the K you need: modes outside it are missing from the sum (an O(ε) truncation error).

    Parameters
    ----------
    self_term : bool
        Include −½δM̃_CC (default). Without it the M-normalization error is O(ε): the
        switch exists to test exactly that (THEOREMS.md PT-2).

    Returns
    -------
    eigenvalues : ndarray (K,)
    Y : ndarray (K, K), real or complex like the inputs
    """
    lam0, dK, dM = _inputs(lam0, dK, dM)
    fo = first_order(lam0, dK, dM, rtol=rtol)
    lab = cluster_labels(fo.clusters, len(lam0))
    other = lab[:, None] != lab[None, :]
    gap = lam0[None, :] - lam0[:, None]  # λ_k − λ_m, nonzero wherever ``other``
    G = dK - lam0[None, :] * dM
    A = np.zeros_like(G)
    A[other] = G[other] / gap[other]
    if self_term:
        same = ~other
        A[same] = -0.5 * dM[same]
    Y = np.eye(len(lam0), dtype=A.dtype) + A
    for idx, U in zip(fo.clusters, fo.rotations):
        Y[:, idx] = Y[:, idx] @ U
    return fo.eigenvalues, Y


def second_order_eigenvalues(lam0, dK, dM, *, rtol: float = CLUSTER_RTOL) -> np.ndarray:
    """Second-order eigenvalues, degenerate-safe; shape (K,), error O(ε³).

    Löwdin partitioning of the generalized subspace problem: for each cluster C, with
    G_mb = δK̃_mb − λ_b δM̃_mb (m ∉ C, b ∈ C), the eigenvalues of the small pencil

        (Λ_C + δK̃_CC + S) c = λ (I + δM̃_CC) c,
        S_ab = ½ Σ_{m∉C} conj(G_ma) G_mb [1/(λ_a − λ_m) + 1/(λ_b − λ_m)].

    For a simple eigenvalue this is THEOREMS.md §3 item 3 (λ_i + G_ii + Σ G_mi²/(λ_i − λ_m)
    − G_ii δM̃_ii) up to O(ε³); for an exactly degenerate cluster split at first order it is
    item 7; unlike those it stays valid when first-order shifts coincide and for mesh-split
    (quasi-degenerate) clusters. Because G uses the target eigenvalue, G_m0 = 0 for the
    constant mode (δK 1 = 0) and the modes missing from a truncated base set only cost
    Σ_{m missing} |G_mb|²/(λ_b − λ_m). δK̃, δM̃ should be the *full* differences (e.g. from
    re-assembly), not linearized ones, for O(ε³).
    """
    lam0, dK, dM = _inputs(lam0, dK, dM)
    cl = cluster_indices(lam0, rtol)
    lab = cluster_labels(cl, len(lam0))
    out = np.empty(len(lam0))
    for c, idx in enumerate(cl):
        rest = np.nonzero(lab != c)[0]
        G = dK[np.ix_(rest, idx)] - lam0[idx][None, :] * dM[np.ix_(rest, idx)]  # (R, |C|)
        inv = 1.0 / (lam0[idx][None, :] - lam0[rest][:, None])  # (R, |C|): gaps between clusters only
        S = 0.5 * (G.conj().T @ (G * inv) + (G * inv).conj().T @ G)
        A = np.diag(lam0[idx]) + dK[np.ix_(idx, idx)] + S
        B = np.eye(len(idx)) + dM[np.ix_(idx, idx)]
        try:
            out[idx] = sla.eigvalsh(0.5 * (A + A.conj().T), 0.5 * (B + B.conj().T))
        except np.linalg.LinAlgError:
            raise ManifoldSpecError("dM: I + δM̃ is not positive definite on a cluster — the perturbation is "
                                    "too large") from None
    return out


def ritz(lam0, dK, dM):
    """Rayleigh–Ritz in the base subspace: (Λ0 + δK̃) c = λ (I + δM̃) c.

    Exact within span(Φ0); the reference the perturbative forms are measured against.

    Returns
    -------
    eigenvalues : ndarray (K,), ascending
    C : ndarray (K, K)
        Coefficients, Cᴴ (I + δM̃) C = I (M-orthonormal in the perturbed mass).
    """
    lam0, dK, dM = _inputs(lam0, dK, dM)
    B = np.eye(len(lam0)) + dM
    try:
        return sla.eigh(np.diag(lam0) + dK, B)
    except np.linalg.LinAlgError:
        raise ManifoldSpecError("dM: I + δM̃ is not positive definite — the perturbation is too large "
                                "for the perturbed mass matrix to be a valid inner product") from None


def ritz_lowdin(lam0, dK, dM) -> np.ndarray:
    """The subspace problem in the Löwdin frame: (I+δM̃)^{-1/2}(Λ0+δK̃)(I+δM̃)^{-1/2}, (K, K) Hermitian.

    Its eigenvalues are the Ritz values; f of it is what F∘H approximates.
    """
    lam0, dK, dM = _inputs(lam0, dK, dM)
    w, V = sla.eigh(np.eye(len(lam0)) + dM)
    if w.min() <= 0:
        raise ManifoldSpecError("dM: I + δM̃ is not positive definite — the perturbation is too large")
    Bh = (V / np.sqrt(w)) @ V.conj().T
    A = Bh @ (np.diag(lam0) + dK) @ Bh
    return 0.5 * (A + A.conj().T)


def divided_differences(lam, f, fprime, *, tie_rtol: float = 1e-6) -> np.ndarray:
    """First divided differences F_mk = (f(λ_m) − f(λ_k))/(λ_m − λ_k), F = f′ on (near-)ties.

    A pair counts as tied when |λ_m − λ_k| ≤ tie_rtol · max(|λ_m|, |λ_k|, 1); there the
    quotient would lose digits to cancellation, and f′ at the midpoint is accurate to
    O(δ²) (δ the gap). F is therefore finite and continuous through exact degeneracy.

    Parameters
    ----------
    lam : (K,) ; f, fprime : vectorized callables R -> R

    Returns
    -------
    F : ndarray (K, K), real symmetric
    """
    lam = as_finite_array(lam, "lam", ndim=1)
    fl = np.asarray(f(lam), dtype=float)
    d = lam[:, None] - lam[None, :]
    scale = np.maximum(np.maximum(np.abs(lam)[:, None], np.abs(lam)[None, :]), 1.0)
    tie = np.abs(d) <= tie_rtol * scale
    F = np.empty_like(d)
    F[~tie] = (fl[:, None] - fl[None, :])[~tie] / d[~tie]
    mid = 0.5 * (lam[:, None] + lam[None, :])
    F[tie] = np.asarray(fprime(mid[tie]), dtype=float)
    if not np.all(np.isfinite(F)):
        raise ManifoldSpecError("f: the spectral filter or its derivative returned NaN/inf on the spectrum")
    return F


def spectral_function(lam0, dK, dM, f, fprime, *, tie_rtol: float = 1e-6) -> np.ndarray:
    """Spectral-function form f(Λ0 + H) ≈ f(Λ0) + F ∘ H (Daleckii–Krein), shape (K, K).

    H is :func:`symmetric_first_order`; F are the divided differences of f. This is eq. (7)
    summed over the spectrum: no gap in any denominator, finite and smooth at exact
    degeneracy. It approximates f of :func:`ritz_lowdin` to O(ε²), i.e.
    S f(Λ_ritz) Sᴴ with S = (I+δM̃)^{1/2} C_ritz.
    """
    lam0, dK, dM = _inputs(lam0, dK, dM)
    H = dK - 0.5 * (lam0[:, None] + lam0[None, :]) * dM
    F = divided_differences(lam0, f, fprime, tie_rtol=tie_rtol)
    return np.diag(np.asarray(f(lam0), dtype=float)) + F * H


def heat_filter(tau: float):
    """(f, f′) for the heat kernel f(λ) = exp(−τλ)."""
    return (lambda x: np.exp(-tau * np.asarray(x))), (lambda x: -tau * np.exp(-tau * np.asarray(x)))
