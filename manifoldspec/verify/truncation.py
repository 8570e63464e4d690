"""Claim 2, Theorem 1: spectral truncation error, and its (in)dependence on the number N of tokens.

* :func:`check_truncation` — the correct form of Theorem 1 (DESIGN.md §4, THEOREMS.md §5.1):
  ‖f − P_K f‖² ≤ E(f)/λ_{K+1} with E(f) = ∫|∇f|²_g dVol_g, on a token-warped manifold.
  In the finite-element setting it is exact algebra with M-orthonormal eigenvectors:
  ‖f − P_K f‖²_M = fᵀMf − Σ_{k<K}(φ_kᵀMf)² ≤ fᵀK_gf/λ_K (0-based λ_K = the (K+1)-th),
  with equality for f = φ_K.
* :func:`check_truncation_n` — "regardless of the sequence length N" (THEOREMS.md §5.2):
  a field made of N i.i.d. token values on an N-cycle has relative tail ≈ (N − K)/N → 1
  at fixed K, because its Dirichlet energy grows like N². The bound is N-independent only
  if sup_N E(f_N) < ∞ (e.g. N samples of one fixed smooth field).
"""
from __future__ import annotations

import numpy as np

from .._checks import ManifoldSpecError, positive_scalar
from .result import FAILS, HOLDS, CheckResult, fmt, holds_under


def truncation_ratios(spec, fields, K_values) -> np.ndarray:
    """ratio[j, i] = ‖f_i − P_K f_i‖²_M · λ_K / (f_iᵀ K_g f_i) for K = K_values[j] (≤ 1 by Theorem 1).

    Parameters
    ----------
    spec : Spectrum
        At least max(K_values) + 1 eigenpairs, M-orthonormal.
    fields : ndarray (n_dofs, F)
        Nodal values of the fields.
    K_values : sequence of int
        Numbers of retained eigenfunctions (P_K keeps indices 0…K−1).
    """
    Phi, lam = spec.eigenvectors, spec.eigenvalues
    if max(K_values) >= len(lam):
        raise ManifoldSpecError(f"K_values: need K < {len(lam)} (the number of computed eigenpairs)")
    Mf = spec.M @ fields
    norm2 = np.sum(fields * Mf, axis=0)
    energy = np.sum(fields * (spec.K @ fields), axis=0)
    c2 = (Phi.T @ Mf) ** 2  # (k, F)
    out = []
    for K in K_values:
        tail = norm2 - c2[:K].sum(axis=0)
        out.append(np.maximum(tail, 0.0) * lam[K] / energy)
    return np.array(out)


def _default_problem(quick):
    from ..geometry.manifolds import FlatTorus
    from ..geometry.warp import random_warp

    man = FlatTorus()
    return man, random_warp(9, 2, sigma=0.7, amplitude=0.6, period=man.period, seed=11)


