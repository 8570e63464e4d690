"""The ``manifoldspec`` command line: one module per subcommand.

Each module in ``_COMMANDS`` defines ``add_parser(subparsers)`` (registers its
argparse sub-parser and sets ``func``) so that commands stay independent.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .._checks import ManifoldSpecError
from .outputs import check_outputs

_COMMANDS = ("spectrum", "perturb", "flow", "train_recall", "verify")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manifoldspec",
        description="Spectra of token-warped Riemannian manifolds (Spectral Manifold Transformer toolkit).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMANDS:
        try:
            mod = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # subcommand not installed in this build
            raise
        mod.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_outputs(args)  # before any work: a bad output path must not cost the results
        return int(args.func(args) or 0)
    except ManifoldSpecError as exc:
        print(f"manifoldspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` etc.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"manifoldspec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
