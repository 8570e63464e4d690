"""Matrix elements of a token warp on a sphere mesh: touched elements only vs re-assembling the mesh.

Baseline: ``fe_elements`` (assemble K(g), M(g) on every element, subtract the base operators, project
on Φ0). Fast path: ``local_fe_elements`` (local differences on the elements within cutoff·σ of a
token). Both in the same run, with their relative difference.

    python benchmarks/bench_local_elements.py                 # level 5 P2 sphere (41k dofs), K = 50
    python benchmarks/bench_local_elements.py --level 4 --k 25 --tokens 1 4
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import manifoldspec as ms
from manifoldspec.spectral.local_elements import base_element_matrices, local_fe_elements, touched_elements
from manifoldspec.spectral.matrix_elements import fe_elements


def _best(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--level", type=int, default=5, help="icosphere level (default 5)")
    ap.add_argument("--order", type=int, default=2)
    ap.add_argument("--k", type=int, default=50, help="base eigenpairs K")
    ap.add_argument("--tokens", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--sigma", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    disc = ms.discretize(ms.Sphere(1.0), a.level, a.order)
    base = ms.solve(disc, a.k)
    E = disc.elements.shape[0]
    print(f"sphere level {a.level}, P{a.order}: {disc.n_dofs} dofs, {E} elements, K = {a.k}; best of {a.repeat}")
    t0 = time.perf_counter()
    cache = base_element_matrices(disc)  # once per base: reused by the last column
    print(f"base element matrices, computed once: {time.perf_counter() - t0:.3f} s")
    print("| tokens | σ | touched elements | full re-assembly s | touched only s | speed-up | touched, cached base s "
          "| speed-up | rel. diff. δK̃ |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for n in a.tokens:
        mu = rng.normal(size=(n, 3))
        mu /= np.linalg.norm(mu, axis=1, keepdims=True)
        v = rng.normal(size=(n, 3))
        for s in a.sigma:
            warp = ms.TokenWarp(alpha=rng.uniform(0.1, 0.5, n), mu=mu, v=v, sigma=s)
            t_full, full = _best(lambda: fe_elements(base, warp), a.repeat)
            t_loc, loc = _best(lambda: local_fe_elements(base, warp), a.repeat)
            t_c, cached = _best(lambda: local_fe_elements(base, warp, base_elements=cache), a.repeat)
            A = full.dK.toarray()
            diff = max(np.abs(A - m.dK.toarray()).max() for m in (loc, cached)) / np.abs(A).max()
            nt = len(touched_elements(disc, warp))
            print(f"| {n} | {s:g} | {nt} ({100 * nt / E:.0f}%) | {t_full:.3f} | {t_loc:.3f} | {t_full / t_loc:.1f}× "
                  f"| {t_c:.3f} | {t_full / t_c:.1f}× | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
