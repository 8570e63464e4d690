"""Learning-rate × seed sweeps (``manifoldspec.nn.sweep``) and ``train-recall --lr a,b --seed 0,1``.

Oracles: the best-LR selection on hand-made records whose answer is worked out by hand; every
sweep run equals the stand-alone ``train_recall`` of its (lr, seed); parallel workers give the
same records as the in-process loop, bitwise.
"""
import dataclasses
import json
import math

import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.cli import main  # noqa: E402
from manifoldspec.nn import TrainConfig, train_recall  # noqa: E402
from manifoldspec.nn.sweep import best_learning_rates, held_out_accuracy, plot_sweep, sweep_recall  # noqa: E402
from docs_blocks import python_block  # noqa: E402

TINY = TrainConfig(vocab_size=32, train_slices=((16, 2),), test_slices=((16, 2), (24, 3)), d_model=16, n_layers=1,
                   n_heads=1, steps=3, batch_size=4, warmup=2, test_examples=8, smt={"n_modes": 5},
                   linear={"feature_dim": 4})


def _rec(mixer, lr, seed, a, b):
    return {"mixer": mixer, "lr": lr, "seed": seed, "accuracy": {(64, 4): a, (64, 8): b}}


def test_best_learning_rate_by_hand():
    recs = [_rec("smt", 1e-3, 0, 0.9, 0.5), _rec("smt", 1e-3, 1, 0.7, 0.3),    # slice means 0.7, 0.5 → 0.6
            _rec("smt", 1e-2, 0, 1.0, 0.6), _rec("smt", 1e-2, 1, 0.2, 0.2),    # 0.8, 0.2 → 0.5
            _rec("linear", 1e-3, 0, 0.4, 0.2), _rec("linear", 1e-3, 1, 0.2, 0.0),  # 0.3, 0.1 → 0.2
            _rec("linear", 1e-2, 0, 0.3, 0.1), _rec("linear", 1e-2, 1, 0.3, 0.1)]  # 0.2, 0.2 → 0.2 (tie)
    best = best_learning_rates(recs)
    assert best["smt"]["lr"] == 1e-3 and math.isclose(best["smt"]["score"], 0.6)
    assert best["smt"]["by_lr"] == pytest.approx({1e-3: 0.6, 1e-2: 0.5})
    assert best["smt"]["mean"] == pytest.approx({(64, 4): 0.8, (64, 8): 0.4})
    assert best["smt"]["min"] == {(64, 4): 0.7, (64, 8): 0.3}
    assert best["smt"]["max"] == {(64, 4): 0.9, (64, 8): 0.5}
    assert best["smt"]["seeds"] == (0, 1)
    assert best["linear"]["lr"] == 1e-3  # a tie goes to the smaller learning rate
    assert math.isclose(best["linear"]["score"], 0.2)


def test_best_learning_rate_rejects_bad_records():
    with pytest.raises(ManifoldSpecError, match="records: empty"):
        best_learning_rates([])
    with pytest.raises(ManifoldSpecError, match="lr=0.001 seed=0"):
        best_learning_rates([_rec("smt", 1e-3, 0, float("nan"), 0.5)])


def _val(mixer, lr, seed, test, val):
    """A record with test accuracies ``test`` and validation accuracies ``val`` (two slices each)."""
    return {"mixer": mixer, "lr": lr, "seed": seed, "accuracy": {(64, 4): test[0], (64, 8): test[1]},
            "validation": {(64, 4): val[0], (64, 8): val[1]}}


