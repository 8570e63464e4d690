"""Matplotlib figures for flows: λ_k(t), curvature frames, and an optional GIF."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_spectrum_track(times, lam, path, *, exact=None, title="Spectrum along the Ricci flow"):
    """Plot λ_k(t) (S, k) against t (S,); ``exact`` (S, k) is drawn dashed. Returns the path."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(times, lam, "-", lw=1.2)
    if exact is not None:
        ax.plot(times, exact, "k--", lw=0.8)
    ax.set_xlabel("t")
    ax.set_ylabel("λ_k(t)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def save_grid_frames(result, directory, *, gif: bool = False):
    """One PNG per recorded state of a 2D grid flow: scalar curvature R on the chart."""
    from .grid_curvature import scalar_curvature

    plt = _plt()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    fields = [scalar_curvature(g, result.grid) if result.grid.dim == 2 else
              scalar_curvature(g, result.grid)[..., 0] for g in result.metrics]
    vmax = max(float(np.abs(f).max()) for f in fields) or 1.0
    paths = []
    for i, (t, f) in enumerate(zip(result.times, fields)):
        fig, ax = plt.subplots(figsize=(4, 4))
        L = result.grid.lengths
        im = ax.imshow(f.T, origin="lower", extent=(0, L[0], 0, L[1]), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        fig.colorbar(im, ax=ax, label="R")
        ax.set_title(f"t = {t:.4g}")
        p = d / f"frame_{i:04d}.png"
        fig.savefig(p, dpi=90)
        plt.close(fig)
        paths.append(p)
    if gif:
        _gif(fields, result.times, d / "flow.gif", lambda ax, f: ax.imshow(f.T, origin="lower", cmap="RdBu_r",
                                                                          vmin=-vmax, vmax=vmax))
    return paths


def save_mesh_frames(result, directory, *, gif: bool = False):
    """One PNG per recorded state of a mesh flow: background surface coloured by K_i."""
    plt = _plt()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    mesh = result.mesh
    Ks = [mesh.curvature(u)["K"] for u in result.u]
    lo, hi = min(float(k.min()) for k in Ks), max(float(k.max()) for k in Ks)
    paths = []
    V, F = mesh.vertices, mesh.triangles
    for i, (t, K) in enumerate(zip(result.times, Ks)):
        fig = plt.figure(figsize=(4.5, 4))
        ax = fig.add_subplot(projection="3d")
        col = K[F].mean(axis=1)
        surf = ax.plot_trisurf(V[:, 0], V[:, 1], V[:, 2], triangles=F, cmap="viridis", linewidth=0)
        surf.set_array(col)
        surf.set_clim(lo, hi)
        fig.colorbar(surf, ax=ax, shrink=0.6, label="K")
        ax.set_title(f"t = {t:.4g}")
        ax.set_axis_off()
        p = d / f"frame_{i:04d}.png"
        fig.savefig(p, dpi=80)
        plt.close(fig)
        paths.append(p)
    if gif:
        _gif(Ks, result.times, d / "flow.gif", lambda ax, K: ax.plot(np.sort(K)))
    return paths


def _gif(fields, times, path, draw):
    plt = _plt()
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, ax = plt.subplots(figsize=(4, 4))

    def frame(i):
        ax.clear()
        draw(ax, fields[i])
        ax.set_title(f"t = {times[i]:.4g}")

    anim = FuncAnimation(fig, frame, frames=len(fields))
    anim.save(path, writer=PillowWriter(fps=4))
    plt.close(fig)
    return Path(path)
