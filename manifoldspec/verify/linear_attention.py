"""Claim 7, §5.2: with zero curvature and a Fourier feature basis, SMT retrieval is linear attention.

With H ≡ 0 (no warp) and f ≡ 1, the streaming SMT retrieval of DESIGN.md §7,
C_t = C_{t−1} + e(μ_t)^* V_tᵀ, y_t = e(q_t)ᵀ C_t, equals causal (un-normalized) linear
attention y_t = Σ_{s≤t} ⟨φ(q_t), φ(μ_s)⟩ V_s with the feature map φ = e (the torus
Fourier modes; real form [cos κ·x, sin κ·x]/√V when the mode set is symmetric). We
compare the recurrent SMT loop with the parallel masked product (φ(Q)φ(K)^H ⊙ mask)V,
and also report the exactly true facts of THEOREMS.md §7: associativity, and
rank(φ(Q)φ(K)ᵀ) ≤ d_φ while a softmax matrix is generically full rank.

With a warp (H ≠ 0) and a non-trivial filter the retrieval depends on the accumulated
geometry and is no longer a fixed-feature linear attention: ``warp_alpha > 0`` must FAIL.
"""
from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ._spectral_kernel import heat_filter, kernel_matrix
from .result import FAILS, CheckResult, holds_under


def smt_recurrent(modes, lengths, q, mu, V, *, alpha=None, v=None, sigma=0.6, tau=0.0) -> np.ndarray:
    """Plain-loop SMT retrieval y_t = e(q_t)ᵀ [f(Λ0) + F∘H_t] C_t, H_t from tokens ≤ t.

    q, mu : (T, n) query/key positions; V : (T, d_v); alpha (T,), v (T, n): token warp (None: H ≡ 0);
    tau : heat-filter time (0: f ≡ 1). Returns complex (T, d_v).
    """
    from ..spectral.torus_modes import torus_eigenvalues, torus_matrix_elements, torus_mode_values

    lam = torus_eigenvalues(modes, lengths)
    f, fp = heat_filter(tau)
    Eq = torus_mode_values(modes, lengths, q)
    Em = torus_mode_values(modes, lengths, mu)
    T = len(q)
    C = np.zeros((len(lam), V.shape[1]), complex)
    dK = np.zeros((len(lam), len(lam)), complex)
    dM = np.zeros_like(dK)
    out = np.zeros((T, V.shape[1]), complex)
    for t in range(T):
        C += np.outer(Em[t].conj(), V[t])  # eq. (5), w_t = 1
        if alpha is not None:
            a, b = torus_matrix_elements(modes, lengths, alpha[t:t + 1], mu[t:t + 1], v[t:t + 1], sigma)
            dK, dM = dK + a, dM + b
            B = kernel_matrix(lam, f, fp, dK, dM)
        else:
            B = kernel_matrix(lam, f, fp)
        out[t] = Eq[t] @ B @ C  # eq. (6) with the filter
    return out


def nn_retrieval(K, q, mu, V, *, alpha=None, v=None, sigma=0.6, tau=0.0, chunk_size=16):
    """The same retrieval through ``manifoldspec.nn``'s chunked SMT op (torch, float64).

    An independent implementation of eq. (6): rank-one token factors, one batched product per lag,
    state carried across chunks. Uses :func:`manifoldspec.nn.basis.torus_basis` (K rounded up to whole
    shells, the same mode set as the numpy reference; the output does not depend on mode order).
    Returns real (T, d_v), or ``None`` when torch is not installed.
    """
    try:
        import torch
    except ImportError:
        return None
    from ..nn.basis import torus_basis
    from ..nn.ops.smt import smt_chunked

    basis = torus_basis(K, 2)
    T = len(q)

    def t(x, *shape):
        return torch.as_tensor(np.asarray(x, dtype=float)).reshape(*shape)

    a = np.zeros(T) if alpha is None else alpha
    w = np.zeros((T, 2)) if v is None else v
    one = torch.ones(1, dtype=torch.float64)
    with torch.no_grad():
        y, _ = smt_chunked(basis, t(q, 1, 1, T, 2), t(mu, 1, 1, T, 2), t(V, 1, 1, T, V.shape[1]), t(a, 1, 1, T),
                           t(w, 1, 1, T, 2), sigma * one, tau * one, None, one,
                           filter="heat" if tau > 0 else "none", chunk_size=chunk_size)
    return y[0, 0].numpy()