def test_best_learning_rate_is_chosen_on_validation_and_reported_on_test():
    # validation prefers 1e-3 (0.7 against 0.6), the test set 1e-2 (0.9 against 0.5)
    recs = [_val("smt", 1e-3, 0, (0.6, 0.4), (0.8, 0.6)), _val("smt", 1e-3, 1, (0.5, 0.5), (0.7, 0.7)),
            _val("smt", 1e-2, 0, (1.0, 0.8), (0.6, 0.6)), _val("smt", 1e-2, 1, (0.9, 0.9), (0.5, 0.7))]
    best = best_learning_rates(recs)["smt"]
    assert best["selected_on"] == "validation" and best["lr"] == 1e-3
    assert math.isclose(best["score"], 0.5)  # the test score at the chosen rate, not the validation one
    assert best["selection_by_lr"] == pytest.approx({1e-3: 0.7, 1e-2: 0.6})
    assert best["by_lr"] == pytest.approx({1e-3: 0.5, 1e-2: 0.9})
    assert best["mean"] == pytest.approx({(64, 4): 0.55, (64, 8): 0.45})
    on_test = best_learning_rates(recs, select_on="test")["smt"]
    assert on_test["lr"] == 1e-2 and math.isclose(on_test["score"], 0.9) and on_test["selected_on"] == "test"
    # records without a validation set (written before it existed) are chosen on the test set, and say so
    old = [{k: v for k, v in r.items() if k != "validation"} for r in recs]
    assert best_learning_rates(old)["smt"]["selected_on"] == "test"
    assert best_learning_rates(recs[:1] + old[1:])["smt"]["lr"] == 1e-2  # mixed: test
    with pytest.raises(ManifoldSpecError, match="no validation accuracy"):
        best_learning_rates(old, select_on="validation")
    with pytest.raises(ManifoldSpecError, match="select_on: expected one of"):
        best_learning_rates(recs, select_on="train")
    recs[0]["validation"][(64, 4)] = float("nan")
    with pytest.raises(ManifoldSpecError, match="has validation"):
        best_learning_rates(recs)


def test_held_out_accuracy_by_hand():
    recs = [_val("smt", 1e-3, 0, (0.9, 0.7), (0.9, 0.7)), _val("smt", 1e-3, 1, (0.7, 0.5), (0.7, 0.5)),  # 0.7
            _val("smt", 1e-2, 0, (0.6, 0.6), (0.6, 0.6)), _val("smt", 1e-2, 1, (0.6, 0.4), (0.6, 0.4)),  # 0.55
            _val("smt", 1e-3, 2, (0.5, 0.3), (0.9, 0.9)), _val("smt", 1e-3, 3, (0.7, 0.3), (0.0, 0.0)),  # held out
            _val("smt", 1e-2, 2, (1.0, 1.0), (1.0, 1.0))]  # a held-out seed must not change the choice
    held = held_out_accuracy(recs, selection_seeds=(0, 1))["smt"]
    assert held["lr"] == 1e-3 and held["seeds"] == (2, 3) and held["selection_seeds"] == (0, 1)
    assert math.isclose(held["selected_score"], 0.7)
    assert math.isclose(held["score"], 0.45)  # (0.4 + 0.5) / 2, the test accuracies of seeds 2 and 3
    assert held["by_seed"] == pytest.approx({2: 0.4, 3: 0.5})
    assert held["mean"] == pytest.approx({(64, 4): 0.6, (64, 8): 0.3})
    assert held["min"] == {(64, 4): 0.5, (64, 8): 0.3} and held["max"] == {(64, 4): 0.7, (64, 8): 0.3}
    with pytest.raises(ManifoldSpecError, match="no run of smt at its selected lr 0.001 with a seed outside"):
        held_out_accuracy(recs[:4], selection_seeds=(0, 1))
    with pytest.raises(ManifoldSpecError, match="selection_seeds: no record"):
        held_out_accuracy(recs, selection_seeds=(7,))


