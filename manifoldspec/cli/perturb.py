"""``manifoldspec perturb``: perturbation theory (eq. 7) against a full re-solve, with errors and timings."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .._checks import ManifoldSpecError
from .common import add_manifold_options, build_manifold, build_metric, default_resolution

EPILOG = """examples:
  manifoldspec perturb --manifold torus --k 16 --eps 0.1 0.03 0.01
  manifoldspec perturb --manifold sphere --resolution 3 --k 16 --tokens tokens.npz --plot perturb.png

The warp is g = I + ε·Σ_i α_i G_i v_i v_iᵀ (eq. 1) with the token amplitudes scaled by each ε.
Errors are relative, |λ_approx − λ_resolve| / max(λ_resolve, 1), against a full shift-invert
re-solve on the same mesh (so discretization error cancels). Expected: first order O(ε²),
Ritz in the base subspace O(ε²) with a smaller constant, second order O(ε³) until the
modes missing from the base set (an O(ε²) term) dominate.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "perturb", help="perturbation theory vs a full re-solve for a token warp",
        description="Perturb the spectrum of −Δ_g from a base finite-element spectrum (matrix elements "
                    "H_mk = Φ0ᵀ δK Φ0, degenerate-safe first/second order, Rayleigh–Ritz) and compare with a "
                    "full re-solve on the same mesh, for a token warp scaled by each ε.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_manifold_options(p, manifolds=("torus", "torus3", "sphere", "box", "mesh"), resolutions=(24, 6, 3),
                         random_tokens=8, amplitude=1.0)
    g = p.add_argument_group("perturbation scales")
    g.add_argument("--eps", "--alpha-scale", dest="eps", type=float, nargs="+", default=[0.1, 0.03, 0.01],
                   metavar="EPS", help="scales ε of the token amplitudes (default 0.1 0.03 0.01)")
    g = p.add_argument_group("perturbation and output")
    g.add_argument("--k", type=int, default=16, help="eigenvalues compared (extended to whole clusters; default 16)")
    g.add_argument("--base-k", type=int, default=None, help="size of the base set Φ0 (default 2k + 8)")
    g.add_argument("--cluster-rtol", type=float, default=1e-2,
                   help="relative gap below which base eigenvalues form one degenerate cluster (default 1e-2)")
    g.add_argument("--plot", default=None, metavar="FILE", help="write max error vs ε (log-log) to this image")
    g.add_argument("--no-progress", action="store_true", help="do not show progress")
    p.set_defaults(func=run, output_files=("plot",))


def _setup(args):
    man = build_manifold(args)
    if any(not np.isfinite(e) or e <= 0 for e in args.eps):
        raise ManifoldSpecError(f"--eps: every scale must be a finite number > 0, got {args.eps}")
    warp = build_metric(args, man)
    if warp is None:
        raise ManifoldSpecError("--random-tokens: perturb needs a warp; give --tokens FILE or --random-tokens N ≥ 1")
    return man, default_resolution(args, man), warp


