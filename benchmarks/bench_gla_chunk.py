"""Chunk length of gated linear attention's chunked form: training throughput and memory.

    python benchmarks/bench_gla_chunk.py [--lengths 2048,8192] [--chunks 16,32,64] [--repeats 3]

One GatedLinearAttention layer (d_model 64, 2 heads, d_k 16, vector gate), forward + backward, batch 1, one
torch thread. Every (T, chunk) point runs in a fresh subprocess (peak RSS above the post-warm-up baseline),
and the repeats are interleaved across chunk lengths so that machine noise hits all of them alike. Prints
the median tokens/s and peak MB with ratios against chunk 64, the previous default.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads(1)
from manifoldspec.nn import GatedLinearAttention
T, cs = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
layer = GatedLinearAttention(64, 2, key_dim=16, chunk_size=cs)
x = torch.randn(1, T, 64, requires_grad=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y, _ = layer(x); y.square().mean().backward()  # warm-up, also the memory high-water mark
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
for _ in range(2):
    y, _ = layer(x); y.square().mean().backward()
print(json.dumps({"tok_s": 2 * T / (time.perf_counter() - t0), "mb": (peak - base) / 1024}))
"""


def measure(T: int, chunk: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(T), str(chunk)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="2048,8192")
    ap.add_argument("--chunks", default="16,32,64")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    lengths = [int(x) for x in a.lengths.split(",")]
    chunks = [int(x) for x in a.chunks.split(",")]
    if 64 not in chunks:
        ap.error("--chunks must include 64, the baseline")
    print(f"GLA layer, d_model 64, 2 heads, d_k 16, forward + backward, 1 thread; median of {a.repeats} interleaved runs")
    print(f"{'T':>6} {'chunk':>6} {'tok/s':>9} {'MB':>8} {'tok/s vs 64':>12} {'MB vs 64':>9}")
    for T in lengths:
        runs = {c: [] for c in chunks}
        for _ in range(a.repeats):
            for c in chunks:
                runs[c].append(measure(T, c))
        med = {c: (statistics.median(r["tok_s"] for r in runs[c]), statistics.median(r["mb"] for r in runs[c]))
               for c in chunks}
        for c in chunks:
            print(f"{T:>6} {c:>6} {med[c][0]:>9.0f} {med[c][1]:>8.1f} {med[c][0] / med[64][0]:>12.2f} "
                  f"{med[c][1] / med[64][1]:>9.2f}")


if __name__ == "__main__":
    main()
