"""``manifoldspec verify``: run the numerical checks of the paper's claims and print one table."""
from __future__ import annotations

import argparse
import sys
import time

EPILOG = """examples:
  manifoldspec verify --quick                 # all checks at small sizes (< 1 min)
  manifoldspec verify --report verify_report  # full run, Markdown report + one PNG per check
  manifoldspec verify --only rope --only memory
  manifoldspec verify --list

verdicts: HOLDS | HOLDS UNDER <condition> | FAILS AS STATED (with the counterexample in the report)
| NOT AVAILABLE: needs <module> (a building block missing from this build).
exit status: 0 when every check ran (whatever its verdict), 1 when a check raised an error.
"""


def add_parser(sub) -> None:
    from ..verify.registry import NAMES

    p = sub.add_parser(
        "verify", help="check the paper's claims numerically and print verdicts",
        description="Run every numerical check of the Spectral Manifold Transformer paper's claims (spectra, "
                    "Theorem 1, eq. 7, eq. 8, eq. 9, §5.1, §5.2, O(1) memory) and print one table: claim with "
                    "its equation, what was computed, the measured figure, the bound or exact value, and the verdict.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: the whole suite in under a minute")
    p.add_argument("--only", action="append", choices=NAMES, metavar="NAME", default=None,
                   help="run only this check (repeatable); one of: " + ", ".join(NAMES))
    p.add_argument("--report", default=None, metavar="DIR",
                   help="write DIR/report.md with the table, details and one plot DIR/<check>.png per check")
    p.add_argument("--details", action="store_true", help="also print each check's details after the table")
    p.add_argument("--width", type=int, default=60, help="truncate table cells to this many characters (default 60)")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.set_defaults(func=run, output_dirs=("report",))


def run(args) -> int:
    from .._checks import ManifoldSpecError
    from ..verify.registry import CHECKS, run_checks
    from ..verify.report import text_table, write_report

    if args.list:
        for c in CHECKS:
            print(f"{c.name:<20} claim {c.claim}  {c.summary}")
        return 0
    if args.width < 10:
        raise ManifoldSpecError(f"--width: must be at least 10, got {args.width}")
    t0 = time.perf_counter()
    results = run_checks(args.only, quick=args.quick, progress=not args.no_progress and sys.stderr.isatty())
    wall = time.perf_counter() - t0
    print(text_table(results, args.width))
    print(f"# {len(results)} checks in {wall:.1f} s ({'quick' if args.quick else 'full'} sizes)")
    if args.details:
        for r in results:
            print(f"\n[{r.name}] {r.verdict}\n{r.details}")
    if args.report:
        cmd = "manifoldspec verify" + (" --quick" if args.quick else "") + \
              "".join(f" --only {n}" for n in (args.only or [])) + f" --report {args.report}"
        path, _ = write_report(results, args.report, command=cmd)
        print(f"# wrote {path}")
    return 1 if any(r.verdict.startswith("ERROR") for r in results) else 0
