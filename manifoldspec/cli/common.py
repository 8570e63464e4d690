"""Options shared by subcommands that build a manifold and a metric."""
from __future__ import annotations

import argparse

import numpy as np

from .._checks import ManifoldSpecError

MANIFOLDS = ("torus", "torus3", "circle", "box", "sphere", "mesh")


TOKENS_HELP = "token file: .npz with alpha (N,), mu (N,d), v (N,d) [, sigma], or .npy rows [alpha, mu.., v..]"
SIGMA_HELP = "bump width σ > 0 (default 0.5, or the token file's)"

MANIFOLD_HELP = {"torus": "flat 2-torus", "torus3": "flat 3-torus", "circle": "circle (1-D torus)",
                 "box": "rectangle (or an interval with one --lengths value)", "sphere": "round S²",
                 "mesh": "a triangle surface read from --mesh"}


def add_manifold_options(p: argparse.ArgumentParser, *, manifolds=MANIFOLDS, resolutions=(32, 8, 4),
                         random_tokens: int = 0, amplitude: float = 0.3) -> None:
    """Add the manifold, discretization and token-warp options to a subcommand.

    Parameters
    ----------
    manifolds : tuple of str
        The ``--manifold`` choices this subcommand supports (first one is the default).
    resolutions : (int, int, int)
        Default ``--resolution`` for a 2D chart, a 3D chart and the icosphere level.
    random_tokens : int
        Default number of seeded random tokens when no ``--tokens`` file is given (0: unwarped).
    amplitude : float
        Default scale of the random token amplitudes α_i.
    """
    r2, r3, rs = resolutions
    g = p.add_argument_group("manifold")
    g.add_argument("--manifold", choices=manifolds, default=manifolds[0],
                   help="; ".join(f"{m}: {MANIFOLD_HELP[m]}" for m in manifolds) + f" (default: {manifolds[0]})")
    g.add_argument("--lengths", type=float, nargs="+", default=None, metavar="L",
                   help="side lengths of the torus/circle/box (default 2π each for the torus and circle, "
                        "1 each for the box)")
    if "box" in manifolds:
        g.add_argument("--bc", choices=("neumann", "dirichlet"), default="neumann", help="box boundary condition")
    g.add_argument("--radius", type=float, default=1.0, help="sphere radius (default 1)")
    if "mesh" in manifolds:
        g.add_argument("--mesh", default=None, metavar="FILE",
                       help="triangle surface file for --manifold mesh (any format meshio reads)")
    g = p.add_argument_group("discretization")
    g.add_argument("--order", type=int, choices=(1, 2), default=2, help="Lagrange element degree (default 2)")
    g.add_argument("--resolution", type=int, default=None,
                   help=f"elements per side (torus/box; default {4 * r2} in 1D, {r2} in 2D, {r3} in 3D) or "
                        f"icosphere level (sphere; default {rs})")
    g.add_argument("--mass", choices=("consistent", "lumped"), default="consistent",
                   help="mass matrix (default consistent; lumped needs --order 1 on triangles)")
    g = p.add_argument_group("token warp (eq. 1)")
    unwarped = "the manifold is unwarped unless --random-tokens is given" if random_tokens == 0 else \
        f"{random_tokens} seeded random tokens are used"
    g.add_argument("--tokens", default=None, metavar="FILE", help=f"{TOKENS_HELP}; without it {unwarped}")
    g.add_argument("--random-tokens", "--n-tokens", dest="random_tokens", type=int, default=random_tokens,
                   metavar="N", help=f"warp with N seeded random tokens instead of a file (default {random_tokens}"
                                     + (": unwarped)" if random_tokens == 0 else ")"))
    g.add_argument("--sigma", type=float, default=None, help=SIGMA_HELP)
    g.add_argument("--amplitude", type=float, default=amplitude, help=f"scale of random α_i (default {amplitude:g})")
    g.add_argument("--seed", type=int, default=0, help="seed of the random tokens (default 0)")
    p.set_defaults(resolution_defaults=(r2, r3, rs))


def build_manifold(args):
    from ..geometry.manifolds import Box, FlatTorus, Sphere, TriangleSurface

    if args.manifold in ("torus", "torus3", "circle"):
        n = {"circle": 1, "torus": 2, "torus3": 3}[args.manifold]
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
    r2, r3, rs = getattr(args, "resolution_defaults", (32, 8, 4))
    if args.manifold == "sphere":
        return rs
    # 1-D meshes are cheap: four times the 2-D elements per side
    return {1: 4 * r2, 3: r3}.get(manifold.dim, r2)


def build_metric(args, manifold):
    """The metric requested on the command line: None (unwarped) or a TokenWarp."""
    from ..geometry.warp import random_warp

    period = getattr(manifold, "period", None)
    check_sigma(args)
    if args.random_tokens < 0:
        raise ManifoldSpecError(f"--random-tokens: must be ≥ 0, got {args.random_tokens}")
    if args.tokens:
        return load_token_file(args, manifold.ambient_dim, period)
    if args.random_tokens > 0:
        # token centres where the manifold is: on the torus chart, inside the box, on the sphere, at mesh vertices
        return random_warp(args.random_tokens, manifold.ambient_dim, sigma=args.sigma or 0.5, amplitude=args.amplitude,
                           period=period, box=getattr(manifold, "lengths", None) if period is None else None,
                           points=getattr(manifold, "vertices", None), center_radius=getattr(manifold, "radius", None),
                           seed=args.seed)
    return None


def check_sigma(args) -> None:
    """Reject a ``--sigma`` that is given but not a finite number > 0."""
    if args.sigma is not None and not (np.isfinite(args.sigma) and args.sigma > 0):
        raise ManifoldSpecError(f"--sigma: must be a finite number > 0, got {args.sigma}")


def load_token_file(args, dim: int, period=None):
    """The TokenWarp in ``args.tokens`` (.npz or .npy, see ``manifoldspec.tokens.load_tokens``) for a
    ``dim``-dimensional ambient space, ``args.sigma`` (if given) overriding the file's σ. Errors name --tokens."""
    from ..tokens import load_tokens

    check_sigma(args)
    try:
        return load_tokens(args.tokens, dim, sigma=args.sigma, period=period)
    except ManifoldSpecError as exc:
        msg = str(exc)
        raise ManifoldSpecError("--tokens: " + (msg[len("tokens: "):] if msg.startswith("tokens: ") else msg)) from None
