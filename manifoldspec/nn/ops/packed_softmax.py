"""Causal softmax attention (torch SDPA) over a varlen pack (``cu_seqlens``), with per-sequence KV caches.

Query t of sequence i sees the valid entries of sequence i's cache and its own earlier tokens, nothing
of the other sequences. :func:`packed_sdpa` runs the length buckets of
:func:`~manifoldspec.nn.ops.varlen.length_buckets` as left-padded batches under masks that hide the
padding: a bucket of G sequences padded to W tokens costs O(G·W·(P + W)) for caches of P entries, so a
pack of many short sequences costs about Σ L_i·(P + L_i), not T². :func:`packed_sdpa_reference`
attends over the whole pack at once under a (T, N·P + T) block-diagonal mask, O(T·(N·P + T)) time and
memory: the plain form the tests hold the bucketed one to.

Both return the caches in the layout of a left-padded batch, each row [invalid padding, old cache, new
tokens], from which decoding (batch N) continues.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn

from .varlen import check_state_batch, packed_positions, padded_buckets, unpad


def _caches(state, q, k, v, n_seq: int):
    _, nh, _, dh = q.shape
    if state is None:
        return (k.new_zeros(n_seq, nh, 0, dh), v.new_zeros(n_seq, nh, 0, dh),
                torch.zeros(n_seq, 0, dtype=torch.bool, device=q.device))
    check_state_batch(state[0].shape[0], n_seq)
    return state


def _joined_caches(ck, cv, cval, k, v, bounds: list[int]):
    # every sequence's [cache, tokens] gathered into a left-padded row (N, nh, P + max L_i, dh)
    N, nh, P, dh = ck.shape
    T, dev = k.shape[2], k.device
    keys = torch.cat([ck.transpose(0, 1).reshape(1, nh, N * P, dh), k], 2)
    vals = torch.cat([cv.transpose(0, 1).reshape(1, nh, N * P, dh), v], 2)
    b = torch.as_tensor(bounds, device=dev)
    L = (b[1:] - b[:-1])[:, None]  # (N, 1)
    W = P + int(L.max())
    j = torch.arange(W, device=dev)[None]  # slot j of row i: padding, then cache entry, then token
    cache_at, token_at = W - L - P, W - L
    src = torch.where(j >= token_at, N * P + b[:-1, None] + j - token_at,
                      torch.arange(N, device=dev)[:, None] * P + j - cache_at)
    pad = j < cache_at
    src = src.masked_fill(pad, 0)  # the padding reads a dummy entry, marked invalid below
    all_valid = torch.cat([cval.reshape(-1), torch.ones(T, dtype=torch.bool, device=dev)])
    return keys[0][:, src].transpose(0, 1), vals[0][:, src].transpose(0, 1), all_valid[src] & ~pad


def packed_sdpa(q, k, v, state, bounds: list[int]):
    """Causal softmax attention over packed sequences, one SDPA call per length bucket.

    Parameters
    ----------
    q, k, v : (1, nh, T, d_head)
    state : (K_cache, V_cache, valid) with caches (N, nh, P, d_head) and valid (N, P) bool, or None
    bounds : list of int, offsets from :func:`~manifoldspec.nn.ops.varlen.seq_bounds`

    Returns
    -------
    y : (1, nh, T, d_head)
    state : caches (N, nh, P + max L_i, d_head) and valid (N, P + max L_i), each row [invalid padding,
        old cache, new tokens], the layout of a left-padded batch.
    """
    ck, cv, cval = _caches(state, q, k, v, len(bounds) - 1)
    T, P, dev = q.shape[2], ck.shape[2], q.device
    ys, srcs = [], []
    # a cache never decays, and the mask hides padded keys: any grouping is exact, initial caches included
    for group, src, (qb, kb, vb) in padded_buckets(bounds, (q, k, v)):
        idx = torch.as_tensor(group, device=dev)
        G, W = src.shape
        causal = torch.ones(W, W, dtype=torch.bool, device=dev).tril()
        # a padded query sees itself, so that no row is empty (SDPA would return NaN there)
        own = torch.eye(W, dtype=torch.bool, device=dev)
        sees_tokens = (causal[None] & (src < T)[:, None, :]) | own
        mask = torch.cat([cval.index_select(0, idx)[:, None, :].expand(G, W, P), sees_tokens], 2)[:, None]
        keys = torch.cat([ck.index_select(0, idx), kb], 2)
        vals = torch.cat([cv.index_select(0, idx), vb], 2)
        ys.append(Fn.scaled_dot_product_attention(qb, keys, vals, attn_mask=mask))
        srcs.append(src)
    return unpad(ys, srcs, T), _joined_caches(ck, cv, cval, k, v, bounds)


def packed_sdpa_reference(q, k, v, state, bounds: list[int]):
    """:func:`packed_sdpa` as one SDPA call over the whole pack under a (T, N·P + T) block-diagonal causal
    mask (the keys are the N caches laid end to end, then the packed tokens); same parameters and returns."""
    N = len(bounds) - 1
    ck, cv, cval = _caches(state, q, k, v, N)
    (_, nh, T, dh), P = q.shape, ck.shape[2]
    seg, _ = packed_positions(bounds, q.device)
    owner = torch.arange(N, device=q.device).repeat_interleave(P)  # sequence of each flattened cache entry
    sees_cache = (seg[:, None] == owner[None]) & cval.reshape(-1)[None]
    t = torch.arange(T, device=q.device)
    sees_own = (seg[:, None] == seg[None]) & (t[None] <= t[:, None])  # every query sees itself: no empty row
    keys = torch.cat([ck.transpose(0, 1).reshape(1, nh, N * P, dh), k], 2)
    vals = torch.cat([cv.transpose(0, 1).reshape(1, nh, N * P, dh), v], 2)
    y = Fn.scaled_dot_product_attention(q, keys, vals, attn_mask=torch.cat([sees_cache, sees_own], 1))
    return y, _joined_caches(ck, cv, cval, k, v, bounds)
