"""Baseline mixing layers in the calling convention of :mod:`manifoldspec.nn.layers`: causal linear attention
(elu, Based's Taylor, or torus-Fourier features) and softmax attention (torch SDPA, a KV cache that grows with T)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn
from torch import nn

from .._checks import ManifoldSpecError, positive_int
from .basis import torus_basis
from .layer_common import _check_mode, _check_x, padding_mask
from .ops.linear import fourier_features, linear_attention_chunked, linear_attention_recurrent
from .ops.packed_softmax import packed_sdpa
from .ops.varlen import packing

FEATURE_MAPS = ("elu", "taylor", "fourier")


class LinearAttention(nn.Module):
    """Causal linear attention (no normalizer; per-head RMSNorm on the output), decay γ.

    ``feature_map``: "elu" (φ = elu + 1, Katharopoulos et al. 2020) on a projection of size
    ``feature_dim``; "taylor" (Based, Arora et al. 2024: φ(p) = [1, p/f^¼, vec(p pᵀ)/(√2·√f)] of a
    projection p of size f = ``feature_dim``, so φ(q)ᵀφ(k) = 1 + s + s²/2 with s = qᵀk/√f, the
    second-order Taylor expansion of e^s); or "fourier" (φ = [cos κ·p, sin κ·p]/√V of a projected
    torus position p, κ the first ``feature_dim``/2 modes — SMT with H ≡ 0 and f ≡ 1).
    """

    def __init__(self, d_model: int, n_heads: int = 1, feature_dim: int = 16, feature_map: str = "elu",
                 d_value: int | None = None, gamma: float = 0.999, latent_dim: int = 2, mode: str = "chunk",
                 chunk_size: int = 64):
        super().__init__()
        self.d_model, self.n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        if feature_map not in FEATURE_MAPS:
            raise ManifoldSpecError(f"feature_map: expected one of {FEATURE_MAPS}, got {feature_map!r}")
        self.feature_map, self.mode, self.chunk_size = feature_map, _check_mode(mode), positive_int(chunk_size, "chunk_size")
        self.d_value = positive_int(d_value or max(1, d_model // n_heads), "d_value")
        nh, dv = self.n_heads, self.d_value
        if feature_map == "fourier":
            self.basis = torus_basis(max(1, positive_int(feature_dim, "feature_dim") // 2), latent_dim)
            self.feature_dim, pdim = 2 * self.basis.n_modes, latent_dim
        elif feature_map == "taylor":
            f = positive_int(feature_dim, "feature_dim")
            self.basis, self.feature_dim, pdim = None, 1 + f + f * f, f
        else:
            self.basis, self.feature_dim, pdim = None, positive_int(feature_dim, "feature_dim"), feature_dim
        self.pdim = pdim
        self.qk_proj = nn.Linear(d_model, 2 * nh * pdim)
        if feature_map == "fourier":
            nn.init.normal_(self.qk_proj.weight, std=math.pi / math.sqrt(d_model))
        self.v_proj = nn.Linear(d_model, nh * dv)
        self.raw_gamma = nn.Parameter(torch.full((nh,), math.log(gamma / (1 - gamma)) if gamma < 1 else 30.0))
        self.norm = nn.RMSNorm(dv)
        self.o_proj = nn.Linear(nh * dv, d_model)

    def _phi(self, p):
        if self.feature_map == "fourier":
            return fourier_features(p, self.basis.kappa_t(p), self.basis.volume)
        if self.feature_map == "taylor":
            f = p.shape[-1]
            quad = (p[..., :, None] * p[..., None, :]).flatten(-2) / math.sqrt(2 * f)
            return torch.cat([torch.ones_like(p[..., :1]), p / f**0.25, quad], dim=-1)
        return Fn.elu(p) + 1

    def forward(self, x, state=None, mode: str | None = None, attention_mask=None, cu_seqlens=None):
        """x (B, T, d_model) → (y, S) with S (B, nh, d_f, d_v); padding (``attention_mask`` 0) writes nothing to S.
        ``cu_seqlens`` (N + 1,): x is B = 1 with N packed sequences; ``state`` and S are then (N, nh, d_f, d_v)."""
        _check_x(x, self.d_model)
        mode = _check_mode(mode or self.mode)
        packing(cu_seqlens, x, attention_mask)
        m = padding_mask(attention_mask, x)
        B, T, _ = x.shape
        qk = self.qk_proj(x).view(B, T, 2, self.n_heads, self.pdim).permute(2, 0, 3, 1, 4)
        q, k = self._phi(qk[0]), self._phi(qk[1])
        v = self.v_proj(x).view(B, T, self.n_heads, self.d_value).transpose(1, 2)
        if m is not None:
            k = k * m[:, None, :, None]
        gamma = torch.sigmoid(self.raw_gamma).to(x.dtype)
        if mode == "chunk":
            y, S = linear_attention_chunked(q, k, v, gamma, state, self.chunk_size, cu_seqlens=cu_seqlens)
        else:
            y, S = linear_attention_recurrent(q, k, v, gamma, state, cu_seqlens=cu_seqlens)
        return self.o_proj(self.norm(y).transpose(1, 2).reshape(B, T, -1)), S

    def state_size(self) -> int:
        """Recurrent state in real scalars per sequence: nh·d_f·d_v for elu features. Fourier features
        [cos κ·p, sin κ·p] over a mode set closed under m → −m span only K = ``basis.n_modes`` functions
        (cos κ_{−m}·p = cos κ_m·p, sin κ_{−m}·p = −sin κ_m·p), so the state holds nh·K·d_v (as
        :meth:`SpectralManifoldAttention.state_size` counts C). Taylor features hold p pᵀ, symmetric, so
        their 1 + f + f² features span 1 + f + f(f+1)/2 (Based's state formula)."""
        if self.feature_map == "fourier":
            rank = self.basis.n_modes
        elif self.feature_map == "taylor":
            rank = 1 + self.pdim + self.pdim * (self.pdim + 1) // 2
        else:
            rank = self.feature_dim
        return self.n_heads * rank * self.d_value


class SoftmaxAttention(nn.Module):
    """Causal multi-head softmax attention via torch SDPA; the state is the KV cache (grows with T)."""

    def __init__(self, d_model: int, n_heads: int = 1, mode: str = "chunk", **_ignored):
        super().__init__()
        self.d_model, self.n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ManifoldSpecError(f"n_heads: must divide d_model={d_model}, got {n_heads}")
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.o_proj = nn.Linear(d_model, d_model)

    def forward(self, x, state=None, mode: str | None = None, attention_mask=None, cu_seqlens=None):
        """x (B, T, d_model) → (y, (K_cache, V_cache, valid)) with caches (B, nh, T_total, d_head) and
        ``valid`` (B, T_total) bool, False at padding (``attention_mask`` 0), which no query attends to.
        ``cu_seqlens`` (N + 1,): x is B = 1 with N packed sequences, attended block-diagonally; the caches
        (given and returned) are then per sequence, batch N, left-padded to a common length."""
        _check_x(x, self.d_model)
        B, T, _ = x.shape
        bounds = packing(cu_seqlens, x, attention_mask)
        m = padding_mask(attention_mask, x)
        valid = torch.ones(B, T, dtype=torch.bool, device=x.device) if m is None else m.bool()
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        if bounds is not None:
            y, state = packed_sdpa(q, k, v, state, bounds)
            return self.o_proj(y.transpose(1, 2).reshape(B, T, -1)), state
        if state is not None:
            k, v = torch.cat([state[0], k], 2), torch.cat([state[1], v], 2)
            valid = torch.cat([state[2], valid], 1)
        P = k.shape[2] - T  # cached tokens: query t sees keys ≤ P + t
        if state is None and m is None:
            y = Fn.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            causal = torch.ones(T, k.shape[2], dtype=torch.bool, device=x.device).tril(P)
            # a padded query sees itself, so that no row is empty (SDPA would return NaN there)
            own = torch.zeros_like(causal)
            own[torch.arange(T), P + torch.arange(T)] = True
            mask = causal & (valid[:, None, None, :] | own)
            y = Fn.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1)), (k, v, valid)

    def state_size(self, seq_len: int) -> int:
        return 2 * self.d_model * seq_len
