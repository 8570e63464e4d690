"""The example scripts run and write their figures (slow: they use the documented mesh sizes)."""
import pathlib
import runpy
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("script", ["geodesic_distance.py", "spectrum_figure.py", "prompt_manifold.py"])
def test_example_writes_its_figure(script, tmp_path, monkeypatch, capsys):
    out = tmp_path / "figure.png"
    monkeypatch.setattr(sys, "argv", [script, str(out)])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert out.stat().st_size > 10_000
    if script == "prompt_manifold.py":  # the state's first-order spectrum stays near the finite-element one
        gap = float(capsys.readouterr().out.split("finite element| over the prompt:")[1].split()[0])
        assert gap < 2e-2
    if script == "geodesic_distance.py":  # the printed errors fall with h (first order)
        errs = [float(line.split()[-1]) for line in capsys.readouterr().out.splitlines() if "max error" in line]
        assert len(errs) == 8 and all(a > b for a, b in zip(errs[:3], errs[1:4])) and all(
            a > b for a, b in zip(errs[4:7], errs[5:8]))


def test_prompt_manifold_example_reads_a_trained_checkpoint(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    from manifoldspec.cli import main
    assert main(["train-recall", "--mixers", "smt", "--steps", "3", "--batch-size", "4", "--test-examples", "4",
                 "--d-model", "16", "--train-slices", "16:2", "--no-progress", "--save-models", str(tmp_path)]) == 0
    out = tmp_path / "figure.png"
    monkeypatch.setattr(sys, "argv", ["prompt_manifold.py", str(out), "--checkpoint",
                                      str(tmp_path / "smt_lr0.003_seed0.pt"), "--tokens", "6", "--resolution", "12"])
    runpy.run_path(str(ROOT / "examples" / "prompt_manifold.py"), run_name="__main__")
    assert out.stat().st_size > 10_000 and "first-order λ_1..4" in capsys.readouterr().out
