"""Does a trained SMT model use its warp? Measured on checkpoints from ``train-recall --save-models``.

    manifoldspec train-recall --mixers smt --lr 5e-3 --seed 0,1,2 --jobs 2 --test-slices 64:4,64:8,128:16 \\
        --save-models models/torus
    python benchmarks/mqar_warp_usage.py models/torus/*.pt

For each model it prints:

* the test accuracy per slice as trained, and with the warp switched off at inference (α ≡ 0 in every SMT
  layer, so H ≡ 0 and the read-out is the unwarped kernel f(Λ0)): the drop is what the warp contributes
  to recall in that model;
* the warp amplitude α_t by token role (context key, context value, query, filler) per layer, averaged
  over heads and examples of the longest test slice, against its initial value softplus(−2) = 0.127;
* the spectral shift the prompt causes, max_k |λ_k(Λ0 + H_T) − λ0_k| at the end of the sequence
  (``manifoldspec.nn.warped_spectrum``), per layer, mean over examples, and the fraction of examples in which
  that first-order spectrum has an eigenvalue below −0.1 (no metric has a negative one);
* whether that first-order spectrum still describes the prompt's manifold: for the first example, the
  largest relative difference over heads and λ_1 … λ_{K−1} between eig(Λ0 + H_T) and a P2 finite-element
  solve of the metric the prompt induces (``prompt_warps``; 32² torus, level-4 sphere). For layers with the
  flow decay that metric is the flowed one (``prompt_warps(..., flowed=True)``), which their H encodes.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch


def analyse(path, n_examples: int = 256) -> dict:
    from manifoldspec.nn import SpectralManifoldAttention, evaluate_recall, load_recall_model, warped_spectrum
    from manifoldspec.nn.mqar import IGNORE
    from manifoldspec.nn.train import TEST_SEED, task_batch

    model, mixer, cfg = load_recall_model(path)
    layers = [b.mixer for b in model.blocks if isinstance(b.mixer, SpectralManifoldAttention)]
    if not layers or cfg.task != "mqar":
        raise SystemExit(f"{path}: expected an SMT model trained on MQAR, got mixer {mixer!r}, task {cfg.task!r}")
    acc = evaluate_recall(model, cfg)
    for layer in layers:
        layer.warp = False
    acc_off = evaluate_recall(model, cfg)
    for layer in layers:
        layer.warp = True

    L, N = cfg.test_slices[-1]
    x, y = task_batch(cfg, L, N, n_examples, np.random.default_rng([TEST_SEED + 1, L, N]))
    inputs = []
    hooks = [layer.register_forward_hook(lambda mod, args, out: inputs.append(args[0])) for layer in layers]
    with torch.no_grad():
        _, (_, states) = model(x)
    for h in hooks:
        h.remove()
    pos = torch.arange(L)
    roles = {"key": (pos < 2 * N) & (pos % 2 == 0), "value": (pos < 2 * N) & (pos % 2 == 1)}
    query = y != IGNORE
    roles_b = {"key": roles["key"].expand_as(x), "value": roles["value"].expand_as(x), "query": query,
               "filler": (pos >= 2 * N) & ~query}
    alpha, shift, exact, negative = [], [], [], []
    with torch.no_grad():
        for layer, h, st in zip(layers, inputs, [s.mixer for s in states if hasattr(s.mixer, "H")]):
            a = layer.project(h)[3].mean(1)  # (B, T), mean over heads
            alpha.append({r: float(a[m].mean()) for r, m in roles_b.items()})
            lam0 = torch.sort(layer.basis.lam0_t(h.new_zeros(1)))[0]
            first = warped_spectrum(layer, st)
            shift.append(float((first - lam0).abs().amax(-1).mean()))
            # no metric has a negative eigenvalue; −0.1 (λ0's first non-zero value is 1 on the torus, 2 on the
            # sphere) stays clear of the O(α²) dip of the constant mode's 0 in a barely warped layer
            negative.append(float((first.amin((-1, -2)) < -0.1).float().mean()))
            exact.append(max(_first_order_error(layer, h[:1], first[0, i].double().numpy(), i)
                             for i in range(layer.n_heads)))
    return {"path": str(path), "lr": cfg.lr, "seed": cfg.seed, "base": layers[0].base, "accuracy": acc,
            "accuracy_no_warp": acc_off, "alpha": alpha, "shift": shift, "first_order_error": exact,
            "negative": negative}


def _first_order_error(layer, h, first, head) -> float:
    """max_k≥1 |λ_k(first order) − λ_k(FE)| / λ_k(FE) for one head of ``layer`` on the prompt h (1, T, d)."""
    import manifoldspec as ms
    from manifoldspec.nn import prompt_warps

    warp = prompt_warps(layer, h, flowed=True)[0][head]  # a flow layer's state encodes the flowed metric
    if layer.base == "torus":
        disc = ms.discretize(ms.FlatTorus((2 * np.pi,) * layer.latent_dim), 32 if layer.latent_dim == 2 else 8, 2)
    else:
        disc = ms.discretize(ms.Sphere(), 4, 2)
    fe = ms.solve(disc, len(first), metric=warp).eigenvalues
    return float(np.max(np.abs(first[1:] - fe[1:]) / fe[1:]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", help="files written by train-recall --save-models")
    ap.add_argument("--examples", type=int, default=256, help="examples of the longest test slice for α and shifts")
    a = ap.parse_args(argv)
    rows = [analyse(p, a.examples) for p in a.checkpoints]
    print("slice-mean accuracy as trained and with the warp off at inference (α ≡ 0); per slice in brackets")
    print(f"{'checkpoint':<40} {'base':>6} {'trained':>8} {'no warp':>8} {'drop':>6}  per slice (trained → no warp)")
    for r in rows:
        m, m0 = np.mean(list(r["accuracy"].values())), np.mean(list(r["accuracy_no_warp"].values()))
        per = ", ".join(f"{a:.3f}→{b:.3f}" for a, b in zip(r["accuracy"].values(), r["accuracy_no_warp"].values()))
        print(f"{r['path'][-40:]:<40} {r['base']:>6} {m:>8.3f} {m0:>8.3f} {m - m0:>6.3f}  {per}")
    print("\nα by token role (mean over heads and examples; initial value softplus(−2) = 0.127) and the prompt's"
          " spectral shift max_k |Δλ_k|")
    print("and the largest relative error of that first-order spectrum against the finite-element spectrum of the")
    print("prompt's metric (first example, worst head; for flow layers the metric after the flow)")
    print(f"{'checkpoint':<40} {'layer':>5} {'key':>7} {'value':>7} {'query':>7} {'filler':>7} {'shift':>8} "
          f"{'λ<-0.1':>8} {'1st-order err':>13}")
    for r in rows:
        for i, (al, sh, ng, ex) in enumerate(zip(r["alpha"], r["shift"], r["negative"], r["first_order_error"])):
            print(f"{r['path'][-40:]:<40} {i:>5} {al['key']:>7.3f} {al['value']:>7.3f} {al['query']:>7.3f} "
                  f"{al['filler']:>7.3f} {sh:>8.4f} {ng:>8.2f} {ex:>13.2e}")


if __name__ == "__main__":
    main()
