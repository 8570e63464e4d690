"""Training cost of the SMT torus layer without flow: the recomputing chunk read-out against autograd.

    python benchmarks/bench_smt_backward.py [--lengths 2048,8192,32768] [--chunks 64] [--repeats 3]

One SpectralManifoldAttention layer (d_model 64, 2 heads, n_modes 16 → K = 21 on T², no flow, the chunked
form), forward + backward, batch 1, one torch thread, float32. Two read-outs of the in-chunk cumulative sum:

- ``autograd``: autograd through the cumulative sum, which keeps every chunk's (c, K, K) operators H_t for
  the backward pass (``chunk_readout_autograd``; the layer's read-out before ``ChunkReadout``). Baseline.
- ``recompute``: ``ChunkReadout``, which keeps the chunk's inputs and rebuilds H_t in the backward pass.

Every point runs in fresh subprocesses, repeats interleaved across the two read-outs: one times two
training steps after a warm-up step, another measures the peak RSS of one step above the baseline with
glibc told to serve every allocation above 64 KB by mmap (``MALLOC_MMAP_THRESHOLD_=65536``), so that freed
blocks go back to the system and the peak follows the live tensors rather than heap fragmentation. Prints
the median tokens/s and peak MB and the ratios against ``autograd``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads(1)
from manifoldspec.nn import SpectralManifoldAttention
from manifoldspec.nn.ops import smt, smt_readout
T, chunk, how = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if how == "autograd":
    smt.chunk_readout = smt_readout.chunk_readout_autograd
torch.manual_seed(0)
layer = SpectralManifoldAttention(64, 2, n_modes=16, chunk_size=chunk)
x = torch.randn(1, T, 64, requires_grad=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y, _ = layer(x); y.square().mean().backward()  # warm-up, also the memory high-water mark
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
for _ in range(2):
    y, _ = layer(x); y.square().mean().backward()
print(json.dumps({"tok_s": 2 * T / (time.perf_counter() - t0), "mb": (peak - base) / 1024, "K": layer.n_modes}))
"""
WAYS = ("autograd", "recompute")


def _child(T: int, chunk: int, how: str, env=None) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(T), str(chunk), how], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(T: int, chunk: int, how: str) -> dict:
    """tokens/s of a normal process, and the peak MB of one with large allocations mmap-served."""
    mem = _child(T, chunk, how, dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536"))
    return {"tok_s": _child(T, chunk, how)["tok_s"], "mb": mem["mb"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="2048,8192,32768")
    ap.add_argument("--chunks", default="64", help="chunk lengths (64 is the layer's default without flow)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    try:
        lengths = [int(x) for x in a.lengths.split(",")]
        chunks = [int(x) for x in a.chunks.split(",")]
    except ValueError:
        ap.error("--lengths and --chunks take comma-separated integers")
    if a.repeats < 1 or min(lengths + chunks) < 1:
        ap.error("--repeats, --lengths and --chunks must be positive")
    print(f"SMT torus layer, d_model 64, 2 heads, K = 21, no flow, forward + backward, 1 thread, float32; "
          f"median of {a.repeats} interleaved runs, each a fresh process")
    print(f"{'T':>6} {'chunk':>6} {'autograd tok/s':>15} {'MB':>8} {'recompute tok/s':>16} {'MB':>8} "
          f"{'speed x':>8} {'memory x':>9}")
    for T in lengths:
        for c in chunks:
            runs = {h: [] for h in WAYS}
            for _ in range(a.repeats):
                for h in WAYS:
                    runs[h].append(measure(T, c, h))
            med = {h: (statistics.median(r["tok_s"] for r in runs[h]), statistics.median(r["mb"] for r in runs[h]))
                   for h in WAYS}
            (ta, ma), (tr, mr) = med["autograd"], med["recompute"]
            print(f"{T:>6} {c:>6} {ta:>15,.0f} {ma:>8.1f} {tr:>16,.0f} {mr:>8.1f} {tr / ta:>8.2f} "
                  f"{mr / ma:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
