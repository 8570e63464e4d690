"""Make the README figure: sphere eigenvalues vs exact, and eigenfunctions of a token-warped torus.

    python examples/spectrum_figure.py docs/img/readme.png
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import manifoldspec as ms


def main(path="readme.png"):
    sphere = ms.solve(ms.discretize(ms.Sphere(), 4, 2), 64)
    exact = ms.exact_eigenvalues(ms.Sphere(), 64)
    L = (2 * np.pi, 2 * np.pi)
    warp = ms.random_warp(10, 2, sigma=0.6, amplitude=1.5, period=L, seed=2)
    torus = ms.solve(ms.discretize(ms.FlatTorus(L), 32, 2), 8, warp)
    fig = plt.figure(figsize=(11, 3.6))
    ax = fig.add_subplot(1, 4, 1)
    k = np.arange(64)
    ax.plot(k, sphere.eigenvalues, "o", ms=3, label="P2, 10k DOFs")
    ax.plot(k, exact, "k_", ms=8, label="exact l(l+1)")
    ax.set_xlabel("k")
    ax.set_ylabel(r"$\lambda_k$")
    ax.set_title("unit sphere")
    ax.legend(fontsize=8)
    x = np.linspace(0, 2 * np.pi, 160)
    X, Y = np.meshgrid(x, x)
    pts = np.column_stack([X.ravel(), Y.ravel()])
    det = np.linalg.det(warp(pts)).reshape(X.shape)
    ax = fig.add_subplot(1, 4, 2)
    ax.imshow(np.sqrt(det), origin="lower", extent=(0, 2 * np.pi, 0, 2 * np.pi), cmap="viridis")
    ax.set_title(r"token warp $\sqrt{|g|}$ (eq. 1)")
    ax.set_xticks([])
    ax.set_yticks([])
    vals = torus.evaluate(pts, [3, 6])
    for j, i in enumerate([3, 6]):
        ax = fig.add_subplot(1, 4, 3 + j)
        img = vals[:, j].reshape(X.shape)
        lim = np.abs(img).max()
        ax.imshow(img, origin="lower", extent=(0, 2 * np.pi, 0, 2 * np.pi), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(rf"warped torus $\phi_{i}$, $\lambda$ = {torus.eigenvalues[i]:.3f}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:])
