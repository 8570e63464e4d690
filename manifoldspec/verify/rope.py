"""Claim 6, §5.1: on the flat torus, spectral retrieval with μ = ω·position is a relative-position kernel (RoPE).

What is exactly true (THEOREMS.md §7):

1. RoPE's identity ⟨R_m q, R_n k⟩ = ⟨q, R_{n−m} k⟩.
2. With the static flat torus Tⁿ (H ≡ 0), any spectral filter f and μ = ω·position, the
   SMT kernel S(m, n) = Σ_k f(λ_k) e_k(ωm) e_k(ωn)^* depends on n − m only.
3. RoPE itself *is* SMT retrieval on T^{d/2} restricted to the first-order characters
   e_j(x) = e^{ix_j} (eigenvalue 1) with per-mode weights q̃_j^* k̃_j: equal to round-off.
4. The caveat: as functions of the token index these characters are eigenvectors of the
   N-cycle Laplacian only when Nθ ∈ 2πZ; the residual is exactly 2√2|sin(Nθ/2)|.

A token warp (H ≠ 0) breaks translation invariance, so the equality needs a static
metric: with ``warp_alpha > 0`` the check must come out FAILS.
"""
from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ._spectral_kernel import heat_filter, kernel_matrix
from .result import FAILS, CheckResult, holds_under


def rope_rotate(x: np.ndarray, pos, theta: np.ndarray) -> np.ndarray:
    """Standard RoPE: rotate pair j of x (..., d) by pos·θ_j."""
    c, s = np.cos(np.multiply.outer(pos, theta)), np.sin(np.multiply.outer(pos, theta))
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty(c.shape[:-1] + x.shape[-1:], dtype=float)
    out[..., 0::2] = c * x0 - s * x1
    out[..., 1::2] = s * x0 + c * x1
    return out


def cycle_residual(N: int, theta: float) -> float:
    """‖L_N u − 4sin²(θ/2) u‖ for u_m = e^{imθ} on the N-cycle (L_N: graph Laplacian)."""
    u = np.exp(1j * theta * np.arange(N))
    Lu = 2 * u - np.roll(u, 1) - np.roll(u, -1)
    return float(np.linalg.norm(Lu - 4 * np.sin(theta / 2) ** 2 * u))


