"""Numpy references for the finite-element H_mk contributions (kernel ``cuda/fe_elements.cu``).

On a mesh base the matrix elements of a token warp are δK̃ = Φ0ᵀ δK Φ0 (DESIGN.md §5), and
a bump touches only a few elements, so δK = Σ_c scatter(L_c) over a short list of local
element matrices L_c (shape (n_loc, n_loc), dofs ``dofs[c]``). On a fixed pattern of mode
pairs (m, k) this is

    out[b, p] = Σ_{c ∈ touched(b)} Φ0[dofs_c, m_p]ᵀ L_c Φ0[dofs_c, k_p].

Φ0 is M0-orthonormal (Φ0ᵀ M0 Φ0 = I), so the values are the matrix elements in that basis.
``touched`` is given in CSR form: batch b uses contributions ``touched[ptr[b]:ptr[b+1]]``.

:func:`fe_matrix_elements_loop` is the plain loop (a dense Φ_eᵀ L Φ_e per contribution);
:func:`fe_matrix_elements_numpy` is the vectorized CPU path used by the dispatcher.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError, as_finite_array


@dataclass(frozen=True, eq=False)
class ModePairs:
    """A fixed pattern of mode pairs (m, k), row-major for coalesced GPU reads.

    Attributes
    ----------
    rows, cols : int64 arrays (nnz,)
        Pairs (m, k) kept; indices into the K base modes.
    n_modes : int
        K.
    """

    rows: np.ndarray
    cols: np.ndarray
    n_modes: int

    @property
    def nnz(self) -> int:
        return len(self.rows)

    def to_dense(self, values: np.ndarray) -> np.ndarray:
        """Scatter values (..., nnz) into dense (..., K, K) matrices."""
        out = np.zeros(values.shape[:-1] + (self.n_modes, self.n_modes), dtype=values.dtype)
        out[..., self.rows, self.cols] = values
        return out


def mode_pairs(rows, cols, n_modes: int) -> ModePairs:
    """Validated :class:`ModePairs` from index arrays (nnz,) with values in [0, n_modes)."""
    rows = np.asarray(rows)
    cols = np.asarray(cols)
    if rows.ndim != 1 or rows.shape != cols.shape:
        raise ManifoldSpecError(f"rows, cols: expected two 1-d arrays of equal length, got {rows.shape}, {cols.shape}")
    for name, a in (("rows", rows), ("cols", cols)):
        if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= n_modes):
            raise ManifoldSpecError(f"{name}: expected integers in [0, {n_modes}), got dtype {a.dtype}"
                                    + (f", range [{a.min()}, {a.max()}]" if np.issubdtype(a.dtype, np.number) else ""))
    return ModePairs(rows.astype(np.int64), cols.astype(np.int64), int(n_modes))


def dense_pairs(n_modes: int) -> ModePairs:
    """All K² pairs in row-major order."""
    r, c = np.divmod(np.arange(n_modes * n_modes, dtype=np.int64), n_modes)
    return ModePairs(r, c, int(n_modes))


def check_fe_inputs(pattern, phi, dofs, local_K, local_M=None, ptr=None, touched=None):
    """Validate and normalize the finite-element inputs (numpy); returns a tuple of arrays.

    Returns
    -------
    rows, cols : int64 (nnz,) ; phi : float (ndof, K) ; dofs : int64 (E, n_loc)
    local_K : (E, n_loc, n_loc) ; local_M : same or None ; ptr : int64 (B+1,) ; touched : int64 (nt,)
    """
    rows, cols = np.asarray(pattern.rows), np.asarray(pattern.cols)
    phi = as_finite_array(phi, "phi", ndim=2)
    ndof, K = phi.shape
    pairs = mode_pairs(rows, cols, K)
    local_K = as_finite_array(local_K, "local_K", ndim=3)
    E, nloc = local_K.shape[:2]
    if local_K.shape[2] != nloc:
        raise ManifoldSpecError(f"local_K: expected shape (E, n_loc, n_loc), got {local_K.shape}")
    if local_M is not None:
        local_M = as_finite_array(local_M, "local_M", shape=local_K.shape)
    dofs = np.asarray(dofs)
    if dofs.shape != (E, nloc) or (dofs.size and not np.issubdtype(dofs.dtype, np.integer)):
        raise ManifoldSpecError(f"dofs: expected integers of shape ({E}, {nloc}), got {dofs.dtype} {dofs.shape}")
    if dofs.size and (dofs.min() < 0 or dofs.max() >= ndof):
        raise ManifoldSpecError(f"dofs: values must lie in [0, {ndof}) (rows of phi), got [{dofs.min()}, {dofs.max()}]")
    if (ptr is None) != (touched is None):
        raise ManifoldSpecError("ptr, touched: give both (CSR list of contributions per batch) or neither (one batch)")
    if ptr is None:
        ptr, touched = np.array([0, E], dtype=np.int64), np.arange(E, dtype=np.int64)
    ptr, touched = np.asarray(ptr), np.asarray(touched)
    for name, a in (("ptr", ptr), ("touched", touched)):
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise ManifoldSpecError(f"{name}: expected a 1-d integer array, got {a.dtype} {a.shape}")
    if len(ptr) < 1 or ptr[0] != 0 or ptr[-1] != len(touched) or np.any(np.diff(ptr) < 0):
        raise ManifoldSpecError(f"ptr: expected non-decreasing offsets (B+1,) from 0 to len(touched) = {len(touched)}, "
                                f"got {ptr if len(ptr) < 8 else ptr[:8]}")
    if touched.size and (touched.min() < 0 or touched.max() >= E):
        raise ManifoldSpecError(f"touched: values must lie in [0, {E}) (rows of local_K), got [{touched.min()}, {touched.max()}]")
    return (pairs.rows, pairs.cols, phi, dofs.astype(np.int64), local_K, local_M, ptr.astype(np.int64),
            touched.astype(np.int64))


def fe_matrix_elements_loop(pattern, phi, dofs, local_K, local_M=None, ptr=None, touched=None):
    """Plain-loop reference: for each batch and contribution, the dense Φ_eᵀ L Φ_e sampled on the pattern.

    Parameters
    ----------
    pattern : object with ``rows``, ``cols`` (nnz,) — :class:`ModePairs` or a TorusPattern
    phi : (ndof, K) M0-orthonormal base eigenvectors
    dofs : int (E, n_loc) global dofs of each contribution's element
    local_K, local_M : (E, n_loc, n_loc) local δK (and δM, optional)
    ptr, touched : CSR list of contributions per batch, (B+1,) and (nt,); None: one batch of all E

    Returns
    -------
    dK, dM : (B, nnz) float (dM is None without local_M)
    """
    rows, cols, phi, dofs, local_K, local_M, ptr, touched = check_fe_inputs(
        pattern, phi, dofs, local_K, local_M, ptr, touched)
    B = len(ptr) - 1
    dK = np.zeros((B, len(rows)))
    dM = None if local_M is None else np.zeros((B, len(rows)))
    for b in range(B):
        for c in touched[ptr[b]:ptr[b + 1]]:
            P = phi[dofs[c]]  # (n_loc, K)
            dK[b] += (P.T @ local_K[c] @ P)[rows, cols]
            if dM is not None:
                dM[b] += (P.T @ local_M[c] @ P)[rows, cols]
    return dK, dM


def fe_matrix_elements_numpy(pattern, phi, dofs, local_K, local_M=None, ptr=None, touched=None, *,
                             chunk_bytes: int = 1 << 25):
    """Vectorized CPU version of :func:`fe_matrix_elements_loop` (same arguments and result).

    Contributions are processed in chunks so that the (chunk, n_loc, nnz) gathers stay under
    ``chunk_bytes``; batch sums are a sparse (B, chunk) incidence product.
    """
    rows, cols, phi, dofs, local_K, local_M, ptr, touched = check_fe_inputs(
        pattern, phi, dofs, local_K, local_M, ptr, touched)
    B, nnz, nloc = len(ptr) - 1, len(rows), dofs.shape[1]
    batch_of = np.repeat(np.arange(B), np.diff(ptr))  # (nt,)
    dK = np.zeros((B, nnz))
    dM = None if local_M is None else np.zeros((B, nnz))
    step = max(1, chunk_bytes // (8 * 2 * nloc * max(nnz, 1)))
    for s in range(0, len(touched), step):
        ids = touched[s:s + step]
        P = phi[dofs[ids]]  # (c, n_loc, K)
        A, Bk = P[:, :, rows], P[:, :, cols]  # (c, n_loc, nnz)
        S = sp.csr_matrix((np.ones(len(ids)), (batch_of[s:s + step], np.arange(len(ids)))), shape=(B, len(ids)))
        dK += S @ np.einsum("cip,cij,cjp->cp", A, local_K[ids], Bk, optimize=True)
        if dM is not None:
            dM += S @ np.einsum("cip,cij,cjp->cp", A, local_M[ids], Bk, optimize=True)
    return dK, dM
