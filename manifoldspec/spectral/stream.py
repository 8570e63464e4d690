"""Streaming token state on the flat torus: H_t and the spectral coefficients C_t, O(nnz) per token.

State (DESIGN.md §6–7), in the analytic torus basis e_m = exp(iκ_m·ξ)/√V:

    δK̃_t = D ∘ δK̃_{t−1} + δK̃(x_t),   δM̃_t = D ∘ δM̃_{t−1} + δM̃(x_t)      (sparse pattern, nnz entries)
    C_t   = γ C_{t−1} + conj(e(μ_t)) w_t V_tᵀ                            (K x d_v; eq. 5)

with the closed-form token contributions of DESIGN.md §5 on the fixed pattern of
:func:`~manifoldspec.spectral.torus_sparse.torus_pattern`, and the optional linearized
Ricci–DeTurck decay D_mk = exp(−|κ_k − κ_m|² dt) (``flow_dt``; D ≡ 1 and γ = 1 give the
plain sum of eq. 1 and eq. 5). The current spectrum (first order, second order, Ritz) and
the coefficients in the perturbed eigenbasis are available at any moment.

Design choice: a frozen dataclass :class:`StreamState` and a pure function
``absorb(state, ...) -> new state``. Each call allocates the new O(nnz + K·d_v) arrays and
never keeps history, so memory does not grow with the number of tokens; the per-token
constants (pattern, prefactors) are built once in :func:`init_stream` and shared.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError, as_finite_array
from .clusters import CLUSTER_RTOL
from .matrix_elements import MatrixElements
from .torus_modes import torus_eigenvalues, torus_matrix_elements, torus_mode_values
from .torus_sparse import TorusPattern, accumulate_gemm, flow_decay, torus_pattern  # noqa: F401 (re-export)


@dataclass(frozen=True, eq=False)
class StreamConstants:
    """Token-independent data shared by all states of one stream.

    Attributes
    ----------
    pattern : TorusPattern
    modes : int (K, n) ; lengths : (n,)
    lam0 : (K,) base eigenvalues |κ|²
    q : (nnz, n) frequencies κ_k − κ_m of the pattern entries
    kappa : (K, n) wave vectors
    pref : (nnz,) (2πσ²)^{n/2}/V · exp(−σ²|q|²/2)
    dot : (nnz,) κ_m·κ_k
    decay : (nnz,) D, or None
    gamma : float
        Decay of C per token.
    """

    pattern: TorusPattern
    modes: np.ndarray
    lengths: np.ndarray
    lam0: np.ndarray
    q: np.ndarray
    kappa: np.ndarray
    pref: np.ndarray
    dot: np.ndarray
    decay: np.ndarray | None
    gamma: float


@dataclass(frozen=True, eq=False)
class StreamState:
    """Current stream state; immutable, replaced by :func:`absorb`.

    Attributes
    ----------
    consts : StreamConstants
    dK, dM : complex (nnz,)
        δK̃ and δM̃ on the pattern.
    C : complex (K, d_v)
        Spectral coefficients c_k = Σ_i γ^{t−i} V_i conj(e_k(μ_i)) w_i in the base basis.
    n_tokens : int
        Tokens absorbed so far.
    """

    consts: StreamConstants
    dK: np.ndarray
    dM: np.ndarray
    C: np.ndarray
    n_tokens: int = 0

    @property
    def nbytes(self) -> int:
        """Bytes of the token-dependent arrays (constant in the number of tokens)."""
        return int(self.dK.nbytes + self.dM.nbytes + self.C.nbytes)


def init_stream(modes, lengths, sigma: float, *, d_v: int = 1, drop_tol: float = 1e-12,
                flow_dt: float | None = None, gamma: float = 1.0) -> StreamState:
    """An empty stream state.

    Parameters
    ----------
    modes : int (K, n) ; lengths : n floats ; sigma : bump width σ
    d_v : int
        Value dimension of C.
    drop_tol : float
        Pattern drop tolerance (exp(−σ²|q|²/2) < drop_tol dropped).
    flow_dt : float, optional
        Linearized Ricci-flow time per token (decay D = exp(−|q|² dt)); None = no decay.
    gamma : float
        Decay factor of C per token, in (0, 1].
    """
    lengths = np.asarray(lengths, float)
    modes = np.asarray(modes)
    pat = torus_pattern(modes, lengths, sigma, drop_tol)
    n = len(lengths)
    q2 = np.sum(pat.q**2, axis=1)
    pref = (2 * np.pi * pat.sigma**2) ** (n / 2) / pat.volume * np.exp(-0.5 * pat.sigma**2 * q2)
    dot = np.sum(pat.kappa[pat.rows] * pat.kappa[pat.cols], axis=1)
    decay = None if flow_dt is None else flow_decay(pat, flow_dt)
    if not (0 < gamma <= 1):
        raise ManifoldSpecError(f"gamma: must lie in (0, 1], got {gamma}")
    if int(d_v) != d_v or d_v < 1:
        raise ManifoldSpecError(f"d_v: must be a positive integer, got {d_v!r}")
    consts = StreamConstants(pat, modes, lengths, torus_eigenvalues(modes, lengths), pat.q, pat.kappa, pref, dot, decay,
                             float(gamma))
    K = len(modes)
    return StreamState(consts, np.zeros(pat.nnz, complex), np.zeros(pat.nnz, complex), np.zeros((K, int(d_v)), complex))


def absorb(state: StreamState, alpha: float, mu, v, value=None, weight: float = 1.0) -> StreamState:
    """Absorb one token, O(nnz · n + K · d_v); returns the new state.

    Parameters
    ----------
    alpha : float
        Warp amplitude α_t.
    mu, v : arrays (n,)
        Token position μ_t (chart coordinates) and distortion vector v_t.
    value : array (d_v,), optional
        Value V_t (default zeros: the token only warps).
    weight : float
        w_t in eq. (5).
    """
    c = state.consts
    n = len(c.lengths)
    mu = as_finite_array(mu, "mu", shape=(n,))
    v = as_finite_array(v, "v", shape=(n,))
    alpha = float(as_finite_array(alpha, "alpha", ndim=0))
    pat = c.pattern
    phase = np.exp(1j * (c.q @ mu))  # (nnz,)
    kv = c.kappa @ v  # (K,)
    amp = alpha * c.pref * phase
    v2 = float(v @ v)
    dk = amp * (0.5 * v2 * c.dot - kv[pat.rows] * kv[pat.cols])
    dm = amp * (0.5 * v2)
    if c.decay is None:
        dK, dM = state.dK + dk, state.dM + dm
    else:
        dK, dM = c.decay * state.dK + dk, c.decay * state.dM + dm
    C = c.gamma * state.C if c.gamma != 1.0 else state.C.copy()
    if value is not None:
        val = as_finite_array(value, "value", shape=(state.C.shape[1],))
        e = np.exp(1j * (c.kappa @ mu)) / np.sqrt(pat.volume)  # e_k(μ), (K,)
        C += float(weight) * np.outer(e.conj(), val)
    return replace(state, dK=dK, dM=dM, C=C, n_tokens=state.n_tokens + 1)


def elements(state: StreamState) -> MatrixElements:
    """The current δK̃, δM̃ as :class:`MatrixElements` (sparse, Hermitian)."""
    c = state.consts
    K = len(c.lam0)
    mk = lambda x: sp.csr_matrix((x, (c.pattern.rows, c.pattern.cols)), shape=(K, K))  # noqa: E731
    return MatrixElements(mk(state.dK), mk(state.dM), c.lam0, c.pattern.drop_tol, float("nan"),
                          "pattern: pairs with exp(−σ²|κ_k − κ_m|²/2) < drop_tol dropped")


def current_spectrum(state: StreamState, method: str = "first", *, rtol: float = CLUSTER_RTOL) -> np.ndarray:
    """Perturbed eigenvalues now: ``"first"``, ``"second"`` order or ``"ritz"``; shape (K,).

    Costs O(Σ_C |C|³) for ``first``, O(K³) for the others (dense K x K algebra).
    """
    from .perturb import first_order_eigenvalues, ritz, second_order_eigenvalues

    dK, dM = elements(state).dense()
    lam0 = state.consts.lam0
    if method == "first":
        return first_order_eigenvalues(lam0, dK, dM, rtol=rtol)
    if method == "second":
        return second_order_eigenvalues(lam0, dK, dM, rtol=rtol)
    if method == "ritz":
        return ritz(lam0, dK, dM)[0]
    raise ManifoldSpecError(f"method: expected 'first', 'second' or 'ritz', got {method!r}")


def perturbed_coefficients(state: StreamState, *, rtol: float = CLUSTER_RTOL):
    """Eigenvalues (K,) and coefficients c̃ = Yᴴ C (K, d_v) in the first-order perturbed eigenbasis.

    With φ_k ≈ Σ_m Y_mk e_m (eq. 7, :func:`~manifoldspec.spectral.perturb.first_order_eigenvectors`),
    eq. (5) in the perturbed basis is c̃_k = Σ_i V_i conj(φ_k(μ_i)) w_i = (Yᴴ C)_k.
    """
    from .perturb import first_order_eigenvectors

    dK, dM = elements(state).dense()
    lam, Y = first_order_eigenvectors(state.consts.lam0, dK, dM, rtol=rtol)
    return lam, Y.conj().T @ state.C


def batch_stream(state: StreamState, alpha, mu, v, values=None, weights=None) -> StreamState:
    """Reference: the state after tokens 0..T−1 computed at once from the dense closed form.

    Uses :func:`~manifoldspec.spectral.torus_modes.torus_matrix_elements` per token (an
    independent code path) and the explicit decay powers D^{T−1−t}, γ^{T−1−t}.
    O(T K²) memory-light loop; for tests and benchmarks.
    """
    c = state.consts
    alpha = as_finite_array(alpha, "alpha", ndim=1)
    T = len(alpha)
    n = len(c.lengths)
    mu = as_finite_array(mu, "mu", shape=(T, n))
    v = as_finite_array(v, "v", shape=(T, n))
    rows, cols = c.pattern.rows, c.pattern.cols
    dK, dM = state.dK.copy(), state.dM.copy()
    D = np.ones(c.pattern.nnz) if c.decay is None else c.decay
    dK *= D**T
    dM *= D**T
    for t in range(T):
        k_t, m_t = torus_matrix_elements(c.modes, c.lengths, alpha[t:t + 1], mu[t:t + 1], v[t:t + 1], c.pattern.sigma)
        p = D ** (T - 1 - t)
        dK += p * k_t[rows, cols]
        dM += p * m_t[rows, cols]
    C = state.C * c.gamma**T
    if values is not None:
        values = as_finite_array(values, "values", shape=(T, state.C.shape[1]))
        w = np.ones(T) if weights is None else as_finite_array(weights, "weights", shape=(T,))
        E = torus_mode_values(c.modes, c.lengths, mu)  # (T, K)
        g = c.gamma ** (T - 1 - np.arange(T))
        C = C + E.conj().T @ ((g * w)[:, None] * values)
    return replace(state, dK=dK, dM=dM, C=C, n_tokens=state.n_tokens + T)
