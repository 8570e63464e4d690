"""Multi-query associative recall (MQAR), the Zoology protocol scaled down for CPU.

Layout of one example of length L with N pairs (NN_ANCHORS.md §1.1): the context
k1 v1 … kN vN (keys from [1, V/2), values from [V/2, V), keys distinct, values distinct),
then a query region where every key appears once more at an even offset 2·gap, the gaps
drawn without replacement from p(g) ∝ a·g^(a−1) (a = 0.01 is Zoology's heavy tail, a = 1
uniform). Other query-region tokens are 0 (Zoology figure-2 setting, random_non_queries=False).
Targets are next tokens: −100 everywhere except at each re-inserted key, whose target is its
value. Chance accuracy is 1/(V − V/2) for a model that knows only the value range.

Zoology's generator also asserts V > L. Nothing in this layout needs it (keys and values only need
N distinct tokens each), so it is not enforced; but the CLI's default V = 64 at L = 64/128 is below it,
and results at V = 64 do not carry over to larger vocabularies (benchmarks/results/nn.md §3d).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._checks import ManifoldSpecError, positive_int

IGNORE = -100


@dataclass(frozen=True)
class MQARConfig:
    """One MQAR slice: vocabulary V, sequence length L, number of pairs N, power-law exponent a."""

    vocab_size: int = 256
    seq_len: int = 64
    num_pairs: int = 8
    power_a: float = 0.01

    def __post_init__(self):
        V, L, N = (positive_int(x, n) for x, n in ((self.vocab_size, "vocab_size"), (self.seq_len, "seq_len"),
                                                   (self.num_pairs, "num_pairs")))
        if L % 2:
            raise ManifoldSpecError(f"seq_len: must be even, got {L}")
        if 4 * N > L:
            raise ManifoldSpecError(f"num_pairs: 4·num_pairs must be ≤ seq_len (context plus query region), got N={N}, L={L}")
        if V // 2 - 1 < N or V - V // 2 < N:
            raise ManifoldSpecError(f"vocab_size: too small for {N} distinct keys and values, got {V}")
        if not self.power_a > 0:
            raise ManifoldSpecError(f"power_a: must be > 0, got {self.power_a}")

    @property
    def chance(self) -> float:
        """Accuracy of guessing a uniform value token."""
        return 1.0 / (self.vocab_size - self.vocab_size // 2)


def _distinct(rng, lo, hi, B, N):
    # N distinct integers in [lo, hi) per row: argsort of uniform noise picks a random subset
    return lo + np.argsort(rng.random((B, hi - lo)), axis=1)[:, :N]


def mqar_batch(cfg: MQARConfig, batch_size: int, rng: np.random.Generator):
    """Sample a batch: inputs (B, L) int64 and targets (B, L) int64 (−100 = not scored)."""
    B = positive_int(batch_size, "batch_size")
    V, L, N = cfg.vocab_size, cfg.seq_len, cfg.num_pairs
    keys = _distinct(rng, 1, V // 2, B, N)
    vals = _distinct(rng, V // 2, V, B, N)
    ctx = 2 * N
    space = (L - ctx) // 2
    p = cfg.power_a * np.arange(1, space + 1) ** (cfg.power_a - 1)
    p /= p.sum()
    # N gaps without replacement from p: Gumbel top-N on log p
    gaps = np.argsort(-(np.log(p)[None, :] + rng.gumbel(size=(B, space))), axis=1)[:, :N]
    seq = np.zeros((B, L), dtype=np.int64)
    seq[:, 0:ctx:2], seq[:, 1:ctx:2] = keys, vals
    rows = np.arange(B)[:, None]
    seq[rows, ctx + 2 * gaps] = keys
    tgt = np.full((B, L), IGNORE, dtype=np.int64)
    tgt[rows, ctx + 2 * gaps] = vals  # predict the value at the re-inserted key
    return torch.from_numpy(seq), torch.from_numpy(tgt)


def induction_batch(vocab_size: int, seq_len: int, batch_size: int, rng: np.random.Generator):
    """Induction heads / single-query associative recall (the Mamba protocol, NN_ANCHORS.md T3).

    Tokens are uniform in [1, V); the special token 0 appears twice: once at a random position p
    (followed by the target x_{p+1}) and again at the last position, whose target is x_{p+1}. Only that
    last position is scored, so chance is 1/(V − 1). Returns inputs and targets (B, L) int64.
    """
    B, V, L = (positive_int(batch_size, "batch_size"), positive_int(vocab_size, "vocab_size"),
               positive_int(seq_len, "seq_len"))
    if V < 3 or L < 4:
        raise ManifoldSpecError(f"vocab_size, seq_len: induction needs V ≥ 3 and L ≥ 4, got V={V}, L={L}")
    seq = rng.integers(1, V, size=(B, L))
    p = rng.integers(0, L - 2, size=B)  # the first special token; p + 1 ≤ L − 2 keeps the target in the context
    rows = np.arange(B)
    seq[rows, p] = 0
    seq[:, L - 1] = 0
    tgt = np.full((B, L), IGNORE, dtype=np.int64)
    tgt[:, L - 1] = seq[rows, p + 1]
    return torch.from_numpy(seq.astype(np.int64)), torch.from_numpy(tgt)