def check_rope(*, quick: bool = False, d: int = 8, n_pos: int = 37, warp_alpha: float = 0.0, seed: int = 0,
               tol: float = 1e-12) -> CheckResult:
    """§5.1: RoPE as spectral retrieval on a static flat torus.

    Parameters
    ----------
    d : int, even
        Head dimension of the RoPE part (d/2 rotation frequencies θ_j = 10000^{−2j/d}).
    n_pos : int
        Token positions 0 … n_pos−1.
    warp_alpha : float
        Amplitude of a token warp of the torus (0: the static flat torus of §5.1).
        Non-zero warps break the relative-position property and must give FAILS.
    tol : float
        Relative tolerance for "equal".
    """
    from ..spectral.torus_modes import torus_eigenvalues, torus_matrix_elements, torus_mode_values, torus_modes

    d = positive_int(d, "d")
    rng = np.random.default_rng(seed)
    n = d // 2
    theta = 10000.0 ** (-2 * np.arange(n) / d)
    pos = np.arange(n_pos)
    # 1. RoPE identity
    q, k = rng.normal(size=d), rng.normal(size=d)
    Rq, Rk = rope_rotate(q, pos, theta), rope_rotate(k, pos, theta)
    lhs = Rq @ Rk.T  # (m, n)
    rhs = np.array([[q @ rope_rotate(k, b - a, theta) for b in pos] for a in pos])
    err_identity = float(np.abs(lhs - rhs).max() / np.abs(lhs).max())
    # 3. RoPE == SMT retrieval with the first-order characters of T^{d/2}
    lengths = (2 * np.pi,) * n
    unit = np.eye(n, dtype=np.int64)
    E = torus_mode_values(unit, lengths, np.outer(pos, theta))  # (P, n), e_j(ωm)
    vol = (2 * np.pi) ** n
    qc, kc = q[0::2] + 1j * q[1::2], k[0::2] + 1j * k[1::2]
    smt = vol * (E.conj() * (qc.conj() * kc)) @ E.T  # Σ_j w_j e_j(ωm)^* e_j(ωn)
    err_rope = float(np.abs(smt.real - lhs).max() / np.abs(lhs).max())
    # 2. relative-position kernel on a 2-torus with the full (low) spectrum and a heat filter
    l2 = (2 * np.pi, 2 * np.pi)
    modes = torus_modes(l2, 13 if quick else 29, whole_shells=True)
    lam = torus_eigenvalues(modes, l2)
    f, fp = heat_filter(0.3)
    omega = np.array([0.37, 0.61])
    dK = dM = None
    if warp_alpha:
        mu_w = rng.uniform(0, 2 * np.pi, (5, 2))
        v_w = rng.normal(size=(5, 2))
        dK, dM = torus_matrix_elements(modes, l2, warp_alpha * rng.uniform(0.5, 1, 5), mu_w, v_w, 0.6)
    B = kernel_matrix(lam, f, fp, dK, dM)
    Ep = torus_mode_values(modes, l2, np.outer(pos, omega))  # (P, K)
    S = Ep @ B @ Ep.conj().T  # S[m, n] = Σ e_a(ωm) B_ab e_b(ωn)^*
    toeplitz = float(max(np.abs(S[1:, 1:] - S[:-1, :-1]).max(), 0.0) / np.abs(S).max())
    # 4. cycle caveat
    cyc = [(N, th, cycle_residual(N, th), 2 * np.sqrt(2) * abs(np.sin(N * th / 2)))
           for N, th in ((16, 1.0), (16, 0.1), (16, 2 * np.pi * 3 / 16), (n_pos, theta[1]))]
    cyc_err = max(abs(a - b) for _, _, a, b in cyc)
    worst = max(err_identity, err_rope, toeplitz)
    verdict = holds_under("a static flat torus (H ≡ 0) and μ = ω·position") if worst <= tol else FAILS
    details = (f"RoPE identity ⟨R_m q, R_n k⟩ = ⟨q, R_(n−m) k⟩: rel. error {err_identity:.1e} (d = {d}, {n_pos} positions). "
               f"RoPE score = SMT retrieval with the first-order characters e^(ix_j) of T^{n} (eigenvalue 1) and mode "
               f"weights q̃_j^*k̃_j: rel. error {err_rope:.1e}. SMT kernel on T² with {len(lam)} modes, heat filter, "
               f"μ = ω·position{'' if not warp_alpha else f', token warp α = {warp_alpha:g}'}: deviation from a function "
               f"of n − m {toeplitz:.1e}. Restricted sense: as functions of the token index the characters are eigenvectors "
               f"of the N-cycle Laplacian only if Nθ ∈ 2πZ — residual " +
               ", ".join(f"{a:.3g} (N = {N_}, θ = {th:.3g})" for N_, th, a, _ in cyc) +
               f", equal to 2√2|sin(Nθ/2)| to {cyc_err:.1e}.")
    return CheckResult(
        name="rope", claim="§5.1: flat-torus spectral retrieval with μ = ω·position is RoPE's relative-position score",
        equation="§5.1", computed="RoPE identity; RoPE vs SMT score; shift-invariance of the SMT kernel",
        measured=f"max rel. dev. {worst:.1e}", bound=f"≤ {tol:g} (exact)", verdict=verdict, details=details,
        data={"S": S, "lhs": lhs, "smt": smt.real, "errors": np.array([err_identity, err_rope, toeplitz]),
              "cycle": np.array([[a, b] for *_, a, b in cyc])})


def plot_rope(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a, b) = figure(2)
    im = a.imshow(d["S"].real, cmap="RdBu_r")
    fig.colorbar(im, ax=a)
    a.set_title("SMT kernel S(m, n) on T² (Re)", fontsize=9), a.set_xlabel("key position n"), a.set_ylabel("query m")
    b.plot(d["lhs"].ravel(), d["smt"].ravel(), ".", ms=2)
    b.set_xlabel("RoPE score ⟨R_m q, R_n k⟩"), b.set_ylabel("SMT score (first-order characters)")
    return save(fig, path, "§5.1 RoPE as spectral retrieval on a flat torus")