def check_truncation(*, quick: bool = False, manifold=None, metric=None, bound_scale: float = 1.0,
                     seed: int = 0) -> CheckResult:
    """Theorem 1 in its correct form, ‖f − P_K f‖² ≤ bound_scale·E(f)/λ_{K+1}, on a (warped) manifold.

    Parameters
    ----------
    manifold, metric : optional
        Your manifold and metric (default: flat 2π-torus warped by 9 random tokens).
    bound_scale : float
        1 is the theorem (sharp: equality for f = φ_{K+1}); anything < 1 is a false
        bound and must come out FAILS.
    """
    from ..spectral import discretize, solve

    bound_scale = positive_scalar(bound_scale, "bound_scale")
    if manifold is None:
        manifold, default_metric = _default_problem(quick)
        metric = default_metric if metric is None else metric
    is_sphere = type(manifold).__name__ == "Sphere"
    res = (2 if quick else 3) if is_sphere else (12 if quick else 20)
    disc = discretize(manifold, res, 2)
    kmax = 30 if quick else 60
    spec = solve(disc, kmax + 1, metric)
    rng = np.random.default_rng(seed)
    X = disc.dof_points
    fields = []
    # smooth fields: random low-frequency plane waves, and token-value fields Σ V_i G(ξ − μ_i) (what SMT stores)
    for _ in range(6):
        a = rng.integers(-3, 4, size=X.shape[1])
        fields.append(np.sin(X @ a + rng.uniform(0, 2 * np.pi)) + 0.3 * np.cos(X @ (a + 1)))
    for _ in range(6):
        mu = X[rng.integers(0, len(X), 15)]
        d2 = np.sum((X[:, None, :] - mu[None]) ** 2, axis=-1)
        if getattr(manifold, "period", None):
            L = np.asarray(manifold.period)
            dd = X[:, None, :] - mu[None]
            d2 = np.sum((dd - L * np.round(dd / L)) ** 2, axis=-1)
        fields.append(np.exp(-d2 / (2 * 0.5**2)) @ rng.normal(size=15))
    fields = np.array(fields).T
    K_values = [k for k in (3, 5, 8, 13, 21, 30, 45, 60) if k <= kmax]
    r = truncation_ratios(spec, fields, K_values)
    eq = np.array([truncation_ratios(spec, spec.eigenvectors[:, [K]], [K])[0, 0] for K in K_values])
    worst = float(max(r.max(), eq.max()))
    ok = worst <= bound_scale * (1 + 1e-9)
    details = (f"{disc.describe()}; {'warped metric' if metric is not None else 'unwarped'}. "
               f"{fields.shape[1]} smooth fields (plane waves, token-value fields Σ V_i G(ξ−μ_i)): max ratio "
               f"‖f−P_Kf‖²λ_(K+1)/E(f) = {fmt(r.max())} over K ∈ {K_values}; the bound is attained by f = φ_(K+1) "
               f"(ratio {fmt(eq.min(), 12)}…{fmt(eq.max(), 12)}). The paper's O(1/λ_K) is this bound times E(f); "
               f"by Weyl, λ_K ≈ 4πK/Area, so the error is ≲ Area·E(f)/(4πK). N-independence: see truncation_n.")
    return CheckResult(
        name="truncation", claim="Theorem 1 (correct form): ‖f − P_K f‖² ≤ E(f)/λ_{K+1}",
        equation="Theorem 1, §6",
        computed=f"tail·λ_(K+1)/E(f) for {fields.shape[1]} fields + φ_(K+1), K ≤ {max(K_values)}, warped FEM",
        measured=f"max {fmt(worst, 10)}", bound=f"≤ {bound_scale:g}", verdict=HOLDS if ok else FAILS,
        details=details,
        data={"K": np.array(K_values), "ratios": r, "equality": eq, "lam": spec.eigenvalues,
              "bound_scale": bound_scale})


def plot_truncation(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a,) = figure(1, 6.0)
    for j in range(d["ratios"].shape[1]):
        a.semilogy(d["K"], np.maximum(d["ratios"][:, j], 1e-18), "-", color="0.6", lw=0.8)
    a.semilogy(d["K"], d["equality"], "o-", color="C1", label="f = φ_(K+1) (equality)")
    a.axhline(d["bound_scale"], color="r", ls="--", label="bound")
    a.set_xlabel("K"), a.set_ylabel("‖f − P_K f‖² λ_(K+1) / E(f)"), a.legend(fontsize=7)
    return save(fig, path, "Theorem 1, correct form, on a token-warped torus")


