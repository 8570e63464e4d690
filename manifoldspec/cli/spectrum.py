"""``manifoldspec spectrum``: first K eigenpairs of −Δ_g on a (token-warped) manifold."""
from __future__ import annotations

import sys
import time


from .common import add_manifold_options, build_manifold, build_metric, default_resolution

EPILOG = """examples:
  manifoldspec spectrum --manifold sphere --k 64 --plot spectrum.png
  manifoldspec spectrum --manifold torus --tokens tokens.npz --k 64 --plot spectrum.png --out spectrum.json
  manifoldspec spectrum --manifold mesh --mesh bunny.obj --order 1 --k 30 --eigenfunctions modes.png
  manifoldspec spectrum --manifold circle --random-tokens 3 --k 9 --plot circle.png
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "spectrum", help="eigenvalues/eigenfunctions of the Laplace–Beltrami operator",
        description="Compute the first K eigenpairs of −Δ_g (eq. 3) on a manifold whose metric is warped by tokens "
                    "(eq. 1), print a table (with the exact eigenvalues when the manifold is unwarped) and "
                    "optionally write plots and a JSON/NPZ file.",
        epilog=EPILOG, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    add_manifold_options(p)
    g = p.add_argument_group("solve and output")
    g.add_argument("--k", type=int, default=32, help="number of eigenpairs (default 32)")
    g.add_argument("--method", choices=("shift-invert", "lobpcg", "dense"), default="shift-invert",
                   help="eigensolver: shift-invert Lanczos with a sparse factorization (default; dense LAPACK when "
                        "k ≥ n/3), AMG-preconditioned LOBPCG, or dense LAPACK (n ≤ 10000)")
    g.add_argument("--plot", default=None, metavar="FILE", help="write eigenvalues vs k (and the error) to this image")
    g.add_argument("--eigenfunctions", default=None, metavar="FILE", help="write a grid of the first 8 eigenfunctions to this image")
    g.add_argument("--out", default=None, metavar="FILE", help="write eigenvalues to .json, or eigenpairs to .npz")
    g.add_argument("--no-progress", action="store_true", help="do not show progress")
    p.set_defaults(func=run, output_files=("out", "plot", "eigenfunctions"), out_suffixes=(".json", ".npz"))


def run(args) -> int:
    from ..geometry.exact import exact_eigenvalues
    from ..geometry.manifolds import TriangleSurface
    from ..spectral import assemble, discretize, solve

    manifold = build_manifold(args)
    metric = build_metric(args, manifold)
    show = not args.no_progress and sys.stderr.isatty()
    t0 = time.perf_counter()
    disc = discretize(manifold, default_resolution(args, manifold), args.order)
    ops = assemble(disc, metric, mass=args.mass)
    t1 = time.perf_counter()
    spec = solve(disc, args.k, operators=ops, method=args.method, progress=show)
    t2 = time.perf_counter()
    exact = None
    if (metric is None or manifold.dim == 1) and not isinstance(manifold, TriangleSurface):
        exact = exact_eigenvalues(manifold, args.k, metric)  # a warped circle/interval is known exactly
    warp = "unwarped" if metric is None else f"warped by {metric.n_tokens} tokens (σ = {metric.sigma:g})"
    print(f"# {disc.describe()}, {warp}")
    print(f"# area_g = {spec.area:.10g}; assembly {t1 - t0:.2f} s, eigensolve {t2 - t1:.2f} s; "
          f"max |ΦᵀMΦ − I| = {spec.orthonormality_error():.1e}")
    if exact is None:
        print(f"{'k':>4}  {'lambda_k':>16}")
        for i, lam in enumerate(spec.eigenvalues):
            print(f"{i:>4}  {lam:16.10g}")
    else:
        print(f"{'k':>4}  {'lambda_k':>16}  {'exact':>16}  {'rel. error':>10}")
        for i, (lam, ex) in enumerate(zip(spec.eigenvalues, exact)):
            err = abs(lam - ex) / ex if ex > 0 else abs(lam - ex)
            print(f"{i:>4}  {lam:16.10g}  {ex:16.10g}  {err:10.2e}")
    if args.out:
        print(f"# wrote {spec.save(args.out)}")
    if args.plot:
        from ..plotting import plot_spectrum

        print(f"# wrote {plot_spectrum(spec, args.plot, exact=exact)}")
    if args.eigenfunctions:
        from ..plotting import plot_eigenfunctions

        print(f"# wrote {plot_eigenfunctions(spec, args.eigenfunctions)}")
    return 0
