"""benchmarks/mqar_warp_usage.py: the warp-off accuracy is that of the same weights in a warp=False model, and
a model whose warp amplitudes vanish loses nothing when the warp is switched off and shows no spectral shift
(beyond float32 rounding of the eigensolver)."""
import pathlib
import sys

import pytest

torch = pytest.importorskip("torch")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from mqar_warp_usage import analyse, main  # noqa: E402

from manifoldspec.nn import TrainConfig, evaluate_recall, save_recall_model, train_recall  # noqa: E402
from manifoldspec.nn.train import build_model  # noqa: E402

CFG = TrainConfig(vocab_size=32, train_slices=((16, 2),), test_slices=((16, 2), (24, 3)), d_model=16, n_layers=2,
                  n_heads=2, steps=3, batch_size=4, warmup=2, test_examples=16, smt={"n_modes": 5})


def test_warp_off_equals_a_warp_free_model_with_the_same_weights(tmp_path, capsys):
    r = train_recall("smt", CFG, progress=False)
    path = save_recall_model(r["model"], "smt", CFG, tmp_path / "m.pt")
    out = analyse(path, n_examples=8)
    assert out["accuracy"] == r["accuracy"]
    ref = build_model("smt", CFG.__class__(**{**CFG.__dict__, "smt": {**CFG.smt, "warp": False}}))
    ref.load_state_dict(r["model"].state_dict())
    assert out["accuracy_no_warp"] == evaluate_recall(ref, CFG)
    assert len(out["alpha"]) == 2 and all(0 < a < 1 for layer in out["alpha"] for a in layer.values())
    main([str(path), "--examples", "8"])
    assert "with the warp off" in capsys.readouterr().out


def test_vanishing_warp_changes_nothing(tmp_path):
    r = train_recall("smt", CFG, progress=False)
    with torch.no_grad():
        for blk in r["model"].blocks:  # α = softplus(−60) ≈ 1e-26 for every token
            blk.mixer.warp_proj.weight.zero_()
            blk.mixer.warp_proj.bias.view(2, -1)[:, 0] = -60.0
    out = analyse(save_recall_model(r["model"], "smt", CFG, tmp_path / "m.pt"), n_examples=8)
    assert out["accuracy_no_warp"] == pytest.approx(out["accuracy"], abs=1e-12)
    assert max(out["first_order_error"]) < 1e-4  # only the mesh's error of the unwarped spectrum is left
    assert max(out["negative"]) == 0.0
    assert max(out["shift"]) < 1e-5 and max(a for layer in out["alpha"] for a in layer.values()) < 1e-20
