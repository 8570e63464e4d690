"""Spectral filters in mode space: the first-order form f(Λ0) + F∘H and its exact counterparts.

* :func:`first_order_filter` — f(Λ0) + F∘H (DESIGN.md §5, Daleckii–Krein to first order),
  F_mk = (f(λ_m) − f(λ_k))/(λ_m − λ_k), F_kk = f′(λ_k). No gap in any denominator: for the
  heat filter f(λ) = exp(−τλ) we write F_mk = exp(−τλ_k)·expm1(−τ(λ_m − λ_k))/(λ_m − λ_k),
  which has no cancellation however small the gap, and f′ on exact ties.
* :func:`hermitian_function` — f(A) exactly, through ``eigh``, as an autograd Function whose
  backward is U (F(w) ∘ UᴴḠU) Uᴴ with the same stable divided differences of the eigenvalues
  w of A: finite and correct at exact degeneracy (torch.linalg.eigh's backward divides by
  eigenvalue gaps; this one does not).
* :func:`ritz_filter` — the exact reference f(L), L = (I+δM̃)^{-1/2}(Λ0+δK̃)(I+δM̃)^{-1/2}
  (the Rayleigh–Ritz problem in the Löwdin frame), which :func:`first_order_filter`
  approximates to O(ε²); :func:`ritz_kernel` / :func:`first_order_kernel` — the point-evaluation
  kernel matrix B f(L) B with B = (I+δM̃)^{-1/2}, and its first-order form.
"""
from __future__ import annotations

import torch

from ..._checks import ManifoldSpecError

FILTERS = ("heat", "none")


def _check_filter(filter: str) -> str:
    if filter not in FILTERS:
        raise ManifoldSpecError(f"filter: expected one of {FILTERS}, got {filter!r}")
    return filter


def heat_values(lam, tau):
    """f(λ) = exp(−τλ); ``lam`` (K,) or (..., K), ``tau`` (...) → (..., K)."""
    return torch.exp(-tau[..., None] * lam)


def heat_divided_differences(lam, tau):
    """F_mk for f(λ) = exp(−τλ) at real points ``lam`` (..., K); ``tau`` (...) → (..., K, K), symmetric.

    Exact ties (λ_m = λ_k, as in a degenerate torus shell) give f′ = −τ exp(−τλ).
    """
    t = tau[..., None, None]
    d = lam[..., :, None] - lam[..., None, :]
    tie = d == 0
    safe = torch.where(tie, torch.ones_like(d), d)
    fk = torch.exp(-t * lam[..., None, :])
    F = torch.where(tie, -t * fk, fk * torch.expm1(-t * safe) / safe)
    return 0.5 * (F + F.transpose(-1, -2))


def filter_tables(lam0, tau, filter: str = "heat"):
    """(f (..., K), F (..., K, K)) of the filter on the base eigenvalues; ``none`` is f ≡ 1, F ≡ 0."""
    _check_filter(filter)
    if filter == "none":
        shape = tau.shape + lam0.shape
        return torch.ones(shape, dtype=lam0.dtype, device=lam0.device), torch.zeros(shape + lam0.shape[-1:], dtype=lam0.dtype, device=lam0.device)
    return heat_values(lam0, tau), heat_divided_differences(lam0, tau)


def first_order_filter(lam0, H, tau, filter: str = "heat"):
    """f(Λ0) + F∘H, shape of ``H`` (..., K, K) (complex Hermitian or real symmetric).

    Parameters
    ----------
    lam0 : tensor (K,) base eigenvalues (ascending, exact ties allowed)
    H : tensor (..., K, K) symmetric first-order operator δK̃ − ½(Λ0δM̃ + δM̃Λ0)
    tau : tensor broadcastable to H.shape[:-2]  heat time τ ≥ 0
    """
    f, F = filter_tables(lam0, tau, filter)
    return torch.diag_embed(f).to(H.dtype) + F * H


