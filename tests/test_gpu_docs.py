"""The runnable examples of docs/gpu.md run and pass their own checks (GPU-only blocks skipped)."""
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "gpu.md"


def test_docs_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    runnable = [b for b in blocks if not b.startswith("# needs a GPU")]
    assert runnable, "docs/gpu.md lost its runnable example"
    ns = {}
    for b in runnable:
        exec(compile(b, str(DOC), "exec"), ns)
    assert "pattern vs dense closed form" in capsys.readouterr().out


def test_gpu_session_script_is_valid_and_names_real_files():
    import shutil
    import subprocess

    script = DOC.parent.parent / "benchmarks" / "gpu_session.sh"
    text = script.read_text()
    for name in re.findall(r"(tests/test_gpu_\w+\.py|benchmarks/\w+\.py)", text):
        assert (DOC.parent.parent / name).is_file(), name
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    assert subprocess.run([bash, "-n", str(script)]).returncode == 0
    bad = subprocess.run([bash, str(script), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument '--bogus'" in bad.stderr
