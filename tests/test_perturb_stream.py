"""Streaming state: one token at a time equals the batch computation; memory independent of N."""
import numpy as np
import pytest

from manifoldspec import ManifoldSpecError
from manifoldspec.spectral.matrix_elements import torus_elements
from manifoldspec.geometry.warp import TokenWarp
from manifoldspec.spectral.perturb import first_order_eigenvalues, first_order_eigenvectors, ritz
from manifoldspec.spectral.stream import (absorb, batch_stream, current_spectrum, elements, init_stream,
                                          perturbed_coefficients)
from manifoldspec.spectral.torus_modes import torus_mode_values, torus_modes
from manifoldspec.spectral.torus_sparse import accumulate_torus_elements, stream_torus_elements

LENGTHS = (2 * np.pi, 5.0)
SIGMA = 0.6


def _tokens(rng, T, n=2, d_v=3):
    alpha = 0.05 * rng.uniform(0.5, 1.0, T)
    mu = rng.uniform(0, 1, (T, n)) * np.asarray(LENGTHS)[:n]
    v = rng.normal(size=(T, n))
    return alpha, mu, v, rng.normal(size=(T, d_v)), rng.uniform(0.5, 1.5, T)


def _run(state, alpha, mu, v, values=None, weights=None):
    for t in range(len(alpha)):
        state = absorb(state, alpha[t], mu[t], v[t], None if values is None else values[t],
                       1.0 if weights is None else weights[t])
    return state


def test_stream_equals_batch_without_decay(rng):
    modes = torus_modes(LENGTHS, 23)
    T = 37
    alpha, mu, v, V, w = _tokens(rng, T)
    s = _run(init_stream(modes, LENGTHS, SIGMA, d_v=3), alpha, mu, v, V, w)
    dK, dM = accumulate_torus_elements(s.consts.pattern, alpha[None], mu[None], v[None])
    scale = np.abs(dK).max()
    assert np.abs(s.dK - dK[0]).max() <= 1e-12 * scale
    assert np.abs(s.dM - dM[0]).max() <= 1e-12 * np.abs(dM).max()
    # coefficients, eq. (5): c_k = Σ_i V_i conj(e_k(μ_i)) w_i, by a plain loop
    C = sum(w[i] * np.outer(torus_mode_values(modes, LENGTHS, mu[i:i + 1])[0].conj(), V[i]) for i in range(T))
    assert np.abs(s.C - C).max() <= 1e-12 * np.abs(C).max()
    # and the sparse H equals the dense batch closed form
    ref = torus_elements(modes, LENGTHS, TokenWarp(alpha, mu, v, SIGMA, LENGTHS), drop_tol=1e-12)
    assert np.abs(elements(s).dK.toarray() - ref.dK.toarray()).max() <= 1e-12 * scale
    assert s.n_tokens == T


@pytest.mark.parametrize("n", [2, 3])
def test_stream_with_flow_decay_equals_references(rng, n):
    lengths = LENGTHS + (4.0,) if n == 3 else LENGTHS
    modes = torus_modes(lengths, 27 if n == 3 else 17)
    T = 21
    alpha = 0.05 * rng.uniform(0.5, 1, T)
    mu = rng.uniform(0, 4, (T, n))
    v = rng.normal(size=(T, n))
    V = rng.normal(size=(T, 2))
    s0 = init_stream(modes, lengths, SIGMA, d_v=2, flow_dt=0.01, gamma=0.97)
    s = _run(s0, alpha, mu, v, V)
    b = batch_stream(s0, alpha, mu, v, V)  # dense closed form + explicit decay powers
    dK_ref, dM_ref = stream_torus_elements(s0.consts.pattern, alpha[None], mu[None], v[None], decay=s0.consts.decay)
    for got in (b.dK, dK_ref[0]):
        assert np.abs(s.dK - got).max() <= 1e-12 * np.abs(got).max()
    assert np.abs(s.dM - dM_ref[0]).max() <= 1e-12 * np.abs(dM_ref).max()
    assert np.abs(s.C - b.C).max() <= 1e-12 * np.abs(b.C).max()
    # decay actually acts: the off-diagonal entries are smaller than without it
    nodecay = _run(init_stream(modes, lengths, SIGMA, d_v=2), alpha, mu, v, V)
    off = s0.consts.pattern.rows != s0.consts.pattern.cols
    assert np.abs(s.dK[off] - nodecay.dK[off]).max() > 1e-6 * np.abs(nodecay.dK).max()