def test_validation_is_another_sample_of_the_test_slices():
    from manifoldspec.nn.mqar import MQARConfig, mqar_batch
    from manifoldspec.nn.train import TEST_SEED, VALIDATION_SEED, evaluate_recall
    cfg = dataclasses.replace(TINY, steps=2)
    r = train_recall("linear", cfg, progress=False)
    assert set(r["validation"]) == set(r["accuracy"]) == set(cfg.test_slices)
    assert r["validation"] == evaluate_recall(r["model"], cfg, seed=VALIDATION_SEED)
    assert r["accuracy"] == evaluate_recall(r["model"], cfg, seed=TEST_SEED)
    (L, N), c = cfg.test_slices[0], MQARConfig(cfg.vocab_size, *cfg.test_slices[0], cfg.power_a)
    xt, _ = mqar_batch(c, 8, __import__("numpy").random.default_rng([TEST_SEED, L, N]))
    xv, _ = mqar_batch(c, 8, __import__("numpy").random.default_rng([VALIDATION_SEED, L, N]))
    assert not torch.equal(xt, xv)  # different examples


def test_sweep_runs_equal_standalone_training():
    recs = sweep_recall(["linear", "smt"], TINY, lrs=[1e-3, 1e-2], seeds=[0, 3], threads=1)
    assert [(r["mixer"], r["lr"], r["seed"]) for r in recs] == \
        [(m, lr, s) for m in ("linear", "smt") for lr in (1e-3, 1e-2) for s in (0, 3)]
    for r in (recs[1], recs[6]):
        ref = train_recall(r["mixer"], dataclasses.replace(TINY, lr=r["lr"], seed=r["seed"]), progress=False)
        assert r["accuracy"] == ref["accuracy"] and r["validation"] == ref["validation"]
        assert r["losses"] == ref["losses"]
    assert "model" not in recs[0]
    # different seeds or learning rates are really different runs
    assert recs[0]["losses"] != recs[1]["losses"] and recs[0]["losses"] != recs[2]["losses"]


def test_in_process_sweep_restores_the_thread_count():
    before = torch.get_num_threads()
    sweep_recall(["linear"], dataclasses.replace(TINY, steps=1), lrs=[1e-3], threads=before + 1)
    assert torch.get_num_threads() == before


def test_parallel_sweep_equals_serial(tmp_path):
    cfg = dataclasses.replace(TINY, steps=2)
    serial = sweep_recall(["linear"], cfg, lrs=[1e-3, 1e-2], seeds=[1], threads=1)
    seen = []
    parallel = sweep_recall(["linear"], cfg, lrs=[1e-3, 1e-2], seeds=[1], jobs=2, on_result=seen.append)
    # bitwise: a worker process trains exactly as this one does (same dtype, one thread each)
    for a, b in zip(serial, parallel):
        assert (a["lr"], a["seed"], a["accuracy"], a["losses"]) == (b["lr"], b["seed"], b["accuracy"], b["losses"])
    assert serial[0]["losses"] != serial[1]["losses"]  # the two rates are different runs
    assert len(seen) == 2
    plot_sweep(parallel, str(tmp_path / "s.png"))
    assert (tmp_path / "s.png").stat().st_size > 0


@pytest.mark.parametrize("kw, match", [
    ({"lrs": []}, "lrs: need at least one"),
    ({"lrs": [1e-3, -1.0]}, "lrs"),
    ({"lrs": [1e-3, 1e-3]}, "lrs: values must be distinct"),
    ({"lrs": [1e-3], "seeds": [0, 0]}, "seeds: values must be distinct"),
    ({"lrs": [1e-3], "seeds": [-1]}, "seeds: expected non-negative integers"),
    ({"lrs": [1e-3], "seeds": [0.5]}, "seeds: expected non-negative integers"),
    ({"lrs": [1e-3], "seeds": ["a"]}, "seeds: expected non-negative integers"),
    ({"lrs": [1e-3], "jobs": 0}, "jobs"),
])
def test_sweep_rejects_bad_grids(kw, match):
    with pytest.raises(ManifoldSpecError, match=match):
        sweep_recall(["smt"], TINY, **kw)
    with pytest.raises(ManifoldSpecError, match="mixers"):
        sweep_recall(["mamba"], TINY, lrs=[1e-3])


