"""Spectra along a flow: re-solve −Δ_g at every recorded state.

* Mesh flows: intrinsic P1 on the current edge lengths (:mod:`.mesh_spectrum`).
* Grid flows: the sampled metric is interpolated (periodic cubic splines) to a
  callable and handed to the lead's FEM ``solve`` on the flat torus chart.
"""
from __future__ import annotations

import numpy as np

from .._checks import ManifoldSpecError, positive_int
from .grid_curvature import PeriodicGrid


def grid_metric_callable(g: np.ndarray, grid: PeriodicGrid):
    """Periodic cubic-spline interpolant of a sampled metric: x (P, n) -> (P, n, n)."""
    from scipy.ndimage import map_coordinates, spline_filter

    n = grid.dim
    coeffs = [[spline_filter(g[..., a, b], order=3, mode="grid-wrap") for b in range(n)] for a in range(n)]
    h = grid.spacing

    def metric(x):
        x = np.asarray(x, dtype=float)
        idx = (x / h).T  # fractional grid indices (n, P)
        out = np.empty((len(x), n, n))
        for a in range(n):
            for b in range(a, n):
                out[:, a, b] = out[:, b, a] = map_coordinates(coeffs[a][b], idx, order=3, mode="grid-wrap",
                                                              prefilter=False)
        return out

    return metric


def track_grid_spectrum(result, k: int, resolution: int = 24, order: int = 2, progress: bool = False):
    """Eigenvalues (S, k) of each recorded metric of a :class:`GridFlowResult`."""
    from ..geometry.manifolds import FlatTorus
    from ..spectral import discretize, solve

    k = positive_int(k, "k")
    disc = discretize(FlatTorus(result.grid.lengths), resolution, order=order)
    out = []
    it = result.metrics
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="spectra", unit="state")
    for g in it:
        out.append(solve(disc, k, metric=grid_metric_callable(g, result.grid)).eigenvalues)
    return np.array(out)


def track_mesh_spectrum(result, k: int, progress: bool = False):
    """Intrinsic P1 eigenvalues (S, k) of each recorded state of a :class:`MeshFlowResult`."""
    from .mesh_spectrum import intrinsic_spectrum

    k = positive_int(k, "k")
    if k >= result.mesh.n_vertices - 1:
        raise ManifoldSpecError(f"k: must be below the vertex count {result.mesh.n_vertices - 1}, got {k}")
    it = range(len(result.times))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="spectra", unit="state")
    return np.array([intrinsic_spectrum(result.mesh.triangles, result.lengths(i), result.mesh.n_vertices, k)[0]
                     for i in it])
