"""What every mixing layer shares: the calling convention's checks and the padding mask."""
from __future__ import annotations

import math

import torch

from .._checks import ManifoldSpecError

MODES = ("chunk", "recurrent")


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
