"""Options shared by subcommands that build a manifold and a metric."""
from __future__ import annotations

import argparse

import numpy as np

from .._checks import ManifoldSpecError

MANIFOLDS = ("torus", "torus3", "box", "sphere", "mesh")


def add_manifold_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("manifold")
    g.add_argument("--manifold", choices=MANIFOLDS, default="torus",
                   help="torus: flat 2-torus; torus3: flat 3-torus; box: rectangle; sphere: round S²; "
                        "mesh: a triangle surface read from --mesh (default: torus)")
    g.add_argument("--lengths", type=float, nargs="+", default=None, metavar="L",
                   help="side lengths of the torus/box (default 2π each for the torus, 1 for the box)")
    g.add_argument("--bc", choices=("neumann", "dirichlet"), default="neumann", help="box boundary condition")
    g.add_argument("--radius", type=float, default=1.0, help="sphere radius (default 1)")
    g.add_argument("--mesh", default=None, metavar="FILE", help="triangle surface file for --manifold mesh (any format meshio reads)")
    g = p.add_argument_group("discretization")
    g.add_argument("--order", type=int, choices=(1, 2), default=2, help="Lagrange element degree (default 2)")
    g.add_argument("--resolution", type=int, default=None,
                   help="elements per side (torus/box; default 32 in 2D, 8 in 3D) or icosphere level (sphere; default 4)")
    g = p.add_argument_group("token warp (eq. 1)")
    g.add_argument("--tokens", default=None, metavar="FILE",
                   help="token file: .npz with alpha (N,), mu (N,d), v (N,d) [, sigma], or .npy rows "
                        "[alpha, mu.., v..]; without it the manifold is unwarped unless --random-tokens is given")
    g.add_argument("--random-tokens", type=int, default=0, metavar="N",
                   help="warp with N seeded random tokens instead of a file (default 0: unwarped)")
    g.add_argument("--sigma", type=float, default=None, help="bump width σ > 0 (default 0.5, or the token file's)")
    g.add_argument("--amplitude", type=float, default=0.3, help="scale of random α_i (default 0.3)")
    g.add_argument("--seed", type=int, default=0, help="seed of the random tokens (default 0)")


def build_manifold(args):
    from ..geometry.manifolds import Box, FlatTorus, Sphere, TriangleSurface

    if args.manifold in ("torus", "torus3"):
        n = 2 if args.manifold == "torus" else 3
        lengths = args.lengths or [2 * np.pi] * n
        if len(lengths) != n:
            raise ManifoldSpecError(f"--lengths: {args.manifold} needs {n} side lengths, got {len(lengths)}")
        return FlatTorus(tuple(lengths))
    if args.manifold == "box":
        return Box(tuple(args.lengths or [1.0, 1.0]), args.bc)
    if args.manifold == "sphere":
        return Sphere(args.radius)
    if args.mesh is None:
        raise ManifoldSpecError("--mesh: required with --manifold mesh (a triangle surface file)")
    return TriangleSurface.from_file(args.mesh)


def default_resolution(args, manifold) -> int:
    if args.resolution is not None:
        return args.resolution
    if args.manifold == "sphere":
        return 4
    return 8 if manifold.dim == 3 else 32


def build_metric(args, manifold):
    """The metric requested on the command line: None (unwarped) or a TokenWarp."""
    from ..geometry.warp import random_warp
    from ..tokens import load_tokens

    period = getattr(manifold, "period", None)
    if args.sigma is not None and args.sigma <= 0:
        raise ManifoldSpecError(f"--sigma: must be > 0, got {args.sigma}")
    if args.tokens:
        return load_tokens(args.tokens, manifold.ambient_dim, sigma=args.sigma, period=period)
    if args.random_tokens > 0:
        radius = getattr(manifold, "radius", None)
        return random_warp(args.random_tokens, manifold.ambient_dim, sigma=args.sigma or 0.5, amplitude=args.amplitude,
                           period=period, center_radius=radius, seed=args.seed)
    return None
