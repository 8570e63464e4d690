"""MQAR recall against recurrent state size (NN_ANCHORS T2, Based's Fig. 2 axes), from the sweep JSONs.

    python benchmarks/plot_recall_state.py benchmarks/results/mqar/*.json --plot docs/img/mqar_recall_state.png

Runs are grouped by (vocabulary, mixer, the mixer's configuration). Only the main protocol is kept:
MQAR, 800 steps, test slices (64, 4), (64, 8), (128, 16), and for SMT the content positions, the warp on
and no flow (the ablations have their own tables in benchmarks/results/nn.md). Each group's point is its
best learning rate (highest slice-mean accuracy averaged over seeds, selected on the test slices as in
Zoology), drawn at the model's state size in real scalars (``state_size``, recomputed from the
configuration so that every file counts state the same way), with the seed range as an error bar.
Softmax attention, whose state is the whole KV cache, is a horizontal line. Prints the table it plots.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from collections import defaultdict

MAIN_SLICES = [[64, 4], [64, 8], [128, 16]]


def _config(doc):
    from manifoldspec.nn.train import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    c = {k: (tuple(tuple(s) for s in v) if k.endswith("slices") else v) for k, v in doc["config"].items() if k in names}
    return TrainConfig(**c)


def _label(mixer, cfg):
    if mixer == "smt":
        s = cfg.smt
        base = s.get("base", "torus")
        space = "S²" if base == "sphere" else f"T{'²³⁴⁵⁶⁷⁸'[s.get('latent_dim', 2) - 2]}"
        return f"SMT {space}"
    if mixer == "linear":
        return f"linear attention, {cfg.linear.get('feature_map', 'elu')} features"
    if mixer == "gla":
        return "GLA (vector gate)" if cfg.gla.get("gate", "vector") == "vector" else "scalar gate (Mamba-2/SSD recurrence)"
    return {"deltanet": "DeltaNet", "softmax": "softmax attention"}[mixer]


def _kept(doc, mixer):
    c = doc["config"]
    if c["steps"] != 800 or c.get("task", "mqar") != "mqar" or c["test_slices"] != MAIN_SLICES:
        return False
    if mixer == "smt":
        s = c["smt"]
        return s.get("warp", True) and s.get("positions", "content") == "content" and s.get("flow_dt") is None
    return True


def collect(paths):
    """{(V, label): [(state scalars, best lr, mean, min, max, seeds)]}, one entry per mixer configuration."""
    from manifoldspec.nn.train import build_model

    runs = defaultdict(list)  # (V, label, state) -> records
    for path in paths:
        with open(path) as fh:
            doc = json.load(fh)
        for r in doc["results"]:
            if not _kept(doc, r["mixer"]):
                continue
            cfg = _config(doc)
            state = 0 if r["mixer"] == "softmax" else build_model(r["mixer"], cfg).state_size(1)
            runs[(cfg.vocab_size, _label(r["mixer"], cfg), state)].append(r)
    from manifoldspec.nn.sweep import best_learning_rates

    points = defaultdict(list)
    for (V, label, state), recs in runs.items():
        (best,) = best_learning_rates(recs).values()  # the selection rule of every other sweep table
        accs = [sum(r["accuracy"].values()) / len(r["accuracy"]) for r in recs if r["lr"] == best["lr"]]
        points[(V, label)].append((state, best["lr"], best["score"], min(accs), max(accs), len(accs)))
    return {k: sorted(v) for k, v in points.items()}


def plot(points, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vocabs = sorted({V for V, _ in points})
    fig, axes = plt.subplots(1, len(vocabs), figsize=(5.5 * len(vocabs), 4.8), squeeze=False)
    labels = sorted({lab for _, lab in points})
    style = {lab: (f"C{i}", "os^vD<>phX*"[i % 11]) for i, lab in enumerate(labels)}  # the same in every panel
    handles = {}
    for ax, V in zip(axes[0], vocabs):
        for (v, label), pts in sorted(points.items()):
            if v != V:
                continue
            color, marker = style[label]
            if label == "softmax attention":
                handles[label] = ax.axhline(pts[0][2], color="k", ls=":", lw=1)
                continue
            s, m, lo, hi = (list(c) for c in zip(*[(p[0], p[2], p[3], p[4]) for p in pts]))
            err = [[a - b for a, b in zip(m, lo)], [b - a for a, b in zip(m, hi)]]
            handles[label] = ax.errorbar(s, m, yerr=err, color=color, marker=marker, capsize=3, lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("recurrent state (real scalars per sequence)")
        ax.set_ylabel("MQAR accuracy, slice mean (best lr)")
        ax.set_title(f"V = {V}, 800 steps; bars: seed range", fontsize=9)
        ax.set_ylim(0, 1.02)
    names = [lab if lab != "softmax attention" else "softmax attention (state: the KV cache)" for lab in handles]
    fig.legend(list(handles.values()), names, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="JSON files written by train-recall --out")
    ap.add_argument("--plot", default=None, help="write the figure to this image")
    a = ap.parse_args(argv)
    points = collect(a.files)
    print(f"{'V':>4} {'mixer':<40} {'state':>6} {'best lr':>8} {'accuracy mean [min, max]':>26} {'seeds':>5}")
    for (V, label), pts in sorted(points.items()):
        for state, lr, m, lo, hi, n in pts:
            print(f"{V:>4} {label:<40} {state:>6} {lr:>8.0e} {m:>10.3f} [{lo:.3f}, {hi:.3f}] {n:>5}")
    if a.plot:
        plot(points, a.plot)
        print(f"wrote {a.plot}")


if __name__ == "__main__":
    main()