def check_linear_attention(*, quick: bool = False, T: int = 63, K: int = 21, d_v: int = 5, warp_alpha: float = 0.0,
                           tau: float | None = None, seed: int = 0, tol: float = 1e-12) -> CheckResult:
    """§5.2: SMT with H ≡ 0, f ≡ 1 and Fourier features equals causal linear attention.

    Parameters
    ----------
    T, K, d_v : int
        Tokens, torus modes (extended to whole shells), value width.
    warp_alpha : float
        Token-warp amplitude (0 for the flat case of §5.2; > 0 must give FAILS).
    tau : float, optional
        Heat-filter time; default 0 (f ≡ 1) without a warp, 0.3 with one.
    """
    from ..spectral.torus_modes import torus_modes

    T, K, d_v = positive_int(T, "T"), positive_int(K, "K"), positive_int(d_v, "d_v")
    rng = np.random.default_rng(seed)
    lengths = (2 * np.pi, 2 * np.pi)
    modes = torus_modes(lengths, K, whole_shells=True)
    q, mu = rng.uniform(0, 2 * np.pi, (T, 2)), rng.uniform(0, 2 * np.pi, (T, 2))
    V = rng.normal(size=(T, d_v))
    tau = (0.3 if warp_alpha else 0.0) if tau is None else tau
    kw = {}
    if warp_alpha:
        kw = dict(alpha=warp_alpha * rng.uniform(0.5, 1, T), v=rng.normal(size=(T, 2)))
    y_smt = smt_recurrent(modes, lengths, q, mu, V, tau=tau, **kw)
    y_nn = nn_retrieval(K, q, mu, V, tau=tau, **kw)
    # parallel causal linear attention with the real Fourier feature map
    kap = 2 * np.pi * modes / np.asarray(lengths)
    vol = np.prod(lengths)

    def phi(x):
        return np.hstack([np.cos(x @ kap.T), np.sin(x @ kap.T)]) / np.sqrt(vol)

    A = phi(q) @ phi(mu).T
    y_lin = np.tril(A) @ V
    scale = np.abs(y_lin).max()
    err = float(np.abs(y_smt - y_lin).max() / scale)
    # associativity and rank (non-causal)
    left = phi(q) @ (phi(mu).T @ V)
    assoc = float(np.abs(left - A @ V).max() / np.abs(A @ V).max())
    d_phi = phi(q).shape[1]
    Tb = 3 * d_phi
    qb, kb = rng.normal(size=(Tb, 2)) * 2, rng.normal(size=(Tb, 2)) * 2
    rank_lin = int(np.linalg.matrix_rank(phi(qb) @ phi(kb).T))
    S = qb @ kb.T * 3
    soft = np.exp(S - S.max(axis=1, keepdims=True))
    rank_soft = int(np.linalg.matrix_rank(soft / soft.sum(axis=1, keepdims=True)))
    if y_nn is None:
        nn_line, err_nn, err_nn_ref = " manifoldspec.nn not checked (torch is not installed).", None, None
    else:
        err_nn = float(np.abs(y_nn - y_lin).max() / scale)
        err_nn_ref = float(np.abs(y_nn - y_smt.real).max() / np.abs(y_smt.real).max())
        nn_line = (f" The nn layer's chunked op (torch, chunks of 16) gives max |y_nn − y_linear|/max|y| = {err_nn:.1e} "
                   f"and agrees with the numpy loop to {err_nn_ref:.1e}.")
    # the numpy loop and the nn op are two implementations of one recurrence: they must agree in every case
    agree = err_nn_ref is None or err_nn_ref <= 1e-10
    ok = err <= tol and assoc <= tol and rank_lin <= d_phi and (err_nn is None or err_nn <= tol) and agree
    cond = "zero curvature (H ≡ 0), f ≡ 1, Fourier features, no softmax normalizer"
    details = (f"T = {T} tokens, {len(modes)} torus modes (whole shells), d_v = {d_v}"
               f"{f', token warp α = {warp_alpha:g}, heat filter τ = {tau:g}' if warp_alpha else ''}: max |y_SMT − "
               f"y_linear|/max|y| = {err:.1e} (imaginary part of y_SMT {np.abs(y_smt.imag).max():.1e}: the mode set is "
               f"symmetric, so the real features [cos κ·x, sin κ·x]/√V give the same kernel). Associativity "
               f"φ(Q)(φ(K)ᵀV) = (φ(Q)φ(K)ᵀ)V to {assoc:.1e}; rank φ(Q)φ(K)ᵀ = {rank_lin} ≤ d_φ = {d_phi} at "
               f"T = {Tb}, softmax rank {rank_soft}/{Tb}. 'Projection' is interpretive: Σφ(k)vᵀ is not idempotent."
               + nn_line + ("" if agree else " THE TWO IMPLEMENTATIONS DISAGREE."))
    return CheckResult(
        name="linear_attention", claim="§5.2: flat SMT retrieval (H ≡ 0, f ≡ 1) = linear attention with Fourier features",
        equation="§5.2, eqs. (5)–(6)", computed="recurrent SMT loop (numpy) and the nn layer op (torch) vs parallel causal linear attention",
        measured=f"rel. diff. {err:.1e}" + ("" if err_nn is None else f" (numpy), {err_nn:.1e} (nn layer)"), bound=f"≤ {tol:g} (exact)",
        verdict=holds_under(cond) if ok else FAILS, details=details,
        data={"y_smt": y_smt.real, "y_lin": y_lin, "err": err, "err_nn": err_nn, "err_nn_ref": err_nn_ref, "assoc": assoc, "rank_lin": rank_lin,
              "rank_soft": rank_soft, "d_phi": d_phi, "sv_lin": np.linalg.svd(phi(qb) @ phi(kb).T, compute_uv=False),
              "sv_soft": np.linalg.svd(soft / soft.sum(axis=1, keepdims=True), compute_uv=False)})


def plot_linear_attention(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a, b) = figure(2)
    a.plot(d["y_lin"].ravel(), d["y_smt"].ravel(), ".", ms=3)
    a.set_xlabel("causal linear attention"), a.set_ylabel("SMT recurrent retrieval"), a.set_title(f"rel. diff {d['err']:.1e}", fontsize=9)
    b.semilogy(np.maximum(d["sv_lin"] / d["sv_lin"][0], 1e-17), label=f"φ(Q)φ(K)ᵀ (d_φ = {d['d_phi']})")
    b.semilogy(np.maximum(d["sv_soft"] / d["sv_soft"][0], 1e-17), label="softmax attention")
    b.set_xlabel("index"), b.set_ylabel("singular value / σ₁"), b.legend(fontsize=7)
    return save(fig, path, "§5.2 flat SMT = linear attention")
