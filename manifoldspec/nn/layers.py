"""Sequence-mixing layers with one calling convention: ``y, state = layer(x, state=None)``.

x, y : (B, T, d_model); ``state`` is what the layer hands to its next call (decoding, or the
next segment of a long sequence). This module holds :class:`SpectralManifoldAttention` (torus or
sphere base), whose state size does not depend on T; the baselines :class:`LinearAttention` and
:class:`SoftmaxAttention` live in :mod:`manifoldspec.nn.baselines` and are re-exported here.
``cu_seqlens`` packs N sequences into a batch of one (:mod:`~manifoldspec.nn.ops.varlen`); the
states taken and returned are then per sequence, batch axis N.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn
from torch import nn

from .._checks import ManifoldSpecError, positive_int, positive_scalar
from .baselines import FEATURE_MAPS, LinearAttention, SoftmaxAttention  # noqa: F401  (re-exported)
from .basis import torus_basis
from .layer_common import MODES, _check_mode, _check_x, _inv_softplus, padding_mask  # noqa: F401  (re-exported)
from .ops.smt import SMTState, smt_chunked, smt_recurrent
from .ops.spectral import FILTERS
from .ops.sphere import SphereState, smt_sphere_chunked, smt_sphere_recurrent
from .ops.varlen import packed_positions, packing, run_packed
from .sphere_basis import sphere_basis

__all__ = ["FEATURE_MAPS", "MODES", "LinearAttention", "SoftmaxAttention", "SpectralManifoldAttention", "padding_mask"]


def _check_base(base, latent_dim, positions, checkpoint):
    if base not in ("torus", "sphere"):
        raise ManifoldSpecError(f"base: expected 'torus' or 'sphere', got {base!r}")
    if base == "sphere":
        for name, value, ok, accepted in (("latent_dim", latent_dim, latent_dim == 2, "2 (S² is a surface)"),
                                          ("positions", positions, positions == "content", "'content'"),
                                          ("checkpoint", checkpoint, checkpoint is None, "None")):
            if not ok:
                raise ManifoldSpecError(f"{name}: base='sphere' accepts only {accepted}, got {value!r}")
    return base


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
        Initial heat time τ, flow step dt (D = exp(−|q|² dt) on the torus, D = exp(−(l(l+1) − 2)·dt) per
        degree l ≥ 1 of the warp on the sphere; ``flow_dt=None``: no flow, D ≡ 1)
        and coefficient decay γ ∈ (0, 1]. The flow is off by default: on MQAR (torus) it gained nothing at
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
    base : {"torus", "sphere"}
        The base manifold. ``"sphere"``: S² with real spherical harmonics (K = (L+1)², ``n_modes``
        rounded up), q_t and μ_t 3-vectors projected onto the sphere, and a conformal warp
        (1 + α_t G_t) g_round with no direction v_t (:mod:`~manifoldspec.nn.ops.sphere`). With ``flow_dt``
        the state also carries the warp coefficients A (:class:`~manifoldspec.nn.ops.sphere.SphereState`).
        It has no ``positions="index"`` and no ``checkpoint``; ``latent_dim`` must be 2.
    """

    def __init__(self, d_model: int, n_heads: int = 1, n_modes: int = 5, latent_dim: int = 2, sigma: float = 0.5,
                 filter: str = "heat", d_value: int | None = None, tau: float = 0.02, flow_dt: float | None = None,
                 gamma: float = 0.999, warp: bool = True, mode: str = "chunk", chunk_size: int | None = None,
                 checkpoint: int | None = None, positions: str = "content", base: str = "torus"):
        super().__init__()
        self.d_model, self.n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        if filter not in FILTERS:
            raise ManifoldSpecError(f"filter: expected one of {FILTERS}, got {filter!r}")
        if not 0 < gamma <= 1:
            raise ManifoldSpecError(f"gamma: must lie in (0, 1], got {gamma}")
        self.base = _check_base(base, latent_dim, positions, checkpoint)
        self.basis = torus_basis(n_modes, latent_dim) if base == "torus" else sphere_basis(n_modes)
        self.n_modes, self.latent_dim = self.basis.n_modes, self.basis.dim
        self.pos_dim = 3 if base == "sphere" else self.latent_dim  # coordinates of a position: R³ for S²
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
        self.pos_proj = nn.Linear(d_model, 2 * nh * self.pos_dim)  # q_t and μ_t
        self.n_warp = 1 + (n if base == "torus" else 0)  # α_t (pre-softplus), and v_t on the torus
        self.warp_proj = nn.Linear(d_model, nh * self.n_warp)
        self.v_proj = nn.Linear(d_model, nh * (dv + 1))  # V_t and the gate w_t
        # positions spread over the torus; on S² any scale gives uniform directions
        nn.init.normal_(self.pos_proj.weight, std=(math.pi if base == "torus" else 1.0) / math.sqrt(d_model))
        with torch.no_grad():  # small initial warp in every head (α's bias sits at each head's first slot)
            self.warp_proj.bias.view(nh, self.n_warp)[:, 0] = -2.0
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
        """Token maps: q_pos, k_pos (B, nh, T, n), n = latent_dim (torus) or 3 (sphere); alpha (B, nh, T);
        values (B, nh, T, d_v); warp_v (B, nh, T, n) on the torus, None on the sphere (its warp is conformal).
        ``bounds`` (packed offsets) restarts the token index of ``positions="index"`` at every sequence."""
        B, T, _ = x.shape
        nh, dv, n = self.n_heads, self.d_value, self.pos_dim
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
        w = self.warp_proj(x).view(B, T, nh, self.n_warp).transpose(1, 2)
        alpha = Fn.softplus(w[..., 0]) if self.warp else torch.zeros_like(w[..., 0])
        vv = self.v_proj(x).view(B, T, nh, dv + 1).transpose(1, 2)
        values = vv[..., :dv] * torch.sigmoid(vv[..., dv:])
        return pos[0], pos[1], values, alpha, (w[..., 1:] if self.base == "torus" else None)

    def forward(self, x, state: SMTState | None = None, mode: str | None = None, attention_mask=None,
                cu_seqlens=None):
        """x (B, T, d_model) → (y (B, T, d_model), SMTState or SphereState).

        ``attention_mask`` (B, T): 0 marks padding, whose tokens neither warp H (α = 0) nor write to C (V = 0).
        A padded token is still a time step, as on the torus: C decays by γ and, with flow, H (on the sphere
        A) by D. From a zero state a left-padded batch therefore gives every sequence its unpadded outputs;
        a nonzero initial state decays over the padding. ``cu_seqlens`` (N + 1,): x is B = 1
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
        if self.base == "sphere":
            y, st = self._sphere(mode, (q_pos, k_pos, values, alpha), (sigma, tau, gamma), dt, state, bounds)
            B, T = x.shape[:2]
            return self.o_proj(self.norm(y).transpose(1, 2).reshape(B, T, -1)), st
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

    def _sphere(self, mode, tokens, heads, dt, state, bounds):
        # the S² ops take no cu_seqlens: a pack runs them once per sequence. States travel as tuples (H, C) or,
        # with A (always with flow), (H, C, A); the ops refuse a flow call whose state lacks A
        def fields(s):
            return tuple(x for x in (s.H, s.C, s.A) if x is not None)

        def one(tok, st):
            st = None if st is None else SphereState(*st)
            if mode == "chunk":  # chunk_size None: the ops' default_chunk_size (64, or 16 with flow)
                y, s = smt_sphere_chunked(self.basis, *tok, *heads, filter=self.filter, state=st,
                                          chunk_size=self.chunk_size, flow_dt=dt)
            else:
                y, s = smt_sphere_recurrent(self.basis, *tok, *heads, filter=self.filter, state=st, flow_dt=dt)
            return y, fields(s)

        init = None if state is None else fields(state)
        y, out = one(tokens, init) if bounds is None else run_packed(one, bounds, tokens, init)
        return y, SphereState(*out)

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

        On the sphere with flow it is nh·(K2 + K·d_v), K2 = (2L+1)²: the state that must be kept is the
        warp-coefficient vector A and C, and H = P∘(𝒢·A) follows from A (:mod:`~manifoldspec.nn.ops.sphere`).
        """
        K = self.n_modes
        if self.base == "sphere" and self.raw_dt is not None:
            # with flow the S² state is (A, C): H = P∘(𝒢·A) is a function of the K2 = (2L+1)² warp coefficients
            return self.n_heads * ((self.basis.modes2.shape[0] if self.warp else 0) + K * self.d_value)
        return self.n_heads * ((K * (K + 1) // 2 if self.warp else 0) + K * self.d_value)
