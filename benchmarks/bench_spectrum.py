"""Time to the first K eigenpairs, with accuracy, against LaPy on the same mesh.

Unit sphere: icosphere meshes of ~10k, 40k, 160k vertices. For each mesh we run
  * LaPy (P1 on flat triangles, its own assembly + shift-invert eigsh),
  * manifoldspec P1 on the same mesh (radial map onto the exact sphere),
  * manifoldspec P2 at the same number of DOFs (one icosphere level coarser),
and report wall time (assembly + eigensolve) and the max relative error of λ_1..λ_{K-1}
against l(l+1). Ratios are against LaPy measured in the same run.

Warped torus: LaPy has no periodic meshes or user metrics, so the torus table compares
manifoldspec P1 and P2 at equal DOFs against a fine P2 reference computed in the same run.

    python benchmarks/bench_spectrum.py            # full (10k/40k/160k)
    python benchmarks/bench_spectrum.py --quick    # 2.5k/10k only
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import manifoldspec as ms
from manifoldspec.geometry.icosphere import icosphere


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def rel_err(lam, exact):
    nz = exact > 0
    return float(np.max(np.abs(lam[nz] - exact[nz]) / exact[nz]))


def lapy_solve(level: int, k: int):
    from lapy import Solver, TriaMesh

    v, t = icosphere(level)

    def run():
        return Solver(TriaMesh(v, t)).eigs(k=k)[0]

    return timed(run)


def ours(manifold, res: int, order: int, k: int, metric=None):
    def run():
        return ms.solve(ms.discretize(manifold, res, order), k, metric).eigenvalues

    return timed(run)


def sphere_table(levels, k, lobpcg=False):
    exact = ms.exact_eigenvalues(ms.Sphere(), k)
    print(f"\n## Unit sphere, first {k} eigenpairs\n")
    print("| vertices | solver | DOFs | time [s] | max rel. error λ1..λ{} | time / LaPy | error / LaPy |".format(k - 1))
    print("|---:|---|---:|---:|---:|---:|---:|")
    for level in levels:
        nv = 10 * 4**level + 2
        lam_l, t_l = lapy_solve(level, k)
        e_l = rel_err(np.sort(lam_l), exact)
        rows = [("LaPy 1.x P1", nv, t_l, e_l)]
        lam, t = ours(ms.Sphere(), level, 1, k)
        rows.append(("manifoldspec P1", nv, t, rel_err(lam, exact)))
        lam, t = ours(ms.Sphere(), level - 1, 2, k)
        rows.append(("manifoldspec P2 (equal DOFs)", 10 * 4**level + 2, t, rel_err(lam, exact)))
        if lobpcg and level == levels[0]:  # the AMG-LOBPCG option, measured where it is affordable
            lam, t = timed(lambda: ms.solve(ms.discretize(ms.Sphere(), level - 1, 2), k, method="lobpcg").eigenvalues)
            rows.append(("manifoldspec P2, LOBPCG+AMG", 10 * 4**level + 2, t, rel_err(lam, exact)))
        for name, dofs, t, e in rows:
            print(f"| {nv} | {name} | {dofs} | {t:.2f} | {e:.2e} | {t / t_l:.2f} | {e / e_l:.3f} |", flush=True)


def torus_table(sizes, k):
    L = (2 * np.pi, 2 * np.pi)
    warp = ms.random_warp(16, 2, sigma=0.6, amplitude=0.5, period=L, seed=0)
    ref, t_ref = ours(ms.FlatTorus(L), 2 * max(sizes), 2, k, warp)
    print(f"\n## Warped flat torus (16 tokens, σ = 0.6), first {k} eigenpairs\n")
    print(f"Reference: P2 with {(4 * max(sizes)) ** 2} DOFs ({t_ref:.1f} s). LaPy cannot represent a periodic, "
          "token-warped metric, so P1 is the baseline here.\n")
    print("| DOFs | solver | time [s] | max rel. error vs reference | time / P1 | error / P1 |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in sizes:
        lam1, t1 = ours(ms.FlatTorus(L), 2 * n, 1, k, warp)
        lam2, t2 = ours(ms.FlatTorus(L), n, 2, k, warp)
        e1, e2 = rel_err(lam1, ref), rel_err(lam2, ref)
        dofs = (2 * n) ** 2
        print(f"| {dofs} | manifoldspec P1 | {t1:.2f} | {e1:.2e} | 1.00 | 1.000 |")
        print(f"| {dofs} | manifoldspec P2 | {t2:.2f} | {e2:.2e} | {t2 / t1:.2f} | {e2 / e1:.4f} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small meshes only")
    ap.add_argument("--k", type=int, default=100, help="number of eigenpairs (default 100)")
    ap.add_argument("--lobpcg", action="store_true", help="also time AMG-LOBPCG at the smallest size (slow)")
    args = ap.parse_args()
    print(f"# bench_spectrum on {platform.machine()} {platform.processor() or ''}, numpy {np.__version__}")
    sphere_table([4, 5] if args.quick else [5, 6, 7], args.k, args.lobpcg)
    torus_table([25, 50] if args.quick else [50, 100], args.k)


if __name__ == "__main__":
    main()
