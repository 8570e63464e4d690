"""Claim 1, eqs. (2)–(3): finite-element spectra vs exact ones, and Weyl's law on warped manifolds.

* :func:`check_spectra` — the first eigenvalues of −Δ on the flat torus, a box (Neumann
  and Dirichlet) and the round sphere, from ``discretize``/``solve``, against the exact
  spectra (DESIGN.md §4); the convergence order fitted over ≥ 3 refinements must lie within
  ±0.25 of the theoretical 2p (P_p elements; the sphere uses exactly-mapped elements) —
  tolerance class B of THEOREMS.md §8.
* :func:`check_weyl` — Weyl's law N(λ) ~ Area_g·λ/(4π) on a token-warped torus, where no
  closed-form spectrum exists, counted with the FEM eigenvalues that WE-1 trusts (k ≤ n/10).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .._checks import ManifoldSpecError, positive_scalar
from .result import FAILS, HOLDS, CheckResult, holds_under


# Refinements for the order fit (≥ 3 each, class B). Least-squares P2 orders measured over these levels:
# quick [10, 14, 20]: torus 3.91, Neumann box 3.86, Dirichlet box 3.86; full [12, 18, 24]: 3.93, 3.90, 3.89;
# sphere (icosphere levels [1, 2, 3]) 4.06. Coarser sets are pre-asymptotic: [8, 12, 16] gives 3.79 on the
# boxes and the 8 → 12 pair alone 3.75, at the edge of 4 ± 0.25.
CHART_LEVELS = {True: [10, 14, 20], False: [12, 18, 24]}
SPHERE_LEVELS = [1, 2, 3]
MIN_LEVELS = 3


def _default_levels(manifold, quick):
    return SPHERE_LEVELS if type(manifold).__name__ == "Sphere" else CHART_LEVELS[bool(quick)]


def _cases(quick):
    from ..geometry.manifolds import Box, FlatTorus, Sphere

    mans = [FlatTorus(), Box((1.0, 1.3), "neumann"), Box((1.0, 1.3), "dirichlet"), Sphere()]
    return [(m, _default_levels(m, quick)) for m in mans]


def fitted_order(h, err) -> float:
    """Least-squares slope of log(err) against log(h) over all levels."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def spectrum_errors(manifold, resolutions, order: int = 2, k: int = 12):
    """Max relative eigenvalue error over the first ``k`` non-zero eigenvalues at each resolution.

    Returns
    -------
    h : (R,) mesh sizes; err : (R,) errors; order : observed order, least-squares fit over all levels
    (NaN for a single level).
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
    slope = fitted_order(hs, errs) if len(hs) > 1 else float("nan")
    return hs, errs, slope


def check_spectra(*, quick: bool = False, manifold=None, resolutions=None, order: int = 2,
                  expected_order: float | None = None, slack: float = 0.25) -> CheckResult:
    """FEM eigenvalues vs the exact spectra of eq. (3) on torus, box and sphere.

    Parameters
    ----------
    manifold : FlatTorus | Box | Sphere, optional
        Check only this manifold (it must have a known spectrum).
    resolutions : list of int, optional
        Refinement levels (elements per side, or icosphere levels); at least 3.
    order : {1, 2}
    expected_order : float, optional
        Claimed convergence order (default 2·order, the theory). A different claimed order
        (off by more than ``slack``) is false and must come out FAILS.
    slack : float
        Accepted |fitted order − expected_order| (default 0.25, class B of THEOREMS.md §8).
    """
    expected = 2.0 * order if expected_order is None else positive_scalar(expected_order, "expected_order")
    slack = positive_scalar(slack, "slack")
    cases = _cases(quick) if manifold is None else [(manifold, resolutions or _default_levels(manifold, quick))]
    if manifold is None and resolutions is not None:
        cases = [(m, resolutions) for m, _ in cases]
    for _, res in cases:
        if len(res) < MIN_LEVELS:
            raise ManifoldSpecError(f"resolutions: the order fit needs at least {MIN_LEVELS} refinement levels "
                                    f"(tolerance class B), got {list(res)}")
    rows, ok = [], True
    for man, res in cases:
        h, e, s = spectrum_errors(man, res, order)
        ok &= bool(abs(s - expected) <= slack and np.all(np.diff(e) < 0))
        name = type(man).__name__ + (f"({man.bc})" if hasattr(man, "bc") else "")
        rows.append((name, res, h, e, s))
    details = "; ".join(f"{n}: errors {', '.join(f'{x:.2e}' for x in e)} at resolutions {res}, order {s:.2f}"
                        for n, res, h, e, s in rows)
    details += (f". Orders are least-squares fits over all levels. P{order} theory: O(h^{2 * order}) (conforming "
                "FEM; sphere with exactly mapped elements).")
    return CheckResult(
        name="spectra", claim="eqs. (2)–(3): discrete Laplace–Beltrami spectra converge to the exact ones",
        equation="eqs. (2)–(3), §3.2", computed=f"P{order} FEM, first 12 non-zero λ, {len(rows)} manifolds × refinements",
        measured=f"orders {min(r[4] for r in rows):.2f}–{max(r[4] for r in rows):.2f}; "
                 f"finest err {max(r[3][-1] for r in rows):.1e}",
        bound=f"order {expected:g} ± {slack:g}", verdict=HOLDS if ok else FAILS, details=details,
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


# Only the lowest tenth of a P2 spectrum is trusted (THEOREMS.md WE-1: k ≤ n/10).
WEYL_FRACTION = 10
# Weyl tolerance on |mean N(λ)/(Aλ/4π) − 1| over the upper half of the counted range. Measured on the
# default warped torus with k = n/10: 0.9777, 0.9752, 0.9735, 0.9742, 0.9736, 0.9738 at resolutions 12, 16,
# 20, 24, 28, 32 (quick uses 12, full 20). The ≈ 2.5 % deficit is finite-element error, not the Weyl
# remainder: conforming FEM eigenvalues lie above the exact ones (N_h ≤ N), the top kept eigenvalue is
# 4–6 % too high at every resolution (the relative error depends on k/n, which is fixed), and the same λ
# windows counted with a fine reference (resolution 48, 9216 DOFs) give 1.0041 (resolution-12 window) and
# 0.9991 (resolution-20 window). With k = n/5 the deficit was 8 % (0.917–0.923, eigenvalue errors 10–14 %).
# Tolerance 0.04 ≈ 1.5× the largest measured deviation (0.0265).
WEYL_TOL = 0.04


def check_weyl(*, quick: bool = False, manifold=None, metric=None, area: float | None = None,
               tol: float = WEYL_TOL) -> CheckResult:
    """Weyl's law in 2D, N(λ) ≈ Area_g·λ/(4π), on a (warped) surface, from the trusted FEM eigenvalues.

    Parameters
    ----------
    manifold, metric : optional
        Default: the flat 2π-torus warped by 9 random tokens (no closed-form spectrum).
    area : float, optional
        The area in Weyl's law (default: the computed Riemannian area ∫√|g|). A wrong
        area is a false law and must come out FAILS.
    tol : float
        Accepted |N(λ)/(Aλ/4π) − 1| averaged over the upper half of the computed range (default
        ``WEYL_TOL`` = 0.04, from the measured finite-element deficit).
    """
    from ..spectral import assemble, discretize

    default = manifold is None and metric is None and area is None  # the measured case (WEYL_TOL)
    if manifold is None:
        manifold, dm = _weyl_default(quick)
        metric = dm if metric is None else metric
    if getattr(manifold, "dim", 2) != 2:
        raise ManifoldSpecError("manifold: the 2D Weyl law needs a 2-dimensional manifold")
    res = (3 if quick else 4) if type(manifold).__name__ == "Sphere" else (12 if quick else 20)
    disc = discretize(manifold, res, 2)
    ops = assemble(disc, metric)
    k = disc.n_dofs // WEYL_FRACTION  # the part of the discrete spectrum FEM resolves (WE-1)
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
               f"lowest {k} eigenvalues (k = n/{WEYL_FRACTION}, dense solve). N(λ)/(Aλ/4π) over the upper half of "
               f"λ ∈ [{lam[k // 10]:.3g}, {lam[-1]:.3g}]: mean {ratio[upper].mean():.4f} (tol ±{tol:g}); "
               f"|N − Aλ/4π|/√λ ≤ {np.abs(rem).max():.3f} (reported, not asserted)."
               + (" The deficit below 1 is finite-element error: conforming FEM eigenvalues lie above the exact "
                  "ones, so N_h ≤ N, and a resolution-48 reference gives 1.004 (quick window) and 0.999 (full "
                  "window) on this default warped torus; the Weyl remainder itself is a few tenths of a percent."
                  if default else ""))
    return CheckResult(
        name="weyl", claim="Weyl's law N(λ) ~ Area_g·λ/4π on a token-warped manifold", equation="eq. (3), §3.2",
        computed=f"N(λ) from the lowest {k} = n/{WEYL_FRACTION} FEM eigenvalues vs Area_g·λ/4π",
        measured=f"ratio {ratio[upper].mean():.4f}", bound=f"1 ± {tol:g}",
        verdict=holds_under(f"λ → ∞ (asymptotic law; counted with FEM eigenvalues k ≤ n/{WEYL_FRACTION})") if ok
        else FAILS, details=details,
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
