"""The SMT recurrence on the base S² (unit sphere): real spherical harmonics, conformal token warps.

Per head, with the real harmonics Y_j, λ_j = l(l+1) (:mod:`manifoldspec.nn.sphere_basis`):

    H_t = H_{t−1} + h_t                          (K x K, real symmetric; without flow)
    C_t = γ C_{t−1} + Y(μ_t) V_tᵀ                 (K x d_v, real)
    y_t = Y(q_t)ᵀ [ f(Λ0) + F∘H_t ] C_t           (d_v)

Token t warps the round metric conformally, g_t = (1 + w_t) g_round with the bump
w_t(x) = α_t exp(−|x − μ_t|²/(2σ²)) = α_t exp(−(1 − x·μ_t)/σ²) (chord distance in R³). In two
dimensions the Dirichlet form is conformally invariant, so δK̃ = 0 exactly and δM̃_jk = ∫ w_t Y_j Y_k dA
(exactly, not to first order). By Funk–Hecke ∫ G(x·μ) Y_i(x) dA = c_l(σ) Y_i(μ) with
c_l = 4π e^{−1/σ²} i_l(1/σ²), so with the Gaunt tensor 𝒢_jki = ∫ Y_j Y_k Y_i dA (i ≤ 2L: Y_j Y_k has
no component above degree 2L, so the sum is exact)

    δM̃_t = α_t Σ_i c_{l_i}(σ) Y_i(μ_t) 𝒢_{··i},       h_t = −½(Λ0 δM̃_t + δM̃_t Λ0).

Everything is real. Because c depends on the head only, H_t − H_0 = P∘(𝒢·A_t) with
A_t = Σ_{s≤t} α_s c∘Y_{≤2L}(μ_s) ∈ R^{K2}: the chunked form takes the cumulative sum of these
K2-vectors and maps them to K x K once per token (a linear map commutes with the sum).

Flow (eq. 8, ``flow_dt`` given; :mod:`~manifoldspec.nn.ops.sphere_flow` has the derivation): the linearized
normalized Ricci flow about the round sphere decays the degree-l part of the warp w as exp(−ρ_l t),
ρ_0 = 0, ρ_l = l(l+1) − 2 (l ≥ 1), and the layer sees w only through A, so

    A_t = D∘A_{t−1} + a_t,   D_i = exp(−ρ_{l_i}·dt)   (K2, per head),    H_t = P∘(𝒢·A_t).

A carried H alone cannot be decayed (D acts on A, not on H), so with flow the state carries A and H is
recomputed from it. This is the S² analogue of the torus's D = exp(−|q|² dt).

State size: :class:`SphereState` stores nh·(K² + K·d_v) reals (+ nh·K2 when it carries A). Without flow H
is symmetric, so the information is nh·(K(K+1)/2 + K·d_v); with flow H is a function of A, and the
information is nh·(K2 + K·d_v), K2 = (2L+1)² ≤ K(K+1)/2.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..._checks import ManifoldSpecError
from ..sphere_basis import SphereModeBasis, sphere_features
from .smt import default_chunk_size
from .spectral import filter_tables
from .sphere_flow import carry_weights, check_flow_dt, lag_weights, log_decay

_N_NODES = 64  # Gauss–Legendre nodes of the Funk–Hecke integral: ≤ 1e-13 relative for σ ∈ [0.05, 3], l ≤ 40


@functools.lru_cache(maxsize=4)
def _gauss_unit(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1), 0.5 * w  # on (0, 1): the nodes never touch the endpoints


def funk_hecke_coefficients(lmax2: int, sigma: torch.Tensor) -> torch.Tensor:
    """c_l(σ) = 2π ∫_{−1}^{1} exp(−(1−s)/σ²) P_l(s) ds = 4π e^{−1/σ²} i_l(1/σ²), l = 0 … ``lmax2``.

    Parameters
    ----------
    lmax2 : int ≥ 0
    sigma : tensor (...), > 0   bump width (chord distance)

    Returns
    -------
    tensor (..., lmax2 + 1), differentiable in σ.

    Notes
    -----
    Integrating by parts l times (Rodrigues) and substituting t = (1 − s)/σ² gives

        c_l = 2πσ² ∫_0^{2/σ²} (t^l e^{−t}/l!) (1 − σ²t/2)^l dt,

    a positive integrand (no cancellation, unlike ∫ e^{κs}P_l(s) ds, whose value is tiny for small κ and
    large l) that tends to 2πσ² (the flat Gaussian's mass) as σ → 0. The Gamma(l+1) density is below
    e^{−34} beyond t = 2l + 44, so the range is cut there: Gauss–Legendre on [0, min(2/σ², 2l + 44)].
    """
    if isinstance(lmax2, bool) or int(lmax2) != lmax2 or lmax2 < 0:
        raise ManifoldSpecError(f"lmax2: must be an integer ≥ 0, got {lmax2!r}")
    x, w = (torch.as_tensor(a, dtype=sigma.dtype, device=sigma.device) for a in _gauss_unit(_N_NODES))
    l = torch.arange(int(lmax2) + 1, dtype=sigma.dtype, device=sigma.device)
    kap = sigma.square().reciprocal()[..., None]  # (..., 1): κ = 1/σ²
    T = torch.minimum(2 * kap, 2 * l + 44)  # (..., L2+1)
    t = T[..., None] * x  # (..., L2+1, n)
    li = l[:, None]
    dens = torch.exp(li * torch.log(t) - t - torch.lgamma(li + 1))
    # t/(2κ) = x·T/(2κ) < 1 at every node, so the base of the power is positive
    integrand = dens * (1 - t * (0.5 / kap[..., None])) ** li
    return 2 * math.pi / kap * T * (integrand * w).sum(-1)


def sphere_token_coefficients(basis: SphereModeBasis, alpha, mu, sigma):
    """a = α c(σ)∘Y_{≤2L}(μ): the coefficients ∫ w Y_i dA (i ≤ 2L) of the bump w = α exp(−(1 − x·μ)/σ²).

    Parameters as :func:`sphere_token_mass`; returns a tensor (..., K2), K2 = (2L+1)².
    """
    c = funk_hecke_coefficients(2 * basis.lmax, sigma)[..., basis.l2_index_t(sigma.device)]  # (..., K2)
    return alpha[..., None] * c * sphere_features(2 * basis.lmax, mu)


def _mass(basis, a):
    # δM̃_jk = Σ_i 𝒢_jki a_i: (..., K2) → (..., K, K)
    K = basis.n_modes
    return (a @ basis.gaunt_t(a).reshape(K * K, -1).T).unflatten(-1, (K, K))


def sphere_token_mass(basis: SphereModeBasis, alpha, mu, sigma):
    """δM̃ = α Σ_i c_{l_i}(σ) Y_i(μ) 𝒢_{··i}, the exact mass change of the conformal bump warp.

    Parameters
    ----------
    alpha : tensor (...)          amplitudes α ≥ 0
    mu : tensor (..., 3)          bump centres (projected to the unit sphere)
    sigma : tensor broadcastable to alpha's shape, > 0

    Returns
    -------
    tensor (..., K, K), real symmetric (δK̃ = 0 exactly: conformal invariance of the 2-D Dirichlet form).
    """
    return _mass(basis, sphere_token_coefficients(basis, alpha, mu, sigma))


@dataclass(frozen=True, eq=False)
class SphereState:
    """Recurrent state of :func:`smt_sphere_recurrent` / :func:`smt_sphere_chunked`, size independent of length.

    Attributes
    ----------
    H : real tensor (B, nh, K, K)    sum of the token operators h_s (symmetric); with flow, P∘(𝒢·A)
    C : real tensor (B, nh, K, d_v)  spectral coefficients (eq. 5 in the base basis)
    A : real tensor (B, nh, K2), optional
        The (flowed) warp coefficients ∫ w Y_i dA, i ≤ 2L, summed over tokens. Needed with flow (the flow
        decays A, and H is recomputed from it); without flow it is carried along (A + Σ a_s) if present.
    """

    H: torch.Tensor
    C: torch.Tensor
    A: torch.Tensor | None = None

    @property
    def n_scalars(self) -> int:
        """Real scalars stored per sequence: nh·(K² + K·d_v), plus nh·K2 when A is carried. The information
        is less: nh·(K(K+1)/2 + K·d_v) without flow (H symmetric), nh·(K2 + K·d_v) with flow (H a function
        of A); a layer's ``state_size`` reports those counts."""
        B, nh, K, dv = self.C.shape
        return nh * (K * K + K * dv + (0 if self.A is None else self.A.shape[-1]))


def _check(basis, q_pos, k_pos, values, alpha, sigma, tau, gamma, state, flow_dt):
    if k_pos.dim() != 4 or k_pos.shape[-1] != 3:
        raise ManifoldSpecError(f"k_pos: expected shape (B, nh, T, 3) (points of R³), got {tuple(k_pos.shape)}")
    B, nh, T, _ = k_pos.shape
    for name, x, shp in (("q_pos", q_pos, (B, nh, T, 3)), ("alpha", alpha, (B, nh, T)),
                         ("sigma", sigma, (nh,)), ("tau", tau, (nh,)), ("gamma", gamma, (nh,))):
        if tuple(x.shape) != shp:
            raise ManifoldSpecError(f"{name}: expected shape {shp}, got {tuple(x.shape)}")
    if values.dim() != 4 or tuple(values.shape[:3]) != (B, nh, T):
        raise ManifoldSpecError(f"values: expected shape ({B}, {nh}, {T}, d_v), got {tuple(values.shape)}")
    if state is not None:
        K, dv = basis.n_modes, values.shape[-1]
        if tuple(state.H.shape) != (B, nh, K, K) or tuple(state.C.shape) != (B, nh, K, dv):
            raise ManifoldSpecError(f"state: expected H {(B, nh, K, K)} and C {(B, nh, K, dv)}, "
                                    f"got {tuple(state.H.shape)} and {tuple(state.C.shape)}")
        K2 = basis.modes2.shape[0]
        if state.A is not None and tuple(state.A.shape) != (B, nh, K2):
            raise ManifoldSpecError(f"state: expected A of shape {(B, nh, K2)}, got {tuple(state.A.shape)}")
        if flow_dt is not None and state.A is None:
            raise ManifoldSpecError("state: with flow_dt the state must carry the warp coefficients A (B, nh, K2): "
                                    "the flow decays A, and a carried H alone cannot be decayed (H = P∘(𝒢·A) "
                                    "does not determine A); pass a state returned by a call with flow")
    check_flow_dt(flow_dt, nh)


def _tables(basis, values, tau, filter):
    """f (nh, K), F (nh, K, K) of the filter and P = −½(λ_j + λ_k) (K, K): h = P∘δM̃."""
    lam0 = basis.lam0_t(values)
    f, F = filter_tables(lam0, tau, filter)
    return f, F, -0.5 * (lam0[:, None] + lam0[None, :])


def _zero_state(B, nh, basis, dv, values, flow):
    K = basis.n_modes
    A = values.new_zeros(B, nh, basis.modes2.shape[0]) if flow else None
    return SphereState(values.new_zeros(B, nh, K, K), values.new_zeros(B, nh, K, dv), A)


def smt_sphere_recurrent(basis: SphereModeBasis, q_pos, k_pos, values, alpha, sigma, tau, gamma, *,
                         filter: str = "heat", state: SphereState | None = None, flow_dt=None):
    """Reference: the S² recurrence (module docstring), one token at a time.

    Parameters
    ----------
    basis : SphereModeBasis (K harmonics, l ≤ L)
    q_pos, k_pos : (B, nh, T, 3)   query positions q_t and bump/key positions μ_t (projected to S²)
    values : (B, nh, T, d_v)       V_t (already multiplied by any token weight)
    alpha : (B, nh, T) ≥ 0         warp amplitudes
    sigma, tau : (nh,) > 0, ≥ 0    bump width (chord distance), heat time
    gamma : (nh,) in (0, 1]        decay of C
    filter : {"heat", "none"}      spectral filter f ("none": f ≡ 1, F ≡ 0, the warp drops out)
    state : SphereState, optional  state handed over from earlier tokens (with flow it must carry A, and
        its H is not read: H = P∘(𝒢·A) is recomputed)
    flow_dt : (nh,) ≥ 0, optional  flow step: A ← D∘A, D_i = exp(−ρ_{l_i}·dt), before each token's a_t
        (None: no flow, H accumulates as above)

    Returns
    -------
    y : (B, nh, T, d_v) ; state : SphereState after the last token (with flow: A and H = P∘(𝒢·A))
    """
    _check(basis, q_pos, k_pos, values, alpha, sigma, tau, gamma, state, flow_dt)
    B, nh, T, _ = k_pos.shape
    f, F, P = _tables(basis, values, tau, filter)
    st = _zero_state(B, nh, basis, values.shape[-1], values, flow_dt is not None) if state is None else state
    H, C, A = st.H, st.C, st.A
    D = None if flow_dt is None else torch.exp(-log_decay(basis, flow_dt))  # (nh, K2), entries in (0, 1]
    eq = sphere_features(basis.lmax, q_pos)
    ek = sphere_features(basis.lmax, k_pos)
    ys = []
    for t in range(T):
        # the plain per-token formula, as the reference the chunked form is checked against
        a = sphere_token_coefficients(basis, alpha[:, :, t], k_pos[:, :, t], sigma)
        if D is None:
            H = H + P * _mass(basis, a)
            A = None if A is None else A + a
        else:
            A = D * A + a
            H = P * _mass(basis, A)
        C = gamma[:, None, None] * C + ek[:, :, t, :, None] * values[:, :, t, None, :]
        z = eq[:, :, t] * f + torch.einsum("bhm,bhmk->bhk", eq[:, :, t], F * H)
        ys.append(torch.einsum("bhk,bhkd->bhd", z, C))
    y = torch.stack(ys, dim=2) if ys else values.new_zeros(B, nh, 0, values.shape[-1])
    return y, SphereState(H, C, A)


def smt_sphere_chunked(basis: SphereModeBasis, q_pos, k_pos, values, alpha, sigma, tau, gamma, *,
                       filter: str = "heat", state: SphereState | None = None, chunk_size: int | None = None,
                       flow_dt=None):
    """Chunked parallel form of :func:`smt_sphere_recurrent` (same arguments and results, plus ``chunk_size``).

    ``chunk_size=None`` picks :func:`~manifoldspec.nn.ops.smt.default_chunk_size` (64 without flow, 16 with).
    Inside a chunk: the token vectors a_s = α_s c∘Y_{≤2L}(μ_s) (K2 each) are summed cumulatively, mapped to
    H_t = H_0 + P∘(𝒢·A_t) in one batched product (O(K²·K2) per token, O(c·K²) memory per chunk), and read out
    as Y(q_t)ᵀ(F∘H_t). The C part is the chunked linear-attention form. Across chunks (H, C) is carried.

    With flow, A_t = D^{t+1}∘A_0 + Σ_{s≤t} D^{t−s}∘a_s inside a chunk, from the lag weights
    exp(−ρ_i dt (t−s)) masked to 0 for s > t (nh, c, c, K2; only exponents ≤ 0, so nothing overflows), at
    O(c·K2) per token on top of the same map H_t = P∘(𝒢·A_t). Across chunks (A, H, C) is carried.
    """
    _check(basis, q_pos, k_pos, values, alpha, sigma, tau, gamma, state, flow_dt)
    flow = flow_dt is not None
    if chunk_size is None:
        chunk_size = default_chunk_size(flow)
    if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or int(chunk_size) < 1:
        raise ManifoldSpecError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    B, nh, T, _ = k_pos.shape
    K, L = basis.n_modes, basis.lmax
    st = _zero_state(B, nh, basis, values.shape[-1], values, flow) if state is None else state
    if T == 0:  # split() would hand the loop one empty chunk
        return values.new_zeros(B, nh, 0, values.shape[-1]), st
    f, F, P = _tables(basis, values, tau, filter)
    PG = (P[:, :, None] * basis.gaunt_t(values)).reshape(K * K, -1).T  # (K2, K²): a ↦ P∘(𝒢·a)
    c = funk_hecke_coefficients(2 * L, sigma)[:, basis.l2_index_t(values.device)]  # (nh, K2)
    Y2 = sphere_features(2 * L, k_pos)  # (B, nh, T, K2); its first K columns are Y(μ) (l ≤ L come first)
    a = alpha[..., None] * c[:, None, :] * Y2
    ek = Y2[..., :K]
    e = sphere_features(L, q_pos)
    ef = e * f[:, None, :]
    g = -torch.log(gamma)
    H, C, A = st.H, st.C, st.A
    cs = int(chunk_size)
    if flow:  # chunk-independent, built once; a shorter last chunk uses the leading [:n] block
        r = log_decay(basis, flow_dt)  # (nh, K2) ≥ 0
        W, D1 = lag_weights(r, cs), carry_weights(r, cs)  # (nh, c, c, K2): D^{t−s}; (nh, c, K2): D^{t+1}
    # split once: slicing inside the loop would make every chunk's backward allocate a full-length gradient
    pieces = zip(*(x.split(cs, dim=2) for x in (e, ef, ek, a, values)))
    ys = []
    for ec, efc, ekc, ac, vc in pieces:
        n = ec.shape[2]
        t = torch.arange(n, dtype=values.dtype, device=values.device)
        if flow:
            Ac = torch.einsum("htsi,bhsi->bhti", W[:, :n, :n], ac) + D1[:, :n] * A[:, :, None]  # (B, nh, n, K2)
            Hc = (Ac @ PG).unflatten(-1, (K, K))
            A = Ac[:, :, -1]
        else:
            Hc = H[:, :, None] + (torch.cumsum(ac, dim=2) @ PG).unflatten(-1, (K, K))  # (B, nh, n, K, K)
        z = efc + (ec[..., None, :] @ (F[:, None] * Hc)).squeeze(-2)
        H = Hc[:, :, -1]
        # y_t = Σ_{s≤t} γ^{t−s} (z_t·ek_s) V_s + γ^{t+1} z_t C_0
        lag = t[:, None] - t[None, :]
        mask = torch.where(lag >= 0, torch.exp(-g[:, None, None] * lag.clamp(min=0)), torch.zeros((), dtype=values.dtype))
        y = ((z @ ekc.transpose(-1, -2)) * mask) @ vc
        ys.append(y + torch.exp(-g[:, None, None] * (t + 1)[None, :, None]) * (z @ C))
        back = torch.exp(-g[:, None, None] * (n - 1 - t)[None, :, None])  # γ^{n−1−s}
        C = torch.exp(-g * n)[:, None, None] * C + (ekc * back).transpose(-1, -2) @ vc
    if not flow and A is not None:  # D ≡ 1: a carried A just gains the tokens' coefficients
        A = A + a.sum(2)
    return torch.cat(ys, dim=2), SphereState(H, C, A)


__all__ = ["SphereState", "funk_hecke_coefficients", "smt_sphere_chunked", "smt_sphere_recurrent",
           "sphere_token_coefficients", "sphere_token_mass"]
