"""Gated linear attention mixing layer (:mod:`manifoldspec.nn.ops.gla`) as a recall baseline.

NN_ANCHORS §1.4(b) places GLA and Mamba-2 on the MQAR recall-vs-state curve next to Based and
DeltaNet. This layer gives both of their recurrences, at the scale of this repo and in one
calling convention with the other mixers:

* ``gate="vector"`` — GLA (Yang et al. 2024): a decay per key channel,
  g_t = logsigmoid(W₂W₁x_t + b)/16, a rank-16 gate projection and GLA's logit normalizer 16
  (which keeps exp(g_t) near 1 at initialization: long memory).
* ``gate="scalar"`` — scalar-gated linear attention, the Mamba-2/SSD recurrence (Dao & Gu 2024):
  one decay per head and token, g_t = −exp(A_log)·softplus(w·x_t + dt_bias), with Mamba-2's
  initialization (A ∈ [1, 16], dt ∈ [0.001, 0.1]). This is the recurrence only, not the Mamba-2
  block: there is no input expansion, no SiLU on x/B/C, no D skip and no z output gate; its
  q, k, v play the roles of SSD's C, B and x·dt (dt is not folded into the values here).
* ``gate="mamba2"`` — the scalar gate with the rest of Mamba-2's mixer: the write is scaled by the same
  step as the decay (k_t·Δ_t, Δ_t = softplus(w·x_t + dt_bias), so a token that forgets more also writes
  more), a skip D·v_t per head (D initialized to 1), and the output gate of Mamba-2's gated RMSNorm,
  RMSNorm(y_t ∘ silu(z_t)) with z_t a linear projection; q is not scaled. Still without Mamba-2's input
  expansion and its own short convolution on x/B/C (the model puts one short convolution in front of every
  mixer), and with one B/C per head instead of one shared group.

All: q, k, v are plain linear projections (no feature map, as in GLA), q is scaled by d_k^{-1/2}
(fla's default ``scale``; not for ``"mamba2"``), the output gets a per-head RMSNorm (as the DeltaNet
layer), then a linear projection.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn
from torch import nn

from .._checks import ManifoldSpecError, positive_int
from .layer_common import _check_mode, _check_x, padding_mask
from .ops.gla import gated_linear_chunked, gated_linear_recurrent
from .ops.varlen import packing

GATES = ("vector", "scalar", "mamba2")
GATE_RANK = 16        # GLA's gate_low_rank_dim
GATE_NORMALIZER = 16  # GLA's gate_logit_normalizer γ


class GatedLinearAttention(nn.Module):
    """Causal gated linear attention, state S (nh, d_k, d_v) per sequence.

    Parameters
    ----------
    d_model, n_heads : int
    key_dim : int
        d_k, the key/query size per head; the state holds nh·d_k·d_v scalars.
    d_value : int, optional
        Value size per head (default d_model // n_heads).
    gate : {"vector", "scalar", "mamba2"}
        A log-decay per key channel (GLA), one per head (the Mamba-2/SSD recurrence), or one per head with
        Mamba-2's Δ-scaled write, D skip and output gate (module docstring).
    mode : {"chunk", "recurrent"}
    chunk_size : int
        Tokens per chunk of the chunked form (default 32: as fast as 64 on the CPU and 40 % less training
        memory, since the pairwise-decay tensor grows with the chunk; benchmarks/results/nn.md §1g).
    """

    def __init__(self, d_model: int, n_heads: int = 1, key_dim: int = 16, d_value: int | None = None,
                 gate: str = "vector", mode: str = "chunk", chunk_size: int = 32):
        super().__init__()
        if gate not in GATES:
            raise ManifoldSpecError(f"gate: expected one of {GATES}, got {gate!r}")
        self.d_model, self.n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        self.key_dim = positive_int(key_dim, "key_dim")
        self.d_value = positive_int(d_value or max(1, d_model // n_heads), "d_value")
        self.gate, self.mode, self.chunk_size = gate, _check_mode(mode), positive_int(chunk_size, "chunk_size")
        nh = self.n_heads
        self.qk_proj = nn.Linear(d_model, 2 * nh * self.key_dim)
        self.v_proj = nn.Linear(d_model, nh * self.d_value)
        if gate == "vector":
            self.g_proj = nn.Sequential(nn.Linear(d_model, GATE_RANK, bias=False),
                                        nn.Linear(GATE_RANK, nh * self.key_dim))
        else:  # "scalar" and "mamba2"
            self.g_proj = nn.Linear(d_model, nh)
            # Mamba-2's initialization: decay rates A ~ U[1, 16], step sizes dt log-uniform in [1e-3, 1e-1]
            self.A_log = nn.Parameter(torch.empty(nh).uniform_(1, 16).log())
            dt = torch.exp(torch.empty(nh).uniform_(math.log(1e-3), math.log(1e-1)))
            self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus(dt_bias) = dt
        if gate == "mamba2":
            self.D = nn.Parameter(torch.ones(nh))
            self.z_proj = nn.Linear(d_model, nh * self.d_value)
        self.norm = nn.RMSNorm(self.d_value)
        self.o_proj = nn.Linear(nh * self.d_value, d_model)

    def log_decay(self, x):
        """g (B, nh, T, d_k) ≤ 0 for x (B, T, d_model); the scalar gate is expanded (a view) over d_k."""
        B, T, _ = x.shape
        nh, dk = self.n_heads, self.key_dim
        if self.gate == "vector":
            return (Fn.logsigmoid(self.g_proj(x)) / GATE_NORMALIZER).view(B, T, nh, dk).transpose(1, 2)
        g = -torch.exp(self.A_log)[:, None] * self.step(x)  # (B, nh, T)
        return g[..., None].expand(B, nh, T, dk)

    def step(self, x):
        """Δ (B, nh, T) = softplus(w·x + dt_bias) > 0, the SSD step of the scalar and Mamba-2 gates."""
        return Fn.softplus(self.g_proj(x) + self.dt_bias).transpose(1, 2)

    def forward(self, x, state=None, mode: str | None = None, attention_mask=None, cu_seqlens=None):
        """x (B, T, d_model) → (y (B, T, d_model), S (B, nh, d_k, d_v)).

        Padding (``attention_mask`` 0) gets g = 0 and k = 0, so S passes it unchanged (exp(0) = 1 exactly);
        ``cu_seqlens`` (N + 1,) packs N sequences into B = 1 (S is then (N, nh, d_k, d_v)).
        """
        _check_x(x, self.d_model)
        mode = _check_mode(mode or self.mode)
        packing(cu_seqlens, x, attention_mask)
        m = padding_mask(attention_mask, x)
        B, T, _ = x.shape
        nh, dk = self.n_heads, self.key_dim
        qk = self.qk_proj(x).view(B, T, 2, nh, dk).permute(2, 0, 3, 1, 4)
        q, k = qk[0] * dk ** -0.5, qk[1]
        v = self.v_proj(x).view(B, T, nh, self.d_value).transpose(1, 2)
        g = self.log_decay(x)
        if self.gate == "mamba2":  # SSD's write B_t (x_t Δ_t): the step that sets the decay also sets the write
            q, k = qk[0], k * self.step(x)[..., None]
        if m is not None:
            keep = m[:, None, :, None]
            k, g = k * keep, g * keep
        if mode == "chunk":
            y, S = gated_linear_chunked(q, k, v, g, state, self.chunk_size, cu_seqlens=cu_seqlens)
        else:
            y, S = gated_linear_recurrent(q, k, v, g, state, cu_seqlens=cu_seqlens)
        if self.gate == "mamba2":  # D skip, then Mamba-2's gated RMSNorm: norm(y ∘ silu(z))
            z = self.z_proj(x).view(B, T, nh, self.d_value).transpose(1, 2)
            y = (y + self.D[:, None, None] * v) * Fn.silu(z)
        return self.o_proj(self.norm(y).transpose(1, 2).reshape(B, T, -1)), S

    def state_size(self) -> int:
        """Recurrent state in real scalars per sequence: nh·d_k·d_v (the scalar gate stores no more)."""
        return self.n_heads * self.key_dim * self.d_value
