"""Bottom-k eigenpairs of a sparse pencil K φ = λ M φ with an adjoint-method backward.

Forward: the core's shift-invert Lanczos (:func:`manifoldspec.spectral.solve.solve_operators`),
no autograd; Φ is M-orthonormal (Φᵀ M Φ = I).

Backward (NN_ANCHORS.md §3.1; derivation in docs/nn.md), for a loss L(λ, Φ) with cotangents
ḡ_λ (k,) and Ḡ_Φ (n, k), as gradients K̄, M̄ evaluated on the sparsity pattern only:

* eigenvalues: dλ_i = φ_iᵀ(dK − λ_i dM)φ_i;
* eigenvectors, inside span Φ: E_ji = (φ_jᵀḡ_i)/(λ_i − λ_j) for pairs in *different*
  clusters (the antisymmetric coupling inside a (near-)degenerate cluster is dropped, which is
  exact for losses invariant to rotations inside the cluster — the only losses whose gradient
  exists there), plus the normalization term −½ Σ_{j∈C(i)} (φ_jᵀḡ_i) φ_jᵀ dM φ_i;
* eigenvectors, outside span Φ: the bordered sparse system
  [[K − λ_i M, MΦ], [ΦᵀM, 0]] [y_i; ℓ] = [(I − MΦΦᵀ) ḡ_i; 0]   (sparse LU, one per pair),
  giving dL = −y_iᵀ(dK − λ_i dM)φ_i. No dense eigendecomposition of the full problem.

The result does not depend on the basis the solver picked inside a degenerate cluster
(tested). Inputs are the values of K and M on a fixed pattern; both are symmetrized
(½(A + Aᵀ)) before solving, so gradients are those of the symmetric parts.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ..._checks import ManifoldSpecError, positive_int
from ...spectral.solve import solve_operators


def sparse_pattern(*mats):
    """Union sparsity pattern (rows, cols) int64 of scipy sparse matrices of one shape."""
    S = abs(mats[0]).tocsr()
    for A in mats[1:]:
        S = S + abs(A).tocsr()
    S = S.tocoo()
    return S.row.astype(np.int64), S.col.astype(np.int64)


def values_on(A, rows, cols) -> np.ndarray:
    """Entries of sparse A at (rows, cols), float64 (nnz,)."""
    return np.asarray(A.tocsr()[rows, cols]).ravel().astype(np.float64)


def _matrix(vals, rows, cols, n):
    A = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    return (0.5 * (A + A.T)).tocsr()


def _clusters_mask(lam, rtol):
    scale = max(float(np.abs(lam).max()), 1e-300)
    return np.abs(lam[:, None] - lam[None, :]) <= rtol * scale


def eigsh_backward(K, M, lam, Phi, g_lam, g_Phi, rows, cols, *, degen_rtol=1e-8, lam_next=None):
    """Adjoint gradients (K̄, M̄) on the pattern, float64 (nnz,) each.

    Parameters
    ----------
    K, M : scipy sparse (n, n), symmetric ; lam (k,), Phi (n, k) M-orthonormal
    g_lam : (k,) or None ; g_Phi : (n, k) or None   cotangents
    degen_rtol : float
        Pairs with |λ_i − λ_j| ≤ degen_rtol·max|λ| count as one cluster.
    lam_next : float, optional
        λ_{k+1}; if it lies in the cluster of λ_k the eigenvector gradient is undefined
        (the returned set cuts a degenerate cluster) and we raise.
    """
    n, k = Phi.shape
    Gu = np.zeros((n, 0))
    Gv = np.zeros((n, 0))  # K̄ = Σ Gu Gvᵀ (symmetrized on the pattern)
    Mu, Mv = np.zeros((n, 0)), np.zeros((n, 0))
    if g_lam is not None:
        Gu, Gv = Phi * g_lam, Phi
        Mu, Mv = -Phi * (g_lam * lam), Phi
    if g_Phi is not None and np.any(g_Phi):
        scale = max(float(np.abs(lam).max()), 1e-300)
        if lam_next is not None and abs(lam_next - lam[-1]) <= degen_rtol * scale:
            raise ManifoldSpecError(
                f"k: the {k} returned eigenpairs cut a degenerate cluster (λ_k = {lam[-1]:.8g}, "
                f"λ_(k+1) = {lam_next:.8g}); eigenvector gradients need whole clusters — change k")
        C = Phi.T @ g_Phi  # C_ji = φ_jᵀ ḡ_i
        same = _clusters_mask(lam, degen_rtol)
        gap = lam[None, :] - lam[:, None]  # [j, i] = λ_i − λ_j
        E = np.where(same, 0.0, C / np.where(same, 1.0, gap))
        # K̄ += Φ E Φᵀ, M̄ += −Φ (E diag λ) Φᵀ − ½ Φ (C∘same) Φᵀ: inside a cluster the M-orthonormality
        # constraint fixes the symmetric part −½Φ_CᵀdMΦ_C of the rotation (the rest is invisible to invariant losses)
        Gu, Gv = np.hstack([Gu, Phi @ E]), np.hstack([Gv, Phi])
        Mu = np.hstack([Mu, -Phi @ (E * lam[None, :]) - 0.5 * Phi @ np.where(same, C, 0.0)])
        Mv = np.hstack([Mv, Phi])
        MPhi = M @ Phi
        R = g_Phi - MPhi @ (Phi.T @ g_Phi)  # (I − MΦΦᵀ) ḡ
        Y = np.empty((n, k))
        Z = sp.csr_matrix((k, k))
        for i in range(k):
            A = sp.bmat([[K - lam[i] * M, sp.csr_matrix(MPhi)], [sp.csr_matrix(MPhi.T), Z]], format="csc")
            Y[:, i] = spla.splu(A).solve(np.concatenate([R[:, i], np.zeros(k)]))[:n]
        Gu, Gv = np.hstack([Gu, -Y]), np.hstack([Gv, Phi])
        Mu, Mv = np.hstack([Mu, Y * lam[None, :]]), np.hstack([Mv, Phi])

    def on_pattern(U, V):
        return 0.5 * (np.einsum("pa,pa->p", U[rows], V[cols]) + np.einsum("pa,pa->p", V[rows], U[cols]))

    return on_pattern(Gu, Gv), on_pattern(Mu, Mv)


class _SparseEigsh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, K_vals, M_vals, rows, cols, n, k, degen_rtol):
        K = _matrix(K_vals.detach().cpu().numpy(), rows, cols, n)
        M = _matrix(M_vals.detach().cpu().numpy(), rows, cols, n)
        kk = min(k + 1, n - 2)
        lam, Phi = solve_operators(K, M, kk)
        ctx.K, ctx.M, ctx.rows, ctx.cols, ctx.rtol = K, M, rows, cols, degen_rtol
        ctx.lam_next = float(lam[k]) if kk > k else None
        ctx.lam, ctx.Phi = lam[:k], Phi[:, :k]
        like = dict(dtype=K_vals.dtype, device=K_vals.device)
        return torch.as_tensor(lam[:k], **like), torch.as_tensor(Phi[:, :k], **like)

    @staticmethod
    def backward(ctx, g_lam, g_Phi):
        gl = None if g_lam is None else g_lam.detach().cpu().numpy().astype(np.float64)
        gP = None if g_Phi is None else g_Phi.detach().cpu().numpy().astype(np.float64)
        gK, gM = eigsh_backward(ctx.K, ctx.M, ctx.lam, ctx.Phi, gl, gP, ctx.rows, ctx.cols,
                                degen_rtol=ctx.rtol, lam_next=ctx.lam_next)
        like = dict(dtype=g_lam.dtype if g_lam is not None else g_Phi.dtype)
        return torch.as_tensor(gK, **like), torch.as_tensor(gM, **like), None, None, None, None, None


def sparse_eigsh(K_vals, M_vals, rows, cols, n: int, k: int, *, degen_rtol: float = 1e-8):
    """Smallest ``k`` eigenpairs of K φ = λ M φ, differentiable in the values of K and M.

    Parameters
    ----------
    K_vals, M_vals : tensor (nnz,)
        Values of K and M at (rows, cols) (see :func:`sparse_pattern`, :func:`values_on`);
        the matrices used are the symmetric parts. M must be SPD, K symmetric PSD.
    rows, cols : int arrays (nnz,) ; n : int (matrix size) ; k : int (< n − 2)
    degen_rtol : float
        Relative gap below which eigenvalues are treated as one degenerate cluster.

    Returns
    -------
    lam : tensor (k,) ascending ; Phi : tensor (n, k), M-orthonormal (Φᵀ M Φ = I)
        Eigenvector gradients are defined for losses invariant to rotations (and signs)
        inside each degenerate cluster, e.g. functions of Φ_C Φ_Cᵀ or Σ_i f(λ_i) φ_i φ_iᵀ.
    """
    n, k = positive_int(n, "n"), positive_int(k, "k")
    if k >= n - 2:
        raise ManifoldSpecError(f"k: must be < n − 2 = {n - 2} for the sparse solver, got {k}")
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    if K_vals.shape != rows.shape or M_vals.shape != rows.shape:
        raise ManifoldSpecError(f"K_vals, M_vals: expected shape ({len(rows)},) to match the pattern, "
                                f"got {tuple(K_vals.shape)} and {tuple(M_vals.shape)}")
    return _SparseEigsh.apply(K_vals, M_vals, rows, cols, n, k, float(degen_rtol))
