"""Models trained by train_recall / train-recall --save-models come back from disk unchanged."""
import dataclasses
import json

import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.cli import main  # noqa: E402
from manifoldspec.nn import TrainConfig, evaluate_recall, load_recall_model, save_recall_model, train_recall  # noqa: E402
from docs_blocks import python_block  # noqa: E402

TINY = TrainConfig(vocab_size=32, train_slices=((16, 2),), test_slices=((16, 2), (24, 3)), d_model=16, n_layers=1,
                   n_heads=1, steps=3, batch_size=4, warmup=2, test_examples=8, smt={"n_modes": 5, "base": "sphere"},
                   gla={"key_dim": 4, "gate": "scalar"})


@pytest.mark.parametrize("mixer", ["smt", "gla", "softmax"])
def test_round_trip_gives_the_same_model(tmp_path, mixer):
    r = train_recall(mixer, TINY, progress=False)
    path = save_recall_model(r["model"], mixer, TINY, tmp_path / "m.pt")
    model, name, cfg = load_recall_model(path)
    assert name == mixer and cfg == TINY and not model.training
    ids = torch.randint(0, 32, (2, 24))
    r["model"].eval()
    assert torch.equal(model(ids)[0], r["model"](ids)[0])  # bitwise: same weights, same code
    assert evaluate_recall(model, cfg) == r["accuracy"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left
    import os
    import stat
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # as torch.save(path) would create it


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(ManifoldSpecError, match="does not exist"):
        load_recall_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ManifoldSpecError, match="cannot read .* as a checkpoint"):
        load_recall_model(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ManifoldSpecError, match="not a manifoldspec recall checkpoint"):
        load_recall_model(tmp_path / "other.pt")


def test_cli_saves_every_run_of_a_parallel_sweep(tmp_path, capsys):
    d, out = tmp_path / "models", tmp_path / "s.json"
    argv = ["train-recall", "--mixers", "linear", "--steps", "2", "--batch-size", "4", "--test-examples", "4",
            "--d-model", "16", "--train-slices", "16:2", "--lr", "1e-3,1e-2", "--seed", "0", "--jobs", "2",
            "--no-progress", "--save-models", str(d / "sub"), "--out", str(out)]
    assert main(argv) == 0  # saved in the worker processes
    names = sorted(p.name for p in (d / "sub").iterdir())
    assert names == ["linear_lr0.001_seed0.pt", "linear_lr0.01_seed0.pt"]
    runs = {r["lr"]: r for r in json.loads(out.read_text())["results"]}
    for lr in (1e-3, 1e-2):
        model, _, cfg = load_recall_model(d / "sub" / f"linear_lr{lr:g}_seed0.pt")
        assert cfg.lr == lr and cfg.seed == 0
        acc = evaluate_recall(model, cfg)
        assert {f"{L}:{N}": a for (L, N), a in acc.items()} == runs[lr]["accuracy"]
    capsys.readouterr()
    out.unlink()
    assert main(argv) == 2  # a directory with checkpoints is not overwritten by accident
    assert "already holds 2 checkpoints" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0
    (tmp_path / "file").write_text("x")
    assert main(argv[:-4] + ["--save-models", str(tmp_path / "file")]) == 2
    assert "--save-models: " in capsys.readouterr().err


def test_single_run_cli_saves_its_model(tmp_path, capsys):
    assert main(["train-recall", "--mixers", "smt,softmax", "--steps", "2", "--batch-size", "4", "--test-examples",
                 "4", "--d-model", "16", "--train-slices", "16:2", "--no-progress", "--save-models",
                 str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smt_lr0.003_seed0.pt", "softmax_lr0.003_seed0.pt"]
    assert capsys.readouterr().out.count("model saved to") == 2
    model, name, cfg = load_recall_model(tmp_path / "smt_lr0.003_seed0.pt")
    assert name == "smt" and dataclasses.asdict(cfg)["smt"]["n_modes"] == 5


def test_docs_block_loads_a_saved_model(tmp_path, monkeypatch, capsys):
    code = python_block("nn.md", "load_recall_model")
    monkeypatch.chdir(tmp_path)
    assert main(["train-recall", "--mixers", "smt", "--steps", "2", "--batch-size", "4", "--test-examples", "4",
                 "--d-model", "16", "--train-slices", "16:2", "--no-progress", "--save-models", "models"]) == 0
    scope = {}
    exec(compile(code, "docs/nn.md", "exec"), scope)
    from manifoldspec.nn import SpectralManifoldAttention
    assert isinstance(scope["layer"], SpectralManifoldAttention)
    assert scope["cfg"].steps == 2 and scope["mixer"] == "smt"
