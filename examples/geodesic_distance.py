"""Geodesic distance from one point on a flat and on a token-warped torus (heat method), and its error
against the exact distance on the flat torus and the sphere as the mesh is refined.

    python examples/geodesic_distance.py docs/img/geodesic.png
"""
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import manifoldspec as ms
from manifoldspec.spectral.geodesic import distance_interpolant


def torus_exact(points, source, L):
    d = np.abs(points - source)
    d = np.minimum(d, L - d)  # minimal image
    return np.sqrt((d**2).sum(1))


def main(path="geodesic.png"):
    L = 2 * np.pi
    torus = ms.FlatTorus((L, L))
    warp = ms.random_warp(10, 2, sigma=0.6, amplitude=1.5, period=(L, L), seed=2)
    disc = ms.discretize(torus, 64, 1)
    source = np.array([np.pi, np.pi])
    x = np.linspace(0, L, 200)
    X, Y = np.meshgrid(x, x)
    pts = np.column_stack([X.ravel(), Y.ravel()])

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, metric, title in ((axes[0], None, "flat torus"), (axes[1], warp, "token-warped torus (eq. 1)")):
        d = distance_interpolant(disc, ms.geodesic_distance(disc, source, metric))(pts).reshape(X.shape)
        img = ax.imshow(d, origin="lower", extent=(0, L, 0, L), cmap="magma")
        ax.contour(X, Y, d, levels=12, colors="w", linewidths=0.5)
        if metric is not None:
            ax.plot(*warp.mu.T, "c+", ms=8, label="tokens μ_i")
            ax.legend(fontsize=7, loc="lower left")
        ax.plot(*source, "w*", ms=10)
        ax.set_title(f"d_g from the star, {title}", fontsize=9)
        fig.colorbar(img, ax=ax, shrink=0.8)

    ax = axes[2]
    hs, errs = [], []
    for res in (16, 32, 64, 128):
        dt = ms.discretize(torus, res, 1)
        i = int(np.argmin(((dt.dof_points - source) ** 2).sum(1)))
        exact = torus_exact(dt.dof_points, dt.dof_points[i], L)
        hs.append(L / res)
        errs.append(np.abs(ms.geodesic_distance(dt, i) - exact)[exact < 1.5].max())
    ax.loglog(hs, errs, "o-", label="flat torus, P1 (d < 1.5)")
    hs_s, errs_s = [], []
    for level in (2, 3, 4, 5):
        ds = ms.discretize(ms.Sphere(), level, 1)
        exact = np.arccos(np.clip(ds.dof_points @ ds.dof_points[0], -1, 1))
        hs_s.append(ds.h)
        errs_s.append(np.abs(ms.geodesic_distance(ds, 0) - exact)[exact < 2.0].max())
    ax.loglog(hs_s, errs_s, "s-", label="unit sphere, P1 (d < 2)")
    ax.loglog(hs, np.array(hs) * errs[-1] / hs[-1], "k--", lw=0.8, label="O(h)")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # the default minor labels overlap
    ax.set_xlabel("mesh size h")
    ax.set_ylabel("max |d_h − d|")
    ax.set_title("heat method: first-order convergence", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    for h, e in zip(hs, errs):
        print(f"torus h = {h:.4f}: max error {e:.3e}")
    for h, e in zip(hs_s, errs_s):
        print(f"sphere h = {h:.4f}: max error {e:.3e}")


if __name__ == "__main__":
    main(*sys.argv[1:])
