"""Merge ``manifoldspec train-recall --out`` JSON files of learning-rate sweeps and print the tables.

    python benchmarks/mqar_sweep_table.py sweep_a.json sweep_b.json [--plot sweep.png]

Each run of a sweep is independent and reproducible on its own (tests/test_nn_sweep.py), so
sweeps over different learning rates of the same configuration merge into one grid. Prints the
slice-mean accuracy per (mixer, learning rate) as mean [min, max] over seeds, then the best
learning rate per mixer (``manifoldspec.nn.sweep.best_learning_rates``: chosen on the validation set,
or on the test set for files written before it existed) with per-slice figures.
"""
from __future__ import annotations

import argparse
import sys


def load(paths):
    """Records of all files, with (L, N) tuple keys; refuses files whose configurations differ."""
    from manifoldspec import ManifoldSpecError
    from manifoldspec.cli.recall_files import read_runs

    records, config = [], None
    for path in paths:
        try:
            cfg, runs, partial = read_runs(path)
        except ManifoldSpecError as exc:
            sys.exit(str(exc))
        if partial:
            print(f"note: {path} is partial (an interrupted sweep; continue it with train-recall --resume)",
                  file=sys.stderr)
        if config is None:
            config = cfg
        elif cfg != config:
            diff = sorted(k for k in set(cfg) | set(config) if cfg.get(k) != config.get(k))
            sys.exit(f"{path}: configuration differs from {paths[0]} in {diff}; not merging")
        records += runs
    keys = [(r["mixer"], r["lr"], r["seed"]) for r in records]
    if len(set(keys)) != len(keys):
        sys.exit("the files share (mixer, lr, seed) runs; not merging")
    return records, config


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="JSON files written by train-recall --out")
    ap.add_argument("--plot", default=None, help="write accuracy against learning rate to this image")
    a = ap.parse_args(argv)
    from manifoldspec.nn.sweep import best_learning_rates, plot_sweep, spread_cells

    records, config = load(a.files)
    mixers = list(dict.fromkeys(r["mixer"] for r in records))
    lrs = sorted({r["lr"] for r in records})
    print(f"{len(records)} runs; steps {config['steps']} × batch {config['batch_size']}, V = {config['vocab_size']}")
    print("\nslice-mean accuracy per learning rate: mean [min, max] over seeds")
    print(f"{'lr':>8} " + " ".join(f"{m:>21}" for m in mixers))
    for lr in lrs:
        cells = []
        for m in mixers:
            s = [sum(r["accuracy"].values()) / len(r["accuracy"]) for r in records if r["mixer"] == m and r["lr"] == lr]
            cells.append(f"{sum(s) / len(s):.3f} [{min(s):.3f},{max(s):.3f}]" if s else "-")
        print(f"{lr:>8.0e} " + " ".join(f"{c:>21}" for c in cells))
    best = best_learning_rates(records)
    slices = list(next(iter(best.values()))["mean"])
    on = next(iter(best.values()))["selected_on"]
    print(f"\nbest learning rate per mixer, chosen on the {on} set; cells: test accuracy, mean [min, max] over seeds")
    print(f"{'mixer':<8} {'best lr':>8} " + " ".join(f"{f'L={L},N={N}':>19}" for L, N in slices) + f" {'seconds/run':>12}")
    for m, b in best.items():
        secs = [r["seconds"] for r in records if r["mixer"] == m and r["lr"] == b["lr"]]
        print(f"{m:<8} {b['lr']:>8.0e} {spread_cells(b)} {sum(secs) / len(secs):>12.0f}")
    if a.plot:
        plot_sweep(records, a.plot)
        print(f"plot written to {a.plot}")


if __name__ == "__main__":
    main()
