"""The README's quickstart runs and prints what the README says (the exact lines)."""
import contextlib
import io
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_commands_first():
    lines = [l for l in README.read_text().splitlines() if l.strip()]
    block = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert block[0].startswith("pip install -e . && manifoldspec spectrum")
    assert block[1].startswith("pip install torch==2.13.0") and "pytest" in block[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert block[1].split(" && ")[0] in ci and "python -m pytest" in ci


def test_readme_quickstart_runs():
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    expected = re.search(r"```text\n(.*?)```", text, re.S).group(1).splitlines()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md", "exec"), {})
    got = buf.getvalue().splitlines()
    assert got[0] == expected[0] == "[0. 1. 1. 1. 1. 2. 2. 2. 2.]"
    # every warped eigenvalue is ≥ 1e-4 from a rounding boundary of the 3 printed digits, so the line is exact
    assert got == expected
    # and it is a split spectrum, not the unwarped one
    warped = np.array(got[1].strip("[]").split(), dtype=float)
    assert len(warped) == 9 and np.ptp(warped[1:5]) > 1e-2