def test_state_size_independent_of_n_tokens(rng):
    modes = torus_modes(LENGTHS, 19)
    s = init_stream(modes, LENGTHS, SIGMA, d_v=4, flow_dt=0.02)
    sizes = {}
    alpha, mu, v, V, _ = _tokens(rng, 300, d_v=4)
    for t in range(300):
        s = absorb(s, alpha[t], mu[t], v[t], V[t])
        if t + 1 in (1, 10, 100, 300):
            sizes[t + 1] = (s.nbytes, s.dK.shape, s.dM.shape, s.C.shape)
    assert len(set(sizes.values())) == 1


def test_current_spectrum_and_coefficients(rng):
    modes = torus_modes(LENGTHS, 23)
    alpha, mu, v, V, w = _tokens(rng, 9)
    s = _run(init_stream(modes, LENGTHS, SIGMA, d_v=3), alpha, mu, v, V, w)
    dK, dM = elements(s).dense()
    lam0 = s.consts.lam0
    np.testing.assert_allclose(current_spectrum(s, "first"), first_order_eigenvalues(lam0, dK, dM), atol=1e-14)
    np.testing.assert_allclose(current_spectrum(s, "ritz"), ritz(lam0, dK, dM)[0], atol=1e-12)
    r = ritz(lam0, dK, dM)[0]
    assert np.abs(current_spectrum(s, "second") - r).max() < np.abs(current_spectrum(s, "first") - r).max()
    lam, c = perturbed_coefficients(s)
    _, Y = first_order_eigenvectors(lam0, dK, dM)
    # eq. (5) in the perturbed basis by a plain loop: c̃_k = Σ_i V_i conj(φ_k(μ_i)) w_i, φ_k = Σ_m Y_mk e_m
    phi = torus_mode_values(modes, LENGTHS, mu) @ Y  # (T, K)
    ref = (phi.conj() * w[:, None]).T @ V
    assert np.abs(c - ref).max() <= 1e-12 * np.abs(ref).max()
    with pytest.raises(ManifoldSpecError, match="method"):
        current_spectrum(s, "third")


def test_stream_errors():
    modes = torus_modes(LENGTHS, 5)
    s = init_stream(modes, LENGTHS, SIGMA, d_v=2)
    with pytest.raises(ManifoldSpecError, match="mu"):
        absorb(s, 0.1, [1.0, 2.0, 3.0], [1.0, 0.0])
    with pytest.raises(ManifoldSpecError, match="value"):
        absorb(s, 0.1, [1.0, 2.0], [1.0, 0.0], value=[1.0, 2.0, 3.0])
    with pytest.raises(ManifoldSpecError, match="gamma"):
        init_stream(modes, LENGTHS, SIGMA, gamma=0.0)
    with pytest.raises(ManifoldSpecError, match="alpha"):
        absorb(s, np.nan, [1.0, 2.0], [1.0, 0.0])


@pytest.mark.parametrize("B, n", [(1, 2), (3, 3)])
def test_gemm_accumulation_equals_reference(rng, B, n):
    from manifoldspec.spectral.stream import accumulate_gemm
    from manifoldspec.spectral.torus_sparse import torus_pattern

    lengths = (2 * np.pi, 5.0, 4.0)[:n]
    pat = torus_pattern(torus_modes(lengths, 29), lengths, SIGMA, 1e-10)
    T = 45
    alpha = rng.uniform(0.5, 1, (B, T))
    mu = rng.uniform(0, 5, (B, T, n))
    v = rng.normal(size=(B, T, n))
    ref = accumulate_torus_elements(pat, alpha, mu, v)
    for got in (accumulate_gemm(pat, alpha, mu, v), accumulate_gemm(pat, alpha, mu, v, chunk=7)):
        for a, b in zip(got, ref):
            assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
            assert np.all(a[:, pat.rows == pat.cols].imag == 0)  # Hermitian diagonal exactly real


@pytest.mark.parametrize("sigma", [0.3, 10.0])
def test_fast_accumulation_equals_reference_dense_and_sparse(rng, sigma):
    from manifoldspec.spectral.torus_sparse import GEMM_MIN_DENSITY, accumulate_fast, torus_pattern

    pat = torus_pattern(torus_modes(LENGTHS, 261), LENGTHS, sigma, 1e-8)
    dense = pat.nnz >= GEMM_MIN_DENSITY * pat.n_modes**2
    assert dense == (sigma < 1)  # σ = 10 leaves only the diagonal: the elementwise path is taken
    alpha, mu, v = rng.uniform(0.5, 1, (2, 30)), rng.uniform(0, 6, (2, 30, 2)), rng.normal(size=(2, 30, 2))
    ref = accumulate_torus_elements(pat, alpha, mu, v)
    for a, b in zip(accumulate_fast(pat, alpha, mu, v), ref):
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
