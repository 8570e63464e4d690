"""Varlen packing (``cu_seqlens``) as in FlashAttention / fla, shared by the recurrent ops and the layers.

N sequences of lengths L_1 … L_N are concatenated along the time axis of a batch of one, and
``cu_seqlens = [0, L_1, L_1 + L_2, …, T]`` (1-D integer tensor, N + 1 entries, non-decreasing; a
zero-length sequence repeats an offset) marks where each starts. The recurrence restarts at every
boundary; states (initial and final) carry a batch axis of N, one per sequence.

:func:`run_packed` evaluates a recurrent op on batches of sequences of similar length
(:func:`length_buckets`): each bucket is gathered into a left-padded batch, run as one op call and
scattered back. Padded slots hold zeros, a token every recurrent op here reads as "write nothing"
(k = 0, v = 0, α = 0, β = 0, log-gate 0), so from a zero state the padding leaves the state zero and
every sequence gets the outputs and final state of its separate run. A given initial state would
decay over the padding (linear attention's γ, SMT's γ and flow), so for those ops only sequences of
equal length then share a batch; GLA and DeltaNet leave any state unchanged under a zero token. A bucket
holds sequences taken longest first for as long as padding fills at most half its slots, so the
padded work is at most twice the real work and a pack costs a few op calls instead of N.
Softmax attention over a pack is in :mod:`~manifoldspec.nn.ops.packed_softmax`.
"""
from __future__ import annotations

import torch

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


def length_buckets(lengths: list[int], exact: bool = False) -> list[list[int]]:
    """Group sequence indices for batched evaluation of a pack.

    Parameters
    ----------
    lengths : list of int
        L_i ≥ 0 of the N packed sequences.
    exact : bool
        Only equal lengths share a group (no padding; needed when an initial state is given).

    Returns
    -------
    list of lists of int
        Every index 0 … N − 1 once, in increasing order within a group. Without ``exact`` the sequences
        are taken longest first and a group grows while padding to its longest member fills at most half
        its slots (mean length ≥ ½ max length), so the padded work is at most twice the real work.
    """
    if exact:
        same: dict[int, list[int]] = {}
        for i, L in enumerate(lengths):
            same.setdefault(L, []).append(i)
        return [same[L] for L in sorted(same)]
    groups, current, width, total = [], [], 0, 0
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        L = lengths[i]
        if current and 2 * (total + L) < width * (len(current) + 1):
            groups.append(sorted(current))
            current, total = [], 0
        if not current:
            width = L
        current.append(i)
        total += L
    return groups + [sorted(current)] if current else groups


def _left_padded_index(starts, lengths, width: int, pad: int, device):
    # (G, width) source positions: row r holds sequence r's positions, right-aligned, and ``pad`` before them
    col = torch.arange(width, device=device)[None]
    first = width - torch.as_tensor(lengths, device=device)[:, None]
    src = torch.as_tensor(starts, device=device)[:, None] + col - first
    return torch.where(col >= first, src, torch.full_like(src, pad))


def padded_buckets(bounds: list[int], tokens, exact: bool = False):
    """Yield each bucket of :func:`length_buckets` as a left-padded batch.

    Parameters
    ----------
    bounds : list of int
        Offsets from :func:`seq_bounds`.
    tokens : sequence of tensors (1, nh, T, …)
        Token-axis inputs (time on axis 2).
    exact : bool
        Passed to :func:`length_buckets`.

    Yields
    ------
    group : list of int, the sequences of the bucket (G of them)
    src : (G, W) int64, the packed position of every slot, T at the padding (W: the longest member)
    padded : tuple of tensors (G, nh, W, …), the tokens with zeros at the padding
    """
    T = bounds[-1]
    lengths = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    # one zero slot after the T tokens: the padding reads it (index T)
    ext = [torch.cat([x, x.new_zeros(*x.shape[:2], 1, *x.shape[3:])], 2)[0] for x in tokens]
    for group in length_buckets(lengths, exact):
        G_len = [lengths[i] for i in group]
        src = _left_padded_index([bounds[i] for i in group], G_len, max(G_len), T, ext[0].device)
        yield group, src, tuple(x.index_select(1, src.reshape(-1)).unflatten(1, src.shape).movedim(1, 0) for x in ext)


