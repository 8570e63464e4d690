"""Numerical verification of the Spectral Manifold Transformer paper's claims.

Each claim family is a module with plain functions ``check_<name>(*, quick=False, ...)``
returning a :class:`CheckResult` (verdict HOLDS / HOLDS UNDER <condition> /
FAILS AS STATED), and ``plot_<name>(result, path)``. ``manifoldspec verify`` runs them
all (:func:`run_checks`) and writes a report (:func:`write_report`). See docs/verification.md.
"""
from .registry import CHECKS, NAMES, run_check, run_checks
from .report import markdown_table, text_table, write_report
from .result import FAILS, HOLDS, CheckResult, holds_under

__all__ = ["CHECKS", "FAILS", "HOLDS", "NAMES", "CheckResult", "holds_under", "markdown_table", "run_check",
           "run_checks", "text_table", "write_report"]
