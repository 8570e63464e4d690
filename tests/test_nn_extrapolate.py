"""benchmarks/mqar_extrapolate.py: its default slices are valid MQAR slices for any vocabulary, a checkpoint scores
on them what training reported on the slices they share, and the per-configuration summary is the plain mean,
min and max over seeds."""
import json
import pathlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from mqar_extrapolate import default_slices, main, summarise  # noqa: E402

from manifoldspec.nn import TrainConfig, save_recall_model, train_recall  # noqa: E402
from manifoldspec.nn.mqar import MQARConfig  # noqa: E402

CFG = TrainConfig(vocab_size=64, train_slices=((64, 8),), test_slices=((64, 8), (128, 24)), d_model=16, n_layers=1,
                  n_heads=2, steps=3, batch_size=4, warmup=2, test_examples=8, deltanet={"key_dim": 4})


@pytest.mark.parametrize("vocab", [16, 64, 512])
def test_default_slices_are_valid_mqar(vocab):
    axes = default_slices(vocab)
    for L, N in axes["length"] + axes["load"]:
        MQARConfig(vocab, L, N)  # raises on 4N > L or too few keys
    assert [L for L, _ in axes["length"]] == [64, 128, 256, 512, 1024]
    assert max(N for _, N in axes["load"]) == min(vocab // 2 - 1, 32)


def test_checkpoint_scores_what_training_reported(tmp_path, capsys):
    paths = []
    for seed in (0, 1):
        cfg = TrainConfig(**{**CFG.__dict__, "seed": seed})
        r = train_recall("deltanet", cfg, progress=False)
        paths.append(save_recall_model(r["model"], "deltanet", cfg, tmp_path / f"m{seed}.pt"))
        paths.append(r["accuracy"])
    out, png = tmp_path / "x.json", tmp_path / "x.png"
    summary = main([str(paths[0]), str(paths[2]), "--test-examples", "8", "--out", str(out), "--plot", str(png)])
    runs = json.loads(out.read_text())["runs"]
    axes = default_slices(64)
    want = {f"{L}:{N}" for L, N in axes["length"] + axes["load"]}
    for run, trained in zip(runs, paths[1::2]):
        assert set(run["accuracy"]) == want and len(want) == 9
        for (L, N), acc in trained.items():  # the same held-out examples as training's report
            assert run["accuracy"][f"{L}:{N}"] == acc
    (group,) = summary.values()
    assert group["seeds"] == [0, 1] and png.stat().st_size > 0
    with pytest.raises(SystemExit):  # results are never overwritten
        main([str(paths[0]), "--out", str(out)])
    assert "exists" in capsys.readouterr().err
    for bad, needle in ((["--plot", str(tmp_path / "x.nosuchformat")], "--plot"), (["--out", str(tmp_path / "x.txt")], "--out")):
        with pytest.raises(SystemExit):  # refused before any checkpoint is evaluated
            main([str(paths[0])] + bad)
        assert needle in capsys.readouterr().err


def test_summary_is_mean_min_max_over_seeds():
    rows = [{"label": "a", "state": 10, "seed": s, "accuracy": {(64, 8): v}} for s, v in ((0, 0.5), (1, 0.9), (2, 0.7))]
    rows.append({"label": "b", "state": 5, "seed": 0, "accuracy": {(64, 8): 0.25}})
    s = summarise(rows)
    assert list(s) == [("b", 5), ("a", 10)]  # by state size
    assert s[("a", 10)]["mean"][(64, 8)] == pytest.approx(0.7) and s[("a", 10)]["min"][(64, 8)] == 0.5
    assert s[("a", 10)]["max"][(64, 8)] == 0.9 and s[("b", 5)]["seeds"] == [0]
    assert np.isclose(s[("b", 5)]["mean"][(64, 8)], 0.25)


def test_warp_off_is_a_warp_free_model_with_the_same_weights(tmp_path):
    from mqar_extrapolate import evaluate

    from manifoldspec.nn import evaluate_recall
    from manifoldspec.nn.train import build_model
    cfg = TrainConfig(**{**CFG.__dict__, "smt": {"n_modes": 5}})
    cfg = TrainConfig(**{**cfg.__dict__, "test_examples": 64})
    r = train_recall("smt", cfg, progress=False)
    with torch.no_grad():  # α = softplus(4) ≈ 4 for every token: a warp that changes the predictions
        for blk in r["model"].blocks:
            blk.mixer.warp_proj.bias.view(2, -1)[:, 0] = 4.0
    path = save_recall_model(r["model"], "smt", cfg, tmp_path / "m.pt")
    on, off = (evaluate(path, [(64, 8), (128, 24)], 64, warp) for warp in (True, False))
    assert on["accuracy"] == evaluate_recall(r["model"], cfg) and off["label"].endswith("warp off at inference")
    ref = build_model("smt", TrainConfig(**{**cfg.__dict__, "smt": {**cfg.smt, "warp": False}}))
    ref.load_state_dict(r["model"].state_dict())
    assert off["accuracy"] == evaluate_recall(ref, cfg) != on["accuracy"]


def test_flow_models_are_a_configuration_of_their_own(tmp_path):
    from mqar_extrapolate import evaluate

    from manifoldspec.nn.train import build_model
    paths = []
    for flow in (None, 1e-3):
        cfg = TrainConfig(**{**CFG.__dict__, "smt": {"n_modes": 5, "flow_dt": flow}})
        paths.append(save_recall_model(build_model("smt", cfg), "smt", cfg, tmp_path / f"m{flow}.pt"))
    rows = [evaluate(p, [(64, 8)], 4) for p in paths]
    assert rows[0]["state"] == rows[1]["state"] and len(summarise(rows)) == 2
    assert rows[1]["label"].endswith("flow from dt = 0.001")
