"""DeltaNet mixing layer: the delta rule (:mod:`manifoldspec.nn.ops.delta`) as a recall baseline.

NN_ANCHORS §6.2 places SMT between Based (linear attention with Taylor features) and DeltaNet on
the MQAR curve: "a result above the DeltaNet points would be a real advance". This layer follows
DeltaNet's recipe (Yang et al. 2024) at the scale of this repo: q, k are L2-normalized projections
(keys of unit length keep the delta update a contraction for β ≤ 1), β_t = sigmoid(w·x_t), a
per-head RMSNorm on the output, and the same calling convention as the other mixers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn
from torch import nn

from .._checks import positive_int
from .layer_common import _check_mode, _check_x, padding_mask
from .ops.delta import delta_rule_chunked, delta_rule_recurrent
from .ops.varlen import packing


class DeltaNetAttention(nn.Module):
    """Causal delta-rule attention, state S (nh, d_k, d_v) per sequence.

    Parameters
    ----------
    d_model, n_heads : int
    key_dim : int
        d_k, the key/query size per head; the state holds nh·d_k·d_v scalars.
    d_value : int, optional
        Value size per head (default d_model // n_heads).
    mode : {"chunk", "recurrent"}
    chunk_size : int
        Tokens per chunk of the WY form.
    """

    def __init__(self, d_model: int, n_heads: int = 1, key_dim: int = 16, d_value: int | None = None,
                 mode: str = "chunk", chunk_size: int = 64):
        super().__init__()
        self.d_model, self.n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        self.key_dim = positive_int(key_dim, "key_dim")
        self.d_value = positive_int(d_value or max(1, d_model // n_heads), "d_value")
        self.mode, self.chunk_size = _check_mode(mode), positive_int(chunk_size, "chunk_size")
        nh = self.n_heads
        self.qk_proj = nn.Linear(d_model, 2 * nh * self.key_dim)
        self.v_proj = nn.Linear(d_model, nh * self.d_value)
        self.b_proj = nn.Linear(d_model, nh)
        self.norm = nn.RMSNorm(self.d_value)
        self.o_proj = nn.Linear(nh * self.d_value, d_model)

    def forward(self, x, state=None, mode: str | None = None, attention_mask=None, cu_seqlens=None):
        """x (B, T, d_model) → (y, S) with S (B, nh, d_k, d_v). Padding (``attention_mask`` 0) gets β = 0 and
        leaves S unchanged; ``cu_seqlens`` (N + 1,) packs N sequences into B = 1 (S is then (N, nh, d_k, d_v))."""
        _check_x(x, self.d_model)
        mode = _check_mode(mode or self.mode)
        packing(cu_seqlens, x, attention_mask)
        m = padding_mask(attention_mask, x)
        B, T, _ = x.shape
        nh, dk = self.n_heads, self.key_dim
        qk = self.qk_proj(x).view(B, T, 2, nh, dk).permute(2, 0, 3, 1, 4)
        q, k = Fn.normalize(qk[0], dim=-1), Fn.normalize(qk[1], dim=-1)
        v = self.v_proj(x).view(B, T, nh, self.d_value).transpose(1, 2)
        beta = torch.sigmoid(self.b_proj(x)).transpose(1, 2)  # (B, nh, T)
        if m is not None:
            beta = beta * m[:, None, :]
        if mode == "chunk":
            y, S = delta_rule_chunked(q, k, v, beta, state, self.chunk_size, cu_seqlens=cu_seqlens)
        else:
            y, S = delta_rule_recurrent(q, k, v, beta, state, cu_seqlens=cu_seqlens)
        return self.o_proj(self.norm(y).transpose(1, 2).reshape(B, T, -1)), S

    def state_size(self) -> int:
        """Recurrent state in real scalars per sequence: nh·d_k·d_v (S has no symmetry to discount)."""
        return self.n_heads * self.key_dim * self.d_value
