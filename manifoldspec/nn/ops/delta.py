"""The delta rule (DeltaNet; Schlag et al. 2021, Yang et al. 2024), a recall baseline NN_ANCHORS names.

Per head, with unit keys k_t, queries q_t (d_k), values v_t (d_v) and a write strength β_t ∈ [0, 1]:

    S_t = S_{t−1} + β_t k_t (v_t − S_{t−1}ᵀ k_t)ᵀ,    o_t = S_tᵀ q_t        (S: d_k x d_v)

Each write first removes what the state returns for k_t, so a repeated key overwrites its value
instead of piling up (linear attention adds S_t = S_{t−1} + k_t v_tᵀ).

Two forms: :func:`delta_rule_recurrent` (token loop, the reference) and :func:`delta_rule_chunked`,
the WY / UT form: inside a chunk with start state S_0, the corrected values u_t = v_t − S_{t−1}ᵀk_t solve
the unit lower-triangular system (I + tril(diag(β)KKᵀ, −1)) Ũ = diag(β)(V − K S_0) for Ũ = diag(β)U,
and then O = Q S_0 + tril(QKᵀ) Ũ, S_end = S_0 + KᵀŨ. Shapes: q, k (B, nh, T, d_k), v (B, nh, T, d_v),
beta (B, nh, T), state (B, nh, d_k, d_v). Both take ``cu_seqlens`` (varlen packing).
"""
from __future__ import annotations

import torch

from ..._checks import ManifoldSpecError
from .varlen import packed_single_state


def _check(q, k, v, beta):
    B, nh, T, dk = k.shape
    if tuple(q.shape) != (B, nh, T, dk):
        raise ManifoldSpecError(f"q: expected shape {(B, nh, T, dk)} (that of k), got {tuple(q.shape)}")
    if tuple(v.shape[:3]) != (B, nh, T):
        raise ManifoldSpecError(f"v: expected shape ({B}, {nh}, {T}, d_v), got {tuple(v.shape)}")
    if tuple(beta.shape) != (B, nh, T):
        raise ManifoldSpecError(f"beta: expected shape {(B, nh, T)}, got {tuple(beta.shape)}")


def delta_rule_recurrent(q, k, v, beta, state=None, *, cu_seqlens=None):
    """Reference: one token at a time. Returns (o (B, nh, T, d_v), S (B, nh, d_k, d_v))."""
    _check(q, k, v, beta)
    if cu_seqlens is not None:
        # a zero token (β = 0, k = v = 0) leaves S exactly as it is, so padded buckets may carry states
        return packed_single_state(delta_rule_recurrent, (q, k, v, beta), (), state, cu_seqlens,
                                   zero_token_keeps_state=True)
    B, nh, T, dk = k.shape
    S = q.new_zeros(B, nh, dk, v.shape[-1]) if state is None else state
    ys = []
    for t in range(T):
        kt = k[:, :, t]
        u = v[:, :, t] - torch.einsum("bhk,bhkd->bhd", kt, S)
        S = S + beta[:, :, t, None, None] * kt[..., :, None] * u[..., None, :]
        ys.append(torch.einsum("bhk,bhkd->bhd", q[:, :, t], S))
    return (torch.stack(ys, 2) if ys else v.new_zeros(B, nh, 0, v.shape[-1])), S


def delta_rule_chunked(q, k, v, beta, state=None, chunk_size: int = 64, *, cu_seqlens=None):
    """Chunked (WY) form with the results of :func:`delta_rule_recurrent`; O(c·d_k·(c + d_v)) per token."""
    _check(q, k, v, beta)
    if int(chunk_size) < 1:
        raise ManifoldSpecError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    if cu_seqlens is not None:
        return packed_single_state(delta_rule_chunked, (q, k, v, beta), (), state, cu_seqlens,
                                   zero_token_keeps_state=True, chunk_size=chunk_size)
    B, nh, T, dk = k.shape
    S = q.new_zeros(B, nh, dk, v.shape[-1]) if state is None else state
    if T == 0:
        return v.new_zeros(B, nh, 0, v.shape[-1]), S
    cs = int(chunk_size)
    ys = []
    # split once: a slice per chunk would make each chunk's backward allocate a full-length gradient
    for qc, kc, vc, bc in zip(q.split(cs, 2), k.split(cs, 2), v.split(cs, 2), beta.split(cs, 2)):
        n = kc.shape[2]
        eye = torch.eye(n, dtype=k.dtype, device=k.device)
        A = eye + torch.tril(bc[..., :, None] * (kc @ kc.transpose(-1, -2)), diagonal=-1)
        rhs = bc[..., None] * (vc - kc @ S)
        Ut = torch.linalg.solve_triangular(A, rhs, upper=False, unitriangular=True)
        ys.append(qc @ S + torch.tril(qc @ kc.transpose(-1, -2)) @ Ut)
        S = S + kc.transpose(-1, -2) @ Ut
    return torch.cat(ys, 2), S
