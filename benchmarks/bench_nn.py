"""Benchmark of the SMT layer against SDPA softmax attention and linear attention (CPU).

Three parts, each printed as a table:

1. throughput (tokens/s, forward + backward) and peak memory (RSS high-water mark above the
   process baseline) of one layer at sequence lengths 512 … 32k, with ratios against SDPA
   measured in the same run; every (mixer, length) point runs in a fresh subprocess so that
   its peak memory is its own;
2. peak memory of the recurrent form (state carried across segments, no grad) as the number of
   tokens grows to 1M — it must stay flat;
3. MQAR accuracy vs state size: SMT on Tⁿ with K = 2n + 1 modes against linear attention whose
   state (feature_dim · d_v) is the smallest at least SMT's (K(K+1)/2 + K·d_v per head;
   ``equal_state_features``), at one learning rate. The fair
   comparison sweeps the learning rate (``manifoldspec train-recall --lr … --seed …``, and
   ``benchmarks/mqar_sweep_table.py`` to merge sweeps; benchmarks/results/nn.md §3b).

Usage:
    python benchmarks/bench_nn.py --quick
    python benchmarks/bench_nn.py --lengths 512,2048,8192,32768 --stream 16384,65536,262144,1048576
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _layer(mixer, d_model, heads, modes, feat, flow_dt=None, checkpoint=None, chunk=None):
    from manifoldspec.nn import (DeltaNetAttention, GatedLinearAttention, LinearAttention, SoftmaxAttention,
                                 SpectralManifoldAttention)
    if mixer == "smt":
        return SpectralManifoldAttention(d_model, heads, n_modes=modes, flow_dt=flow_dt, chunk_size=chunk,
                                         checkpoint=checkpoint)
    if mixer == "sphere":  # SMT on S²: K = (L+1)² harmonics, ``modes`` rounded up to whole multiplets
        return SpectralManifoldAttention(d_model, heads, n_modes=modes, base="sphere", chunk_size=chunk)
    if mixer == "deltanet":
        return DeltaNetAttention(d_model, heads, key_dim=feat, chunk_size=64)
    if mixer == "gla":  # GLA's per-channel (vector) gate, at the layer's default chunk (32; 64 before §1g)
        return GatedLinearAttention(d_model, heads, key_dim=feat)
    if mixer == "linear":
        return LinearAttention(d_model, heads, feature_dim=feat, chunk_size=64)
    return SoftmaxAttention(d_model, heads)


def child_throughput(mixer, T, d_model, heads, modes, feat, reps, flow_dt=None, checkpoint=None, chunk=None):
    import torch
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    torch.manual_seed(0)
    layer = _layer(mixer, d_model, heads, modes, feat, flow_dt, checkpoint, chunk)
    x = torch.randn(1, T, d_model, requires_grad=True)
    base = _rss_mb()
    y, _ = layer(x)  # warm-up
    y.square().mean().backward()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        y, _ = layer(x)
        y.square().mean().backward()
        times.append(time.perf_counter() - t0)
    return {"tok_s": T / min(times), "peak_mb": _rss_mb() - base}


def child_stream(mixer, N, d_model, heads, modes, feat, segment, flow_dt=None, chunk=None):
    import torch
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    torch.manual_seed(0)
    layer = _layer(mixer, d_model, heads, modes, feat, flow_dt, chunk=chunk).eval()
    g = torch.Generator().manual_seed(1)
    base = _rss_mb()
    state, done, t0 = None, 0, time.perf_counter()
    with torch.no_grad():
        while done < N:
            n = min(segment, N - done)
            _, state = layer(torch.randn(1, n, d_model, generator=g), state)  # segment by segment, state carried
            done += n
    return {"peak_mb": _rss_mb() - base, "tok_s": N / (time.perf_counter() - t0)}


def _spawn(kind, *args):
    code = f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import bench_nn as b; " \
           f"print(json.dumps(b.child_{kind}(*{args!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def mqar_vs_state(dims, steps, batch, d_model, heads, vocab, seed, flow_dt=None, mixers=("smt", "linear")):
    """SMT on Tⁿ with the 2n + 1 modes |m|² ≤ 1, against linear attention (elu + 1) of equal state per head."""
    import torch
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    from dataclasses import replace

    from manifoldspec.nn import TrainConfig, train_recall
    from manifoldspec.nn.train import equal_state_features
    rows = []
    for n in dims:
        K = 2 * n + 1
        cfg = TrainConfig(vocab_size=vocab, train_slices=((64, 4), (64, 8)), test_slices=((64, 4), (64, 8), (128, 16)),
                          d_model=d_model, n_heads=heads, steps=steps, batch_size=batch, seed=seed, test_examples=512,
                          smt={"n_modes": K, "latent_dim": n, "flow_dt": flow_dt})
        feat = equal_state_features(cfg)
        cfg = replace(cfg, linear={"feature_dim": feat})
        for mixer in mixers:
            r = train_recall(mixer, cfg, progress=False)
            label = f"n={n},K={K}" if mixer == "smt" else f"d_f={feat}"
            rows.append((mixer, label, r["state_size"], r["accuracy"], r["seconds"]))
            print(f"  {mixer:<7} {label:<10} state={r['state_size']:<7} "
                  + " ".join(f"L{L}N{N}={a:.3f}" for (L, N), a in r["accuracy"].items()) + f"  ({r['seconds']:.0f} s)",
                  flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer lengths, shorter streams, shorter MQAR runs")
    ap.add_argument("--lengths", default=None, help="comma-separated sequence lengths (default 512,2048,8192,32768)")
    ap.add_argument("--stream", default=None, help="token counts for the recurrent-memory test (default 16384,…,1048576)")
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--modes", type=int, default=16, help="SMT modes K (rounded up to whole shells)")
    ap.add_argument("--feature-dim", type=int, default=16, help="linear attention feature dimension")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--segment", type=int, default=4096, help="tokens per call in the streaming test")
    ap.add_argument("--mqar-dims", default=None, help="SMT latent dimensions n (K = 2n + 1 modes) for the MQAR-vs-state table (default 2,4,8)")
    ap.add_argument("--mqar-steps", type=int, default=None, help="training steps per MQAR model")
    ap.add_argument("--mqar-vocab", type=int, default=64)
    ap.add_argument("--mqar-seed", type=int, default=0)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: throughput,stream,mqar")
    ap.add_argument("--flow-dt", type=float, default=None,
                    help="SMT flow step dt of the Ricci decay D (default: none, D ≡ 1, as in the layer)")
    ap.add_argument("--checkpoint", type=int, default=None,
                    help="SMT gradient-checkpoint segment in tokens (default: off)")
    ap.add_argument("--chunk", type=int, default=None,
                    help="SMT chunk length (default: the layer's, 64 without flow and 16 with flow)")
    ap.add_argument("--with", dest="extra", default="",
                    help="comma-separated extra mixers for the throughput table: sphere (SMT on S², K = --modes "
                         "rounded up to (L+1)²), deltanet, gla (key size --feature-dim)")
    a = ap.parse_args(argv)
    lengths = [int(x) for x in (a.lengths or ("512,2048,8192" if a.quick else "512,2048,8192,32768")).split(",")]
    stream = [int(x) for x in (a.stream or ("16384,131072,1048576" if a.quick else "16384,65536,262144,1048576")).split(",")]
    skip = set(a.skip.split(","))
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
          f"torch threads {os.environ.get('BENCH_THREADS', '1')}; d_model={a.d_model}, heads={a.heads}, batch 1; "
          f"SMT flow_dt={a.flow_dt}, checkpoint={a.checkpoint}, chunk={a.chunk or 'default'}")
    extra = tuple(m for m in a.extra.split(",") if m)
    bad = [m for m in extra if m not in ("sphere", "deltanet", "gla")]
    if bad:
        ap.error(f"--with: expected a comma-separated subset of sphere,deltanet,gla, got {a.extra!r}")
    mixers = ("sdpa", "smt", "linear") + extra
    name = {"sdpa": "softmax", "smt": "smt", "linear": "linear", "sphere": "sphere", "deltanet": "deltanet", "gla": "gla"}
    short = {"smt": "smt", "linear": "lin", "sphere": "sph", "deltanet": "delta", "gla": "gla"}
    if "throughput" not in skip:
        print("\n1. one layer, forward + backward (tokens/s; peak RSS above baseline, MB)")
        print(f"{'T':>7} " + " ".join(f"{m + ' tok/s':>14} {m + ' MB':>9}" for m in mixers)
              + "".join(f" {short[m] + '/sdpa':>10}" for m in mixers[1:]))
        for T in lengths:
            res = {m: _spawn("throughput", name[m], T, a.d_model, a.heads, a.modes, a.feature_dim, a.reps, a.flow_dt,
                             a.checkpoint, a.chunk) for m in mixers}
            cells = []
            for m in mixers:
                r = res[m]
                cells.append(f"{'error':>14} {'':>9}" if "error" in r else f"{r['tok_s']:>14.0f} {r['peak_mb']:>9.1f}")
            ratio = lambda m: (f"{res[m]['tok_s'] / res['sdpa']['tok_s']:>10.2f}"  # noqa: E731
                               if "error" not in res[m] and "error" not in res["sdpa"] else f"{'-':>10}")
            print(f"{T:>7} " + " ".join(cells) + "".join(f" {ratio(m)}" for m in mixers[1:]), flush=True)
            for m in mixers:
                if "error" in res[m]:
                    print(f"        {m} at T={T}: {res[m]['error']}")
    if "stream" not in skip:
        print(f"\n2. recurrent form, no grad, state carried across {a.segment}-token segments: peak RSS above baseline (MB)")
        print(f"{'tokens':>9} {'smt MB':>8} {'smt tok/s':>10} {'linear MB':>10} {'linear tok/s':>13}")
        for N in stream:
            s = _spawn("stream", "smt", N, a.d_model, a.heads, a.modes, a.feature_dim, a.segment, a.flow_dt, a.chunk)
            l_ = _spawn("stream", "linear", N, a.d_model, a.heads, a.modes, a.feature_dim, a.segment)
            print(f"{N:>9} {s.get('peak_mb', float('nan')):>8.1f} {s.get('tok_s', float('nan')):>10.0f} "
                  f"{l_.get('peak_mb', float('nan')):>10.1f} {l_.get('tok_s', float('nan')):>13.0f}", flush=True)
    if "mqar" not in skip:
        dims = [int(x) for x in (a.mqar_dims or ("4,8" if a.quick else "2,4,8")).split(",")]
        steps = a.mqar_steps or (600 if a.quick else 1500)
        print(f"\n3. MQAR accuracy vs state (V={a.mqar_vocab}, train (64,4)+(64,8), {steps} steps × batch 32; "
              f"linear attention at equal state per head)")
        mixers = ("smt",) if a.flow_dt is not None else ("smt", "linear")  # linear attention has no flow
        mqar_vs_state(dims, steps, 32, a.d_model, a.heads, a.mqar_vocab, a.mqar_seed, a.flow_dt, mixers)


if __name__ == "__main__":
    main()
