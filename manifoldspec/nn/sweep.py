"""Learning-rate × seed sweeps of :func:`train_recall`, and the best-LR summary.

NN_ANCHORS.md §1.2: recurrent and SSM mixers train only in a narrow learning-rate window while
softmax attention is robust to it, so a recall comparison at one learning rate favours whichever
mixer that rate happens to suit. Zoology reports, per mixer, the best of four learning rates. We
do the same and also keep the spread over seeds.

Selection rule (:func:`best_learning_rates`): for each mixer, the learning rate with the highest
accuracy averaged over the slices and then over seeds, on the *validation* set (other examples of the
same slices, ``train_recall``'s ``validation``); the reported accuracy is the test set's at that rate.
Records written before the validation set existed have only test accuracies; they are selected on
the test set, as Zoology does, and the result says so (``selected_on``).

Selecting on validation examples removes the example noise from the reported number but not the seed
noise: the chosen rate is still the one whose seeds happened to do well. :func:`held_out_accuracy`
removes that too, by choosing the rate on some seeds and reporting runs at that rate with other seeds.
Every run is kept in the records so the whole grid can be shown.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os

from .._checks import ManifoldSpecError, positive_int, positive_scalar


def _grid(values, name, check):
    vals = tuple(values)
    if not vals:
        raise ManifoldSpecError(f"{name}: need at least one value")
    vals = tuple(check(v, name) for v in vals)
    if len(set(vals)) != len(vals):
        raise ManifoldSpecError(f"{name}: values must be distinct, got {vals}")
    return vals


def _nonneg_int(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
        raise ManifoldSpecError(f"{name}: expected non-negative integers, got {v!r}")
    return int(v)


def _run_one(mixer, cfg, threads, save_dir=None):
    """One training run, as a plain record (no model), so that it can come back from a worker process; the
    model is saved in the worker when ``save_dir`` is given."""
    import torch

    from .train import train_recall
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        r = train_recall(mixer, cfg, progress=False)
    finally:  # in-process runs must not change the caller's thread count
        torch.set_num_threads(before)
    if save_dir is not None:
        from .checkpoint import checkpoint_name, save_recall_model
        save_recall_model(r["model"], mixer, cfg, os.path.join(save_dir, checkpoint_name(mixer, cfg.lr, cfg.seed)))
    return {"mixer": mixer, "lr": cfg.lr, "seed": cfg.seed, "accuracy": r["accuracy"], "validation": r["validation"],
            "losses": r["losses"], "state_size": r["state_size"], "params": r["params"], "seconds": r["seconds"]}


def sweep_recall(mixers, cfg, lrs, seeds=(0,), *, jobs: int = 1, threads: int | None = None, on_result=None,
                 existing=None, save_dir=None) -> list:
    """Train every (mixer, learning rate, seed) combination of ``cfg`` on MQAR.

    Parameters
    ----------
    mixers : sequence of str          mixers of :data:`manifoldspec.nn.models.MIXERS`
    cfg : TrainConfig                 everything but ``lr`` and ``seed``, which the sweep sets
    lrs : sequence of float > 0       peak learning rates
    seeds : sequence of int ≥ 0       seeds (model init and data)
    jobs : int ≥ 1                    worker processes (spawned; each trains one run at a time)
    threads : int, optional           torch CPU threads per run (default: 1 when ``jobs`` > 1, else torch's choice)
    on_result : callable, optional    called with each run record as it finishes (progress reporting)
    existing : list of run records, optional
        runs already done with this ``cfg`` (an interrupted sweep, read back from its JSON): a (mixer, lr,
        seed) found there is taken from it and not trained again, nor passed to ``on_result``
    save_dir : path, optional         an existing directory: each trained model is saved there as
        :func:`~manifoldspec.nn.checkpoint.checkpoint_name` (load it with ``load_recall_model``)

    Returns
    -------
    list of dict, one per run, in (mixer, lr, seed) order, with keys ``mixer``, ``lr``, ``seed``,
    ``accuracy`` {(L, N): acc} (test set), ``validation`` {(L, N): acc}, ``losses``, ``state_size``, ``params``,
    ``seconds``.
    A run equals ``train_recall(mixer, replace(cfg, lr=lr, seed=seed))`` run with the same torch thread count
    (bitwise on one machine, in this process or a worker).
    """
    from .models import MIXERS
    mixers = tuple(mixers)
    bad = [m for m in mixers if m not in MIXERS]
    if bad or not mixers:
        raise ManifoldSpecError(f"mixers: expected a non-empty subset of {tuple(MIXERS)}, got {mixers!r}")
    lrs = _grid(lrs, "lrs", positive_scalar)
    seeds = _grid(seeds, "seeds", _nonneg_int)
    jobs = positive_int(jobs, "jobs")
    if threads is None and jobs > 1:
        threads = 1  # jobs processes × torch's default threads would oversubscribe the cores
    tasks = [(m, dataclasses.replace(cfg, lr=lr, seed=s)) for m in mixers for lr in lrs for s in seeds]
    done = {(r["mixer"], float(r["lr"]), int(r["seed"])): r for r in (existing or ())}
    out = [done.get((m, float(c.lr), c.seed)) for m, c in tasks]
    todo = [i for i, r in enumerate(out) if r is None]
    if jobs == 1 or len(todo) <= 1:
        for i in todo:
            out[i] = _run_one(*tasks[i], threads, save_dir)
            if on_result is not None:
                on_result(out[i])
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    # spawn, not fork: a forked child inherits torch's thread pools in an undefined state
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo), os.cpu_count() or jobs),
                             mp_context=mp.get_context("spawn")) as pool:
        futs = {pool.submit(_run_one, *tasks[i], threads, save_dir): i for i in todo}
        for f in as_completed(futs):
            out[futs[f]] = f.result()
            if on_result is not None:
                on_result(out[futs[f]])
    return out


SELECT_ON = ("validation", "test")


def _slice_mean(acc: dict) -> float:
    return sum(acc.values()) / len(acc)


def _check_finite(r, key):
    accs = list(r[key].values())
    if not accs or not all(math.isfinite(a) for a in accs):
        raise ManifoldSpecError(f"records: run {r['mixer']} lr={r['lr']} seed={r['seed']} has {key} {r[key]}")


def _spread(runs) -> dict:
    """Test accuracy of ``runs`` per slice: mean, min and max over the runs."""
    slices = list(runs[0]["accuracy"])
    return {"mean": {s: sum(r["accuracy"][s] for r in runs) / len(runs) for s in slices},
            "min": {s: min(r["accuracy"][s] for r in runs) for s in slices},
            "max": {s: max(r["accuracy"][s] for r in runs) for s in slices}}


def best_learning_rates(records: list, select_on: str | None = None) -> dict:
    """Per mixer, the learning rate whose slice-averaged accuracy, averaged over seeds, is highest.

    Parameters
    ----------
    records : list of run records from :func:`sweep_recall`
    select_on : {"validation", "test"}, optional
        the held-out set the rate is chosen on (default: "validation" when every record has a
        ``validation`` entry, else "test", for records written before it existed)

    Returns
    -------
    dict mixer → {"lr", "score" (mean over seeds of the slice-mean *test* accuracy at that rate),
    "selected_on", "seeds" (tuple), "mean" {(L, N): mean over seeds of the test accuracy},
    "min" {(L, N): …}, "max" {(L, N): …}, "by_lr" {lr: test score}, "selection_by_lr" {lr: the score
    the rate was chosen by}}. Ties go to the smaller learning rate. Raises if an accuracy is not finite.
    """
    if not records:
        raise ManifoldSpecError("records: empty; run sweep_recall first")
    if select_on is None:
        select_on = "validation" if all("validation" in r for r in records) else "test"
    if select_on not in SELECT_ON:
        raise ManifoldSpecError(f"select_on: expected one of {SELECT_ON}, got {select_on!r}")
    key = "accuracy" if select_on == "test" else "validation"
    groups: dict = {}
    for r in records:
        if key not in r:
            raise ManifoldSpecError(f"records: run {r['mixer']} lr={r['lr']} seed={r['seed']} has no validation "
                                    "accuracy (written before it existed); use select_on='test'")
        _check_finite(r, "accuracy")
        _check_finite(r, key)
        groups.setdefault(r["mixer"], {}).setdefault(r["lr"], []).append(r)
    out = {}
    for mixer, by_lr in groups.items():
        test = {lr: sum(_slice_mean(r["accuracy"]) for r in runs) / len(runs) for lr, runs in by_lr.items()}
        chosen = {lr: sum(_slice_mean(r[key]) for r in runs) / len(runs) for lr, runs in by_lr.items()}
        lr = min(chosen, key=lambda x: (-chosen[x], x))
        runs = by_lr[lr]
        out[mixer] = {"lr": lr, "score": test[lr], "selected_on": select_on, "seeds": tuple(r["seed"] for r in runs),
                      **_spread(runs), "by_lr": dict(sorted(test.items())), "selection_by_lr": dict(sorted(chosen.items()))}
    return out


def held_out_accuracy(records: list, selection_seeds, select_on: str | None = None) -> dict:
    """Per mixer, the test accuracy at the best learning rate of *other* seeds: an unbiased estimate.

    The rate is chosen by :func:`best_learning_rates` on the runs whose seed is in ``selection_seeds``;
    the reported accuracy is that of the runs at the chosen rate with any other seed. Those runs never
    took part in the choice, so neither example noise nor seed noise inflates the number.

    Parameters
    ----------
    records : list of run records (one configuration per mixer name)
    selection_seeds : iterable of int   seeds the rate is chosen on
    select_on : passed to :func:`best_learning_rates`

    Returns
    -------
    dict mixer → {"lr", "selected_score" (the selection seeds' test score at that rate, which the choice
    inflates), "selection_seeds", "selected_on", "score" (mean over the held-out seeds of the slice-mean
    test accuracy), "seeds" (the held-out seeds), "by_seed" {seed: slice-mean test accuracy}, "mean", "min",
    "max" {(L, N): …} over the held-out seeds}.
    Raises if a mixer has no held-out run at its chosen rate, saying which runs to add.
    """
    chosen_seeds = set(selection_seeds)
    picked = [r for r in records if r["seed"] in chosen_seeds]
    if not picked:
        raise ManifoldSpecError(f"selection_seeds: no record has a seed in {sorted(chosen_seeds)}")
    out = {}
    for mixer, b in best_learning_rates(picked, select_on).items():
        held = [r for r in records if r["mixer"] == mixer and r["lr"] == b["lr"] and r["seed"] not in chosen_seeds]
        if not held:
            raise ManifoldSpecError(f"records: no run of {mixer} at its selected lr {b['lr']:g} with a seed outside "
                                    f"{sorted(chosen_seeds)}; train some (train-recall --lr {b['lr']:g} --seed ...)")
        for r in held:
            _check_finite(r, "accuracy")
        out[mixer] = {"lr": b["lr"], "selected_score": b["score"], "selection_seeds": b["seeds"],
                      "selected_on": b["selected_on"], "score": sum(_slice_mean(r["accuracy"]) for r in held) / len(held),
                      "seeds": tuple(r["seed"] for r in held), "by_seed": {r["seed"]: _slice_mean(r["accuracy"]) for r in held},
                      **_spread(held)}
    return out


def spread_cells(best: dict, width: int = 19) -> str:
    """One :func:`best_learning_rates` entry as table cells "mean [min,max]", one per test slice."""
    return " ".join(f"{best['mean'][s]:.3f} [{best['min'][s]:.3f},{best['max'][s]:.3f}]".rjust(width)
                    for s in best["mean"])


def plot_sweep(records: list, path: str) -> None:
    """Slice-averaged accuracy against learning rate per mixer (mean over seeds, min–max band), to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for mixer in dict.fromkeys(r["mixer"] for r in records):
        by_lr: dict = {}
        for r in records:
            if r["mixer"] == mixer:
                by_lr.setdefault(r["lr"], []).append(sum(r["accuracy"].values()) / len(r["accuracy"]))
        lrs = sorted(by_lr)
        mean = [sum(by_lr[x]) / len(by_lr[x]) for x in lrs]
        line, = ax.plot(lrs, mean, "o-", label=mixer)
        ax.fill_between(lrs, [min(by_lr[x]) for x in lrs], [max(by_lr[x]) for x in lrs], color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("peak learning rate")
    ax.set_ylabel("MQAR accuracy (mean over test slices)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
