"""Which part of the Mamba-2 mixer slows MQAR learning? ``gate="mamba2"`` with one ingredient removed at a time.

    python benchmarks/mamba2_ablation.py --lr 1e-2 --seeds 0,1,2 --out benchmarks/results/mqar/ablation/n2_mamba2.json

``gate="mamba2"`` differs from ``gate="scalar"`` in four ways (manifoldspec.nn.gla): the write is scaled by the step
Δ_t, a D skip, the silu(z) output gate, and an unscaled q. Each variant switches one of them back, by patching the
layer after it is built (an experiment, not an API: the patches reach into the layer's parameters and its ``step``):

* ``no-write-step``: k_t is not multiplied by Δ_t (the decay still uses Δ_t);
* ``no-skip``: D ≡ 0, not trained;
* ``no-gate``: silu(z_t) replaced by 1 (z_proj zeroed and frozen, and the gate made the identity);
* ``full``: gate="mamba2" as it is.

Same harness and data as ``manifoldspec train-recall`` (V = 64, (64, 4) + (64, 8), 800 steps); prints the
slice-mean test accuracy per variant and seed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

VARIANTS = ("full", "no-write-step", "no-skip", "no-gate")


@contextlib.contextmanager
def variant(name):
    """Patch GatedLinearAttention for one variant while models are built and trained."""
    import torch

    import manifoldspec.nn.gla as gla

    cls, saved = gla.GatedLinearAttention, {}
    if name == "no-write-step":
        real = cls.forward

        def forward(self, x, *a, **k):
            step = self.step
            calls = []

            def once(x_):  # the first call sets the decay; the second, the write scale, returns ones
                calls.append(1)
                return step(x_) if len(calls) == 1 else torch.ones_like(step(x_))
            self.step = once
            try:
                return real(self, x, *a, **k)
            finally:
                del self.step
        saved["forward"] = cls.forward
        cls.forward = forward
    elif name in ("no-skip", "no-gate"):
        real_init = cls.__init__

        def init(self, *a, **k):
            real_init(self, *a, **k)
            if self.gate != "mamba2":
                return
            if name == "no-skip":
                self.D.data.zero_()
                self.D.requires_grad_(False)
            else:
                self.z_proj.weight.data.zero_()
                self.z_proj.bias.data.fill_(50.0)  # silu(50) = 50·(1 − 2e-22): a constant the RMSNorm removes
                self.z_proj.requires_grad_(False)
        saved["__init__"] = cls.__init__
        cls.__init__ = init
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(cls, k, v)


def main(argv=None):
    from manifoldspec.nn import TrainConfig, train_recall

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", metavar="FILE", help="JSON of every run (refused if it exists)")
    a = ap.parse_args(argv)
    if a.out and Path(a.out).exists():
        ap.error(f"--out: {a.out!r} exists")
    names = [v for v in a.variants.split(",") if v]
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        ap.error(f"--variants: expected names from {VARIANTS}, got {bad}")
    cfg = TrainConfig(test_slices=((64, 4), (64, 8), (128, 16)), test_examples=512, lr=a.lr,
                      gla={"key_dim": 6, "gate": "mamba2"})
    rows = []
    for name in names:
        for seed in (int(s) for s in a.seeds.split(",")):
            with variant(name):
                r = train_recall("gla", replace(cfg, seed=seed), progress=False)
            acc = float(np.mean(list(r["accuracy"].values())))
            rows.append({"variant": name, "seed": seed, "lr": a.lr, "slice_mean": acc,
                         "accuracy": {f"{L}:{N}": v for (L, N), v in r["accuracy"].items()}})
            print(f"{name:<14} seed {seed}: slice mean {acc:.3f}  ({', '.join(f'{v:.3f}' for v in r['accuracy'].values())})",
                  flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
