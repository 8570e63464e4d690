"""MQAR recall against recurrent state size (NN_ANCHORS T2, Based's Fig. 2 axes), from the sweep JSONs.

    python benchmarks/plot_recall_state.py benchmarks/results/mqar/*.json benchmarks/results/mqar/heldout/*.json \
        --plot docs/img/mqar_recall_state.png

Runs are grouped by (vocabulary, mixer, the mixer's configuration). Only the main protocol is kept:
MQAR, 800 steps, test slices (64, 4), (64, 8), (128, 16), and for SMT the content positions, the warp on
and no flow (the ablations have their own tables in benchmarks/results/nn.md).

Each group's filled point is its best learning rate (``best_learning_rates``: highest slice-mean accuracy
averaged over seeds) on its *selection seeds*, the seeds run at every rate of the group; it is drawn at
the model's state size in real scalars (``state_size``, recomputed from the configuration so that every
file counts state the same way), with the seed range as an error bar. That number is optimistic: the
rate was chosen by those same runs. Where the group also has runs at the chosen rate with other seeds,
their mean (``held_out_accuracy``, an unbiased estimate) is drawn as a hollow marker beside it.
Softmax attention, whose state is the whole KV cache, is a horizontal line. Prints the table it plots.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

MAIN_SLICES = [[64, 4], [64, 8], [128, 16]]


def _config(doc):
    from manifoldspec.nn.train import TrainConfig

    return TrainConfig.from_plain(doc["config"])


def _label(mixer, cfg):
    if mixer == "smt":
        s = cfg.smt
        base = s.get("base", "torus")
        space = "S²" if base == "sphere" else f"T{'²³⁴⁵⁶⁷⁸'[s.get('latent_dim', 2) - 2]}"
        return f"SMT {space}"
    if mixer == "linear":
        return f"linear attention, {cfg.linear.get('feature_map', 'elu')} features"
    if mixer == "gla":
        return {"vector": "GLA (vector gate)", "scalar": "scalar gate (Mamba-2/SSD recurrence)",
                "mamba2": "Mamba-2 mixer (SSD, Δ-scaled write, D skip, output gate)"}[cfg.gla.get("gate", "vector")]
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
    """{(V, label): [point]}, one point per mixer configuration, sorted by state size.

    A point is a dict: ``state`` (scalars), ``lr`` (the best rate on the selection seeds), ``score``, ``lo``,
    ``hi`` (slice-mean accuracy at that rate: mean, min and max over the selection seeds), ``seeds`` (the
    selection seeds), and ``held`` (``held_out_accuracy``'s entry, or None without runs of other seeds).
    """
    from manifoldspec import ManifoldSpecError
    from manifoldspec.nn.sweep import best_learning_rates, held_out_accuracy
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
    points = defaultdict(list)
    for (V, label, state), recs in runs.items():
        seeds_by_lr = defaultdict(set)
        for r in recs:
            seeds_by_lr[r["lr"]].add(r["seed"])
        chosen = set.intersection(*seeds_by_lr.values()) or {r["seed"] for r in recs}
        picked = [r for r in recs if r["seed"] in chosen]
        (best,) = best_learning_rates(picked).values()  # the selection rule of every other sweep table
        accs = [sum(r["accuracy"].values()) / len(r["accuracy"]) for r in picked if r["lr"] == best["lr"]]
        try:
            (held,) = held_out_accuracy(recs, chosen).values()
        except ManifoldSpecError:  # no run at the chosen rate outside the selection seeds
            held = None
        points[(V, label)].append({"state": state, "lr": best["lr"], "score": best["score"], "lo": min(accs),
                                   "hi": max(accs), "seeds": tuple(sorted(chosen)), "held": held})
    return {k: sorted(v, key=lambda p: p["state"]) for k, v in points.items()}


def _means(held):
    """Slice-mean accuracy of each held-out run."""
    return held["by_seed"].values()


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
                handles[label] = ax.axhline(pts[0]["score"], color="k", ls=":", lw=1)
                continue
            s, m = [p["state"] for p in pts], [p["score"] for p in pts]
            err = [[p["score"] - p["lo"] for p in pts], [p["hi"] - p["score"] for p in pts]]
            handles[label] = ax.errorbar(s, m, yerr=err, color=color, marker=marker, capsize=3, lw=1)
            held = [(p["state"] * 1.06, p["held"]["score"]) for p in pts if p["held"] is not None]
            if held:  # hollow, nudged right of its filled point so that the two stay apart on a log axis
                ax.plot(*zip(*held), ls="none", marker=marker, mfc="none", mec=color, ms=8)
        ax.set_xscale("log")
        ax.set_xlabel("recurrent state (real scalars per sequence)")
        ax.set_ylabel("MQAR accuracy, slice mean (best lr)")
        ax.set_title(f"V = {V}, 800 steps; bars: seed range; hollow: held-out seeds at the chosen rate", fontsize=8)
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
    print(f"{'V':>4} {'mixer':<40} {'state':>6} {'best lr':>8} {'accuracy mean [min, max]':>26} {'seeds':>8}"
          f" {'held-out mean [min, max]':>26} {'seeds':>8}")
    for (V, label), pts in sorted(points.items()):
        for p in pts:
            h = p["held"]
            held = "–".rjust(26) if h is None else (f"{h['score']:.3f} [{min(_means(h)):.3f}, {max(_means(h)):.3f}]".rjust(26)
                                          + f" {','.join(map(str, h['seeds'])):>8}")
            print(f"{V:>4} {label:<40} {p['state']:>6} {p['lr']:>8.0e} {p['score']:>10.3f} [{p['lo']:.3f}, "
                  f"{p['hi']:.3f}] {','.join(map(str, p['seeds'])):>8} {held}")
    if a.plot:
        plot(points, a.plot)
        print(f"wrote {a.plot}")


if __name__ == "__main__":
    main()
