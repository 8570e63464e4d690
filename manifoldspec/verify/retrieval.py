"""Claim 2 (the question the paper conflates with Theorem 1): retrieving N token values from K coefficients.

Eq. (5) compresses N token values into c = A V with A = Φ(μ)^H W (K × N, W = Vol/N),
and eq. (6) retrieves Y(μ_j) = Φ(μ_j) c. Any decoder that only sees c sees a rank-≤K
linear image of V, so for i.i.d. isotropic values the best linear decoder (least
squares, Ŷ = A⁺c) has expected relative error exactly (N − rank A)/N ≥ 1 − K/N:
**capacity = K tokens**. Eq. (6) as written (the band-limited kernel Φ(μ)Φ(μ)^H W) is
worse still. Basis: the analytic flat-torus modes (the SMT base basis).
"""
from __future__ import annotations

import numpy as np

from .._checks import positive_int
from .result import FAILS, CheckResult, fmt, holds_under


def retrieval_errors(mu, values, modes, lengths) -> tuple[float, float, int]:
    """Relative retrieval errors of N token values through K torus coefficients.

    Parameters
    ----------
    mu : (N, n) token positions; values : (N, d_v); modes : int (K, n); lengths : (n,)

    Returns
    -------
    err_eq6 : float
        ‖Y − V‖²/‖V‖² with eqs. (5)–(6) as written (weights Vol/N).
    err_best : float
        The same for the least-squares decoder Ŷ = A⁺ c (the best any linear decoder can do).
    rank : int
        rank of the K × N encoder A.
    """
    from ..spectral.torus_modes import torus_mode_values

    E = torus_mode_values(modes, lengths, mu)  # (N, K)
    N = len(mu)
    A = E.conj().T * (np.prod(lengths) / N)  # (K, N): eq. (5)
    c = A @ values
    y6 = (E @ c).real  # eq. (6)
    yb = np.linalg.lstsq(A, c, rcond=None)[0].real
    n2 = np.sum(values**2)
    rank = int(np.linalg.matrix_rank(A))
    return float(np.sum((y6 - values) ** 2) / n2), float(np.sum((yb - values) ** 2) / n2), rank


def check_retrieval_capacity(*, quick: bool = False, K: int = 25, n_values=None, d_v: int = 16, seed: int = 0,
                             tol: float = 1e-9) -> CheckResult:
    """Retrieval error of N token values from K spectral coefficients, as N grows at fixed K.

    Parameters
    ----------
    K : int
        Number of torus modes (fixed state size).
    n_values : sequence of int, optional
        Token counts (default spans N < K to N ≫ K).
    d_v : int
        Value dimension (columns of V, i.i.d. standard normal).
    tol : float
        An error below this counts as exact retrieval.

    The verdict on "lossless retrieval regardless of N" is FAILS when some N gives a
    best-decoder error above ``tol``; when every N ≤ K it is HOLDS UNDER N ≤ K.
    """
    from ..spectral.torus_modes import torus_modes

    K = positive_int(K, "K")
    if n_values is None:
        n_values = [5, 11, K, 2 * K, 4 * K, 16 * K] + ([] if quick else [64 * K])
    n_values = np.array([positive_int(n, "n_values") for n in n_values])
    lengths = (2 * np.pi, 2 * np.pi)
    modes = torus_modes(lengths, K)
    rng = np.random.default_rng(seed)
    reps = 3 if quick else 8
    e6, eb, rk = [], [], []
    for N in n_values:
        a, b, r = [], [], []
        for _ in range(reps):
            mu = rng.uniform(0, 2 * np.pi, (N, 2))
            V = rng.normal(size=(N, d_v))
            x = retrieval_errors(mu, V, modes, lengths)
            a.append(x[0]), b.append(x[1]), r.append(x[2])
        e6.append(np.mean(a)), eb.append(np.mean(b)), rk.append(min(r))
    e6, eb, rk = map(np.array, (e6, eb, rk))
    exact = eb <= tol
    cap = int(n_values[exact].max()) if exact.any() else 0
    pred = np.maximum(n_values - rk, 0) / n_values
    if np.any(~exact):
        verdict = FAILS
    else:
        verdict = holds_under(f"N ≤ K = {K} and least-squares decoding")
    big = n_values > K
    details = (f"K = {K} torus modes, tokens at uniform random positions, values i.i.d. N(0,1)^{d_v}, {reps} draws per N. "
               f"Best linear decoder: exact (error ≤ {tol:g}) up to N = {cap} = rank of the K×N encoder; beyond, the "
               f"error follows the rank bound (N − K)/N: " +
               ", ".join(f"N = {n}: {fmt(e)} (bound {fmt(p)})" for n, e, p in zip(n_values[big], eb[big], pred[big])) +
               f". Eqs. (5)–(6) as written: error {fmt(e6.min())}…{fmt(e6.max())} (not exact even for N < K). "
               f"Capacity limit found: N ≤ K values; with N > K at least a fraction 1 − K/N of the value energy is lost.")
    return CheckResult(
        name="retrieval_capacity", claim="Lossless retrieval of N token values from K coefficients, regardless of N",
        equation="eqs. (5)–(6), Theorem 1, §6",
        computed=f"relative retrieval error vs N at fixed K = {K} (eq. 6 and least-squares decoder)",
        measured=f"exact up to N = {cap}; {fmt(eb[-1])} at N = {n_values[-1]}", bound=f"capacity ≤ K = {K}",
        verdict=verdict, details=details,
        data={"N": n_values, "K": K, "err_eq6": e6, "err_best": eb, "rank": rk, "rank_bound": pred})


def plot_retrieval_capacity(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a,) = figure(1, 6.0)
    N = d["N"]
    a.semilogx(N, d["err_eq6"], "o-", label="eqs. (5)–(6) as written")
    a.semilogx(N, np.maximum(d["err_best"], 1e-16), "s-", label="least-squares decoder (best linear)")
    a.semilogx(N, d["rank_bound"], "k--", label="rank bound (N − K)/N")
    a.axvline(d["K"], color="r", ls=":", label=f"N = K = {d['K']}")
    a.set_xlabel("N tokens"), a.set_ylabel("relative retrieval error"), a.legend(fontsize=7)
    return save(fig, path, f"Retrieving N values from K = {d['K']} coefficients")
