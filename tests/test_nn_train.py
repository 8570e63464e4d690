"""MQAR data, the training harness and the ``train-recall`` CLI.

Data oracle: the MQAR layout of NN_ANCHORS.md §1.1 checked structurally. Training: a short run
must reduce the loss (default suite); the slow test trains on MQAR and gates on chance and on
softmax attention trained in the same harness (NN_ANCHORS.md §6.2, CPU note).
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.cli import main  # noqa: E402
from manifoldspec.nn import MQARConfig, TrainConfig, mqar_batch, train_recall  # noqa: E402




def test_mqar_layout(rng):
    cfg = MQARConfig(vocab_size=50, seq_len=34, num_pairs=7, power_a=0.3)
    x, y = mqar_batch(cfg, 9, rng)
    x, y = x.numpy(), y.numpy()
    V, N = 50, 7
    keys, vals = x[:, 0:2 * N:2], x[:, 1:2 * N:2]
    assert np.all((keys >= 1) & (keys < V // 2)) and np.all((vals >= V // 2) & (vals < V))
    for b in range(9):
        assert len(set(keys[b])) == N and len(set(vals[b])) == N
        pos = np.nonzero(y[b] != -100)[0]
        assert len(pos) == N and np.all(pos >= 2 * N) and np.all((pos - 2 * N) % 2 == 0)
        for p in pos:  # the target at a re-inserted key is that key's value
            k = x[b, p]
            assert y[b, p] == vals[b][list(keys[b]).index(k)]
        rest = np.setdiff1d(np.arange(2 * N, 34), pos)
        assert np.all(x[b, rest] == 0)
    assert abs(cfg.chance - 1 / 25) < 1e-15
    with pytest.raises(ManifoldSpecError, match="num_pairs"):
        MQARConfig(64, 16, 5)
    with pytest.raises(ManifoldSpecError, match="seq_len"):
        MQARConfig(64, 15, 2)


def test_mqar_gaps_follow_the_power_law():
    # a = 1 is uniform over the (L − 2N)/2 slots; a = 0.01 is p(g) ∝ g^(−0.99)
    rng = np.random.default_rng(0)
    _, y = mqar_batch(MQARConfig(64, 40, 1, power_a=1.0), 4000, rng)
    gaps = (np.nonzero(y.numpy() != -100)[1] - 2) // 2
    counts = np.bincount(gaps, minlength=19)
    assert counts.min() > 150 and counts.max() < 280  # 4000/19 ≈ 210 each
    _, y = mqar_batch(MQARConfig(64, 40, 1, power_a=0.01), 4000, rng)
    gaps = (np.nonzero(y.numpy() != -100)[1] - 2) // 2
    p = np.arange(1, 20) ** (0.01 - 1)
    p /= p.sum()  # one gap (N = 1): its law is p itself
    assert np.abs(np.bincount(gaps, minlength=19) / 4000 - p).max() < 0.025


@pytest.mark.parametrize("mixer", ["smt", "softmax", "linear"])
def test_short_training_reduces_loss(mixer):
    torch.manual_seed(0)
    cfg = TrainConfig(vocab_size=32, train_slices=((16, 2),), test_slices=((16, 2),), d_model=16, n_layers=1,
                      n_heads=1, steps=60, batch_size=16, lr=1e-2, warmup=5, test_examples=16,
                      smt={"n_modes": 5}, linear={"feature_dim": 8})
    r = train_recall(mixer, cfg, progress=False, log_every=1)
    losses = np.array([l for _, l in r["losses"]])
    assert losses[-8:].mean() < losses[:5].mean() - 0.3, losses
    assert 0.0 <= r["accuracy"][(16, 2)] <= 1.0


def test_cli_smoke(tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["train-recall", "--steps", "2", "--batch-size", "4", "--test-examples", "4", "--vocab", "64",
               "--d-model", "16", "--modes", "5", "--train-slices", "32:4", "--out", str(out), "--no-progress",
               "--plot", str(tmp_path / "p.png")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "L=32,N=4" in text and "smt" in text and "softmax" in text and "linear" in text
    data = json.loads(out.read_text())
    assert {r["mixer"] for r in data["results"]} == {"smt", "softmax", "linear"}
    assert (tmp_path / "p.png").stat().st_size > 0
    assert main(["train-recall", "--mixers", "mamba"]) == 2


def test_cli_linear_baseline_defaults_to_equal_state(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train-recall", "--mixers", "smt,linear", "--steps", "1", "--batch-size", "2", "--test-examples", "2",
                 "--d-model", "16", "--heads", "2", "--modes", "5", "--train-slices", "16:2", "--out", str(out),
                 "--no-progress"]) == 0
    assert "feature_dim = 7 (equal state with SMT)" in capsys.readouterr().out
    state = {r["mixer"]: r["state_size"] for r in json.loads(out.read_text())["results"]}
    # SMT: 2 layers · 2 heads · (5·6/2 + 5·8) = 220; linear: 2 · 2 · d_f · 8 = 32 d_f, smallest d_f with ≥ 220 is 7
    assert state["smt"] == 220
    assert state["linear"] == 32 * 7


@pytest.mark.slow
def test_mqar_relative_gates_at_equal_state():
    """NN_ANCHORS.md §6.2's CPU gate, on relative margins in one harness (seed 0, each mixer at its best
    learning rate from the sweeps in benchmarks/results/nn.md §3b/§3c): SMT ≥ elu linear attention of at least
    equal state, and softmax solves the task. (Against Based's Taylor features of equal state K = 5 loses,
    0.846 against 0.940, §3f, so that is not gated.) The second anchor gate, SMT ≥ 0.9 × attention, holds for
    K = 9 on T⁴ (next test) but not for the default K = 5 (slice mean 0.846 over seeds, docs/nn.md)."""
    from dataclasses import replace

    from manifoldspec.nn.train import equal_state_features

    cfg = TrainConfig(vocab_size=64, train_slices=((64, 4), (64, 8)), test_slices=((64, 4), (64, 8), (128, 16)),
                      steps=800, batch_size=32, lr=3e-3, test_examples=512,
                      smt={"n_modes": 5, "latent_dim": 2, "flow_dt": None})
    cfg = replace(cfg, linear={"feature_dim": equal_state_features(cfg)})
    soft = train_recall("softmax", cfg, progress=False)
    smt = train_recall("smt", cfg, progress=False)
    lin = train_recall("linear", replace(cfg, lr=3e-1), progress=False)
    assert lin["state_size"] >= smt["state_size"]
    mean = lambda r: float(np.mean(list(r["accuracy"].values())))  # noqa: E731
    assert all(a >= 0.98 for a in soft["accuracy"].values()), soft["accuracy"]
    assert mean(smt) >= mean(lin), (smt["accuracy"], lin["accuracy"])


@pytest.mark.slow
def test_mqar_smt_k9_within_ten_percent_of_attention():
    # the mean over three training seeds: one run can miss the (128, 16) slice (seed 0 reached 0.72 there
    # after a float32 rounding-level change of the backward pass, benchmarks/results/nn.md §1i), and the
    # docs state the claim as a mean over seeds
    from dataclasses import replace

    cfg = TrainConfig(vocab_size=64, train_slices=((64, 4), (64, 8)), test_slices=((64, 4), (64, 8), (128, 16)),
                      steps=800, batch_size=32, lr=3e-3, test_examples=512,
                      smt={"n_modes": 9, "latent_dim": 4, "flow_dt": None})
    mean = lambda r: float(np.mean(list(r["accuracy"].values())))  # noqa: E731
    smt = [train_recall("smt", replace(cfg, seed=s), progress=False) for s in (0, 1, 2)]
    soft = train_recall("softmax", cfg, progress=False)
    assert np.mean([mean(r) for r in smt]) >= 0.9 * mean(soft), ([r["accuracy"] for r in smt], soft["accuracy"])


def test_docs_example_runs(capsys):
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "nn.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "docs/nn.md", "exec"), {})
    out = capsys.readouterr().out
    assert "torch.Size([2, 50, 32]) 13 (2, 2, 13, 13) (2, 2, 13, 16)" in out
    assert "recurrent state scalars: 1196" in out  # 2·2·(13·14/2 + 13·16)
    diff = float(re.search(r"max \|split − full\| = (\S+)", out).group(1))
    assert diff < 1e-5
    # the padded-batch example runs in the quickstart's scope
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    scope = {}
    exec(compile(blocks[0], "docs/nn.md", "exec"), scope)
    exec(compile(next(b for b in blocks if "attention_mask" in b), "docs/nn.md", "exec"), scope)
    assert scope["logits"].shape == (2, 5, 64) and torch.isfinite(scope["logits"]).all()
    # the long-sequence example (gradient checkpointing, truncated backprop) runs as written
    code = re.findall(r"```python\n(.*?)```", text, re.S)[1]
    scope = {}
    exec(compile(code, "docs/nn.md", "exec"), scope)
    assert scope["y"].shape == (1, 2048, 64) and scope["y2"].shape == (1, 1024, 64)


def test_cli_no_warp_ablation(tmp_path):
    out = tmp_path / "r.json"
    assert main(["train-recall", "--mixers", "smt", "--no-warp", "--steps", "1", "--batch-size", "2",
                 "--test-examples", "2", "--d-model", "16", "--train-slices", "16:2", "--out", str(out),
                 "--no-progress"]) == 0
    assert json.loads(out.read_text())["config"]["smt"]["warp"] is False
    from manifoldspec.nn.train import build_model
    cfg = TrainConfig(d_model=16, smt={"n_modes": 5, "warp": False})
    x = torch.randint(0, 64, (1, 8))
    for block in build_model("smt", cfg).blocks:  # α ≡ 0: the layer's token warp is off
        assert not block.mixer.warp
        assert float(block.mixer.project(block.mixer.pos_proj.weight.new_zeros(1, 8, 16) + x[..., None])[3].abs().max()) == 0


def test_induction_batch_structure(rng):
    from manifoldspec.nn.mqar import induction_batch

    x, y = induction_batch(16, 40, 64, rng)
    assert x.shape == y.shape == (64, 40) and x.dtype == torch.int64
    for b in range(64):
        where = torch.nonzero(x[b] == 0).ravel()
        assert len(where) == 2 and where[-1] == 39 and where[0] <= 37  # the special token twice, last at the end
        scored = torch.nonzero(y[b] != -100).ravel()
        assert scored.tolist() == [39] and y[b, 39] == x[b, where[0] + 1] and 1 <= y[b, 39] < 16
    assert TrainConfig(vocab_size=16, task="induction", train_slices=((8, 1),), test_slices=((8, 1),)).chance == 1 / 15
    with pytest.raises(ManifoldSpecError, match="task"):
        TrainConfig(task="copy")
    with pytest.raises(ManifoldSpecError, match="seq_len"):
        induction_batch(16, 3, 2, rng)


def test_cli_induction_task(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train-recall", "--task", "induction", "--mixers", "softmax,smt", "--vocab", "16", "--steps", "2",
                 "--batch-size", "4", "--test-examples", "4", "--d-model", "16", "--train-slices", "16:1",
                 "--test-slices", "16:1,64:1", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "induction-heads accuracy (V=16, chance 0.0667" in text and "L=64,N=1" in text
    assert json.loads(out.read_text())["config"]["task"] == "induction"
