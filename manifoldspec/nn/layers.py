"""Sequence-mixing layers with one calling convention: ``y, state = layer(x, state=None)``.

x, y : (B, T, d_model); ``state`` is what the layer hands to its next call (decoding, or the
next segment of a long sequence). :class:`SpectralManifoldAttention` and
:class:`LinearAttention` have a state whose size does not depend on T;
:class:`SoftmaxAttention` (torch SDPA) keeps a KV cache that grows with T.
``cu_seqlens`` packs N sequences into a batch of one (:mod:`~manifoldspec.nn.ops.varlen`); the
states taken and returned are then per sequence, batch axis N.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn
from torch import nn

from .._checks import ManifoldSpecError, positive_int, positive_scalar
from .basis import torus_basis
from .ops.linear import fourier_features, linear_attention_chunked, linear_attention_recurrent
from .ops.smt import SMTState, smt_chunked, smt_recurrent
from .ops.spectral import FILTERS
from .ops.varlen import packed_positions, packed_sdpa, packing, run_packed

MODES = ("chunk", "recurrent")
FEATURE_MAPS = ("elu", "taylor", "fourier")


def _inv_softplus(x: float) -> float:
    return x + math.log(-math.expm1(-x))


def _check_mode(mode):
    if mode not in MODES:
        raise ManifoldSpecError(f"mode: expected one of {MODES}, got {mode!r}")
    return mode


def _check_x(x, d_model):
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ManifoldSpecError(f"x: expected shape (batch, seq, {d_model}), got {tuple(x.shape)}")


def padding_mask(attention_mask, x):
    """``attention_mask`` (B, T), 1/True for tokens and 0/False for padding, as a 0/1 tensor of x's dtype
    (None stays None). Padded tokens add nothing to any state, so a left-padded batch gives each
    sequence the outputs it has alone (tests); outputs at padded positions are meaningless."""
    if attention_mask is None:
        return None
    m = torch.as_tensor(attention_mask, device=x.device)
    if tuple(m.shape) != tuple(x.shape[:2]):
        raise ManifoldSpecError(f"attention_mask: expected shape {tuple(x.shape[:2])} (batch, seq), got {tuple(m.shape)}")
    if m.dtype != torch.bool and not bool(((m == 0) | (m == 1)).all()):
        raise ManifoldSpecError("attention_mask: entries must be 0/1 or bool (1 = token, 0 = padding)")
    return m.to(x.dtype)


class SpectralManifoldAttention(nn.Module):
    """Spectral Manifold Transformer mixing layer (DESIGN.md §7), causal.

    Per head, each token x_t gives a query position q_t and a key position μ_t on the torus
    Tⁿ = [0, 2π)ⁿ (both content-dependent: linear maps of x_t), a warp α_t = softplus(·) ≥ 0
    along v_t, and a value V_t gated by w_t = sigmoid(·). The state is
    H_t (K x K, the token-warped operator, decayed by the linearized Ricci flow) and
    C_t (K x d_v, spectral coefficients); the output is Re e(q_t)ᵀ[f(Λ0) + F∘H_t]C_t,
    normalized per head (RMSNorm) and projected back to d_model.

    Parameters
    ----------
    d_model : int
    n_heads : int
    n_modes : int
        K, number of torus Fourier modes (rounded up to whole eigenvalue shells; see ``self.n_modes``).
        Default 5, the |m|² ≤ 1 modes of T²: on MQAR it learned recall where K = 21 (up to |m|² = 5)
        stayed at chance — high-frequency features make the position maps hard to train
        (benchmarks/results/nn.md).
    latent_dim : int
        n, dimension of the latent torus (2–4).
    sigma : float
        Initial bump width σ of the token warp (learned, per head), chart units (torus side 2π).
    filter : {"heat", "none"}
        Spectral filter f: heat kernel exp(−τλ) with learned τ (init ``tau``), or f ≡ 1
        (then the warp has no effect on the output: DESIGN.md §7).
    d_value : int, optional
        Value dimension per head (default d_model // n_heads).
    tau, flow_dt, gamma : float
        Initial heat time τ, flow step dt (D = exp(−|q|² dt); ``flow_dt=None``: no flow, D ≡ 1)
        and coefficient decay γ ∈ (0, 1]. The flow is off by default: on MQAR it gained nothing at
        tuned learning rates (slice-mean 0.835 with, 0.846 without, three seeds, K = 5), narrowed the
        learning-rate window and trained 2.4× slower (benchmarks/results/nn.md §3b).
        ``flow_dt=1e-3`` turns on the linearized Ricci–DeTurck decay of DESIGN.md §6–§7 (learned per head).
    warp : bool
        Learn a token warp (False: α ≡ 0, plain kernelized linear attention).
    positions : {"content", "index"}
        How q_t and μ_t are made: linear maps of x_t (default), or the ablation μ_t = q_t = ω·t with a
        learned frequency ω per head (position only, a linear time-invariant kernel like RoPE; NN_ANCHORS
        §6.1.3). "index" has no streaming state: call it on whole sequences.
    mode : {"chunk", "recurrent"}
        Default form; ``forward(..., mode=...)`` overrides it.
    chunk_size : int, optional
        Tokens per chunk of the chunked form (default: 64 without flow, 16 with flow;
        :func:`~manifoldspec.nn.ops.smt.default_chunk_size`).
    checkpoint : int, optional
        Tokens per gradient-checkpoint segment in chunk mode while grad is enabled: the autograd graph
        of a segment is dropped after the forward pass and recomputed in the backward pass, so training
        memory grows with the state (H, C) per segment instead of ~100–160 KB per token
        (benchmarks/results/nn.md), for about one more forward pass of compute. ``None``: off.
    """

    def __init__(self, d_model: int, n_heads: int = 1, n_modes: int = 5, latent_dim: int = 2, sigma: float = 0.5,
                 filter: str = "heat", d_value: int | None = None, tau: float = 0.02, flow_dt: float | None = None,
                 gamma: float = 0.999, warp: bool = True, mode: str = "chunk", chunk_size: int | None = None,
                 checkpoint: int | None = None, positions: str = "content"):
        super().__init__()
        self.d_model, self.n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        if filter not in FILTERS:
            raise ManifoldSpecError(f"filter: expected one of {FILTERS}, got {filter!r}")
        if not 0 < gamma <= 1:
            raise ManifoldSpecError(f"gamma: must lie in (0, 1], got {gamma}")
        self.basis = torus_basis(n_modes, latent_dim)
        self.n_modes, self.latent_dim = self.basis.n_modes, self.basis.dim
        self.d_value = positive_int(d_value or max(1, d_model // n_heads), "d_value")
        self.filter, self.mode, self.warp = filter, _check_mode(mode), bool(warp)
        self.chunk_size = None if chunk_size is None else positive_int(chunk_size, "chunk_size")
        self.checkpoint = None if checkpoint is None else positive_int(checkpoint, "checkpoint")
        if positions not in ("content", "index"):
            raise ManifoldSpecError(f"positions: expected 'content' or 'index', got {positions!r}")
        self.positions = positions
        nh, n, dv = self.n_heads, self.latent_dim, self.d_value
        # ablation: μ_t = q_t = ω·t; frequencies spread so that the first tokens land apart on the torus
        self.omega = nn.Parameter(torch.randn(nh, n) * 0.5) if positions == "index" else None
        self.pos_proj = nn.Linear(d_model, 2 * nh * n)  # q_t and μ_t
        self.warp_proj = nn.Linear(d_model, nh * (1 + n))  # α_t (pre-softplus) and v_t
        self.v_proj = nn.Linear(d_model, nh * (dv + 1))  # V_t and the gate w_t
        nn.init.normal_(self.pos_proj.weight, std=math.pi / math.sqrt(d_model))  # positions spread over the torus
        nn.init.constant_(self.warp_proj.bias[:nh], -2.0)  # small initial warp
        self.log_sigma = nn.Parameter(torch.full((nh,), math.log(positive_scalar(sigma, "sigma"))))
        self.raw_tau = nn.Parameter(torch.full((nh,), _inv_softplus(positive_scalar(tau, "tau"))))
        self.raw_dt = None if flow_dt is None else nn.Parameter(torch.full((nh,), _inv_softplus(max(flow_dt, 1e-12))))
        self.raw_gamma = nn.Parameter(torch.full((nh,), math.log(gamma / (1 - gamma)) if gamma < 1 else 30.0))
        self.norm = nn.RMSNorm(dv)
        self.o_proj = nn.Linear(nh * dv, d_model)

    def geometry(self):
        """Per-head (σ, τ, dt, γ), each (n_heads,); dt is None without flow."""
        dt = None if self.raw_dt is None else Fn.softplus(self.raw_dt)
        return self.log_sigma.exp(), Fn.softplus(self.raw_tau), dt, torch.sigmoid(self.raw_gamma)

    def project(self, x, mask=None, bounds=None):
        """Token maps: q_pos, k_pos, warp_v (B, nh, T, n); alpha (B, nh, T); values (B, nh, T, d_v).
        ``bounds`` (packed offsets) restarts the token index of ``positions="index"`` at every sequence."""
        B, T, _ = x.shape
        nh, n, dv = self.n_heads, self.latent_dim, self.d_value
        pos = self.pos_proj(x).view(B, T, 2, nh, n).permute(2, 0, 3, 1, 4)
        if self.omega is not None:
            # token index; with padding (mask 0/1) it counts real tokens, so left padding does not shift it
            if bounds is not None:
                t = packed_positions(bounds, x.device)[1].to(x.dtype)[None]
            elif mask is None:
                t = torch.arange(T, dtype=x.dtype, device=x.device).expand(B, T)
            else:
                t = mask.cumsum(1) - 1
            pos = (t[:, None, :, None] * self.omega.to(x.dtype)[None, :, None, :]).expand(2, B, nh, T, n)
        w = self.warp_proj(x).view(B, T, nh, 1 + n).transpose(1, 2)
        alpha = Fn.softplus(w[..., 0]) if self.warp else torch.zeros_like(w[..., 0])
        vv = self.v_proj(x).view(B, T, nh, dv + 1).transpose(1, 2)
        values = vv[..., :dv] * torch.sigmoid(vv[..., dv:])
        return pos[0], pos[1], values, alpha, w[..., 1:]

    def forward(self, x, state: SMTState | None = None, mode: str | None = None, attention_mask=None,
                cu_seqlens=None):
        """x (B, T, d_model) → (y (B, T, d_model), SMTState). ``attention_mask`` (B, T): 0 marks padding,
        whose tokens neither warp H (α = 0) nor write to C (V = 0). ``cu_seqlens`` (N + 1,): x is B = 1
        with N packed sequences, each starting from its own state (``state`` and the result: batch N)."""
        _check_x(x, self.d_model)
        mode = _check_mode(mode or self.mode)
        if self.omega is not None and state is not None:
            raise ManifoldSpecError("state: positions='index' (μ_t = ω·t) has no streaming state; call the layer on "
                                    "whole sequences")
        bounds = packing(cu_seqlens, x, attention_mask)
        m = padding_mask(attention_mask, x)
        q_pos, k_pos, values, alpha, warp_v = self.project(x, m, bounds)
        if m is not None:
            values, alpha = values * m[:, None, :, None], alpha * m[:, None, :]
        sigma, tau, dt, gamma = (None if p is None else p.to(x.dtype) for p in self.geometry())
        args = (self.basis, q_pos, k_pos, values, alpha, warp_v, sigma, tau, dt, gamma)
        if mode == "chunk" and self.checkpoint is not None and torch.is_grad_enabled():
            if bounds is None:
                y, st = self._checkpointed(args, state)
            else:
                y, st = self._checkpointed_packed(args, state, bounds)
        elif mode == "chunk":
            y, st = smt_chunked(*args, filter=self.filter, state=state, chunk_size=self.chunk_size,
                                cu_seqlens=cu_seqlens)
        else:
            y, st = smt_recurrent(*args, filter=self.filter, state=state, cu_seqlens=cu_seqlens)
        B, T = x.shape[:2]
        return self.o_proj(self.norm(y).transpose(1, 2).reshape(B, T, -1)), st

    def _checkpointed(self, args, state):
        from torch.utils.checkpoint import checkpoint

        basis, token_args, head_args = args[0], args[1:6], args[6:]

        def segment(*xs):
            *tok, H, C = xs
            y, st = smt_chunked(basis, *tok, *head_args, filter=self.filter, chunk_size=self.chunk_size,
                                state=None if H is None else SMTState(H, C))
            return y, st.H, st.C

        H, C = (None, None) if state is None else (state.H, state.C)
        ys = []
        # split once (not a slice per segment, whose backward allocates a full-length gradient each time)
        for tok in zip(*(a.split(self.checkpoint, dim=2) for a in token_args)):
            y, H, C = checkpoint(segment, *tok, H, C, use_reentrant=False)
            ys.append(y)
        return torch.cat(ys, dim=2), SMTState(H, C)

    def _checkpointed_packed(self, args, state, bounds):
        # checkpointed segments inside each packed sequence, so that no segment spans a boundary
        def one(tok, st):
            y, s = self._checkpointed((args[0], *tok, *args[6:]), None if st is None else SMTState(*st))
            return y, (s.H, s.C)

        y, (H, C) = run_packed(one, bounds, args[1:6], None if state is None else (state.H, state.C))
        return y, SMTState(H, C)

    def state_size(self) -> int:
        """Recurrent state in real scalars per sequence: nh·(K(K+1)/2 + K·d_v); nh·K·d_v with ``warp=False``,
        where H stays zero and need not be kept.

        This is the information in the state, not the storage of :class:`SMTState`
        (``n_scalars`` = nh·(K² + 2·K·d_v)). The mode set is closed under m → −m, so with real values
        C_{−m} = conj(C_m) and H_{−m,−k} = conj(H_mk): in the real basis (cos κ·x, sin κ·x) H is a real
        symmetric K × K matrix and C a real K × d_v one (tests check both symmetries). Comparisons of
        recall per unit of state use this count.
        """
        K = self.n_modes
        return self.n_heads * ((K * (K + 1) // 2 if self.warp else 0) + K * self.d_value)


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
