"""Train SMT, softmax attention and linear attention on MQAR (CPU, a few minutes) and plot recall.

    python examples/train_mqar.py --steps 800 --plot mqar.png
    python examples/train_mqar.py --lrs 3e-4,1e-3,3e-3,1e-2 --seeds 0,1 --jobs 2 --plot sweep.png
    python examples/train_mqar.py --lrs 1e-3,3e-3,1e-2 --seeds 0,1 --confirm-seeds 2,3 --jobs 2
    python examples/train_mqar.py --base sphere --mixers smt,deltanet --lrs 1e-2,3e-2 --plot sphere.png

Same as ``manifoldspec train-recall``; this script shows the Python API. With ``--lrs`` it sweeps
learning rates and seeds (NN_ANCHORS.md §1.2: recurrent mixers need an LR sweep) and prints the
best learning rate of each mixer (chosen on the validation set, reported on the test set); with
``--confirm-seeds`` it trains that rate again with seeds the choice did not see and prints their accuracy,
an unbiased estimate (benchmarks/results/nn.md §3n shows how much the chosen seeds' number can flatter).
"""
import argparse

import torch

from manifoldspec.nn import TrainConfig, best_learning_rates, held_out_accuracy, sweep_recall, train_recall
from manifoldspec.nn.sweep import plot_sweep
from manifoldspec.nn.train import plot_recall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--plot", default="mqar.png")
    ap.add_argument("--lrs", default=None, help="comma-separated learning rates to sweep (default: one run at 3e-3)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds for the sweep")
    ap.add_argument("--jobs", type=int, default=1, help="parallel training processes for the sweep")
    ap.add_argument("--confirm-seeds", default=None,
                    help="comma-separated seeds, not in --seeds, to train each mixer's chosen rate again with")
    ap.add_argument("--base", choices=("torus", "sphere"), default="torus",
                    help="SMT base manifold: T² with K = 5 modes, or S² with K = 4 harmonics (l ≤ 1)")
    ap.add_argument("--mixers", default="softmax,smt,linear", help="comma-separated: softmax, smt, linear, deltanet, gla "
                    "(gla: GLA's vector gate, key_dim 6 like DeltaNet)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig(vocab_size=64, train_slices=((64, 4), (64, 8)), test_slices=((64, 4), (64, 8)),
                      steps=args.steps, batch_size=32,
                      smt={"n_modes": 5, "latent_dim": 2, "flow_dt": None} if args.base == "torus" else
                      {"n_modes": 4, "base": "sphere"}, deltanet={"key_dim": 6},
                      gla={"key_dim": 6, "gate": "vector"})
    mixers = tuple(m for m in args.mixers.split(",") if m)
    if args.lrs is None:
        results = [train_recall(m, cfg) for m in mixers]
        for r in results:
            print(r["mixer"], {f"L={L},N={N}": round(a, 3) for (L, N), a in r["accuracy"].items()}, "state", r["state_size"])
        plot_recall(results, args.plot)
        return
    lrs = [float(x) for x in args.lrs.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    def done(r):
        print(f"  done: {r['mixer']} lr={r['lr']:g} seed={r['seed']}", flush=True)

    records = sweep_recall(mixers, cfg, lrs, seeds, jobs=args.jobs, on_result=done)
    plot_sweep(records, args.plot)
    best = best_learning_rates(records)
    for mixer, b in best.items():
        print(mixer, "best lr", b["lr"], {f"L={L},N={N}": round(a, 3) for (L, N), a in b["mean"].items()},
              "score by lr", {f"{lr:g}": round(s, 3) for lr, s in b["by_lr"].items()})
    if args.confirm_seeds:
        confirm = [int(x) for x in args.confirm_seeds.split(",")]
        for mixer, b in best.items():
            records += sweep_recall([mixer], cfg, [b["lr"]], confirm, jobs=args.jobs, on_result=done)
        for mixer, h in held_out_accuracy(records, seeds).items():
            print(mixer, "held-out seeds", h["seeds"], "score", round(h["score"], 3),
                  "(the choosing seeds scored", round(h["selected_score"], 3), "at that rate)")


if __name__ == "__main__":
    main()
