"""The verification table (terminal / Markdown) and the Markdown report with one plot per check."""
from __future__ import annotations

import platform
import time
from pathlib import Path

from .registry import get_check
from .result import CheckResult

COLUMNS = ("check", "claim (paper)", "computed", "measured", "bound / exact", "verdict")


def _row(r: CheckResult) -> list[str]:
    eq = f" [{r.equation}]" if r.equation else ""
    return [r.name, r.claim + eq, r.computed, r.measured, r.bound, r.verdict]


def text_table(results: list[CheckResult], width: int = 60) -> str:
    """A plain-text table, one line per check (long cells truncated to ``width``)."""
    rows = [list(COLUMNS)] + [[c if len(c) <= width else c[:width - 1] + "…" for c in _row(r)] for r in results]
    widths = [max(len(row[j]) for row in rows) for j in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results: list[CheckResult]) -> str:
    """The results as a Markdown table (full cell text)."""
    esc = lambda s: s.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        cells = _row(r)
        cells[0] = f"`{cells[0]}`"
        cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(esc(c) for c in cells) + " |")
    return "\n".join(lines)


def plot_result(result: CheckResult, path) -> str:
    """Write the check's plot (or a text figure for checks that did not run) and return its path."""
    from ._plot import text_figure

    if not result.available:
        return text_figure(path, f"{result.name}: {result.verdict}")
    fn = get_check(result.name).plot_function()
    if fn is None:
        return text_figure(path, f"{result.name}: {result.verdict}")
    return fn(result, path)


def write_report(results: list[CheckResult], directory, *, command: str = "manifoldspec verify") -> tuple[Path, list[CheckResult]]:
    """Write ``directory/report.md`` and ``directory/<check>.png``; returns the path and results with figures."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    plotted = []
    for r in results:
        fig = plot_result(r, d / f"{r.name}.png")
        plotted.append(r.with_(figure=fig))
    total = sum(r.seconds for r in plotted)
    lines = [
        "# manifoldspec verify — the paper's claims checked numerically", "",
        f"Command: `{command}`  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; machine: {platform.machine()} {platform.system()}, "
        f"Python {platform.python_version()}; total check time {total:.1f} s.", "",
        "Verdicts: **HOLDS**; **HOLDS UNDER** a stated condition; **FAILS AS STATED** (with the counterexample); "
        "**NOT AVAILABLE** when a building block is missing in this build.", "",
        markdown_table(plotted), "",
    ]
    for r in plotted:
        lines += [f"## `{r.name}` — {r.verdict}", "", f"**Claim** ({r.equation or 'see registry'}): {r.claim}", "",
                  f"**Computed:** {r.computed}. **Measured:** {r.measured}. **Bound / exact:** {r.bound}. "
                  f"({r.seconds:.2f} s)", "", r.details, "", f"![{r.name}]({Path(r.figure).name})", ""]
    path = d / "report.md"
    path.write_text("\n".join(lines))
    return path, plotted
