"""The ordered list of checks: name → (claim number, check function, plot function).

``run_checks`` runs a selection, times each, and turns an unexpected exception into an
``ERROR`` row (the report shows it; nothing is hidden or faked).
"""
from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass

from .._checks import ManifoldSpecError
from .result import ERROR, CheckResult


@dataclass(frozen=True)
class Check:
    """One registered check: ``module.check_<name>`` and ``module.plot_<name>``."""

    name: str
    claim: int
    module: str
    summary: str

    def function(self):
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), f"check_{self.name}")

    def plot_function(self):
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), f"plot_{self.name}", None)


CHECKS: tuple[Check, ...] = (
    Check("spectra", 1, "spectra", "eqs. (2)–(3): FEM spectra of torus, box, sphere vs exact, convergence order"),
    Check("weyl", 1, "spectra", "Weyl's law N(λ) ~ Area_g·λ/4π on a token-warped torus"),
    Check("truncation", 2, "truncation", "Theorem 1, correct form ‖f − P_K f‖² ≤ E(f)/λ_{K+1} (warped FEM)"),
    Check("truncation_n", 2, "truncation", "Theorem 1: N-independence (i.i.d. tokens counterexample)"),
    Check("retrieval_capacity", 2, "retrieval", "retrieving N token values from K coefficients"),
    Check("perturbation", 3, "perturbation", "eq. (7): first-order error O(ε²), degenerate case, where it breaks"),
    Check("ricci_flow", 4, "ricci", "eq. (8): round-sphere shrinking, area law, Gauss–Bonnet, normalized flow"),
    Check("uncertainty_naive", 5, "uncertainty_naive", "eq. (9) as stated: fails on eigenfunctions"),
    Check("uncertainty_circle", 5, "uncertainty", "Breitenberger on S¹: var_A·var_F ≥ 1/4"),
    Check("uncertainty_sphere", 5, "uncertainty", "Narcowich–Ward on S²: var_S·var_M ≥ 1"),
    Check("uncertainty_curve", 5, "uncertainty_curve", "any M: the uncertainty curve (ground states of K + μD)"),
    Check("rope", 6, "rope", "§5.1: RoPE as flat-torus spectral retrieval"),
    Check("linear_attention", 7, "linear_attention", "§5.2: flat SMT = linear attention"),
    Check("memory", 8, "memory", "O(1) state, O(N) cost (measured)"),
)

NAMES = tuple(c.name for c in CHECKS)


def get_check(name: str) -> Check:
    for c in CHECKS:
        if c.name == name:
            return c
    raise ManifoldSpecError(f"check name: unknown check {name!r}; available: {', '.join(NAMES)}")


def select(names=None) -> list[Check]:
    """Checks to run: all (``None``) or the named ones, in registry order."""
    if not names:
        return list(CHECKS)
    wanted = {get_check(n).name for n in names}
    return [c for c in CHECKS if c.name in wanted]


def run_check(check: Check, *, quick: bool = False) -> CheckResult:
    """Run one check; an unexpected exception becomes an ``ERROR`` result naming it."""
    t0 = time.perf_counter()
    try:
        res = check.function()(quick=quick)
    except ModuleNotFoundError as exc:  # a building block missing from this build
        from .result import unavailable_result

        res = unavailable_result(check.name, check.summary, "", exc.name or "a module")
    except Exception as exc:  # report, do not hide: the row says what broke
        res = CheckResult(check.name, check.summary, "", "—", "—", "—", f"{ERROR}: {type(exc).__name__}",
                          details=f"`{type(exc).__name__}: {exc}`\n\n```\n{traceback.format_exc(limit=4)}```")
    return res.with_(seconds=time.perf_counter() - t0)


def run_checks(names=None, *, quick: bool = False, progress: bool = False) -> list[CheckResult]:
    """Run the selected checks in order; returns their results."""
    checks = select(names)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(checks, desc="verify", unit="check", leave=False)
        out = []
        for c in bar:
            bar.set_postfix_str(c.name)
            out.append(run_check(c, quick=quick))
        return out
    return [run_check(c, quick=quick) for c in checks]
