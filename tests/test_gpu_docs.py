"""The runnable examples of docs/gpu.md run and pass their own checks (GPU-only blocks skipped)."""
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "gpu.md"


def test_docs_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    runnable = [b for b in blocks if not b.startswith("# needs a GPU")]
    assert runnable, "docs/gpu.md lost its runnable example"
    ns = {}
    for b in runnable:
        exec(compile(b, str(DOC), "exec"), ns)
    assert "pattern vs dense closed form" in capsys.readouterr().out
