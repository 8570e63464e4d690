"""Train SMT, softmax attention and linear attention on MQAR (CPU, a few minutes) and plot recall.

    python examples/train_mqar.py --steps 800 --plot mqar.png

Same as ``manifoldspec train-recall``; this script shows the Python API.
"""
import argparse

import torch

from manifoldspec.nn import TrainConfig, train_recall
from manifoldspec.nn.train import plot_recall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--plot", default="mqar.png")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig(vocab_size=64, train_slices=((64, 4), (64, 8)), test_slices=((64, 4), (64, 8)),
                      steps=args.steps, batch_size=32, smt={"n_modes": 5, "latent_dim": 2, "flow_dt": None})
    results = [train_recall(m, cfg) for m in ("softmax", "smt", "linear")]
    for r in results:
        print(r["mixer"], {f"L={L},N={N}": round(a, 3) for (L, N), a in r["accuracy"].items()}, "state", r["state_size"])
    plot_recall(results, args.plot)


if __name__ == "__main__":
    main()
