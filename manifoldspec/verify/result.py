"""The result object every check returns, and the verdict rules shared by all checks.

A verdict is one of

* ``"HOLDS"`` — the claim, as the paper states it (or in the corrected form named in
  ``claim``), is satisfied by every case measured;
* ``"HOLDS UNDER <condition>"`` — it is satisfied only with the stated extra condition;
* ``"FAILS AS STATED"`` — a counterexample was measured (``details`` says which);
* ``"NOT AVAILABLE: needs <module>"`` — the check could not run because a building
  block of the package is missing in this build (never a fake result).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from .._checks import ManifoldSpecError

HOLDS = "HOLDS"
FAILS = "FAILS AS STATED"
ERROR = "ERROR"


def holds_under(condition: str) -> str:
    """The verdict string ``"HOLDS UNDER <condition>"``."""
    return f"HOLDS UNDER {condition}"


def not_available(module: str) -> str:
    """The verdict string of a check whose dependency ``module`` is missing."""
    return f"NOT AVAILABLE: needs {module}"


def _valid_verdict(v: str) -> bool:
    return (v in (HOLDS, FAILS, ERROR) or v.startswith("HOLDS UNDER ") or v.startswith("NOT AVAILABLE: needs ")
            or v.startswith("ERROR: "))


@dataclass(frozen=True, eq=False)
class CheckResult:
    """Outcome of one numerical check of a paper claim.

    Attributes
    ----------
    name : str
        Registry name (``manifoldspec verify --only NAME``).
    claim : str
        The claim in words (the corrected form when the paper's form is false).
    equation : str
        Where it is in the paper, e.g. ``"eq. (9), §8"``.
    computed : str
        What was computed, in one line.
    measured : str
        The decisive measured figure, formatted for the table.
    bound : str
        The bound or exact value it is compared with.
    verdict : str
        See the module docstring.
    details : str
        Counterexample, conditions, secondary numbers (Markdown allowed).
    figure : str or None
        Path of the plot written by the report (``None`` until plotted).
    data : mapping
        Arrays used for the plot and by tests (raw measured numbers).
    seconds : float
        Wall time of the check.
    """

    name: str
    claim: str
    equation: str
    computed: str
    measured: str
    bound: str
    verdict: str
    details: str = ""
    figure: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self):
        if not _valid_verdict(self.verdict):
            raise ManifoldSpecError(
                f"verdict: expected 'HOLDS', 'HOLDS UNDER <condition>', 'FAILS AS STATED' or "
                f"'NOT AVAILABLE: needs <module>', got {self.verdict!r}")

    @property
    def holds(self) -> bool:
        """True for HOLDS and HOLDS UNDER ..."""
        return self.verdict.startswith("HOLDS")

    @property
    def fails(self) -> bool:
        return self.verdict == FAILS

    @property
    def available(self) -> bool:
        return not self.verdict.startswith("NOT AVAILABLE") and not self.verdict.startswith("ERROR")

    def with_(self, **changes) -> "CheckResult":
        """A copy with some fields replaced (e.g. ``figure``, ``seconds``)."""
        return replace(self, **changes)


def inequality_verdict(lhs, rhs, *, rtol: float = 1e-9, atol: float = 0.0) -> tuple[bool, float]:
    """Whether lhs ≥ rhs holds for every entry (to a tolerance), and the worst margin.

    Parameters
    ----------
    lhs, rhs : array-like, broadcastable
        The two sides of the claimed inequality lhs ≥ rhs.
    rtol, atol : float
        lhs ≥ rhs − (atol + rtol·|rhs|) counts as satisfied (round-off, quadrature error).

    Returns
    -------
    ok : bool
    worst : float
        min(lhs − rhs); negative when the inequality is violated somewhere.
    """
    lhs = np.asarray(lhs, dtype=float)
    rhs = np.asarray(rhs, dtype=float)
    if lhs.size == 0:
        raise ManifoldSpecError("lhs: no measured values to compare")
    if not (np.all(np.isfinite(lhs)) and np.all(np.isfinite(rhs))):
        raise ManifoldSpecError("lhs/rhs: NaN or infinite values in an inequality check")
    diff = lhs - rhs
    ok = bool(np.all(diff >= -(atol + rtol * np.abs(rhs))))
    return ok, float(diff.min())


def unavailable_result(name: str, claim: str, equation: str, module: str, computed: str = "") -> CheckResult:
    """The honest placeholder of a check whose dependency is missing."""
    return CheckResult(name=name, claim=claim, equation=equation, computed=computed or "—", measured="—",
                       bound="—", verdict=not_available(module),
                       details=f"This build has no `{module}`; the check runs once it lands.")


def fmt(x: float, digits: int = 3) -> str:
    """Compact number formatting for the table."""
    x = float(x)
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return str(x)
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits + 1}g}"
    return f"{x:.{digits - 1}e}"
