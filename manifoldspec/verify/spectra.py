"""Claim 1, eqs. (2)–(3): finite-element spectra vs exact ones, and Weyl's law on warped manifolds.

* :func:`check_spectra` — the first eigenvalues of −Δ on the flat torus, a box (Neumann
  and Dirichlet) and the round sphere, from ``discretize``/``solve``, against the exact
  spectra (DESIGN.md §4); the observed convergence order must reach the theoretical
  2p (P_p elements; the sphere uses exactly-mapped elements).
* :func:`check_weyl` — Weyl's law N(λ) ~ Area_g·λ/(4π) on a token-warped torus, where no
  closed-form spectrum exists; the remainder must stay O(√λ).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .._checks import ManifoldSpecError, positive_scalar
from .result import FAILS, HOLDS, CheckResult, fmt, holds_under


def _cases(quick):
    from ..geometry.manifolds import Box, FlatTorus, Sphere

    chart = [6, 12] if quick else [6, 12, 24]
    return [(FlatTorus(), chart), (Box((1.0, 1.3), "neumann"), chart), (Box((1.0, 1.3), "dirichlet"), chart),
            (Sphere(), [1, 2] if quick else [1, 2, 3])]


def spectrum_errors(manifold, resolutions, order: int = 2, k: int = 12):
    """Max relative eigenvalue error over the first ``k`` non-zero eigenvalues at each resolution.

    Returns
    -------
    h : (R,) mesh sizes; err : (R,) errors; order : observed order from the two finest levels.
    """
    from ..geometry.exact import exact_eigenvalues
    from ..spectral import discretize, solve

    hs, errs = [], []
    for res in resolutions:
        disc = discretize(manifold, res, order)
        kk = min(k + 1, disc.n_dofs - 3)
        lam = solve(disc, kk).eigenvalues
        ex = exact_eigenvalues(manifold, kk)
        nz = ex > 1e-12
        errs.append(float(np.max(np.abs(lam[nz] - ex[nz]) / ex[nz])))
        hs.append(disc.h)
    hs, errs = np.array(hs), np.array(errs)
    # order from the two finest levels: the coarsest ones are pre-asymptotic
    slope = float(np.log(errs[-2] / errs[-1]) / np.log(hs[-2] / hs[-1])) if len(hs) > 1 else float("nan")
    return hs, errs, slope


def check_spectra(*, quick: bool = False, manifold=None, resolutions=None, order: int = 2,
                  expected_order: float | None = None, slack: float = 0.5) -> CheckResult:
    """FEM eigenvalues vs the exact spectra of eq. (3) on torus, box and sphere.

    Parameters
    ----------
    manifold : FlatTorus | Box | Sphere, optional
        Check only this manifold (it must have a known spectrum).
    resolutions : list of int, optional
        Refinement levels (elements per side, or icosphere levels).
    order : {1, 2}
    expected_order : float, optional
        Claimed convergence order (default 2·order, the theory). A larger claimed order
        is false and must come out FAILS.
    slack : float
        Accepted shortfall of the fitted order below ``expected_order`` (pre-asymptotic range).
    """
    expected = 2.0 * order if expected_order is None else positive_scalar(expected_order, "expected_order")
    cases = _cases(quick) if manifold is None else [(manifold, resolutions or ([4, 8] if quick else [4, 8, 16]))]
    if manifold is None and resolutions is not None:
        cases = [(m, resolutions) for m, _ in cases]
    rows, ok = [], True
    for man, res in cases:
        h, e, s = spectrum_errors(man, res, order)
        ok &= bool(s >= expected - slack and np.all(np.diff(e) < 0))
        name = type(man).__name__ + (f"({man.bc})" if hasattr(man, "bc") else "")
        rows.append((name, res, h, e, s))
    worst = min(r[4] for r in rows)
    details = "; ".join(f"{n}: errors {', '.join(f'{x:.2e}' for x in e)} at resolutions {res}, order {s:.2f}"
                        for n, res, h, e, s in rows)
    details += f". P{order} theory: O(h^{2 * order}) (conforming FEM; sphere with exactly mapped elements)."
    return CheckResult(
        name="spectra", claim="eqs. (2)–(3): discrete Laplace–Beltrami spectra converge to the exact ones",
        equation="eqs. (2)–(3), §3.2", computed=f"P{order} FEM, first 12 non-zero λ, {len(rows)} manifolds × refinements",
        measured=f"min order {worst:.2f}; finest err {max(r[3][-1] for r in rows):.1e}",
        bound=f"order ≥ {expected:g} − {slack:g}", verdict=HOLDS if ok else FAILS, details=details,
        data={"rows": rows, "expected": expected})


def plot_spectra(res: CheckResult, path) -> str:
    from ._plot import figure, save

    fig, (a,) = figure(1, 6.0)
    for name, _, h, e, s in res.data["rows"]:
        a.loglog(h, e, "o-", label=f"{name} (order {s:.2f})")
    h0 = res.data["rows"][0][2]
    e0 = res.data["rows"][0][3]
    a.loglog(h0, e0[0] * (h0 / h0[0]) ** res.data["expected"], "k--", label=f"h^{res.data['expected']:g}")
    a.set_xlabel("mesh size h"), a.set_ylabel("max rel. eigenvalue error"), a.legend(fontsize=7)
    return save(fig, path, "Spectra vs exact (eq. 3)")


def _weyl_default(quick):
    from ..geometry.manifolds import FlatTorus
    from ..geometry.warp import random_warp

    man = FlatTorus()
    return man, random_warp(9, 2, sigma=0.7, amplitude=0.8, period=man.period, seed=5)


def check_weyl(*, quick: bool = False, manifold=None, metric=None, area: float | None = None,
               tol: float = 0.1) -> CheckResult:
    """Weyl's law in 2D, N(λ) ≈ Area_g·λ/(4π), with remainder O(√λ), on a (warped) surface.

    Parameters
    ----------
    manifold, metric : optional
        Default: the flat 2π-torus warped by 9 random tokens (no closed-form spectrum).
    area : float, optional
        The area in Weyl's law (default: the computed Riemannian area ∫√|g|). A wrong
        area is a false law and must come out FAILS.
    tol : float
        Accepted |N(λ)/(Aλ/4π) − 1| averaged over the upper half of the computed range.
    """
    from ..spectral import assemble, discretize

    if manifold is None:
        manifold, dm = _weyl_default(quick)
        metric = dm if metric is None else metric
    if getattr(manifold, "dim", 2) != 2:
        raise ManifoldSpecError("manifold: the 2D Weyl law needs a 2-dimensional manifold")
    res = (3 if quick else 4) if type(manifold).__name__ == "Sphere" else (12 if quick else 20)
    disc = discretize(manifold, res, 2)
    ops = assemble(disc, metric)
    k = disc.n_dofs // 5  # well-resolved part of the discrete spectrum
    lam = sla.eigh(ops.K.toarray(), ops.M.toarray(), subset_by_index=[0, k - 1], eigvals_only=True)
    A = ops.area if area is None else positive_scalar(area, "area")
    grid = np.linspace(lam[k // 10], lam[-1], 200)
    N = np.searchsorted(lam, grid, side="right")
    weyl = A * grid / (4 * np.pi)
    ratio = N / weyl
    upper = grid >= grid[len(grid) // 2]
    dev = float(np.abs(ratio[upper].mean() - 1))
    rem = (N - weyl) / np.sqrt(grid)
    ok = dev <= tol
    details = (f"{disc.describe()}, {'warped' if metric is not None else 'unwarped'}; Area_g = {ops.area:.6g} "
               f"(flat {manifold.volume:.6g}){'' if area is None else f', law evaluated with area {A:.6g}'}; "
               f"{k} eigenvalues (dense solve). N(λ)/(Aλ/4π) over the upper half of λ ∈ [{lam[k // 10]:.3g}, "
               f"{lam[-1]:.3g}]: mean {ratio[upper].mean():.4f}; remainder |N − Aλ/4π|/√λ ≤ {np.abs(rem).max():.3f} "
               f"(bounded: O(√λ)).")
    return CheckResult(
        name="weyl", claim="Weyl's law N(λ) ~ Area_g·λ/4π on a token-warped manifold", equation="eq. (3), §3.2",
        computed=f"N(λ) from {k} FEM eigenvalues vs Area_g·λ/4π", measured=f"ratio {ratio[upper].mean():.4f}",
        bound=f"1 ± {tol:g}", verdict=holds_under("λ → ∞ (remainder O(√λ))") if ok else FAILS, details=details,
        data={"lam": lam, "grid": grid, "N": N, "weyl": weyl, "area": A, "ratio": ratio})


def plot_weyl(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a, b) = figure(2)
    a.step(d["grid"], d["N"], where="post", label="N(λ) (FEM)")
    a.plot(d["grid"], d["weyl"], "k--", label="Area_g·λ/4π")
    a.set_xlabel("λ"), a.set_ylabel("N(λ)"), a.legend(fontsize=7)
    b.plot(d["grid"], d["ratio"])
    b.axhline(1, color="k", ls="--")
    b.set_xlabel("λ"), b.set_ylabel("N(λ) / (Area_g·λ/4π)")
    return save(fig, path, "Weyl's law on a token-warped torus")