# ------------------------------------------------------------------- N-independence
def cycle_tail(values: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Relative tail ‖f − P_K f‖²/‖f‖² and Dirichlet energy of trigonometric interpolants.

    Parameters
    ----------
    values : (S, N) real samples of S fields at θ_j = 2πj/N (tokens on an N-cycle).
    K : int, odd
        Modes kept: k = 0, ±1, …, ±(K−1)/2 (whole multiplets of the circle).

    Returns
    -------
    tail : (S,) relative squared tail; energy : (S,) ∫|f'|² dθ / ∫|f|² dθ of the interpolant.
    """
    S, N = values.shape
    c = np.fft.fft(values, axis=1) / N
    k = np.fft.fftfreq(N, 1.0 / N)
    p = np.abs(c) ** 2
    keep = np.abs(k) <= (K - 1) // 2
    tail = p[:, ~keep].sum(axis=1) / p.sum(axis=1)
    energy = (p * k**2).sum(axis=1) / p.sum(axis=1)
    return tail, energy


def check_truncation_n(*, quick: bool = False, K: int = 17, n_values=None, families=("smooth", "noise"),
                       seed: int = 0, tol: float = 0.05) -> CheckResult:
    """Is the truncation error at fixed K independent of the number N of tokens?

    Parameters
    ----------
    K : int, odd
        Retained modes.
    n_values : sequence of int, optional
        Numbers of tokens (default 64 … 4096).
    families : subset of {"smooth", "noise"}
        ``smooth``: N samples of one fixed smooth field (bounded energy, tail constant);
        ``noise``: N i.i.d. token values (energy ∝ N², tail → 1). The claim FAILS if the
        relative tail of any family grows by more than ``tol`` over the N range.
    """
    if K % 2 == 0 or K < 1:
        raise ManifoldSpecError(f"K: must be a positive odd number (whole circle multiplets), got {K}")
    bad = set(families) - {"smooth", "noise"}
    if not families or bad:
        raise ManifoldSpecError(f"families: choose from 'smooth', 'noise', got {families!r}")
    n_values = np.array(n_values or ([64, 256, 1024] if quick else [64, 128, 256, 512, 1024, 2048, 4096]))
    rng = np.random.default_rng(seed)
    S = 100 if quick else 200
    out = {}
    for fam in families:
        tails, energies = [], []
        for N in n_values:
            theta = 2 * np.pi * np.arange(N) / N
            if fam == "noise":
                vals = rng.normal(size=(S, N))
            else:
                ph = rng.uniform(0, 2 * np.pi, (S, 1))
                vals = np.exp(np.sin(theta + ph)) + 0.5 * np.cos(11 * theta + 2 * ph)
            t, e = cycle_tail(vals, K)
            tails.append(t.mean())
            energies.append(e.mean())
        out[fam] = (np.array(tails), np.array(energies))
    growth = {f: float(v[0][-1] - v[0][0]) for f, v in out.items()}
    ok = all(g <= tol for g in growth.values())
    parts = []
    if "noise" in out:
        pred = (n_values - K) / n_values
        t = out["noise"][0]
        parts.append(f"i.i.d. token values: relative tail {fmt(t[0])} (N = {n_values[0]}) → {fmt(t[-1])} "
                     f"(N = {n_values[-1]}), predicted (N−K)/N = {fmt(pred[0])} → {fmt(pred[-1])}; energy of the "
                     f"interpolant ∝ N^{np.polyfit(np.log(n_values), np.log(out['noise'][1]), 1)[0]:.2f}")
    if "smooth" in out:
        t = out["smooth"][0]
        parts.append(f"N samples of one smooth field: tail {t[0]:.3e} → {t[-1]:.3e} (constant: bounded energy)")
    details = "; ".join(parts) + (". Theorem 1 is N-independent only under sup_N E(f_N) < ∞." if not ok else ".")
    return CheckResult(
        name="truncation_n", claim=f"Theorem 1: truncation error at fixed K independent of N (K = {K})",
        equation="Theorem 1, §6", computed=f"mean relative tail ‖f−P_Kf‖²/‖f‖² on the N-cycle, {S} fields per N",
        measured="; ".join(f"{f}: {fmt(v[0][-1])}" for f, v in out.items()) + f" at N = {n_values[-1]}",
        bound=f"growth over N ≤ {tol:g}",
        verdict=holds_under("bounded energy sup_N E(f_N) < ∞") if ok and set(families) == {"smooth"} else (HOLDS if ok else FAILS),
        details=details, data={"N": n_values, "K": K, **{f"tail_{f}": v[0] for f, v in out.items()},
                               **{f"energy_{f}": v[1] for f, v in out.items()}})


def plot_truncation_n(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a, b) = figure(2)
    N = d["N"]
    if "tail_noise" in d:
        a.semilogx(N, d["tail_noise"], "o-", label="i.i.d. token values")
        a.semilogx(N, (N - d["K"]) / N, "k--", label="(N − K)/N")
        b.loglog(N, d["energy_noise"], "o-", label="i.i.d. token values")
    if "tail_smooth" in d:
        a.semilogx(N, d["tail_smooth"], "s-", label="samples of one smooth field")
        b.loglog(N, d["energy_smooth"], "s-", label="samples of one smooth field")
    a.set_xlabel("N tokens"), a.set_ylabel(f"relative tail at K = {d['K']}"), a.legend(fontsize=7)
    b.set_xlabel("N tokens"), b.set_ylabel("E(f)/‖f‖²"), b.legend(fontsize=7)
    return save(fig, path, "Theorem 1: the error is N-independent only for bounded energy")