def test_cli_sweep(tmp_path, capsys):
    out = tmp_path / "s.json"
    rc = main(["train-recall", "--mixers", "linear", "--steps", "2", "--batch-size", "4", "--test-examples", "4",
               "--d-model", "16", "--train-slices", "16:2", "--lr", "1e-3,1e-2", "--seed", "0,1", "--threads", "1",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "1 mixers × 2 learning rates × 2 seeds = 4 runs" in text and "best learning rate per mixer" in text
    assert text.count("] linear lr=") == 4  # one progress line per run without a terminal
    data = json.loads(out.read_text())
    assert [(r["lr"], r["seed"]) for r in data["results"]] == [(1e-3, 0), (1e-3, 1), (1e-2, 0), (1e-2, 1)]
    val = {lr: sum(sum(r["validation"].values()) / len(r["validation"]) for r in data["results"] if r["lr"] == lr) / 2
           for lr in (1e-3, 1e-2)}
    assert data["best"]["linear"]["lr"] == max(val, key=lambda lr: (val[lr], -lr))  # chosen on validation
    assert data["best"]["linear"]["selected_on"] == "validation"
    assert main(["train-recall", "--lr", "1e-3,fast"]) == 2
    assert "--lr: expected a float" in capsys.readouterr().err


def test_cli_confirm_seeds(tmp_path, capsys):
    out = tmp_path / "c.json"
    common = ["train-recall", "--mixers", "linear,smt", "--steps", "2", "--batch-size", "4", "--test-examples", "4",
              "--d-model", "16", "--train-slices", "16:2", "--threads", "1", "--no-progress"]
    assert main(common + ["--lr", "1e-3,1e-2", "--seed", "0", "--confirm-seeds", "2,3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "then 4 confirmation runs" in text and "[8/8]" in text and "confirmation: test accuracy" in text
    data = json.loads(out.read_text())
    for mixer in ("linear", "smt"):
        lr = data["best"][mixer]["lr"]
        confirm = [r for r in data["results"] if r["mixer"] == mixer and r["seed"] in (2, 3)]
        assert [(r["lr"], r["seed"]) for r in confirm] == [(lr, 2), (lr, 3)]  # trained at the chosen rate only
        means = [sum(r["accuracy"].values()) / len(r["accuracy"]) for r in confirm]
        assert math.isclose(data["held_out"][mixer]["score"], sum(means) / 2)
        assert data["held_out"][mixer]["seeds"] == [2, 3]
    assert main(common + ["--lr", "1e-3", "--seed", "0,1", "--confirm-seeds", "1,2"]) == 2
    assert "--confirm-seeds: must differ from --seed" in capsys.readouterr().err


def test_example_script_sweeps(tmp_path, monkeypatch, capsys):
    import pathlib
    import runpy
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "train_mqar.py"
    monkeypatch.setattr("sys.argv", [str(path), "--steps", "2", "--lrs", "1e-3,1e-2", "--plot", str(tmp_path / "s.png")])
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.count("best lr") == 3 and out.count("done:") == 6
    assert (tmp_path / "s.png").stat().st_size > 0
    monkeypatch.setattr("sys.argv", [str(path), "--steps", "2", "--lrs", "1e-3,1e-2", "--mixers", "linear",
                                     "--confirm-seeds", "1", "--plot", str(tmp_path / "c.png")])
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.count("done:") == 3 and out.count("held-out seeds (1,)") == 1


def test_docs_sweep_block_uses_the_real_api(monkeypatch):
    # the docs block trains for minutes; run it with the sweep swapped for a recorder of its arguments

    import manifoldspec.nn as mnn
    code = python_block("nn.md", "sweep_recall")
    calls = []

    def fake(mixers, cfg, lrs, seeds=(0,), **kw):
        calls.append((tuple(mixers), cfg.steps, tuple(lrs), tuple(seeds), kw))
        return [_rec(m, lr, s, 0.5, 0.5) for m in mixers for lr in lrs for s in seeds]

    monkeypatch.setattr(mnn, "sweep_recall", fake)
    scope = {}
    exec(compile(code, "docs/nn.md", "exec"), scope)
    assert calls == [(("smt", "linear"), 800, (1e-3, 3e-3, 1e-2), (0, 1), {"jobs": 2})]
    assert set(scope["best"]) == {"smt", "linear"}


def test_sweep_files_merge_into_one_grid(tmp_path, capsys):
    import importlib.util
    import pathlib
    spec = importlib.util.spec_from_file_location(
        "mqar_sweep_table", pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "mqar_sweep_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    common = ["train-recall", "--mixers", "linear", "--steps", "2", "--batch-size", "4", "--test-examples", "4",
              "--d-model", "16", "--train-slices", "16:2", "--seed", "0,1", "--threads", "1", "--no-progress"]
    for name, lr in (("a", "1e-3"), ("b", "1e-2"), ("c", "1e-2")):
        extra = ["--linear-features", "8"] if name == "c" else []
        assert main(common + ["--lr", lr, "--out", str(tmp_path / f"{name}.json")] + extra) == 0
    records, _ = table.load([str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert sorted((r["lr"], r["seed"]) for r in records) == [(1e-3, 0), (1e-3, 1), (1e-2, 0), (1e-2, 1)]
    merged = best_learning_rates(records)["linear"]
    separate = [json.loads((tmp_path / f"{n}.json").read_text())["best"]["linear"] for n in "ab"]
    # the merged grid's best is the file whose validation score is higher, with that file's test score
    better = max(separate, key=lambda b: (b["selection_by_lr"][f"{b['lr']:g}"], -b["lr"]))
    assert merged["lr"] == better["lr"] and math.isclose(merged["score"], better["score"])
    capsys.readouterr()
    table.main([str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert "best learning rate per mixer" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="share"):
        table.load([str(tmp_path / "a.json"), str(tmp_path / "a.json")])
    with pytest.raises(SystemExit, match="linear"):
        table.load([str(tmp_path / "a.json"), str(tmp_path / "c.json")])


def test_sweep_reuses_existing_runs():
    cfg = dataclasses.replace(TINY, steps=2)
    full = sweep_recall(["linear"], cfg, lrs=[1e-3, 1e-2], seeds=[0, 1], threads=1)
    seen = []
    again = sweep_recall(["linear"], cfg, lrs=[1e-3, 1e-2], seeds=[0, 1], threads=1, on_result=seen.append,
                         existing=[full[0], full[3]])
    assert again[0] is full[0] and again[3] is full[3]  # taken over, not retrained
    assert [(r["lr"], r["seed"]) for r in seen] == [(1e-3, 1), (1e-2, 0)]  # only the missing runs were trained
    for a, b in zip(again, full):
        assert (a["lr"], a["seed"], a["accuracy"], a["validation"], a["losses"]) == \
            (b["lr"], b["seed"], b["accuracy"], b["validation"], b["losses"])


SWEEP = ["train-recall", "--mixers", "linear", "--steps", "2", "--batch-size", "4", "--test-examples", "4",
         "--d-model", "16", "--train-slices", "16:2", "--lr", "1e-3,1e-2", "--seed", "0,1", "--threads", "1",
         "--no-progress"]


def test_cli_interrupted_sweep_resumes(tmp_path, capsys, monkeypatch):
    import manifoldspec.nn.sweep as sweep
    out = tmp_path / "s.json"
    real, calls = sweep._run_one, []

    def interrupted(*a):
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C (or a killed job) during the third run
        calls.append(a)
        return real(*a)

    monkeypatch.setattr(sweep, "_run_one", interrupted)
    assert main(SWEEP + ["--out", str(out)]) == 130
    doc = json.loads(out.read_text())
    assert doc["partial"] is True and [(r["lr"], r["seed"]) for r in doc["results"]] == [(1e-3, 0), (1e-3, 1)]
    monkeypatch.setattr(sweep, "_run_one", real)
    capsys.readouterr()
    assert main(SWEEP + ["--out", str(out)]) == 2  # an existing file is never clobbered by accident
    assert "exists; pass --resume" in capsys.readouterr().err
    assert main(SWEEP + ["--out", str(out), "--resume"]) == 0
    text = capsys.readouterr().out
    assert "resume: 2 of the 4 sweep runs read back" in text and text.count("] linear lr=0.01") == 2
    assert "] linear lr=0.001" not in text  # the finished runs were not trained again
    resumed = json.loads(out.read_text())
    assert "partial" not in resumed and len(resumed["results"]) == 4
    fresh = tmp_path / "fresh.json"
    assert main(SWEEP + ["--out", str(fresh)]) == 0
    assert resumed["best"] == json.loads(fresh.read_text())["best"]  # as if it had never stopped
    assert main(SWEEP + ["--out", str(fresh), "--overwrite", "--lr", "1e-3"]) == 0
    assert len(json.loads(fresh.read_text())["results"]) == 2


@pytest.mark.parametrize("extra, write, needle", [
    (["--resume"], None, "--resume: needs --out"),
    (["--resume", "--overwrite", "--out", "{d}/a.json"], None, "choose one"),
    (["--resume", "--out", "{d}/a.json"], "not json", "cannot read"),
    (["--resume", "--out", "{d}/a.json", "--vocab", "32"], "cfg", "another configuration (differs in vocab_size)"),
])
def test_cli_resume_errors(tmp_path, capsys, extra, write, needle):
    if write == "cfg":
        assert main(SWEEP + ["--out", str(tmp_path / "a.json")]) == 0
    elif write is not None:
        (tmp_path / "a.json").write_text(write)
    capsys.readouterr()
    assert main(SWEEP + [a.format(d=tmp_path) for a in extra]) == 2
    assert needle in capsys.readouterr().err


def test_cli_resume_adds_a_mixer_with_its_own_options(tmp_path, capsys):
    from manifoldspec.cli.recall_files import MIXER_SECTIONS
    from manifoldspec.nn.models import MIXERS
    assert set(MIXER_SECTIONS) == set(MIXERS)  # every mixer's options live under its own name
    out = tmp_path / "s.json"
    assert main(SWEEP + ["--out", str(out)]) == 0
    before = json.loads(out.read_text())["results"]
    extended = [a if a != "linear" else "linear,deltanet" for a in SWEEP] + ["--delta-key-dim", "3"]
    capsys.readouterr()
    assert main(extended + ["--out", str(out), "--resume"]) == 0
    assert "] linear lr=" not in capsys.readouterr().out  # the linear runs were read back, not retrained
    doc = json.loads(out.read_text())
    assert doc["config"]["deltanet"]["key_dim"] == 3 and set(doc["best"]) == {"linear", "deltanet"}
    assert [r for r in doc["results"] if r["mixer"] == "linear"] == before
    # the options of a mixer the file holds runs of must still agree
    assert main(extended + ["--out", str(out), "--resume", "--linear-features", "5"]) == 2
    assert "differs in linear" in capsys.readouterr().err


@pytest.mark.parametrize("flow, expected", [([], None), (["--flow"], 1e-3), (["--flow", "0.02"], 0.02)])
def test_cli_flow_takes_an_optional_initial_step(tmp_path, flow, expected):
    out = tmp_path / "f.json"
    args = ["train-recall", "--mixers", "smt", "--steps", "1", "--batch-size", "2", "--test-examples", "2",
            "--d-model", "16", "--layers", "1", "--train-slices", "16:2", "--no-progress", "--out", str(out)]
    assert main(args[:3] + flow + args[3:]) == 0  # an option after a bare --flow is not taken as its value
    assert json.loads(out.read_text())["config"]["smt"]["flow_dt"] == expected


@pytest.mark.parametrize("bad", ["0", "-0.001", "nan"])
def test_cli_flow_refuses_a_non_positive_step(bad, capsys):
    assert main(["train-recall", "--mixers", "smt", "--flow", bad, "--steps", "1", "--no-progress"]) == 2
    assert "--flow: the initial flow step DT must be a finite number > 0" in capsys.readouterr().err
