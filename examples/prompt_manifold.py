"""The manifold a prompt induces in an SMT layer: its metric, its spectrum as the prompt is read, and
distances on it, each from the layer's state and from the numerical core.

    python examples/prompt_manifold.py docs/img/prompt_manifold.png

The layer here is freshly initialized (any trained layer works the same way): each head reads the
prompt as a token-warped torus. Left: the warp strength tr g − 2 of head 0 with the token positions μ_t.
Middle: the four λ = 1 eigenvalues of that manifold as tokens arrive — from the state, eig(Λ0 + H_t)
(first order), and from a finite-element solve of the prompt's metric (exact to the mesh). Right: the
geodesic distance from the first token on the final manifold (heat method).

With ``--checkpoint`` (a model saved by ``train-recall --save-models``) the same is drawn for the first layer
of a trained SMT model reading the start of an MQAR example. There the warp is far larger and the
first-order spectrum leaves the finite-element one (benchmarks/results/nn.md §3o).

    python examples/prompt_manifold.py trained.png --checkpoint models/smt_lr0.005_seed0.pt
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

import manifoldspec as ms
from manifoldspec.nn import SpectralManifoldAttention
from manifoldspec.nn.inspect import prompt_warps, warped_spectrum
from manifoldspec.spectral.geodesic import distance_interpolant


def _trained_prompt(checkpoint, n_tokens):
    """The first SMT layer of a saved model and its input for the first ``n_tokens`` tokens of an MQAR example."""
    from manifoldspec.nn import load_recall_model
    from manifoldspec.nn.train import TEST_SEED, task_batch

    model, mixer, cfg = load_recall_model(checkpoint)
    layer = model.blocks[0].mixer
    if not isinstance(layer, SpectralManifoldAttention) or layer.base != "torus" or layer.latent_dim != 2:
        raise SystemExit(f"{checkpoint}: expected an SMT model on the 2-torus, got mixer {mixer!r}")
    L, N = cfg.test_slices[0]
    ids, _ = task_batch(cfg, L, N, 1, np.random.default_rng([TEST_SEED, L, N]))
    seen = []
    hook = layer.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    with torch.no_grad():  # the blocks are causal, so the mixer's input for a prefix is a prefix of this
        model(ids[:, :n_tokens])
    hook.remove()
    return layer.double(), seen[0].double()


def main(path="prompt_manifold.png", n_tokens=12, resolution=32, checkpoint=None):
    if checkpoint is None:
        torch.manual_seed(3)
        layer = SpectralManifoldAttention(d_model=32, n_heads=2, n_modes=5).double()
        x = torch.randn(1, n_tokens, 32, dtype=torch.float64)
    else:
        layer, x = _trained_prompt(checkpoint, n_tokens)
    L = 2 * np.pi
    disc = ms.discretize(ms.FlatTorus((L, L)), resolution, 2)
    K = layer.n_modes
    base = ms.solve(disc, K).eigenvalues

    first, exact = [], []
    with torch.no_grad():
        for t in range(1, n_tokens + 1):
            _, state = layer(x[:, :t])
            first.append(warped_spectrum(layer, state)[0, 0].numpy())
            warp = prompt_warps(layer, x[:, :t], flowed=True)[0][0]  # what the state encodes, flow or not
            exact.append(ms.solve(disc, K, metric=warp).eigenvalues - base + np.round(base))  # mesh error removed
    first, exact = np.array(first), np.array(exact)
    warp = prompt_warps(layer, x, flowed=True)[0][0]
    print(f"head 0: α = {np.round(warp.alpha, 3)}, σ = {warp.sigma:.3f}")
    print(f"after {n_tokens} tokens: first-order λ_1..4 = {np.round(first[-1, 1:], 5)}")
    print(f"                      finite-element λ_1..4 = {np.round(exact[-1, 1:], 5)}")
    print(f"max |first order − finite element| over the prompt: {np.abs(first - exact).max():.2e}")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    g = np.linspace(0, L, 160)
    X, Y = np.meshgrid(g, g)
    pts = np.column_stack([X.ravel(), Y.ravel()])
    strength = np.trace(warp(pts), axis1=1, axis2=2).reshape(X.shape) - 2
    img = axes[0].imshow(strength, origin="lower", extent=(0, L, 0, L), cmap="viridis")
    mu = np.mod(warp.mu, L)
    axes[0].plot(*mu.T, "w.", ms=6)
    for i, (a, b) in enumerate(mu):
        axes[0].annotate(str(i + 1), (a, b), color="w", fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes[0].set_title("head 0: warp strength tr g − 2, tokens μ_t", fontsize=9)
    fig.colorbar(img, ax=axes[0], shrink=0.8)

    t = np.arange(1, n_tokens + 1)
    for k in range(1, 5):
        axes[1].plot(t, exact[:, k], "o-", color=f"C{k}", ms=4, label="finite element" if k == 1 else None)
        axes[1].plot(t, first[:, k], "x--", color=f"C{k}", ms=6, label="state: eig(Λ0 + H_t)" if k == 1 else None)
    axes[1].set_xlabel("tokens read")
    axes[1].set_ylabel("eigenvalue (the λ = 1 shell)")
    axes[1].set_title("the spectrum splits as the prompt is read", fontsize=9)
    axes[1].legend(fontsize=7)

    try:
        d = ms.geodesic_distance(disc, mu[0], warp)
    except ms.ManifoldSpecError as exc:  # e.g. a warp so anisotropic that the heat step oscillates on this mesh
        axes[2].text(0.5, 0.5, f"no distance on this mesh:\n{exc}"[:160], ha="center", va="center", wrap=True,
                     fontsize=7, transform=axes[2].transAxes)
        print(f"geodesic distance skipped: {exc}")
    else:
        dist = distance_interpolant(disc, d)(pts).reshape(X.shape)
        img = axes[2].imshow(dist, origin="lower", extent=(0, L, 0, L), cmap="magma")
        axes[2].contour(X, Y, dist, levels=12, colors="w", linewidths=0.5)
        axes[2].plot(*mu[0], "c*", ms=10)
        fig.colorbar(img, ax=axes[2], shrink=0.8)
    axes[2].set_title("geodesic distance from token 1 on the prompt's torus", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", default="prompt_manifold.png", help="image to write")
    ap.add_argument("--checkpoint", default=None, help="a trained SMT model (train-recall --save-models)")
    ap.add_argument("--tokens", type=int, default=12, help="prompt length (default 12)")
    ap.add_argument("--resolution", type=int, default=32, help="finite elements per side (P2; default 32)")
    a = ap.parse_args()
    main(a.path, a.tokens, a.resolution, a.checkpoint)
