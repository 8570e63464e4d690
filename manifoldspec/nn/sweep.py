"""Learning-rate × seed sweeps of :func:`train_recall`, and the best-LR summary.

NN_ANCHORS.md §1.2: recurrent and SSM mixers train only in a narrow learning-rate window while
softmax attention is robust to it, so a recall comparison at one learning rate favours whichever
mixer that rate happens to suit. Zoology reports, per mixer, the best of four learning rates. We
do the same and also keep the spread over seeds.

Selection rule (:func:`best_learning_rates`): for each mixer, the learning rate with the highest
accuracy averaged over the test slices and then over seeds. Like Zoology, this selects on the
evaluation slices, so the best-LR number is an optimistic estimate; every run is kept in the
records so the whole grid can be shown.
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


def _run_one(mixer, cfg, threads):
    """One training run, as a plain record (no model), so that it can come back from a worker process."""
    import torch

    from .train import train_recall
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        r = train_recall(mixer, cfg, progress=False)
    finally:  # in-process runs must not change the caller's thread count
        torch.set_num_threads(before)
    return {"mixer": mixer, "lr": cfg.lr, "seed": cfg.seed, "accuracy": r["accuracy"], "losses": r["losses"],
            "state_size": r["state_size"], "params": r["params"], "seconds": r["seconds"]}


def sweep_recall(mixers, cfg, lrs, seeds=(0,), *, jobs: int = 1, threads: int | None = None, on_result=None) -> list:
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

    Returns
    -------
    list of dict, one per run, in (mixer, lr, seed) order, with keys ``mixer``, ``lr``, ``seed``,
    ``accuracy`` {(L, N): acc}, ``losses``, ``state_size``, ``params``, ``seconds``.
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
    if jobs == 1:
        out = []
        for m, c in tasks:
            out.append(_run_one(m, c, threads))
            if on_result is not None:
                on_result(out[-1])
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    # spawn, not fork: a forked child inherits torch's thread pools in an undefined state
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks), os.cpu_count() or jobs),
                             mp_context=mp.get_context("spawn")) as pool:
        futs = {pool.submit(_run_one, m, c, threads): i for i, (m, c) in enumerate(tasks)}
        out = [None] * len(tasks)
        for f in as_completed(futs):
            out[futs[f]] = f.result()
            if on_result is not None:
                on_result(out[futs[f]])
    return out


def best_learning_rates(records: list) -> dict:
    """Per mixer, the learning rate whose slice-averaged accuracy, averaged over seeds, is highest.

    Parameters
    ----------
    records : list of run records from :func:`sweep_recall`

    Returns
    -------
    dict mixer → {"lr", "score" (mean over seeds of the slice-mean accuracy), "seeds" (tuple),
    "mean" {(L, N): mean over seeds}, "min" {(L, N): …}, "max" {(L, N): …}, "by_lr" {lr: score}}.
    Ties go to the smaller learning rate. Raises if a run's accuracy is not finite.
    """
    if not records:
        raise ManifoldSpecError("records: empty; run sweep_recall first")
    groups: dict = {}
    for r in records:
        accs = list(r["accuracy"].values())
        if not accs or not all(math.isfinite(a) for a in accs):
            raise ManifoldSpecError(f"records: run {r['mixer']} lr={r['lr']} seed={r['seed']} has accuracy {r['accuracy']}")
        groups.setdefault(r["mixer"], {}).setdefault(r["lr"], []).append(r)
    out = {}
    for mixer, by_lr in groups.items():
        score = {lr: sum(sum(r["accuracy"].values()) / len(r["accuracy"]) for r in runs) / len(runs)
                 for lr, runs in by_lr.items()}
        lr = min(score, key=lambda x: (-score[x], x))
        runs = by_lr[lr]
        slices = list(runs[0]["accuracy"])
        out[mixer] = {"lr": lr, "score": score[lr], "seeds": tuple(r["seed"] for r in runs),
                      "mean": {s: sum(r["accuracy"][s] for r in runs) / len(runs) for s in slices},
                      "min": {s: min(r["accuracy"][s] for r in runs) for s in slices},
                      "max": {s: max(r["accuracy"][s] for r in runs) for s in slices},
                      "by_lr": dict(sorted(score.items()))}
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
