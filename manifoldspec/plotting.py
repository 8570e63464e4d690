"""Plots of spectra and eigenfunctions (matplotlib, Agg backend, written to files)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_spectrum(spectrum, path, *, exact=None, title: str | None = None) -> Path:
    """Eigenvalues λ_k against k, with the exact values (if given) and Weyl's law k ≈ Area·λ/4π.

    Parameters
    ----------
    spectrum : Spectrum
    path : str or Path
        Output image (.png, .pdf, .svg).
    exact : array (k,), optional
        Exact eigenvalues to overlay; a lower panel then shows the relative error.
    """
    plt = _pyplot()
    lam = spectrum.eigenvalues
    k = np.arange(len(lam))
    rows = 2 if exact is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(6.4, 3.2 * rows + 0.6), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot(k, lam, "o", ms=3.5, label="finite elements")
    if exact is not None:
        ax.plot(k, exact, "k_", ms=9, label="exact")
    if spectrum.discretization.dim == 2:
        ax.plot(k, 4 * np.pi * k / spectrum.area, "--", color="gray", label=r"Weyl: $4\pi k/\mathrm{Area}_g$")
    ax.set_ylabel(r"$\lambda_k$")
    ax.legend(loc="upper left")
    ax.set_title(title or spectrum.discretization.describe())
    if exact is not None:
        ax2 = axes[1, 0]
        rel = np.abs(lam - exact) / np.maximum(np.abs(exact), 1e-300)
        ax2.semilogy(k[exact > 0], rel[exact > 0], ".")
        ax2.set_ylabel("relative error")
    axes[-1, 0].set_xlabel("k")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)


def plot_eigenfunctions(spectrum, path, *, indices=None, n: int = 8, grid: int = 128) -> Path:
    """A grid of eigenfunctions: images on the torus/box (a mid-plane slice in 3D), colored surfaces otherwise."""
    plt = _pyplot()
    disc = spectrum.discretization
    idx = list(range(min(n, spectrum.k))) if indices is None else list(indices)
    cols = min(4, len(idx))
    nrows = -(-len(idx) // cols)
    surface = disc.kind == "surface"
    if disc.dim == 1:
        return _plot_eigenfunctions_1d(spectrum, path, idx, grid)
    fig = plt.figure(figsize=(3.0 * cols, 2.9 * nrows))
    if not surface:
        L = disc.manifold.lengths
        xs, ys = np.linspace(0, L[0], grid), np.linspace(0, L[1], grid)
        X, Y = np.meshgrid(xs, ys)
        pts = [X.ravel(), Y.ravel()] + ([np.full(X.size, L[2] / 2)] if disc.dim == 3 else [])
        vals = spectrum.evaluate(np.column_stack(pts), idx)
    for j, i in enumerate(idx):
        if surface:
            ax = fig.add_subplot(nrows, cols, j + 1, projection="3d")
            v, t = disc.vertices, disc.triangles
            f = spectrum.eigenvectors[: len(v), i]  # vertex dofs come first for P1 and P2
            face = f[t].mean(axis=1)
            lim = np.abs(face).max() or 1.0
            surf = ax.plot_trisurf(v[:, 0], v[:, 1], v[:, 2], triangles=t, linewidth=0, antialiased=False)
            surf.set_array(face)
            surf.set_cmap("RdBu_r")
            surf.set_clim(-lim, lim)
            ax.set_box_aspect(np.ptp(v, axis=0))
            ax.set_axis_off()
        else:
            ax = fig.add_subplot(nrows, cols, j + 1)
            img = vals[:, j].reshape(X.shape)
            lim = np.abs(img).max() or 1.0
            ax.imshow(img, origin="lower", extent=(0, L[0], 0, L[1]), cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(rf"$\lambda_{{{i}}}$ = {spectrum.eigenvalues[i]:.4g}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _plot_eigenfunctions_1d(spectrum, path, idx, grid: int) -> Path:
    """Circle/interval: the eigenfunctions as curves over the chart, one panel each."""
    plt = _pyplot()
    L = spectrum.discretization.manifold.lengths[0]
    x = np.linspace(0, L, max(grid, 4 * spectrum.discretization.n_dofs))
    vals = spectrum.evaluate(x[:, None], idx)
    cols = min(4, len(idx))
    nrows = -(-len(idx) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.0 * cols, 2.2 * nrows), squeeze=False, sharex=True)
    for j, i in enumerate(idx):
        ax = axes.flat[j]
        ax.plot(x, vals[:, j], lw=1.2)
        ax.axhline(0, color="gray", lw=0.5)
        ax.set_title(rf"$\lambda_{{{i}}}$ = {spectrum.eigenvalues[i]:.4g}", fontsize=9)
    for ax in list(axes.flat)[len(idx):]:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
