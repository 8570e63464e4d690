"""Varlen packs (``cu_seqlens``): batched buckets against one op call per sequence and a padded batch.

    python benchmarks/bench_varlen.py [--mixers smt,sphere,linear,deltanet,gla] [--repeats 3] [--quick]

One layer of each mixer (d_model 64, 2 heads, chunked form), forward + backward of a loss on
the outputs, one torch thread, float32. For each length distribution the same tokens run three ways:

- ``before``: what a pack cost before it was bucketed, the baseline of the ratios. Recurrent mixers:
  one op call per packed sequence (reproduced by making every sequence its own bucket). Softmax: one
  SDPA call over the whole pack under a (T, T) block-diagonal mask (``packed_sdpa_reference``).
- ``buckets``: the default, sequences of lengths in [2^(j−1), 2^j) run as one left-padded batch.
- ``padded``: the whole pack as one left-padded batch (N, max L) with ``attention_mask``, which a user
  can do instead of packing; its padding grows with the spread of the lengths.

Prints the median milliseconds of ``--repeats`` interleaved runs after a warm-up, and the speed-up of
``buckets`` and ``padded`` over ``before`` measured in the same run.
"""
from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time

import torch

from manifoldspec.nn import (DeltaNetAttention, GatedLinearAttention, LinearAttention, SoftmaxAttention,
                             SpectralManifoldAttention)
from manifoldspec.nn import baselines
from manifoldspec.nn.ops import packed_softmax, varlen

D_MODEL, HEADS = 64, 2
MIXERS = {
    "smt": lambda: SpectralManifoldAttention(D_MODEL, HEADS, n_modes=9),
    "sphere": lambda: SpectralManifoldAttention(D_MODEL, HEADS, n_modes=9, base="sphere"),
    "linear": lambda: LinearAttention(D_MODEL, HEADS, feature_dim=16),
    "deltanet": lambda: DeltaNetAttention(D_MODEL, HEADS, key_dim=16),
    "gla": lambda: GatedLinearAttention(D_MODEL, HEADS, key_dim=16),
    "softmax": lambda: SoftmaxAttention(D_MODEL, HEADS),
}


def _uniform(n, lo, hi):
    return lambda g: torch.randint(lo, hi + 1, (n,), generator=g).tolist()


def _log_uniform(n, lo, hi):  # lengths spread over decades: where one padded batch wastes most
    return lambda g: torch.exp(torch.empty(n).uniform_(math.log(lo), math.log(hi + 1), generator=g)).long().tolist()


def _outlier(n, hi, long):  # n − 1 short sequences and one long one
    return lambda g: torch.randint(1, hi + 1, (n - 1,), generator=g).tolist() + [long]


DISTRIBUTIONS = [("512 x 1-8", _uniform(512, 1, 8)), ("256 x 4-16", _uniform(256, 4, 16)),
                 ("64 x 16-64", _uniform(64, 16, 64)), ("16 x 100-300", _uniform(16, 100, 300)),
                 ("128 x 1-256", _uniform(128, 1, 256)), ("256 log 1-1024", _log_uniform(256, 1, 1024)),
                 ("255 x 1-16 +2048", _outlier(256, 16, 2048))]
MAX_MASK_TOKENS = 20_000
QUICK = [("128 x 1-8", _uniform(128, 1, 8)), ("64 log 1-256", _log_uniform(64, 1, 256))]


def _singletons(lengths, exact=False):
    return [[i] for i in range(len(lengths))]


def inputs(lengths, how: str, seed: int = 0):
    """The tokens of ``lengths`` laid out for ``how``: x (1, T, d) with ``cu_seqlens``, or (N, max L, d)
    left-padded with ``attention_mask`` for ``padded``; returns (x, keyword arguments of the call)."""
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randn(L, D_MODEL, generator=g) for L in lengths]
    if how != "padded":
        return torch.cat(seqs)[None], dict(cu_seqlens=torch.tensor([0, *itertools.accumulate(lengths)]))
    width = max(lengths)
    x, mask = torch.zeros(len(lengths), width, D_MODEL), torch.zeros(len(lengths), width)
    for i, s in enumerate(seqs):
        x[i, width - len(s):], mask[i, width - len(s):] = s, 1
    return x, dict(attention_mask=mask)


def forward(layer, x, call, how: str):
    """The layer's outputs; ``how == "before"`` runs the pre-bucketing path (restored afterwards)."""
    buckets, sdpa = varlen.length_buckets, baselines.packed_sdpa
    if how == "before":
        varlen.length_buckets, baselines.packed_sdpa = _singletons, packed_softmax.packed_sdpa_reference
    try:
        return layer(x, **call)[0]
    finally:
        varlen.length_buckets, baselines.packed_sdpa = buckets, sdpa


def measure(layer, lengths, how: str) -> float:
    """Milliseconds of one forward + backward of ``layer`` on sequences of ``lengths``, run ``how``."""
    x, call = inputs(lengths, how)
    x.requires_grad_()
    t0 = time.perf_counter()
    forward(layer, x, call, how).square().mean().backward()
    return 1e3 * (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mixers", default=",".join(MIXERS), help="comma-separated subset of " + ",".join(MIXERS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="two small distributions (a smoke run)")
    a = ap.parse_args(argv)
    names = a.mixers.split(",")
    unknown = [n for n in names if n not in MIXERS]
    if unknown:
        ap.error(f"--mixers: unknown {unknown}; choose from {','.join(MIXERS)}")
    if a.repeats < 1:
        ap.error("--repeats: must be at least 1")
    torch.set_num_threads(1)
    ways = ("before", "buckets", "padded")
    print(f"one layer, d_model {D_MODEL}, {HEADS} heads, chunked, float32, forward + backward, 1 thread; "
          f"median ms of {a.repeats} interleaved runs")
    print(f"{'mixer':>9} {'lengths':>17} {'tokens':>7} {'calls':>9} {'pad %':>6} "
          f"{'before':>9} {'buckets':>9} {'padded':>9} {'before/buckets':>15} {'before/padded':>14}")
    for name in names:
        torch.manual_seed(0)
        layer = MIXERS[name]()
        for k, (label, draw) in enumerate(QUICK if a.quick else DISTRIBUTIONS):
            lengths = draw(torch.Generator().manual_seed(k))
            n = len(lengths)
            # softmax's reference materializes (T, T) scores per head: past MAX_MASK_TOKENS it is not run
            todo = [h for h in ways if not (name == "softmax" and h == "before" and sum(lengths) > MAX_MASK_TOKENS)]
            for how in todo:  # warm-up
                measure(layer, lengths, how)
            runs = {how: [] for how in todo}
            for _ in range(a.repeats):
                for how in todo:
                    runs[how].append(measure(layer, lengths, how))
            ms = {how: statistics.median(runs[how]) if how in runs else math.nan for how in ways}
            calls = len(varlen.length_buckets(lengths))
            pad = 100 * (1 - sum(lengths) / (len(lengths) * max(lengths)))
            print(f"{name:>9} {label:>17} {sum(lengths):>7} {f'{n}->{calls}':>9} {pad:>6.0f} "
                  f"{ms['before']:>9.1f} {ms['buckets']:>9.1f} {ms['padded']:>9.1f} "
                  f"{ms['before'] / ms['buckets']:>14.1f}x {ms['before'] / ms['padded']:>13.1f}x", flush=True)

if __name__ == "__main__":
    main()
