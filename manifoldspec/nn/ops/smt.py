"""The SMT recurrence (DESIGN.md §7) in two forms: a token-by-token reference and a chunked form.

Per head, with the torus base basis e_m (:mod:`manifoldspec.nn.basis`):

    H_t = D ∘ H_{t−1} + h(x_t)                  D_mk = exp(−|κ_k − κ_m|² dt)   (K x K, complex)
    C_t = γ C_{t−1} + conj(e(μ_t)) V_tᵀ          (K x d_v, complex; w_t folded into V_t)
    y_t = Re e(q_t)ᵀ [ f(Λ0) + F ∘ H_t ] C_t     (d_v, real)

h(x_t) is the symmetric first-order operator δK̃ − ½(Λ0δM̃ + δM̃Λ0) of the token's own warp
(α_t, μ_t, v_t, σ) in closed form. y_t = Σ_{s≤t} γ^{t−s} k_t(q_t, μ_s) V_s with the
band-limited kernel k_t(x, y) = e(x)ᵀ A_t conj(e(y)): kernelized linear attention whose
kernel is bent by the causal warp. Conjugation convention: C holds conj(e(μ)) so that
e(q)ᵀ conj(e(μ)) = Σ_m e_m(q) conj(e_m(μ)) is the reproducing kernel of span{e_m}
(DESIGN.md writes e(q)^* … e(μ); for a shell-closed mode set the two are equal).
The mode set is closed under m → −m and A is conjugation-symmetric, so y is real up to
rounding; we return the real part.

Costs per token and head: O(K²·n) for h, O(K² + K·d_v) for the read-out — the read-out
contracts e(q)ᵀ(F∘H_t) first (a K-vector), never forming (F∘H_t)C_t.

Chunked form (:func:`smt_chunked`): inside a chunk, the token operators come from their rank-one
factored form in batched products (a cumulative sum without flow, whose backward rebuilds the sums
instead of keeping them, :mod:`~manifoldspec.nn.ops.smt_readout`; products per lag with flow);
across chunks the state (H, C) is carried. Equal to the recurrence to rounding (tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..._checks import ManifoldSpecError
from ..basis import TorusModeBasis
from .spectral import filter_tables
from .torus import mode_features, symmetric_token_h, torus_token_elements
from .smt_readout import chunk_readout, token_operators
from .varlen import run_packed, seq_bounds



@dataclass(frozen=True, eq=False)
class SMTState:
    """Recurrent state of :func:`smt_recurrent` / :func:`smt_chunked`; size independent of length.

    Attributes
    ----------
    H : complex tensor (B, nh, K, K)   decayed sum of token operators h(x_s)
    C : complex tensor (B, nh, K, d_v) spectral coefficients (eq. 5 in the base basis)
    """

    H: torch.Tensor
    C: torch.Tensor

    @property
    def n_scalars(self) -> int:
        """Real scalars this representation stores per sequence: H is Hermitian (K² reals per head), C complex
        (2·K·d_v). Half of that is redundant (C_{−m} = conj(C_m), H_{−m,−k} = conj(H_mk));
        ``SpectralManifoldAttention.state_size`` counts the information, nh·(K(K+1)/2 + K·d_v)."""
        B, nh, K, dv = self.C.shape
        return nh * (K * K + 2 * K * dv)


def _check(basis, q_pos, k_pos, values, alpha, warp_v):
    B, nh, T, n = k_pos.shape
    if n != basis.dim:
        raise ManifoldSpecError(f"k_pos: last axis must be the latent dimension {basis.dim}, got {n}")
    for name, x, shp in (("q_pos", q_pos, (B, nh, T, n)), ("warp_v", warp_v, (B, nh, T, n)),
                         ("alpha", alpha, (B, nh, T))):
        if tuple(x.shape) != shp:
            raise ManifoldSpecError(f"{name}: expected shape {shp}, got {tuple(x.shape)}")
    if tuple(values.shape[:3]) != (B, nh, T):
        raise ManifoldSpecError(f"values: expected shape ({B}, {nh}, {T}, d_v), got {tuple(values.shape)}")


def _constants(basis, values, sigma, tau, flow_dt, gamma, filter):
    """Per-head tables: f (nh, K), F (nh, K, K), log-decays a (nh, K, K) of H and g (nh,) of C,
    and the token-independent factors G = exp(−σ²|q|²/2), P = G∘(κ_m·κ_k − ½(λ_m + λ_k)), c = (2πσ²)^{n/2}/V."""
    f, F = filter_tables(basis.lam0_t(values), tau, filter)
    G, P, c, q2 = _warp_tables(basis, sigma, values)
    a = None if flow_dt is None else flow_dt[:, None, None] * q2
    return f, F, a, -torch.log(gamma), G, P, c


def _warp_tables(basis, sigma, like):
    lam0, kap = basis.lam0_t(like), basis.kappa_t(like)
    q2 = ((kap[None, :, :] - kap[:, None, :]) ** 2).sum(-1)
    G = torch.exp(-0.5 * sigma[:, None, None] ** 2 * q2)
    P = G * (kap @ kap.T - 0.5 * (lam0[:, None] + lam0[None, :]))
    return G, P, (2 * torch.pi * sigma**2) ** (basis.dim / 2) / basis.volume, q2


def _token_factors(basis, k_pos, alpha, warp_v, c):
    """Rank-one factors of the token operators: h_t = P∘(p_t ū_t u_tᵀ) − G∘(β_t r̄_t r_tᵀ).

    u_t = exp(iκ·μ_t) (K,), r_t = u_t∘(κ v_t), p_t = ½ α_t |v_t|² c, β_t = α_t c. This is the closed
    form of :func:`torus_token_elements` (δK̃ − ½(Λ0δM̃ + δM̃Λ0)) factored through
    exp(i q·μ) = conj(u_m) u_k; a test checks the two agree.
    """
    kap = basis.kappa_t(k_pos)
    u = torch.polar(torch.ones_like(k_pos[..., :1]).expand(*k_pos.shape[:-1], kap.shape[0]), k_pos @ kap.T)
    r = u * (warp_v @ kap.T)
    beta = alpha * c[:, None] if alpha.dim() == 3 else alpha * c
    return u, r, 0.5 * beta * (warp_v * warp_v).sum(-1), beta


def token_h(basis: TorusModeBasis, alpha, k_pos, warp_v, sigma):
    """Per-token H contributions (B, nh, T, K, K) assembled from the rank-one factors, as the chunked form
    without flow builds them (tests compare this with :func:`torus_token_elements`)."""
    G, P, c, _ = _warp_tables(basis, sigma, alpha)
    u, r, p, beta = _token_factors(basis, k_pos, alpha, warp_v, c)
    return token_operators(P, G, p, u, beta, r)


def _zero_state(B, nh, K, dv, values):
    cdt = (values[..., :1] * 1j).dtype
    return SMTState(torch.zeros(B, nh, K, K, dtype=cdt, device=values.device),
                    torch.zeros(B, nh, K, dv, dtype=cdt, device=values.device))


def smt_recurrent(basis: TorusModeBasis, q_pos, k_pos, values, alpha, warp_v, sigma, tau, flow_dt, gamma, *,
                  filter: str = "heat", state: SMTState | None = None, cu_seqlens=None):
    """Reference: the recurrence of DESIGN.md §7, one token at a time.

    Parameters
    ----------
    basis : TorusModeBasis (K modes on Tⁿ)
    q_pos, k_pos : (B, nh, T, n)   query positions q_t and key/bump positions μ_t
    values : (B, nh, T, d_v)       V_t (already multiplied by the token weight w_t)
    alpha : (B, nh, T) ≥ 0, warp_v : (B, nh, T, n)   warp amplitude and direction
    sigma, tau : (nh,) > 0, ≥ 0      bump width, heat time
    flow_dt : (nh,) ≥ 0 or None       flow step of D = exp(−|q|² dt) (None: D ≡ 1, no decay of H)
    gamma : (nh,) in (0, 1]                           decay of C
    filter : {"heat", "none"}     spectral filter f ("none": f ≡ 1, so F ≡ 0 and the warp drops out)
    state : SMTState, optional    state handed over from earlier tokens (batch axis N with ``cu_seqlens``)
    cu_seqlens : 1-D int tensor (N + 1,), optional
        Varlen packing (:mod:`~manifoldspec.nn.ops.varlen`): B = 1, N sequences concatenated along T,
        ``[0, t_1, …, T]`` non-decreasing; the recurrence restarts at each offset. One call per sequence.

    Returns
    -------
    y : (B, nh, T, d_v) real ; state : SMTState after the last token (per sequence, batch N, with ``cu_seqlens``)
    """
    _check(basis, q_pos, k_pos, values, alpha, warp_v)
    if cu_seqlens is not None:
        return _packed(smt_recurrent, basis, (q_pos, k_pos, values, alpha, warp_v), (sigma, tau, flow_dt, gamma),
                       state, cu_seqlens, filter=filter)
    B, nh, T, _ = k_pos.shape
    f, F, a, g, G, P, c = _constants(basis, values, sigma, tau, flow_dt, gamma, filter)
    st = _zero_state(B, nh, basis.n_modes, values.shape[-1], values) if state is None else state
    H, C = st.H, st.C
    D = 1.0 if a is None else torch.exp(-a)
    gam = torch.exp(-g)[:, None, None]
    eq = mode_features(basis, q_pos)  # (B, nh, T, K)
    ek = mode_features(basis, k_pos).conj()
    ys = []
    for t in range(T):
        # the closed-form torus elements of the token, as a reference-grade plain computation
        dK, dM = torus_token_elements(basis, alpha[:, :, t], k_pos[:, :, t], warp_v[:, :, t], sigma.expand_as(alpha[:, :, t]))
        H = D * H + symmetric_token_h(basis, dK, dM)
        C = gam * C + ek[:, :, t, :, None] * values[:, :, t, None, :].to(C.dtype)
        z = eq[:, :, t] * f.to(eq.dtype) + torch.einsum("bhm,bhmk->bhk", eq[:, :, t], F.to(H.dtype) * H)
        ys.append(torch.einsum("bhk,bhkd->bhd", z, C).real)
    y = torch.stack(ys, dim=2) if ys else values.new_zeros(B, nh, 0, values.shape[-1])
    return y, SMTState(H, C)


def _packed(op, basis, tokens, heads, state, cu_seqlens, **kw):
    # the varlen form: op on each packed sequence, states joined along a batch axis of N
    bounds = seq_bounds(cu_seqlens, tokens[0].shape[0], tokens[0].shape[2])

    def one(tok, st):
        y, s = op(basis, *tok, *heads, state=None if st is None else SMTState(*st), **kw)
        return y, (s.H, s.C)

    y, (H, C) = run_packed(one, bounds, tokens, None if state is None else (state.H, state.C))
    return y, SMTState(H, C)


def default_chunk_size(flow: bool) -> int:
    """Chunk length used when ``chunk_size=None``: 64 without flow (the in-chunk cumulative form costs O(K²)
    per token at any chunk length, so longer chunks only save loop overhead), 16 with flow (the lag form
    costs O(c·K²) per token)."""
    return 16 if flow else 64


def smt_chunked(basis: TorusModeBasis, q_pos, k_pos, values, alpha, warp_v, sigma, tau, flow_dt, gamma, *,
                filter: str = "heat", state: SMTState | None = None, chunk_size: int | None = None, cu_seqlens=None):
    """Chunked parallel form of :func:`smt_recurrent` (same arguments and results, plus ``chunk_size``).

    With ``cu_seqlens`` the chunks restart at every sequence offset (one call per sequence, as in
    :func:`smt_recurrent`).

    ``chunk_size=None`` picks :func:`default_chunk_size`. The token operators are used in their rank-one
    factored form X_s = P∘(p_s ū_s u_sᵀ) − G∘(β_s r̄_s r_sᵀ), never built one token at a time.

    * Without flow (D ≡ 1) H_t = H_0 + Σ_{s≤t} X_s: the chunk's X_s are formed in one batched product
      and summed cumulatively, and the read-out is e_tᵀ(F∘H_t). O(K²) per token, O(c·K²) memory per chunk.
    * With flow, H_t = D^{t+1}∘H_0 + Σ_{s≤t} D^{t−s}∘X_s. With Q∘(ū uᵀ) = diag(ū) Q diag(u), the read-out
      of token t from token s is e_tᵀ(F∘D^{t−s}∘X_s) = p_s u_s ∘ ((e_t∘ū_s)ᵀ(F∘D^{t−s}∘P)) − β_s r_s ∘
      ((e_t∘r̄_s)ᵀ(F∘D^{t−s}∘G)); the pairs are grouped by lag d = t − s and multiplied by the stack of
      matrices F∘D^d∘P in one batched product. No weight exceeds 1 (a cumulative sum would need D^{−s}, which
      overflows), at O(c·K²) per token.

    The C part is the chunked linear-attention form. Across chunks the state (H, C) is carried.
    """
    _check(basis, q_pos, k_pos, values, alpha, warp_v)
    if chunk_size is None:
        chunk_size = default_chunk_size(flow_dt is not None)
    if int(chunk_size) < 1:
        raise ManifoldSpecError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    if cu_seqlens is not None:
        return _packed(smt_chunked, basis, (q_pos, k_pos, values, alpha, warp_v), (sigma, tau, flow_dt, gamma),
                       state, cu_seqlens, filter=filter, chunk_size=chunk_size)
    B, nh, T, _ = k_pos.shape
    st = _zero_state(B, nh, basis.n_modes, values.shape[-1], values) if state is None else state
    if T == 0:  # split() would hand the loop one empty chunk
        return values.new_zeros(B, nh, 0, values.shape[-1]), st
    f, F, a, g, G, P, c = _constants(basis, values, sigma, tau, flow_dt, gamma, filter)
    H, C = st.H, st.C
    cdt = H.dtype
    e = mode_features(basis, q_pos)  # (B, nh, T, K)
    ef = e * f[None, :, None, :].to(cdt)
    ek = mode_features(basis, k_pos).conj()
    u, r, p, beta = _token_factors(basis, k_pos, alpha, warp_v, c)
    cs = int(chunk_size)
    if a is not None:  # chunk-independent powers of D, built once: D^d (lags), D^{t+1} (carried state), D^{c−1−s}
        Pc, Gc, Fc = P.to(cdt), G.to(cdt), F.to(cdt)  # (nh, K, K)
        Dpow = torch.exp(-torch.arange(cs + 1, dtype=values.dtype, device=values.device)[:, None, None, None] * a)
        Dpow = Dpow.transpose(0, 1).to(cdt)  # (nh, c + 1, K, K): D^0 … D^c
        M1, M2 = (Fc * Pc)[:, None] * Dpow[:, :cs], (Fc * Gc)[:, None] * Dpow[:, :cs]  # F∘D^d∘P, F∘D^d∘G
    # split once: slicing inside the loop would make every chunk's backward allocate a full-length gradient
    pieces = zip(*(x.split(cs, dim=2) for x in (e, ef, ek, u, r, p, beta, values.to(cdt))))
    ys = []
    for ec, efc, ekc, uc, rc, pc, bc, vc in pieces:
        n = ec.shape[2]
        t = torch.arange(n, dtype=values.dtype, device=values.device)
        if a is None:  # H_t = H_0 + Σ_{s≤t} X_s; the backward rebuilds the chunk's H_t (smt_readout)
            zc, H = chunk_readout(H, ec, uc, rc, pc, bc, P, G, F)
            z = efc + zc
        else:
            z = efc + torch.einsum("bhtm,htmk,bhmk->bhtk", ec, Dpow[:, 1:n + 1], Fc * H)
            # pair token t with s = t − d for every lag d at once (zero where s < 0)
            src = t.long()[None, :] - t.long()[:, None]  # (d, t): s = t − d
            ok = (src >= 0).to(cdt)[..., None]
            src = src.clamp(min=0)
            puc, brc = pc[..., None] * uc, bc[..., None] * rc
            w1 = (ec[:, :, None] * (uc.conj()[:, :, src] * ok)) @ M1[:, :n]
            w2 = (ec[:, :, None] * (rc.conj()[:, :, src] * ok)) @ M2[:, :n]
            z = z + (w1 * puc[:, :, src] - w2 * brc[:, :, src]).sum(2)
            W = Dpow[:, :n].flip(1)  # (nh, n, K, K): D^{n−1−s}
            H = Dpow[:, n] * H \
                + Pc * torch.einsum("hsmk,bhsm,bhsk->bhmk", W, _scaled_conj(pc, uc), uc) \
                - Gc * torch.einsum("hsmk,bhsm,bhsk->bhmk", W, _scaled_conj(bc, rc), rc)
        # C part: y_t = Σ_{s≤t} γ^{t−s} (z_t·ek_s) V_s + γ^{t+1} z_t C_0
        lag = t[:, None] - t[None, :]
        mask = torch.where(lag >= 0, torch.exp(-g[:, None, None] * lag.clamp(min=0)), torch.zeros((), dtype=values.dtype))
        y = ((z @ ekc.transpose(-1, -2)) * mask.to(cdt)) @ vc
        y = y + torch.exp(-g[:, None, None] * (t + 1)[None, :, None]).to(cdt) * (z @ C)
        ys.append(y.real)
        back = torch.exp(-g[:, None, None] * (n - 1 - t)[None, :, None]).to(cdt)  # γ^{n−1−s}
        C = torch.exp(-g * n)[:, None, None].to(cdt) * C + (ekc * back).transpose(-1, -2) @ vc
    return torch.cat(ys, dim=2), SMTState(H, C)


def _scaled_conj(w, x):
    return w[..., None] * x.conj()
