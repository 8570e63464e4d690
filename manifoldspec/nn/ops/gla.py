"""Gated linear attention (GLA; Yang et al. 2024), a recall baseline NN_ANCHORS §1.4 / §6.2 names.

Per head, with queries q_t, keys k_t (d_k), values v_t (d_v) and a log-decay g_t ≤ 0 (d_k):

    S_t = diag(exp(g_t)) S_{t−1} + k_t v_tᵀ,    o_t = S_tᵀ q_t        (S: d_k x d_v)

    ⇔  o_t = Σ_{s≤t} (q_t ⊙ exp(Σ_{r=s+1}^{t} g_r))·k_s v_s  +  (q_t ⊙ exp(Σ_{r≤t} g_r))ᵀ S_0

A g_t constant over d_k (one scalar per head and token) is the recurrence of Mamba-2's SSD; g ≡ 0 is
plain causal linear attention. The ops do not check g ≤ 0 (a pass over every input for each call): with
g > 0 the state grows without bound, and the chunked form may overflow where the token loop does not.

Two forms: :func:`gated_linear_recurrent` (token loop, the reference) and :func:`gated_linear_chunked`.
The chunked form never exponentiates a positive number. With b_t = Σ_{r≤t} g_r summed inside the chunk
(b ≤ 0, non-increasing), every weight it needs is exp of a sum of g's:

    O     = [Σ_k q_tk k_sk exp(b_tk − b_sk)]_{s≤t} V  +  (Q ⊙ exp(b)) S_0
    S_end = exp(b_last) ⊙ S_0  +  (K ⊙ exp(b_last − b))ᵀ V

The usual factorisation (Q ⊙ exp(b))(K ⊙ exp(−b))ᵀ needs exp(−b), which overflows under strong decay
(g = −30 per token gives exp(1920) in a 64-token chunk); here the pairwise differences b_t − b_s, a
(c, c, d_k) tensor per chunk, are formed first and masked to −∞ above the diagonal before the exp.
Cost O(c·d_k·(c + d_v)) per token. Shapes: q, k, g (B, nh, T, d_k), v (B, nh, T, d_v), state
(B, nh, d_k, d_v). Both take ``cu_seqlens`` (varlen packing, :mod:`~manifoldspec.nn.ops.varlen`).
"""
from __future__ import annotations

import torch

from ..._checks import ManifoldSpecError
from .varlen import packed_single_state


def _check(q, k, v, g, state):
    if k.dim() != 4:
        raise ManifoldSpecError(f"k: expected shape (B, nh, T, d_k), got {tuple(k.shape)}")
    B, nh, T, dk = k.shape
    if tuple(q.shape) != (B, nh, T, dk):
        raise ManifoldSpecError(f"q: expected shape {(B, nh, T, dk)} (that of k), got {tuple(q.shape)}")
    if v.dim() != 4 or tuple(v.shape[:3]) != (B, nh, T):
        raise ManifoldSpecError(f"v: expected shape ({B}, {nh}, {T}, d_v), got {tuple(v.shape)}")
    if tuple(g.shape) != (B, nh, T, dk):
        raise ManifoldSpecError(f"g: expected shape {(B, nh, T, dk)} (that of k; expand a scalar gate over d_k), "
                                f"got {tuple(g.shape)}")
    # with cu_seqlens the state's batch axis is N (checked by run_packed), so only the trailing axes here
    if state is not None and tuple(state.shape[1:]) != (nh, dk, v.shape[-1]):
        raise ManifoldSpecError(f"state: expected shape (B, {nh}, {dk}, {v.shape[-1]}), got {tuple(state.shape)}")


def gated_linear_recurrent(q, k, v, g, state=None, *, cu_seqlens=None):
    """Reference: one token at a time.

    Parameters
    ----------
    q, k : (B, nh, T, d_k)
    v : (B, nh, T, d_v)
    g : (B, nh, T, d_k), log-decay, ≤ 0 (not checked)
    state : (B, nh, d_k, d_v), optional
        Initial state (default zero); (N, nh, d_k, d_v) with ``cu_seqlens``.
    cu_seqlens : (N + 1,) integer tensor, optional
        Packs N sequences into B = 1; the recurrence restarts at every offset.

    Returns
    -------
    o : (B, nh, T, d_v) ; S : (B, nh, d_k, d_v), the final state (N, nh, d_k, d_v) with ``cu_seqlens``
    """
    _check(q, k, v, g, state)
    if cu_seqlens is not None:
        # a zero token (log-gate 0, k = v = 0) leaves S exactly as it is, so padded buckets may carry states
        return packed_single_state(gated_linear_recurrent, (q, k, v, g), (), state, cu_seqlens,
                                   zero_token_keeps_state=True)
    B, nh, T, dk = k.shape
    S = q.new_zeros(B, nh, dk, v.shape[-1]) if state is None else state
    ys = []
    for t in range(T):
        S = torch.exp(g[:, :, t, :, None]) * S + k[:, :, t, :, None] * v[:, :, t, None, :]
        ys.append(torch.einsum("bhk,bhkd->bhd", q[:, :, t], S))
    return (torch.stack(ys, 2) if ys else v.new_zeros(B, nh, 0, v.shape[-1])), S


def gated_linear_chunked(q, k, v, g, state=None, chunk_size: int = 32, *, cu_seqlens=None):
    """Chunked form with the results of :func:`gated_linear_recurrent` (same parameters and returns).

    ``chunk_size`` c sets the work per token, O(c·d_k·(c + d_v)), and the (B, nh, c, c, d_k) pairwise
    decay tensor held per chunk; the result does not depend on it beyond rounding.
    """
    _check(q, k, v, g, state)
    if int(chunk_size) < 1:
        raise ManifoldSpecError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    if cu_seqlens is not None:
        return packed_single_state(gated_linear_chunked, (q, k, v, g), (), state, cu_seqlens,
                                   zero_token_keeps_state=True, chunk_size=chunk_size)
    B, nh, T, dk = k.shape
    S = q.new_zeros(B, nh, dk, v.shape[-1]) if state is None else state
    if T == 0:  # split() would hand the loop one empty chunk
        return v.new_zeros(B, nh, 0, v.shape[-1]), S
    cs = int(chunk_size)
    ys = []
    # split once: a slice per chunk would make each chunk's backward allocate a full-length gradient
    for qc, kc, vc, gc in zip(q.split(cs, 2), k.split(cs, 2), v.split(cs, 2), g.split(cs, 2)):
        n = kc.shape[2]
        b = gc.cumsum(2)  # (B, nh, n, d_k), ≤ 0
        causal = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        # b_t − b_s = Σ_{r=s+1}^{t} g_r ≤ 0 for s ≤ t; above the diagonal it is ≥ 0 and may be huge, so it is
        # replaced by −∞ before the exp (exp → 0, and masked_fill routes no gradient to the replaced entries)
        diff = (b[:, :, :, None, :] - b[:, :, None, :, :]).masked_fill(~causal[:, :, None], float("-inf"))
        # broadcast-and-sum: on CPU 1.7x faster (forward + backward) than the same contraction as a 3-operand einsum
        A = (torch.exp(diff) * kc[:, :, None] * qc[:, :, :, None]).sum(-1)  # (B, nh, t, s)
        ys.append(A @ vc + (qc * torch.exp(b)) @ S)
        last = b[:, :, -1:]  # (B, nh, 1, d_k)
        S = torch.exp(last).transpose(-1, -2) * S + (kc * torch.exp(last - b)).transpose(-1, -2) @ vc
    return torch.cat(ys, 2), S
