"""Ricci flow: steps/s and time to reach t_end at equal accuracy, explicit vs implicit.

Grid: 2D Ricci–DeTurck flow of a perturbed torus metric (N x N periodic grid).
Mesh: conformal flow of a bumpy icosphere (level L: 10·4^L + 2 vertices).
Accuracy: max error of the final state against a Richardson-extrapolated explicit
reference (2·E(dt/2) − E(dt)). "Equal accuracy" = the same tolerance --tol: explicit
runs at its stability limit (its error there is already below --tol at these sizes),
the implicit scheme takes the fewest steps (searched upward by 1.5x) whose error ≤ --tol;
the adaptive rows run the implicit scheme with step-doubling error control at --tol (no search:
the tolerance is the only input; "steps" = accepted, "(sub)steps" = scheme steps incl. rejected).

    python benchmarks/bench_flow.py [--quick] [--grid 128] [--level 6] [--t-end 0.1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from manifoldspec.flow.adaptive import adaptive_grid_flow, adaptive_mesh_flow
from manifoldspec.flow.grid_curvature import PeriodicGrid
from manifoldspec.flow.grid_flow import grid_flow, stable_dt
from manifoldspec.flow.mesh_flow import conformal_mesh, mesh_flow, mesh_stable_dt
from manifoldspec.geometry.icosphere import icosphere


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_grid(N, t_end, tol):
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (N, N))
    x = grid.coordinates()
    g0 = np.exp(0.4 * np.sin(x[..., 0]) * np.cos(x[..., 1]))[..., None, None] * np.eye(2)
    g0[..., 0, 1] = g0[..., 1, 0] = 0.1 * np.sin(x[..., 1])
    lim = stable_dt(g0, grid)
    n_exp = int(np.ceil(t_end / lim))
    exp, t_exp = _timed(lambda: grid_flow(g0, grid, dt=t_end / n_exp, steps=n_exp, record_every=n_exp))
    half = grid_flow(g0, grid, dt=t_end / (2 * n_exp), steps=2 * n_exp, record_every=2 * n_exp)
    ref = 2 * half.final - exp.final
    err_exp = np.abs(exp.final - ref).max()
    rows = [("grid", f"{N}x{N}", "explicit", n_exp, exp.substeps, t_exp, err_exp)]
    n = 2
    while True:
        imp, t_imp = _timed(lambda: grid_flow(g0, grid, dt=t_end / n, steps=n, method="semi-implicit",
                                              record_every=n))
        err = np.abs(imp.final - ref).max()
        if err <= tol or n >= 4 * n_exp:
            rows.append(("grid", f"{N}x{N}", "semi-implicit", n, n, t_imp, err))
            break
        n = int(np.ceil(n * 1.5))
    ada, t_ada = _timed(lambda: adaptive_grid_flow(g0, grid, t_end=t_end, tol=tol))
    rows.append(("grid", f"{N}x{N}", f"semi-implicit, adaptive ({ada.rejected} rejected)", ada.steps, ada.substeps,
                 t_ada, np.abs(ada.final - ref).max()))
    return rows


def bench_mesh(level, t_end, tol):
    V, F = icosphere(level)
    x, y, z = V.T
    mesh = conformal_mesh(V * (1 + 0.2 * (z**2 - 1 / 3) + 0.1 * x * y)[:, None], F)
    lim = mesh_stable_dt(mesh, np.zeros(len(V)))
    n_exp = int(np.ceil(t_end / lim))
    exp, t_exp = _timed(lambda: mesh_flow(mesh, dt=t_end / n_exp, steps=n_exp, record_every=n_exp))
    half = mesh_flow(mesh, dt=t_end / (2 * n_exp), steps=2 * n_exp, record_every=2 * n_exp)
    ref = 2 * half.u[-1] - exp.u[-1]
    err_exp = np.abs(exp.u[-1] - ref).max()
    rows = [("mesh", f"{len(V)} v", "explicit", n_exp, exp.substeps, t_exp, err_exp)]
    n = 2
    while True:
        imp, t_imp = _timed(lambda: mesh_flow(mesh, dt=t_end / n, steps=n, method="implicit", record_every=n))
        err = np.abs(imp.u[-1] - ref).max()
        if err <= tol or n >= 4 * n_exp:
            rows.append(("mesh", f"{len(V)} v", "implicit", n, n, t_imp, err))
            break
        n = int(np.ceil(n * 1.5))
    ada, t_ada = _timed(lambda: adaptive_mesh_flow(mesh, t_end=t_end, tol=tol))
    rows.append(("mesh", f"{len(V)} v", f"implicit, adaptive ({ada.rejected} rejected)", ada.steps, ada.substeps,
                 t_ada, np.abs(ada.u[-1] - ref).max()))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", type=int, default=128, help="grid points per side")
    ap.add_argument("--level", type=int, default=6, help="icosphere level (6: 40962 vertices)")
    ap.add_argument("--t-end", type=float, default=0.1, help="flow time")
    ap.add_argument("--tol", type=float, default=1e-3, help="max-norm error target at t_end")
    ap.add_argument("--quick", action="store_true", help="64x64 grid, level-4 mesh, t_end = 0.02")
    a = ap.parse_args()
    if a.quick:
        a.grid, a.level, a.t_end = 64, 4, 0.02
    rows = bench_grid(a.grid, a.t_end, a.tol) + bench_mesh(a.level, a.t_end, a.tol)
    print(f"t_end = {a.t_end}, tol = {a.tol}")
    print("| case | size | method | steps | (sub)steps | wall s | steps/s | max error | speed-up vs explicit |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = {}
    for kind, size, meth, steps, sub, wall, err in rows:
        base.setdefault(kind, wall)
        print(f"| {kind} | {size} | {meth} | {steps} | {sub} | {wall:.2f} | {sub / wall:.1f} | {err:.2e} | "
              f"{base[kind] / wall:.1f}x |")


if __name__ == "__main__":
    main()
