"""A small language model built from the mixing layers; ``mixer`` is one flag.

SMTBlock:  x ← x + Mixer(ShortConv(Norm(x)))  [+ x ← x + MLP(Norm(x)) when mlp_ratio > 0]

The short causal depthwise convolution (kernel 3, as the Based/Zoology MQAR models use in
front of every recurrent mixer) gives each token its neighbours, which associative recall
needs (the value token must see its key). It is used for all three mixers alike, so the
comparison stays one flag apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as Fn
from torch import nn

from .._checks import ManifoldSpecError, positive_int
from .deltanet import DeltaNetAttention
from .gla import GatedLinearAttention
from .layers import LinearAttention, SoftmaxAttention, SpectralManifoldAttention, padding_mask
from .ops.varlen import check_state_batch, packed_positions, packing

MIXERS = {"smt": SpectralManifoldAttention, "softmax": SoftmaxAttention, "linear": LinearAttention,
          "deltanet": DeltaNetAttention, "gla": GatedLinearAttention}


class ShortConv(nn.Module):
    """Causal depthwise conv over time; state = the last (kernel − 1) inputs (B, kernel − 1, d)."""

    def __init__(self, d_model: int, kernel: int = 3):
        super().__init__()
        self.kernel = positive_int(kernel, "kernel")
        self.conv = nn.Conv1d(d_model, d_model, self.kernel, groups=d_model)

    def forward(self, x, state=None, mask=None, bounds=None):
        """``mask`` (B, T) 0/1: padded inputs enter the convolution as zeros (as before the sequence starts).
        ``bounds`` (offsets of packed sequences, B = 1): every sequence starts from zeros, or from its row of
        ``state`` (N, kernel − 1, d); the returned state is then per sequence, (N, kernel − 1, d)."""
        if bounds is not None:
            return self._packed(x, state, bounds)
        B, T, d = x.shape
        if mask is not None:
            x = x * mask[..., None]
        pad = x.new_zeros(B, self.kernel - 1, d) if state is None else state
        xx = torch.cat([pad, x], 1)
        return self.conv(xx.transpose(1, 2)).transpose(1, 2), xx[:, xx.shape[1] - (self.kernel - 1):]

    def _packed(self, x, state, bounds):
        # one convolution over [pad_1, x_1, pad_2, x_2, …] with k − 1 pad slots per sequence: no window
        # that ends on a token of sequence i reaches back past pad_i, so nothing leaks across a boundary
        k1, (_, T, d), N, dev = self.kernel - 1, x.shape, len(bounds) - 1, x.device
        seg, _ = packed_positions(bounds, dev)
        t, j, i = torch.arange(T, device=dev), torch.arange(k1, device=dev), torch.arange(N, device=dev)
        xx = x.new_zeros(1, T + N * k1, d).index_copy(1, t + (seg + 1) * k1, x)
        if state is not None:
            check_state_batch(state.shape[0], N)
            pads = torch.tensor(bounds[:-1], device=dev) + i * k1  # first pad slot of each sequence
            xx = xx.index_copy(1, (pads[:, None] + j).reshape(-1), state.reshape(1, N * k1, d))
        y = self.conv(xx.transpose(1, 2)).transpose(1, 2)[:, t + seg * k1]  # output p: window ending at p + k − 1
        ends = torch.tensor(bounds[1:], device=dev) + (i + 1) * k1  # one past each sequence's last slot
        return y, xx[0, ends[:, None] - k1 + j]


@dataclass(frozen=True, eq=False)
class BlockState:
    conv: torch.Tensor | None
    mixer: object


class SMTBlock(nn.Module):
    """One residual block with a chosen sequence mixer.

    Parameters
    ----------
    d_model : int
    mixer : {"smt", "softmax", "linear", "deltanet", "gla"}
        A key of :data:`MIXERS`.
    n_heads : int
    short_conv : int
        Kernel of the causal short convolution before the mixer (0: none).
    mlp_ratio : int
        Hidden size of the MLP as a multiple of d_model (0: no MLP, as in Zoology's MQAR runs).
    **mixer_kwargs
        Passed to the mixer class (e.g. n_modes, latent_dim, sigma, filter for "smt").
    """

    def __init__(self, d_model: int, mixer: str = "smt", n_heads: int = 1, short_conv: int = 3, mlp_ratio: int = 0,
                 **mixer_kwargs):
        super().__init__()
        if mixer not in MIXERS:
            raise ManifoldSpecError(f"mixer: expected one of {tuple(MIXERS)}, got {mixer!r}")
        self.norm = nn.LayerNorm(d_model)
        self.conv = ShortConv(d_model, short_conv) if short_conv else None
        self.mixer = MIXERS[mixer](d_model, n_heads, **mixer_kwargs)
        self.mlp = None
        if mlp_ratio:
            self.norm2 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(), nn.Linear(mlp_ratio * d_model, d_model))

    def forward(self, x, state: BlockState | None = None, mode: str | None = None, attention_mask=None,
                cu_seqlens=None):
        h = self.norm(x)
        cs = None
        if self.conv is not None:
            m = None if attention_mask is None else padding_mask(attention_mask, h)
            h, cs = self.conv(h, None if state is None else state.conv, m, packing(cu_seqlens, h, attention_mask))
        y, ms = self.mixer(h, None if state is None else state.mixer, mode=mode, attention_mask=attention_mask,
                           cu_seqlens=cu_seqlens)
        x = x + y
        if self.mlp is not None:
            x = x + self.mlp(self.norm2(x))
        return x, BlockState(cs, ms)


class SMTLanguageModel(nn.Module):
    """Token embedding → n_layers × SMTBlock → LayerNorm → tied LM head.

    ``forward(ids (B, T) int64, state=None, mode=None) -> (logits (B, T, vocab), states)``;
    ``states`` (one per layer) continues the sequence in a later call (recurrent decoding).
    ``cu_seqlens`` (N + 1,) packs N sequences into ids (1, T): each restarts (mixer state, short
    convolution, positions) at its offset, and the returned state is per sequence (batch N), so a
    batch of N continues them.
    ``max_len`` adds learned absolute position embeddings (Zoology's attention baseline);
    the default relies on the short convolution for order.
    """

    def __init__(self, vocab_size: int, d_model: int = 64, n_layers: int = 2, mixer: str = "smt", n_heads: int = 1,
                 short_conv: int = 3, mlp_ratio: int = 0, max_len: int | None = None, **mixer_kwargs):
        super().__init__()
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        self.mixer_name = mixer
        self.embed = nn.Embedding(self.vocab_size, positive_int(d_model, "d_model"))
        self.pos = nn.Embedding(max_len, d_model) if max_len else None
        self.blocks = nn.ModuleList(SMTBlock(d_model, mixer, n_heads, short_conv, mlp_ratio, **mixer_kwargs)
                                    for _ in range(positive_int(n_layers, "n_layers")))
        self.norm = nn.LayerNorm(d_model)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, ids, state=None, mode: str | None = None, attention_mask=None, cu_seqlens=None):
        """ids (B, T) → (logits (B, T, vocab), state). ``attention_mask`` (B, T), 0 at padding (e.g. a left-padded
        batch): padded tokens change no state, and positions (with ``max_len``) count real tokens only.
        ``cu_seqlens`` (N + 1,): ids (1, T) holds N packed sequences; ``state`` (given and returned) is per sequence."""
        if ids.dim() != 2:
            raise ManifoldSpecError(f"ids: expected shape (batch, seq), got {tuple(ids.shape)}")
        x = self.embed(ids)
        bounds = packing(cu_seqlens, x, attention_mask)
        m = padding_mask(attention_mask, x)
        offset = 0 if state is None else state[0]  # tokens seen so far: an int, or (B,) once padding was given
        count = torch.ones(ids.shape, dtype=torch.long, device=ids.device) if m is None else m.long()
        if bounds is not None:  # positions restart per sequence, from that sequence's offset
            seg, local = packed_positions(bounds, ids.device)
            off = torch.as_tensor(offset, device=ids.device).reshape(-1)
            if off.numel() != 1:
                check_state_batch(off.numel(), len(bounds) - 1)
            off = off.expand(len(bounds) - 1)
            pos_ids = (off[seg] + local)[None]
        else:
            pos_ids = (torch.as_tensor(offset, device=ids.device).reshape(-1, 1) + count.cumsum(1) - 1).clamp(min=0)
        if self.pos is not None:
            x = x + self.pos(pos_ids)
        layer_states = [None] * len(self.blocks) if state is None else state[1]
        new = []
        for blk, st in zip(self.blocks, layer_states):
            x, s = blk(x, st, mode=mode, attention_mask=m, cu_seqlens=cu_seqlens)
            new.append(s)
        if bounds is not None:
            offset = off + torch.diff(torch.tensor(bounds, device=ids.device))
        else:
            offset = offset + (ids.shape[1] if m is None and not torch.is_tensor(offset) else count.sum(1))
        return Fn.linear(self.norm(x), self.embed.weight), (offset, new)

    def state_size(self, seq_len: int) -> int:
        """Recurrent state of the mixers in real scalars (KV cache for softmax at ``seq_len``)."""
        tot = 0
        for blk in self.blocks:
            m = blk.mixer
            tot += m.state_size(seq_len) if isinstance(m, SoftmaxAttention) else m.state_size()
        return tot
