"""Causal linear attention with a per-head decay γ, no normalizer (the SMT layer's baseline).

    S_t = γ S_{t−1} + φ(k_t) v_tᵀ,   y_t = S_tᵀ φ(q_t)   ⇔   y_t = Σ_{s≤t} γ^{t−s} (φ(q_t)·φ(k_s)) v_s

Three forms: :func:`linear_attention_parallel` (the quadratic masked product, reference),
:func:`linear_attention_recurrent` (token loop) and :func:`linear_attention_chunked`
(intra-chunk masked product + carried state, as fla's ``chunk_linear_attn`` with
``normalize=False``). Shapes: q, k (B, nh, T, d_f) feature-mapped; v (B, nh, T, d_v); state (B, nh, d_f, d_v).
The recurrent and chunked forms take ``cu_seqlens`` (varlen packing, :mod:`~manifoldspec.nn.ops.varlen`):
B = 1, N sequences concatenated along T, the state restarting at each offset, states (N, nh, d_f, d_v).
"""
from __future__ import annotations

import torch

from ..._checks import ManifoldSpecError
from .varlen import packed_single_state


def _decay_matrix(g, T, like):
    t = torch.arange(T, dtype=like.dtype, device=like.device)
    d = t[:, None] - t[None, :]
    return torch.where(d >= 0, torch.exp(-g[:, None, None] * d.clamp(min=0)), torch.zeros((), dtype=like.dtype))


def linear_attention_parallel(q, k, v, gamma):
    """Reference: (φ(Q)φ(K)ᵀ ∘ causal decay mask) V, O(T²); returns y (B, nh, T, d_v)."""
    g = -torch.log(gamma)
    return (q @ k.transpose(-1, -2) * _decay_matrix(g, q.shape[2], q)) @ v


def linear_attention_recurrent(q, k, v, gamma, state=None, *, cu_seqlens=None):
    """Token loop; returns (y (B, nh, T, d_v), S (B, nh, d_f, d_v)).

    ``cu_seqlens`` (N + 1,) packs N sequences into B = 1 (one loop per sequence); then ``state`` and S are
    (N, nh, d_f, d_v), one per sequence.
    """
    if cu_seqlens is not None:
        return packed_single_state(linear_attention_recurrent, (q, k, v), (gamma,), state, cu_seqlens)
    B, nh, T, df = q.shape
    S = q.new_zeros(B, nh, df, v.shape[-1]) if state is None else state
    gam = gamma[:, None, None]
    ys = []
    for t in range(T):
        S = gam * S + k[:, :, t, :, None] * v[:, :, t, None, :]
        ys.append(torch.einsum("bhf,bhfd->bhd", q[:, :, t], S))
    return (torch.stack(ys, 2) if ys else v.new_zeros(B, nh, 0, v.shape[-1])), S


def linear_attention_chunked(q, k, v, gamma, state=None, chunk_size: int = 64, *, cu_seqlens=None):
    """Chunked form; same results as :func:`linear_attention_recurrent`, ``cu_seqlens`` included (chunks then
    restart at every sequence offset)."""
    if int(chunk_size) < 1:
        raise ManifoldSpecError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    if cu_seqlens is not None:
        return packed_single_state(linear_attention_chunked, (q, k, v), (gamma,), state, cu_seqlens,
                                   chunk_size=chunk_size)
    B, nh, T, df = q.shape
    S = q.new_zeros(B, nh, df, v.shape[-1]) if state is None else state
    if T == 0:  # split() would hand the loop one empty chunk
        return v.new_zeros(B, nh, 0, v.shape[-1]), S
    g = -torch.log(gamma)
    ys = []
    # split once: a slice per chunk would make each chunk's backward allocate a full-length gradient
    chunk_size = int(chunk_size)
    for qc, kc, vc in zip(q.split(chunk_size, 2), k.split(chunk_size, 2), v.split(chunk_size, 2)):
        n = qc.shape[2]
        t = torch.arange(n, dtype=q.dtype, device=q.device)
        into = torch.exp(-g[:, None] * (t + 1))  # (nh, n): γ^{t+1}, weight of the carried state
        ys.append((qc @ kc.transpose(-1, -2) * _decay_matrix(g, n, q)) @ vc + into[..., None] * (qc @ S))
        last = torch.exp(-g[:, None] * (n - 1 - t))  # γ^{n−1−s}
        S = torch.exp(-g * n)[:, None, None] * S + (kc * last[..., None]).transpose(-1, -2) @ vc
    return torch.cat(ys, 2), S


def fourier_features(x, kappa, volume: float):
    """Real Fourier feature map φ(x) = [cos κ·x, sin κ·x]/√V, (..., n) → (..., 2K).

    φ(x)·φ(y) = Re Σ_m e_m(x) conj(e_m(y)): linear attention with this map is SMT with H ≡ 0, f ≡ 1.
    """
    ang = x @ kappa.T
    return torch.cat([torch.cos(ang), torch.sin(ang)], -1) * volume ** -0.5
