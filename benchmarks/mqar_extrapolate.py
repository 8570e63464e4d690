"""Recall beyond the training slices: MQAR accuracy of trained checkpoints at longer sequences and more pairs.

    manifoldspec train-recall --mixers gla --gla-key-dim 6 --lr 1e-2 --seed 6 --test-slices 64:4,64:8,128:16 \\
        --save-models models/gla_s6
    python benchmarks/mqar_extrapolate.py models/*/*.pt --out extrapolate.json --plot extrapolate.png

A recurrent mixer keeps a fixed state, so it must lose recall once a prompt holds more pairs than that state
can separate; the question is where, and whether a longer prompt at the same load costs anything too. The
default slices (V the checkpoint's vocabulary, training on (64, 4) and (64, 8) in our protocol):

* **length** at the training load N = 8: L = 64, 128, 256, 512, 1024 (the query gaps grow with L);
* **load** at L = 128: N = 4, 8, 16, 24 and V/2 − 1 (every key of the vocabulary), capped by 4N ≤ L.

Every checkpoint is evaluated on the same examples (``evaluate_recall``'s test set, ``--test-examples`` per
slice). Runs are grouped by configuration (mixer, its options, state size); a group's cells are the mean
[min, max] over its checkpoints (seeds). Prints both tables; ``--out`` keeps every number as JSON.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from plot_recall_state import _label

LENGTHS, LOAD_L = (64, 128, 256, 512, 1024), 128


def default_slices(vocab: int) -> dict:
    """{"length": [(L, 8)], "load": [(128, N)]} for a vocabulary of ``vocab`` tokens (keys in [1, V/2), so N ≤ V/2 − 1;
    a vocabulary below 18 lowers the length axis's N to V/2 − 1)."""
    top = min(vocab // 2 - 1, LOAD_L // 4)
    loads = sorted({n for n in (4, 8, 16, 24, top) if n <= top})
    return {"length": [(L, min(8, top)) for L in LENGTHS], "load": [(LOAD_L, n) for n in loads]}


def evaluate(path, slices, test_examples: int, warp: bool = True) -> dict:
    """Accuracy of one checkpoint on ``slices`` [(L, N)]: mixer, label, seed, lr, state size and {(L, N): acc}.
    ``warp=False`` switches every SMT layer's token warp off at inference (α ≡ 0, H ≡ 0; the label says so)."""
    from manifoldspec.nn import SpectralManifoldAttention, evaluate_recall, load_recall_model

    model, mixer, cfg = load_recall_model(path)
    if cfg.task != "mqar":
        raise SystemExit(f"{path}: trained on {cfg.task!r}; this script measures MQAR checkpoints")
    label = _label(mixer, cfg)
    if mixer == "smt" and cfg.smt.get("flow_dt") is not None:  # the state size alone would not tell them apart
        label += f", flow from dt = {cfg.smt['flow_dt']:g}"
    if not warp and mixer == "smt":
        for blk in model.blocks:
            if isinstance(blk.mixer, SpectralManifoldAttention):
                blk.mixer.warp = False
        label += ", warp off at inference"
    acc = evaluate_recall(model, replace(cfg, test_slices=tuple(slices), test_examples=test_examples))
    return {"path": str(path), "mixer": mixer, "label": label, "seed": cfg.seed, "lr": cfg.lr,
            "vocab": cfg.vocab_size, "state": model.state_size(max(L for L, _ in slices)), "accuracy": acc}


def summarise(rows) -> dict:
    """{(label, state): {"seeds": [...], "mean"/"min"/"max": {(L, N): acc}}}, one entry per configuration."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["label"], r["state"])].append(r)
    out = {}
    for key, rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cells = {s: np.array([r["accuracy"][s] for r in rs]) for s in rs[0]["accuracy"]}
        out[key] = {"seeds": sorted(r["seed"] for r in rs), **{f: {s: float(getattr(a, f)()) for s, a in cells.items()}
                                                              for f in ("mean", "min", "max")}}
    return out


def _table(summary, slices, title):
    print(f"\n{title}: mean [min, max] over seeds")
    print(f"{'configuration':<44} {'state':>6} {'seeds':>5} " + " ".join(f"{f'{L}:{N}':>18}" for L, N in slices))
    for (label, state), g in summary.items():
        cells = " ".join(f"{g['mean'][s]:>6.3f} [{g['min'][s]:.2f},{g['max'][s]:.2f}]" for s in slices)
        print(f"{label[:44]:<44} {state:>6} {len(g['seeds']):>5} {cells}")


def plot(summary, axes, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, (name, slices), x_of, xlabel in zip(panels, axes.items(), (lambda s: s[0], lambda s: s[1]),
                                                (f"sequence length L (N = {axes['length'][0][1]} pairs)", f"pairs N (L = {LOAD_L})")):
        x = [x_of(s) for s in slices]
        for (label, state), g in summary.items():
            mean = [g["mean"][s] for s in slices]
            line, = ax.plot(x, mean, "o-", ms=3, label=f"{label} ({state})")
            ax.fill_between(x, [g["min"][s] for s in slices], [g["max"][s] for s in slices], color=line.get_color(),
                            alpha=0.12, lw=0)
        if name == "length":  # the training slices: L = 64, N ≤ 8
            ax.axvline(64, color="0.6", ls="--", lw=1, zorder=0)
        else:
            ax.axvspan(min(x), 8, color="0.88", zorder=0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(v) for v in x])
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    panels[0].set_ylabel("MQAR accuracy (mean over seeds, band: range)")
    panels[0].set_ylim(0, 1.02)
    panels[1].legend(fontsize=7, loc="lower left")
    fig.suptitle("Recall beyond the training slices (trained on L = 64 with N = 4 and 8: dashed line, grey band)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    print(f"plot written to {path}")


def main(argv=None):
    from manifoldspec import ManifoldSpecError
    from manifoldspec.cli.outputs import check_outputs, write_text_atomic

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", help="files written by train-recall --save-models (MQAR)")
    ap.add_argument("--test-examples", type=int, default=256, help="examples per slice (default 256)")
    ap.add_argument("--out", metavar="FILE", help="write every checkpoint's accuracies as JSON (refused if it exists)")
    ap.add_argument("--plot", metavar="FILE", help="accuracy against length and against load, per configuration")
    ap.add_argument("--warp-off", action="store_true",
                    help="also evaluate every SMT checkpoint with its token warp switched off at inference")
    a = ap.parse_args(argv)
    if a.test_examples < 1:
        ap.error(f"--test-examples: must be a positive integer, got {a.test_examples}")
    try:  # the CLI's checks: a writable directory, a .json --out, a --plot suffix matplotlib writes
        check_outputs(argparse.Namespace(out=a.out, plot=a.plot, output_files=("out", "plot"), out_suffixes=(".json",)))
    except ManifoldSpecError as exc:
        ap.error(str(exc))
    if a.out and Path(a.out).exists():
        ap.error(f"--out: {a.out!r} exists; choose another name (results are never overwritten)")
    from manifoldspec.nn import load_recall_model

    vocab = {load_recall_model(p)[2].vocab_size for p in a.checkpoints}
    if len(vocab) != 1:
        ap.error(f"checkpoints: trained with different vocabularies {sorted(vocab)}; compare one at a time")
    axes = default_slices(vocab.pop())
    slices = list(dict.fromkeys(axes["length"] + axes["load"]))
    rows = []
    for i, p in enumerate(a.checkpoints, 1):
        for warp in (True, False):
            if not warp and not (a.warp_off and rows[-1]["mixer"] == "smt"):
                break
            rows.append(evaluate(p, slices, a.test_examples, warp))
            print(f"[{i}/{len(a.checkpoints)}]{'' if warp else ' warp off'} {p}: "
                  + ", ".join(f"{L}:{N} {v:.3f}" for (L, N), v in rows[-1]["accuracy"].items()), flush=True)
    summary = summarise(rows)
    _table(summary, axes["length"], f"length at N = {axes['length'][0][1]}")
    _table(summary, axes["load"], f"load at L = {LOAD_L}")
    if a.out:
        doc = [{**r, "accuracy": {f"{L}:{N}": v for (L, N), v in r["accuracy"].items()}} for r in rows]
        write_text_atomic(a.out, json.dumps({"test_examples": a.test_examples, "runs": doc}, indent=1))
        print(f"results written to {a.out}")
    if a.plot:
        plot(summary, axes, a.plot)
    return summary


if __name__ == "__main__":
    main()
