"""The in-chunk read-out of the SMT torus recurrence without flow, with a backward that recomputes.

Inside a chunk of n tokens, with the state H_0 (K x K) it starts from,

    X_s = P∘(p_s ū_s u_sᵀ) − G∘(β_s r̄_s r_sᵀ),    H_t = H_0 + Σ_{s≤t} X_s,    z_t = e_tᵀ (F∘H_t)

(:func:`~manifoldspec.nn.ops.smt.smt_chunked`; ū is the complex conjugate). Autograd through the
cumulative sum keeps the chunk's (n, K, K) complex intermediates for the backward pass: a layer at K = 21
trains with about 40 KB per token. :class:`ChunkReadout` keeps only its inputs (O(n·K) per chunk, plus the
K x K start state) and rebuilds H_t in the backward pass, which then costs about one more forward of the
read-out: 12 KB per token, at 0.84–1.3× the speed (benchmarks/results/nn.md §1i).
:func:`chunk_readout_autograd` is the same computation left to autograd, the reference the tests hold it to.

Gradients follow PyTorch's convention for complex tensors (the conjugate Wirtinger derivative; for a
real loss L, grad z = ∂L/∂Re z + i ∂L/∂Im z): for W = c∘gX with c real and X_mk = c_mk ū_m u_k,
grad u = Wᵀu + conj(W) u. P, G, F, p and β are real, so their gradients are real parts.
"""
from __future__ import annotations

import torch


def token_operators(P, G, p, u, beta, r):
    """The chunk's token operators X_s = P∘(p_s ū_s u_sᵀ) − G∘(β_s r̄_s r_sᵀ), (B, nh, n, K, K) complex,
    from the rank-one factors (shapes as in :func:`chunk_readout_autograd`)."""
    def outer(w, x):  # w·conj(x) xᵀ over the last axis
        return (w[..., None] * x.conj())[..., :, None] * x[..., None, :]

    return P[:, None] * outer(p, u) - G[:, None] * outer(beta, r)


def chunk_readout_autograd(H0, e, u, r, p, beta, P, G, F):
    """Reference: z_t = e_tᵀ(F∘H_t) and H_n through a cumulative sum that autograd differentiates.

    Parameters
    ----------
    H0 : complex (B, nh, K, K), the state before the chunk
    e, u, r : complex (B, nh, n, K), query features, and the token factors u_s = e^{iκ·μ_s}, r_s = u_s∘(κ·v_s)
    p, beta : real (B, nh, n), p_s = ½ α_s c |v_s|², β_s = α_s c
    P, G, F : real (nh, K, K), P = G∘(κ_m·κ_k − ½(λ_m + λ_k)), G = exp(−σ²|κ_k − κ_m|²/2), the filter's
        divided differences F

    Returns
    -------
    z : complex (B, nh, n, K) ; H : complex (B, nh, K, K), the state after the chunk
    """
    Hc = H0[:, :, None] + torch.cumsum(token_operators(P, G, p, u, beta, r), dim=2)
    return (e[..., None, :] @ (F[:, None] * Hc)).squeeze(-2), Hc[:, :, -1]


class ChunkReadout(torch.autograd.Function):
    """:func:`chunk_readout_autograd` with a backward that rebuilds H_t instead of keeping it."""

    @staticmethod
    def forward(ctx, H0, e, u, r, p, beta, P, G, F):
        with torch.no_grad():
            z, H = chunk_readout_autograd(H0, e, u, r, p, beta, P, G, F)
        ctx.save_for_backward(H0, e, u, r, p, beta, P, G, F)
        # H is a view of the chunk's (n, K, K) sums: the next chunk saves it as its H0, which would keep them all
        return z, H.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gz, gH):
        H0, e, u, r, p, beta, P, G, F = ctx.saved_tensors
        # gz and gH arrive as zeros where an output is unused (autograd materializes them by default)
        Hc = H0[:, :, None] + torch.cumsum(token_operators(P, G, p, u, beta, r), dim=2)
        need = ctx.needs_input_grad
        # the contractions with u, r, e are batched matrix-vector products, not broadcast-and-sum
        # conj(A) x = conj(A conj(x)): only the vectors are conjugated, never an (n, K, K) stack
        g_e = ((F[:, None] * Hc) @ gz.conj()[..., None]).squeeze(-1).conj() if need[1] else None
        # ∂L/∂H_t = F∘(ē_t g_tᵀ): the read-out of token t depends on every X_s, s ≤ t, through H_t
        E = e.conj()[..., :, None] * gz[..., None, :]  # (B, nh, n, K, K)
        g_F = (E * Hc.conj()).real.sum((0, 2)) if need[8] else None
        del Hc
        gX = F[:, None] * E.flip(2).cumsum(2).flip(2) + gH[:, :, None]  # Σ_{t ≥ s} ∂L/∂H_t + ∂L/∂H_n
        del E
        g_H0 = gX[:, :, 0] if need[0] else None
        # X_s = P∘(p_s ū_s u_sᵀ) − G∘(β_s r̄_s r_sᵀ); with Y = P∘∂L/∂X_s (Y = −G∘∂L/∂X_s for the second term):
        # ∂/∂p_s = Re uᵀY ū, grad u = p_s (Yᵀu + conj(Y ū)), ∂/∂P = Re Σ_s p_s u ūᵀ ∘ ∂L/∂X_s
        g_u, g_p, g_P = _factor_grads(P, p, u, gX, need[2], need[4], need[6])
        g_r, g_beta, g_G = _factor_grads(-G, beta, r, gX, need[3], need[5], need[7])
        if g_G is not None:
            g_G = -g_G
        return g_H0, g_e, g_u, g_r, g_p, g_beta, g_P, g_G, g_F


def _factor_grads(Q, w, x, gX, need_x, need_w, need_Q):
    """Gradients of L through X_s = Q∘(w_s x̄_s x_sᵀ) (Q real (nh, K, K), w real (B, nh, n), x complex (B, nh, n, K)),
    given ∂L/∂X_s = gX: (grad x, grad w, grad Q), each None where not needed."""
    g_x = g_w = g_Q = None
    if need_x or need_w:
        Y = Q[:, None] * gX
        xY = (x[..., None, :] @ Y).squeeze(-2)  # Σ_m x_m Y_mk
        if need_w:
            g_w = (xY * x.conj()).real.sum(-1)
        if need_x:
            g_x = w[..., None] * (xY + (Y @ x.conj()[..., None]).squeeze(-1).conj())
    if need_Q:
        g_Q = torch.einsum("bht,bhtmk->hmk", w, (x[..., :, None] * x.conj()[..., None, :] * gX).real)
    return g_x, g_w, g_Q


def chunk_readout(H0, e, u, r, p, beta, P, G, F):
    """:func:`chunk_readout_autograd`'s results, with the memory-lean backward of :class:`ChunkReadout`."""
    return ChunkReadout.apply(H0, e, u, r, p, beta, P, G, F)
