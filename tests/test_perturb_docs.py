"""The Python example in docs/perturbation.md runs; second order beats first order there."""
import pathlib
import re


def test_docs_example_runs(capsys):
    text = (pathlib.Path(__file__).parents[1] / "docs" / "perturbation.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "docs/perturbation.md", "exec"), {})
    first, second = map(float, capsys.readouterr().out.splitlines()[0].split())
    assert second < first < 1e-3