def unpad(outputs, srcs, T: int):
    """Join per-bucket outputs (G, nh, W, …), laid out as their ``src`` of :func:`padded_buckets`, into the
    packed order (1, nh, T, …); the padded slots are dropped."""
    dev = srcs[0].device
    where, offset = torch.empty(T, dtype=torch.long, device=dev), 0
    for src in srcs:
        real = src < T
        where[src[real]] = offset + torch.arange(src.numel(), device=dev).reshape(src.shape)[real]
        offset += src.numel()
    # (nh, G·W, …) per bucket, row-major like src
    return torch.cat([y.movedim(0, 1).flatten(1, 2) for y in outputs], 1).index_select(1, where)[None]


def run_packed(fn, bounds: list[int], tokens, state, zero_token_keeps_state: bool = False):
    """Apply a recurrent op to every packed sequence, in batches of similar length, and join the results.

    Parameters
    ----------
    fn : callable ``fn(tokens_b, state_b) -> (y_b, state_b)``
        The op on a batch of G sequences: ``tokens_b`` are (G, …, L, …) left-padded with zeros (time on
        axis 2), ``state_b`` a tuple of (G, …) tensors or None (the op's zero state). It must read a zero
        token as one that writes nothing to its state, and accept L = 0.
    bounds : list of int
        Offsets from :func:`seq_bounds`.
    tokens : sequence of tensors (1, nh, T, …)
        Token-axis inputs (time on axis 2).
    state : tuple of tensors (N, …), optional
        Initial state per sequence (then only equal lengths are batched together, unless
        ``zero_token_keeps_state``).
    zero_token_keeps_state : bool
        The op leaves any state unchanged under a zero token (no decay: GLA's log-gate 0, DeltaNet's
        β = 0), so padding is harmless even in front of an initial state.

    Returns
    -------
    y : (1, nh, T, …), the outputs in packed order ; state : tuple of tensors (N, …)
    """
    n_seq = len(bounds) - 1
    if state is not None:
        check_state_batch(state[0].shape[0], n_seq)
    dev = tokens[0].device
    ys, srcs, finals, order = [], [], [], []
    for group, src, tok in padded_buckets(bounds, tokens, exact=state is not None and not zero_token_keeps_state):
        st = None if state is None else tuple(s.index_select(0, torch.as_tensor(group, device=dev)) for s in state)
        y, st = fn(tok, st)  # y (G, nh, W, …)
        ys.append(y)
        srcs.append(src)
        finals.append(st)
        order.extend(group)
    inverse = torch.empty(n_seq, dtype=torch.long, device=dev)
    inverse[torch.as_tensor(order, device=dev)] = torch.arange(n_seq, device=dev)
    return unpad(ys, srcs, bounds[-1]), tuple(torch.cat(parts, 0).index_select(0, inverse) for parts in zip(*finals))


def packed_single_state(op, tokens, heads, state, cu_seqlens, zero_token_keeps_state: bool = False, **kw):
    """``op(*tokens_i, *heads, state_i, **kw) -> (y_i, S_i)`` on every packed sequence, for ops whose state is
    one tensor (linear attention, DeltaNet, GLA); returns (y (1, nh, T, …), S (N, …)).

    ``tokens`` are the (1, nh, T, …) token-axis inputs, ``heads`` the per-head arguments passed unchanged;
    ``zero_token_keeps_state`` as in :func:`run_packed`.
    """
    bounds = seq_bounds(cu_seqlens, tokens[0].shape[0], tokens[0].shape[2])

    def one(tok, st):
        y, S = op(*tok, *heads, None if st is None else st[0], **kw)
        return y, (S,)

    y, (S,) = run_packed(one, bounds, tokens, None if state is None else (state,), zero_token_keeps_state)
    return y, S