def run(args) -> int:
    from ..spectral import assemble, discretize, solve
    from ..spectral.clusters import cluster_indices, complete_clusters
    from ..spectral.matrix_elements import fe_elements
    from ..spectral.perturb import first_order_eigenvalues, ritz, second_order_eigenvalues

    man, res, warp = _setup(args)
    if args.k < 1:
        raise ManifoldSpecError(f"--k: must be ≥ 1, got {args.k}")
    show = not args.no_progress and sys.stderr.isatty()
    disc = discretize(man, res, args.order)
    kb = args.base_k or 2 * args.k + 8
    if kb <= args.k:
        raise ManifoldSpecError(f"--base-k: must exceed --k ({args.k}) so that clusters are not cut, got {kb}")
    t0 = time.perf_counter()
    base = solve(disc, kb, progress=show)
    t_base = time.perf_counter() - t0
    lam0 = base.eigenvalues
    k = complete_clusters(lam0[:-1], args.k, args.cluster_rtol)
    sizes = [len(c) for c in cluster_indices(lam0[:k], args.cluster_rtol)]
    print(f"# {disc.describe()}; {warp.n_tokens} tokens, σ = {warp.sigma:g}; base set {kb} modes "
          f"(solve {t_base:.2f} s); comparing λ_0..λ_{k - 1} in clusters {sizes}")
    print("# errors: max over k of |λ − λ_resolve| / max(λ_resolve, 1); times in ms")
    hdr = (f"{'eps':>9}  {'err first':>10}  {'err second':>10}  {'err Ritz':>10}  {'assemble':>9}  {'resolve':>9}  "
           f"{'H_mk':>8}  {'first':>7}  {'second':>7}  {'Ritz':>7}")
    print(hdr)
    rows, detail = [], None
    from tqdm.auto import tqdm

    for eps in tqdm(sorted(args.eps, reverse=True), desc="ε", disable=not show, leave=False):
        t = [time.perf_counter()]
        ops = assemble(disc, warp.scaled(eps))
        t.append(time.perf_counter())
        exact = solve(disc, k, operators=ops).eigenvalues
        t.append(time.perf_counter())
        dK, dM = fe_elements(base, operators=ops, drop_tol=0.0).dense()
        t.append(time.perf_counter())
        l1 = first_order_eigenvalues(lam0, dK, dM, rtol=args.cluster_rtol)
        t.append(time.perf_counter())
        l2 = second_order_eigenvalues(lam0, dK, dM, rtol=args.cluster_rtol)
        t.append(time.perf_counter())
        lr = ritz(lam0, dK, dM)[0]
        t.append(time.perf_counter())
        scale = np.maximum(np.abs(exact), 1.0)
        errs = [np.abs(x[:k] - exact) / scale for x in (l1, l2, lr)]
        ms = 1e3 * np.diff(t)
        rows.append((eps, *[float(e.max()) for e in errs]))
        if detail is None:
            detail = (eps, exact, l1[:k], l2[:k], lr[:k])
        print(f"{eps:9.3g}  {rows[-1][1]:10.2e}  {rows[-1][2]:10.2e}  {rows[-1][3]:10.2e}  {ms[0]:9.1f}  {ms[1]:9.1f}  "
              f"{ms[2]:8.1f}  {ms[3]:7.2f}  {ms[4]:7.2f}  {ms[5]:7.2f}")
    if len(rows) >= 2:
        r = np.array(rows)
        slopes = [np.polyfit(np.log(r[:, 0]), np.log(np.maximum(r[:, j], 1e-300)), 1)[0] for j in (1, 2, 3)]
        print(f"# fitted orders: first {slopes[0]:.2f} (expect 2), second {slopes[1]:.2f} (expect 3 until base-set "
              f"truncation dominates), Ritz {slopes[2]:.2f} (expect 2)")
    eps, exact, l1, l2, lr = detail
    print(f"\n# per eigenvalue at ε = {eps:g}")
    print(f"{'k':>4}  {'lambda0':>12}  {'resolve':>14}  {'first':>14}  {'second':>14}  {'Ritz':>14}")
    for i in range(k):
        print(f"{i:>4}  {lam0[i]:12.6f}  {exact[i]:14.8f}  {l1[i]:14.8f}  {l2[i]:14.8f}  {lr[i]:14.8f}")
    if args.plot:
        print(f"# wrote {_plot(np.array(rows), args.plot)}")
    return 0


def _plot(rows: np.ndarray, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for j, name in ((1, "first order"), (2, "second order"), (3, "Rayleigh–Ritz")):
        ax.loglog(rows[:, 0], rows[:, j], "o-", label=name)
    e = rows[:, 0]
    ax.loglog(e, rows[0, 1] * (e / e[0]) ** 2, "k:", lw=0.8, label="ε²")
    ax.loglog(e, rows[0, 2] * (e / e[0]) ** 3, "k--", lw=0.8, label="ε³")
    ax.set_xlabel("warp scale ε")
    ax.set_ylabel("max relative eigenvalue error")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
