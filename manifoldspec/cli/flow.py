"""``manifoldspec flow``: run the Ricci flow of eq. (8) on a sphere mesh or a torus grid and track λ_k(t)."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .._checks import ManifoldSpecError, positive_int, positive_scalar
from .common import SIGMA_HELP, TOKENS_HELP, check_sigma, load_token_file


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "flow",
        help="Ricci flow ∂g/∂t = −2Ric + T(x_t, g) with the spectrum tracked along it",
        description=(
            "Evolve a metric by the Ricci flow (eq. 8), optionally with a token stress-energy term, and "
            "re-solve the Laplace–Beltrami spectrum at recorded steps. 'sphere': conformal flow of a "
            "(bumpy) icosphere mesh, du/dt = −K with angle-defect curvature. 'torus': Ricci–DeTurck flow "
            "of a perturbed metric on a periodic chart grid with spectral curvature. See docs/ricci_flow.md."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--manifold", choices=("sphere", "torus"), default="sphere", help="what to flow")
    p.add_argument("--steps", type=int, default=50, help="number of time steps")
    p.add_argument("--dt", type=float, default=None,
                   help="time step (length² units); default: 0.9x the explicit stability limit, or 10x it "
                        "for --method implicit")
    p.add_argument("--method", choices=("explicit", "implicit"), default="implicit",
                   help="explicit Euler (stability rule enforced by sub-steps) or the linearly/semi-implicit scheme")
    p.add_argument("--normalized", action="store_true", help="volume-preserving (normalized) flow")
    p.add_argument("--resolution", type=int, default=None,
                   help="sphere: icosphere level (default 3); torus: grid points per side (default 32)")
    p.add_argument("--bump", type=float, default=0.2,
                   help="amplitude of the initial deformation (0: round sphere / flat torus)")
    p.add_argument("--tokens", default=None, metavar="FILE",
                   help=f"{TOKENS_HELP}; one token per step, cycled; d = 3 (sphere, ambient) or 2 (torus chart)")
    p.add_argument("--sigma", type=float, default=None, help=f"{SIGMA_HELP}; used with --tokens")
    p.add_argument("--coupling", type=float, default=1.0, help="c in T = c·Σ α G v vᵀ (1/time)")
    p.add_argument("--tol", type=float, default=None,
                   help="error-controlled time steps (step doubling) with this target max-norm error at the final "
                        "time (of u on the sphere, of g on the torus); --dt is then the first trial step. "
                        "Takes no --tokens")
    p.add_argument("--t-end", type=float, default=None, help="final time with --tol (default steps × dt)")
    p.add_argument("-k", "--k", type=int, default=10, help="eigenvalues to track")
    p.add_argument("--record-every", type=int, default=None, help="record/solve every this many steps "
                   "(default: steps/10)")
    p.add_argument("--plot", default=None, help="write a PNG of λ_k(t) here")
    p.add_argument("--frames", default=None, help="write curvature frames (PNG) into this directory")
    p.add_argument("--gif", action="store_true", help="with --frames: also write flow.gif (PillowWriter)")
    p.add_argument("--no-progress", action="store_true", help="do not show progress")
    p.set_defaults(func=run, output_files=("plot",), output_dirs=("frames",))


def _token_stream(args, dim, period, steps):
    """--tokens (with --sigma) as one single-bump token per step, cycled."""
    from ..flow.stress import tokens_from_warp

    warp = load_token_file(args, dim, period)
    if warp.n_tokens == 0:
        raise ManifoldSpecError(f"--tokens: {args.tokens!r} holds no tokens")
    return tokens_from_warp(warp, steps)


def _every_nth(res, n_records: int):
    """The result at about ``n_records`` of its recorded times (first and last kept)."""
    from dataclasses import fields, replace

    keep = np.unique(np.linspace(0, len(res.times) - 1, n_records).round().astype(int))
    per_time = {f.name: getattr(res, f.name)[keep] for f in fields(res)
                if isinstance(getattr(res, f.name), np.ndarray) and len(getattr(res, f.name)) == len(res.times)}
    return replace(res, **per_time)


def _before_extinction(args, mesh, dt, steps) -> float:
    """The unnormalized flow of a sphere shrinks the area at the exact rate 4πχ = 8π (Gauss–Bonnet), so
    it ends at T = A₀/8π. A default dt is shortened so that the run stops at 0.9 T (where the spectrum is
    already close to the round one); a run the user asked to go past T is refused before it starts."""
    from ..flow.mesh_flow import flow_diagnostics

    area = flow_diagnostics(mesh, np.zeros(mesh.n_vertices))[0]
    t_ext = area / (4 * np.pi * mesh.chi)
    t_end = args.t_end or steps * dt
    if args.dt is None and args.t_end is None and t_end > 0.9 * t_ext:
        dt = 0.9 * t_ext / steps
        print(f"note: the unnormalized flow ends at t = A/8π = {t_ext:.4g}; dt shortened to {dt:.4g} so that "
              f"{steps} steps stop at 0.9 of it (--normalized keeps the area)")
    elif t_end >= t_ext:
        raise ManifoldSpecError(
            f"--steps/--dt/--t-end: the unnormalized flow shrinks the area ({area:.4g}) at the rate 8π, so the surface "
            f"becomes extinct at t = {t_ext:.4g}, and this run would go to t = {t_end:.4g}; use --normalized, fewer "
            "--steps, a smaller --dt or an earlier --t-end")
    return dt


def run(args) -> int:
    from ..flow.adaptive import adaptive_grid_flow, adaptive_mesh_flow
    from ..flow.stress import WarpStress

    steps = positive_int(args.steps, "--steps")
    k = positive_int(args.k, "--k")
    every = positive_int(args.record_every or max(1, steps // 10), "--record-every")
    if args.dt is not None:
        positive_scalar(args.dt, "--dt")
    if args.tol is not None:
        positive_scalar(args.tol, "--tol")
        if args.tokens:
            raise ManifoldSpecError("--tol: error-controlled steps take no --tokens (one token per fixed step); "
                                    "drop --tol or --tokens")
    if args.t_end is not None:
        positive_scalar(args.t_end, "--t-end")
    check_sigma(args)
    show = not args.no_progress and sys.stderr.isatty()
    if args.manifold == "sphere":
        from ..flow.mesh_flow import conformal_mesh, mesh_flow, mesh_stable_dt
        from ..flow.track import track_mesh_spectrum
        from ..geometry.icosphere import icosphere

        level = int(args.resolution if args.resolution is not None else 3)
        if not 1 <= level <= 6:
            raise ManifoldSpecError(f"--resolution: icosphere level must lie in 1..6, got {level}")
        V, F = icosphere(level)
        x, y, z = V.T
        V = V * (1 + args.bump * ((z**2 - 1 / 3) + 0.6 * x * y + 0.4 * x))[:, None]
        mesh = conformal_mesh(V, F)
        limit = mesh_stable_dt(mesh, np.zeros(len(V)))
        dt = args.dt or (limit if args.method == "explicit" else 10 * limit)
        if not args.normalized and not args.tokens:
            dt = _before_extinction(args, mesh, dt, steps)
        stress = tokens = None
        if args.tokens:
            stress = WarpStress(V, args.coupling)
            tokens = _token_stream(args, 3, None, steps)
        if args.tol is None:
            res = mesh_flow(mesh, dt=dt, steps=steps, method=args.method, normalized=args.normalized, stress=stress,
                            tokens=tokens, record_every=every, progress=show)
            how = f"dt = {dt:.4g}, method {args.method}, {res.substeps} (sub)steps"
        else:
            res = adaptive_mesh_flow(mesh, t_end=args.t_end or steps * dt, tol=args.tol, method=args.method,
                                     normalized=args.normalized, dt0=dt, progress=show)
            how = (f"tol = {args.tol:g}, method {args.method}, {res.steps} accepted / {res.rejected} rejected steps, "
                   f"{res.substeps} scheme (sub)steps")
            res = _every_nth(res, 11)
        lam = track_mesh_spectrum(res, k, progress=show)
        print(f"sphere level {level} ({len(V)} vertices), {how}; "
              f"Gauss–Bonnet max |ΣΘ − 4π| = {np.abs(res.gauss_bonnet).max():.2e}")
        print(f"{'t':>9} {'area':>11} {'var K':>10}  λ_1..λ_{min(k, 4) - 1}·A/4π")
        for i, t in enumerate(res.times):
            scaled = lam[i, 1:min(k, 4)] * res.area[i] / (4 * np.pi)
            print(f"{t:9.4g} {res.area[i]:11.6g} {res.curvature_variance[i]:10.3e}  "
                  + " ".join(f"{v:.5f}" for v in scaled))
        if args.frames:
            from ..flow.plots import save_mesh_frames
            save_mesh_frames(res, args.frames, gif=args.gif)
    else:
        from ..flow.grid_curvature import PeriodicGrid
        from ..flow.grid_flow import grid_flow, stable_dt
        from ..flow.track import track_grid_spectrum

        N = int(args.resolution if args.resolution is not None else 32)
        if not 8 <= N <= 512:
            raise ManifoldSpecError(f"--resolution: grid points per side must lie in 8..512, got {N}")
        L = (2 * np.pi, 2 * np.pi)
        grid = PeriodicGrid(L, (N, N))
        xg = grid.coordinates()
        u = args.bump * np.sin(xg[..., 0]) * np.cos(xg[..., 1])
        g0 = np.exp(2 * u)[..., None, None] * np.eye(2)
        g0[..., 0, 1] = g0[..., 1, 0] = 0.5 * args.bump * np.sin(xg[..., 1])
        limit = stable_dt(g0, grid)
        dt = args.dt or (limit if args.method == "explicit" else 10 * limit)
        stress = tokens = None
        if args.tokens:
            stress = WarpStress(grid.points(), args.coupling, grid.shape)
            tokens = _token_stream(args, 2, L, steps)
        method = "explicit" if args.method == "explicit" else "semi-implicit"
        if args.tol is None:
            res = grid_flow(g0, grid, dt=dt, steps=steps, method=method, normalized=args.normalized, stress=stress,
                            tokens=tokens, record_every=every, progress=show)
            how = f"dt = {dt:.4g}, method {method}, {res.substeps} (sub)steps"
        else:
            res = adaptive_grid_flow(g0, grid, t_end=args.t_end or steps * dt, tol=args.tol, method=method,
                                     normalized=args.normalized, dt0=dt, progress=show)
            how = (f"tol = {args.tol:g}, method {method}, {res.steps} accepted / {res.rejected} rejected steps, "
                   f"{res.substeps} scheme (sub)steps")
            res = _every_nth(res, 11)
        lam = track_grid_spectrum(res, k, resolution=min(N, 24), progress=show)
        print(f"torus grid {N}x{N}, {how}")
        print(f"{'t':>9} {'area':>11} {'|R|_L2':>10}  λ_1..λ_{min(k, 5) - 1}")
        for i, t in enumerate(res.times):
            print(f"{t:9.4g} {res.volume[i]:11.6g} {res.curvature_l2[i]:10.3e}  "
                  + " ".join(f"{v:.5f}" for v in lam[i, 1:min(k, 5)]))
        if args.frames:
            from ..flow.plots import save_grid_frames
            save_grid_frames(res, args.frames, gif=args.gif)
    if args.plot:
        from ..flow.plots import plot_spectrum_track
        plot_spectrum_track(res.times, lam, args.plot, title=f"Ricci flow on the {args.manifold}")
        print(f"wrote {args.plot}")
    return 0
