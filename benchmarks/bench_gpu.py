"""Throughput of the batched sparse H_mk kernel against plain torch on the same GPU.

For a 2-torus pattern of K modes (bump width --sigma, entries with exp(−σ²|q|²/2) < --drop-tol
dropped) and B·T tokens, times the sum Σ_t h(x_t) on the pattern (DESIGN.md §5) computed by

- kernel   : cuda/torus_elements.cu through manifoldspec.gpu (torch CUDA tensors in, out);
- einsum   : torch, dense: with P_tm = exp(iκ_m·μ_t), phase(q) = conj(P_m) P_k factorizes, so the
             K x K sums are batched complex GEMMs (torch.einsum), then sampled on the pattern;
- sparse   : torch.sparse.sampled_addmm (SDDMM) of the same factors on the CSR pattern
             (complex products split into real ones).

Each result is checked against the kernel before timing. Reported: time, token·entry updates
per second, speed-up of the kernel over each baseline, and the kernel's achieved DRAM
bandwidth (unique bytes read and written / time) as a fraction of the device's peak.

Usage:  python benchmarks/bench_gpu.py [--quick] [--tokens 1e3 1e5 1e7] [--K 64 128 256]
Needs a CUDA GPU with cupy and a CUDA build of torch; exits with status 2 and a message otherwise.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np

# Nominal peak DRAM bandwidth (GB/s), used when the driver does not report clock and bus width.
NOMINAL_PEAK_GBS = {"H200": 4800.0, "H100 SXM": 3350.0, "H100 NVL": 3900.0, "H100 PCIe": 2000.0, "H100": 3350.0,
                    "A100-SXM4-80GB": 2039.0, "A100 80GB PCIe": 1935.0, "A100": 1555.0, "L40S": 864.0, "L4": 300.0}


def make_pattern(K: int, sigma: float, drop_tol: float):
    from manifoldspec.spectral.torus_modes import torus_modes
    from manifoldspec.spectral.torus_sparse import torus_pattern

    L = np.array([2 * np.pi, 2 * np.pi])
    return torus_pattern(torus_modes(L, K), L, sigma, drop_tol)


def _factors(torch, pattern, alpha, mu, v):
    """Per-token dense factors: P (B,T,K) complex, weights w = α½|v|² (B,T), kv = v·κ (B,T,K)."""
    kap = torch.as_tensor(pattern.kappa, dtype=mu.dtype, device=mu.device)
    P = torch.polar(torch.ones((), dtype=mu.dtype, device=mu.device), mu @ kap.T)
    w = alpha * 0.5 * (v * v).sum(-1)
    return P, w, v @ kap.T


def _pattern_consts(torch, pattern, dtype, device):
    n = pattern.kappa.shape[1]
    q2 = np.sum(pattern.q**2, -1)
    pref = (2 * np.pi * pattern.sigma**2) ** (n / 2) / pattern.volume * np.exp(-0.5 * pattern.sigma**2 * q2)
    dot = np.sum(pattern.kappa[pattern.rows] * pattern.kappa[pattern.cols], -1)
    t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    return t(pref), t(dot), torch.as_tensor(pattern.rows, device=device), torch.as_tensor(pattern.cols, device=device)


def _chunk(B, K, itemsize, budget=1 << 29):
    return max(1, budget // max(1, B * K * 2 * itemsize * 4))


def torch_dense_einsum(pattern, alpha, mu, v):
    """Baseline 1: dense K x K sums as batched complex GEMMs (torch.einsum), sampled on the pattern."""
    import torch

    B, T = alpha.shape
    K = pattern.n_modes
    pref, dot, rows, cols = _pattern_consts(torch, pattern, mu.dtype, mu.device)
    cdt = torch.complex64 if mu.dtype == torch.float32 else torch.complex128
    S1 = torch.zeros((B, K, K), dtype=cdt, device=mu.device)
    S2 = torch.zeros_like(S1)
    step = _chunk(B, K, mu.element_size())
    for s in range(0, T, step):
        P, w, kv = _factors(torch, pattern, alpha[:, s:s + step], mu[:, s:s + step], v[:, s:s + step])
        S1 += torch.einsum("btm,btk->bmk", P.conj() * w[..., None], P)
        S2 += torch.einsum("btm,btk->bmk", P.conj() * (alpha[:, s:s + step, None] * kv), kv * P)
    dM = pref * S1[:, rows, cols]
    return pref * (dot * S1[:, rows, cols] - S2[:, rows, cols]), dM


def _sddmm_complex(torch, S, a, b):
    """Σ_t conj(a_tm) b_tk on the CSR pattern S (B,K,K), a, b (B,T,K) complex, via two real SDDMMs."""
    re = torch.sparse.sampled_addmm(S, torch.cat([a.real, a.imag], 1).transpose(1, 2),
                                    torch.cat([b.real, b.imag], 1), beta=0.0)
    im = torch.sparse.sampled_addmm(S, torch.cat([a.real, -a.imag], 1).transpose(1, 2),
                                    torch.cat([b.imag, b.real], 1), beta=0.0)
    return torch.complex(re.values(), im.values())


def torch_sparse_sddmm(pattern, alpha, mu, v):
    """Baseline 2: torch.sparse.sampled_addmm on the CSR pattern (rows sorted, as torus_pattern returns)."""
    import torch

    B, T = alpha.shape
    K, nnz = pattern.n_modes, pattern.nnz
    pref, dot, rows, cols = _pattern_consts(torch, pattern, mu.dtype, mu.device)
    crow = torch.as_tensor(np.concatenate([[0], np.cumsum(np.bincount(pattern.rows, minlength=K))]), device=mu.device)
    with warnings.catch_warnings():  # torch flags sparse CSR as beta on every construction
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        S = torch.sparse_csr_tensor(crow.expand(B, -1).contiguous(), cols.expand(B, -1).contiguous(),
                                    torch.zeros((B, nnz), dtype=mu.dtype, device=mu.device), size=(B, K, K))
    cdt = torch.complex64 if mu.dtype == torch.float32 else torch.complex128
    S1 = torch.zeros((B, nnz), dtype=cdt, device=mu.device)
    S2 = torch.zeros_like(S1)
    step = _chunk(B, K, mu.element_size())
    for s in range(0, T, step):
        P, w, kv = _factors(torch, pattern, alpha[:, s:s + step], mu[:, s:s + step], v[:, s:s + step])
        S1 += _sddmm_complex(torch, S, P * w[..., None], P)
        S2 += _sddmm_complex(torch, S, P * (alpha[:, s:s + step, None] * kv), kv * P)
    return pref * (dot * S1 - S2), pref * S1


def peak_bandwidth_gbs(cupy, override=None):
    """(GB/s, source): --peak-gbs, else 2 · memory clock · bus width from the driver, else a nominal table."""
    if override:
        return override, "--peak-gbs"
    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    try:
        clock_khz = props.get("memoryClockRate") or dev.attributes.get("MemoryClockRate")
        bus = props.get("memoryBusWidth") or dev.attributes.get("GlobalMemoryBusWidth")
        if clock_khz and bus:
            return 2 * clock_khz * 1e3 * bus / 8 / 1e9, "driver (2 x clock x bus width)"
    except Exception:
        pass
    for key, val in NOMINAL_PEAK_GBS.items():
        if key in name:
            return val, f"nominal table ({key})"
    return float("nan"), "unknown (pass --peak-gbs)"


def _time(torch, fn, repeat):
    fn()  # warm-up (and compilation)
    torch.cuda.synchronize()
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6, 1e7], help="total tokens B·T")
    ap.add_argument("--K", type=int, nargs="+", default=[64, 128, 256], help="numbers of base modes")
    ap.add_argument("--B", type=int, default=8, help="batch size B (T = tokens / B)")
    ap.add_argument("--sigma", type=float, default=1.0, help="bump width σ of the pattern")
    ap.add_argument("--drop-tol", type=float, default=1e-6, help="pattern drop tolerance on exp(−σ²|q|²/2)")
    ap.add_argument("--dtype", choices=["float32", "float64"], nargs="+", default=["float32", "float64"])
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is reported)")
    ap.add_argument("--max-baseline-tokens", type=float, default=1e7, help="skip the torch baselines above this")
    ap.add_argument("--peak-gbs", type=float, default=None, help="device peak DRAM bandwidth, GB/s (else queried)")
    ap.add_argument("--quick", action="store_true", help="tokens 1e3..1e5, K = 64, one repetition")
    args = ap.parse_args(argv)
    if args.quick:
        args.tokens, args.K, args.repeat = [1e3, 1e4, 1e5], [64], 1

    try:
        import torch
        from manifoldspec.gpu import accumulate_torus_elements, require_cupy

        cupy = require_cupy()
        if not torch.cuda.is_available():
            raise RuntimeError("torch has no CUDA device (a CPU build of torch?)")
    except Exception as exc:  # GPUUnavailableError, ImportError, RuntimeError
        print(f"bench_gpu: no GPU run possible here: {exc}\n"
              "This benchmark needs an NVIDIA GPU, cupy (`pip install manifoldspec[gpu]`) and a CUDA build of torch.",
              file=sys.stderr)
        return 2

    name = torch.cuda.get_device_name()
    peak, peak_src = peak_bandwidth_gbs(cupy, args.peak_gbs)
    print(f"device: {name}; peak DRAM bandwidth {peak:.0f} GB/s [{peak_src}]")
    print(f"B = {args.B}, sigma = {args.sigma}, drop_tol = {args.drop_tol}, best of {args.repeat}")
    head = (f"{'dtype':>7} {'K':>4} {'nnz':>6} {'B*T':>8} {'kernel s':>9} {'upd/s':>9} {'GB/s':>7} {'%peak':>6} "
            f"{'einsum s':>9} {'x':>6} {'sparse s':>9} {'x':>6}")
    print(head)
    print("-" * len(head))
    rng = np.random.default_rng(0)
    for dt in args.dtype:
        tdt = getattr(torch, dt)
        for K in args.K:
            pat = make_pattern(K, args.sigma, args.drop_tol)
            for ntok in args.tokens:
                B = args.B
                T = max(1, int(round(ntok / B)))
                alpha = torch.as_tensor(rng.uniform(0, 1, (B, T)), dtype=tdt, device="cuda")
                mu = torch.as_tensor(rng.uniform(0, 2 * np.pi, (B, T, 2)), dtype=tdt, device="cuda")
                v = torch.as_tensor(rng.normal(size=(B, T, 2)), dtype=tdt, device="cuda")
                kern = lambda: accumulate_torus_elements(pat, alpha, mu, v)  # noqa: E731
                ref = kern()
                tk = _time(torch, kern, args.repeat)
                item = alpha.element_size()
                nbytes = B * T * 5 * item + 2 * B * pat.nnz * 2 * item + pat.nnz * 16 + K * 2 * item
                gbs = nbytes / tk / 1e9
                row = (f"{dt:>7} {K:>4} {pat.nnz:>6} {B * T:>8.0e} {tk:>9.2e} {B * T * pat.nnz / tk:>9.2e} "
                       f"{gbs:>7.1f} {100 * gbs / peak:>6.2f}")
                for base in (torch_dense_einsum, torch_sparse_sddmm):
                    if B * T > args.max_baseline_tokens:
                        row += f" {'-':>9} {'-':>6}"
                        continue
                    out = base(pat, alpha, mu, v)
                    tol = 1e-4 if dt == "float32" else 1e-9
                    for o, r in zip(out, ref):
                        err = float((o - r).abs().max() / r.abs().max().clamp_min(1e-300))
                        if err > tol:
                            raise SystemExit(f"{base.__name__} disagrees with the kernel: relative error {err:.2e}")
                    tb = _time(torch, lambda: base(pat, alpha, mu, v), args.repeat)
                    row += f" {tb:>9.2e} {tb / tk:>6.1f}"
                print(row, flush=True)
                alpha = mu = v = ref = None  # free this size before the next allocates
                torch.cuda.empty_cache()
    print("upd/s: token x pattern-entry updates per second; GB/s: unique DRAM bytes (tokens read once, "
          "outputs written once) / kernel time; x: baseline time / kernel time.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