def _divided(w, tau, kind):
    if kind == "invsqrt":
        r = torch.sqrt(w)
        return -1.0 / (r[..., :, None] * r[..., None, :] * (r[..., :, None] + r[..., None, :])), r.reciprocal()
    return heat_divided_differences(w, tau), torch.exp(-tau[..., None] * w)


class _HermitianFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, tau, kind):
        w, U = torch.linalg.eigh(A)
        if kind == "invsqrt" and bool((w <= 0).any()):
            raise ManifoldSpecError("A: not positive definite, so A^{-1/2} does not exist "
                                    f"(smallest eigenvalue {float(w.min()):.3e}); the mass perturbation is too large")
        F, fw = _divided(w, tau, kind)
        ctx.save_for_backward(w, U, tau, F, fw)
        ctx.kind = kind
        return (U * fw[..., None, :].to(U.dtype)) @ U.mH

    @staticmethod
    def backward(ctx, G):
        w, U, tau, F, fw = ctx.saved_tensors
        Gt = U.mH @ G @ U
        gA = U @ (F.to(U.dtype) * Gt) @ U.mH
        g_tau = None
        if ctx.kind == "heat" and ctx.needs_input_grad[1]:
            diag = torch.diagonal(Gt, dim1=-2, dim2=-1).real
            g_tau = (diag * (-w * fw)).sum(-1).sum_to_size(tau.shape)
        return gA, g_tau, None


def hermitian_function(A, tau=None, kind: str = "heat"):
    """f(A) for Hermitian (complex) or symmetric (real) A (..., K, K), exact via eigh.

    ``kind="heat"``: f(x) = exp(−τx), τ a tensor broadcastable to A.shape[:-2];
    ``kind="invsqrt"``: f(x) = x^{-1/2} (A must be positive definite).
    The input is symmetrized, ½(A + Aᴴ), so the gradient is that of the Hermitian part.
    Backward: Daleckii–Krein with stable divided differences — finite at exact degeneracy.
    """
    if kind not in ("heat", "invsqrt"):
        raise ManifoldSpecError(f"kind: expected 'heat' or 'invsqrt', got {kind!r}")
    A = 0.5 * (A + A.mH)
    if tau is None:
        tau = torch.zeros(A.shape[:-2], dtype=A.real.dtype, device=A.device)
    tau = torch.as_tensor(tau, dtype=A.real.dtype, device=A.device).expand(A.shape[:-2])
    return _HermitianFunction.apply(A, tau, kind)


def _lowdin(lam0, dK, dM):
    eye = torch.eye(lam0.shape[-1], dtype=dK.dtype, device=dK.device)
    B = hermitian_function(eye + dM, kind="invsqrt")
    return B, B @ (torch.diag_embed(lam0).to(dK.dtype) + dK) @ B


def ritz_filter(lam0, dK, dM, tau):
    """Exact f(L) with L = (I+δM̃)^{-1/2}(Λ0+δK̃)(I+δM̃)^{-1/2}, f = heat; (..., K, K)."""
    _, L = _lowdin(lam0, dK, dM)
    return hermitian_function(L, tau, "heat")


def ritz_kernel(lam0, dK, dM, tau):
    """Exact kernel matrix A with Σ_k f(λ_k) φ_k(x) conj(φ_k(y)) = e(x)ᵀ A conj(e(y)), φ_k the Ritz vectors.

    A = B f(L) B, B = (I+δM̃)^{-1/2} (the Ritz vectors are (I+δM̃)-orthonormal).
    """
    B, L = _lowdin(lam0, dK, dM)
    return B @ hermitian_function(L, tau, "heat") @ B


def first_order_kernel(lam0, dK, dM, tau):
    """First-order form of :func:`ritz_kernel`: f(Λ0) + F∘H − ½(δM̃ f(Λ0) + f(Λ0) δM̃)."""
    H = dK - 0.5 * (lam0[:, None] + lam0[None, :]) * dM
    f = heat_values(lam0, tau)
    return first_order_filter(lam0, H, tau) - 0.5 * (f[..., :, None] + f[..., None, :]) * dM
