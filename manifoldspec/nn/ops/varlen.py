"""Varlen packing (``cu_seqlens``) as in FlashAttention / fla, shared by the recurrent ops and the layers.

N sequences of lengths L_1 … L_N are concatenated along the time axis of a batch of one, and
``cu_seqlens = [0, L_1, L_1 + L_2, …, T]`` (1-D integer tensor, N + 1 entries, non-decreasing; a
zero-length sequence repeats an offset) marks where each starts. The recurrence restarts at every
boundary; states (initial and final) carry a batch axis of N, one per sequence.

:func:`run_packed` evaluates a recurrent op once per sequence (a Python loop over the N sequences).
The arithmetic is that of the N separate runs; the overhead is N op calls, each repeating its
per-head setup and leaving a partial last chunk, so for many short sequences a padded batch is
faster. :func:`packed_sdpa` is softmax attention over a pack with a block-diagonal causal mask.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn

from ..._checks import ManifoldSpecError


def seq_bounds(cu_seqlens, batch: int, seq_len: int) -> list[int]:
    """Validate ``cu_seqlens`` against an input of shape (batch, …, seq_len) and return its offsets as ints.

    Raises
    ------
    ManifoldSpecError
        Naming ``cu_seqlens`` when it is not a 1-D integer tensor of at least two offsets, when the batch
        is not 1, when it does not start at 0 and end at ``seq_len``, or when it decreases.
    """
    want = f"a 1-D integer tensor [0, t_1, …, {seq_len}] of non-decreasing offsets"
    if not torch.is_tensor(cu_seqlens):
        raise ManifoldSpecError(f"cu_seqlens: expected {want}, got {type(cu_seqlens).__name__}")
    if cu_seqlens.dtype == torch.bool or cu_seqlens.is_floating_point() or cu_seqlens.is_complex():
        raise ManifoldSpecError(f"cu_seqlens: expected an integer dtype (int32 or int64), got {cu_seqlens.dtype}")
    if cu_seqlens.dim() != 1 or cu_seqlens.numel() < 2:
        raise ManifoldSpecError(f"cu_seqlens: expected {want} (N + 1 ≥ 2 entries), got shape {tuple(cu_seqlens.shape)}")
    if batch != 1:
        raise ManifoldSpecError(f"cu_seqlens: packed sequences need batch size 1 (the N sequences concatenated "
                                f"along time), got batch size {batch}")
    b = [int(v) for v in cu_seqlens.tolist()]
    if b[0] != 0 or b[-1] != seq_len:
        raise ManifoldSpecError(f"cu_seqlens: must start at 0 and end at the sequence length {seq_len}, "
                                f"got first {b[0]} and last {b[-1]}")
    for i in range(1, len(b)):
        if b[i] < b[i - 1]:
            raise ManifoldSpecError(f"cu_seqlens: must be non-decreasing (lengths ≥ 0; equal neighbours are a "
                                    f"zero-length sequence), got {b[i - 1]} then {b[i]} at index {i}")
    return b


def check_state_batch(state_batch: int, n_seq: int, name: str = "state"):
    """Raise unless an initial state given with ``cu_seqlens`` has one entry per sequence."""
    if state_batch != n_seq:
        raise ManifoldSpecError(f"{name}: with cu_seqlens the initial state needs batch axis N = {n_seq} (one entry "
                                f"per packed sequence), got batch {state_batch}")


def packed_positions(bounds: list[int], device=None):
    """Sequence id and position inside its sequence of every packed token: two int64 tensors (T,)."""
    lengths = torch.tensor([b - a for a, b in zip(bounds[:-1], bounds[1:])], device=device)
    seg = torch.repeat_interleave(torch.arange(len(lengths), device=device), lengths)
    start = torch.tensor(bounds[:-1], device=device)
    return seg, torch.arange(bounds[-1], device=device) - start[seg]


def packing(cu_seqlens, x, attention_mask=None):
    """Offsets of ``cu_seqlens`` for x (1, T, …) as a list of ints (None stays None); see
    :func:`~manifoldspec.nn.ops.varlen.seq_bounds`. A pack holds no padding, so ``attention_mask`` is refused."""
    if cu_seqlens is None:
        return None
    if attention_mask is not None:
        raise ManifoldSpecError("attention_mask: cannot be combined with cu_seqlens; a pack carries no padding "
                                "(leave padding tokens out of the pack, or pass a padded batch without cu_seqlens)")
    return seq_bounds(cu_seqlens, x.shape[0], x.shape[1])


def packed_sdpa(q, k, v, state, bounds: list[int]):
    """Causal softmax attention (torch SDPA), block-diagonal over packed sequences.

    Query t of sequence i sees the valid entries of sequence i's cache and its own earlier tokens: the
    keys are the N caches laid end to end, then the packed tokens, under a (T, N·P + T) boolean mask.
    Memory O(T·(N·P + T)), as for an unpacked batch of the same total length.

    Parameters
    ----------
    q, k, v : (1, nh, T, d_head)
    state : (K_cache, V_cache, valid) with caches (N, nh, P, d_head) and valid (N, P) bool, or None
    bounds : list of int, offsets from :func:`seq_bounds`

    Returns
    -------
    y : (1, nh, T, d_head)
    state : caches (N, nh, P + max L_i, d_head) and valid (N, P + max L_i), each row [invalid padding,
        old cache, new tokens], the layout of a left-padded batch, from which decoding (batch N) continues.
    """
    N, T, (_, nh, _, dh) = len(bounds) - 1, q.shape[2], q.shape
    seg, _ = packed_positions(bounds, q.device)
    if state is None:
        ck, cv = k.new_zeros(N, nh, 0, dh), v.new_zeros(N, nh, 0, dh)
        cval = torch.zeros(N, 0, dtype=torch.bool, device=q.device)
    else:
        ck, cv, cval = state
        check_state_batch(ck.shape[0], N)
    P = ck.shape[2]
    owner = torch.arange(N, device=q.device).repeat_interleave(P)  # sequence of each flattened cache entry
    sees_cache = (seg[:, None] == owner[None]) & cval.reshape(-1)[None]
    t = torch.arange(T, device=q.device)
    sees_own = (seg[:, None] == seg[None]) & (t[None] <= t[:, None])  # every query sees itself: no empty row
    keys = torch.cat([ck.transpose(0, 1).reshape(1, nh, N * P, dh), k], 2)
    vals = torch.cat([cv.transpose(0, 1).reshape(1, nh, N * P, dh), v], 2)
    y = Fn.scaled_dot_product_attention(q, keys, vals, attn_mask=torch.cat([sees_cache, sees_own], 1))
    lengths = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    W = P + max(lengths)
    # gather each sequence's [cache, tokens] into a left-padded row; index 0 of the padding is a dummy
    src = torch.zeros(N, W, dtype=torch.long, device=q.device)
    for i, (a, L) in enumerate(zip(bounds[:-1], lengths)):
        src[i, W - L - P:W - L] = i * P + torch.arange(P, device=q.device)
        src[i, W - L:] = N * P + a + torch.arange(L, device=q.device)
    pad = torch.arange(W, device=q.device)[None] < (W - P - torch.tensor(lengths, device=q.device))[:, None]
    all_valid = torch.cat([cval.reshape(-1), torch.ones(T, dtype=torch.bool, device=q.device)])
    new_valid = all_valid[src] & ~pad
    new_k = keys[0][:, src].transpose(0, 1)  # (N, nh, W, dh)
    new_v = vals[0][:, src].transpose(0, 1)
    return y, (new_k, new_v, new_valid)


def run_packed(fn, bounds: list[int], tokens, state):
    """Apply a recurrent op to each packed sequence and join the results.

    Parameters
    ----------
    fn : callable ``fn(tokens_i, state_i) -> (y_i, state_i)``
        The op on one sequence: ``tokens_i`` are the slices (1, …, L_i, …) of ``tokens``, ``state_i`` a tuple
        of batch-1 tensors or None (the op's zero state); it must accept L_i = 0.
    bounds : list of int
        Offsets from :func:`seq_bounds`.
    tokens : sequence of tensors (1, nh, T, …)
        Token-axis inputs (time on axis 2).
    state : tuple of tensors (N, …), optional
        Initial state per sequence.

    Returns
    -------
    y : (1, nh, T, …), the outputs in packed order ; state : tuple of tensors (N, …)
    """
    n_seq = len(bounds) - 1
    lengths = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    if state is not None:
        check_state_batch(state[0].shape[0], n_seq)
    # split once: a slice per sequence would make each sequence's backward allocate a full-length gradient
    pieces = zip(*(x.split(lengths, dim=2) for x in tokens))
    inits = [None] * n_seq if state is None else list(zip(*(s.split(1, dim=0) for s in state)))
    ys, finals = [], []
    for tok, st in zip(pieces, inits):
        y, st = fn(tok, st)
        ys.append(y)
        finals.append(st)
    return torch.cat(ys, dim=2), tuple(torch.cat(parts, dim=0) for parts in zip(*finals))


def packed_single_state(op, tokens, heads, state, cu_seqlens, **kw):
    """``op(*tokens_i, *heads, state_i, **kw) -> (y_i, S_i)`` on every packed sequence, for ops whose state is
    one tensor (linear attention, DeltaNet, GLA); returns (y (1, nh, T, …), S (N, …)).

    ``tokens`` are the (1, nh, T, …) token-axis inputs, ``heads`` the per-head arguments passed unchanged.
    """
    bounds = seq_bounds(cu_seqlens, tokens[0].shape[0], tokens[0].shape[2])

    def one(tok, st):
        y, S = op(*tok, *heads, None if st is None else st[0], **kw)
        return y, (S,)

    y, (S,) = run_packed(one, bounds, tokens, None if state is None else (state,))
    return y, S
