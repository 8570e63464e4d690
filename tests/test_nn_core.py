"""Differentiable core of manifoldspec.nn: closed-form torus elements and spectral filters.

Oracles: the numpy core (torus_matrix_elements, accumulate_torus_elements, perturb.spectral_function,
ritz_lowdin), finite differences of that numpy core, torch.autograd.gradcheck in float64, and the
O(ε²) agreement of the first-order filter with the exact Ritz filter (class C, THEOREMS.md §8).
"""
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg as sla

torch = pytest.importorskip("torch")

from manifoldspec.nn import (first_order_filter, heat_divided_differences, hermitian_function, ritz_filter,  # noqa: E402
                             torus_basis, torus_token_elements)
from manifoldspec.nn.ops.spectral import first_order_kernel, ritz_kernel  # noqa: E402
from manifoldspec.nn.ops.smt import token_h  # noqa: E402
from manifoldspec.nn.ops.torus import symmetric_token_h  # noqa: E402
from manifoldspec.spectral.perturb import heat_filter, ritz_lowdin, spectral_function  # noqa: E402
from manifoldspec.spectral.torus_modes import torus_matrix_elements  # noqa: E402
from manifoldspec.spectral.torus_sparse import accumulate_torus_elements, torus_pattern  # noqa: E402

D64 = torch.float64




def _tokens(rng, N, n, lengths):
    return (rng.uniform(0.2, 1.0, N), rng.uniform(0, 1, (N, n)) * np.asarray(lengths), rng.normal(size=(N, n)))


def test_import_manifoldspec_does_not_load_torch():
    code = "import sys, manifoldspec; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("n,lengths", [(2, [2 * np.pi, 2 * np.pi]), (2, [5.0, 3.0]), (3, [4.0, 4.5, 5.0])],
                         ids=["square", "rect", "3d"])
def test_torus_elements_match_numpy_core(rng, n, lengths):
    basis = torus_basis(11, n, lengths)
    alpha, mu, v = _tokens(rng, 7, n, lengths)
    sigma = 0.6
    dK, dM = torus_token_elements(basis, *(torch.tensor(x) for x in (alpha, mu, v)), torch.tensor(sigma, dtype=D64))
    rK, rM = torus_matrix_elements(basis.modes, lengths, alpha, mu, v, sigma)
    assert np.abs(dK.sum(0).numpy() - rK).max() <= 1e-12 * np.abs(rK).max()
    assert np.abs(dM.sum(0).numpy() - rM).max() <= 1e-12 * np.abs(rM).max()
    # and on the sparse pattern of the batched accumulator (B = 1)
    pat = torus_pattern(basis.modes, lengths, sigma, drop_tol=0.0)
    aK, aM = accumulate_torus_elements(pat, alpha[None], mu[None], v[None])
    assert np.allclose(dK.sum(0).numpy()[pat.rows, pat.cols], aK[0], rtol=0, atol=1e-12 * np.abs(aK).max())
    assert np.allclose(dM.sum(0).numpy()[pat.rows, pat.cols], aM[0], rtol=0, atol=1e-12 * np.abs(aM).max())


def test_factored_token_h_equals_closed_form(rng):
    # the layer's rank-one factored form against the autograd Function
    basis = torus_basis(9, 2)
    B, nh, T = 2, 3, 5
    alpha = torch.rand(B, nh, T, dtype=D64)
    mu, v = torch.randn(B, nh, T, 2, dtype=D64) * 3, torch.randn(B, nh, T, 2, dtype=D64)
    sigma = torch.tensor([0.4, 0.7, 1.1], dtype=D64)
    dK, dM = torus_token_elements(basis, alpha, mu, v, sigma[:, None].expand_as(alpha))
    ref = symmetric_token_h(basis, dK, dM)
    assert (token_h(basis, alpha, mu, v, sigma) - ref).abs().max() <= 1e-13 * ref.abs().max()


def test_diagonal_of_h_is_non_positive_and_the_flow_conserves_it():
    # diag h_t = −α_t c (κ_m·v_t)² with c = (2πσ²)^{n/2}/vol (P_mm = 0 since λ_m = |κ_m|², G_mm = 1), and
    # D_mm = 1: the warp's q = 0 part grows with every token at any flow step (benchmarks/results/nn.md §3p)
    from manifoldspec.nn.ops.smt import smt_recurrent
    basis = torus_basis(9, 2)
    B, nh, T = 2, 2, 7
    alpha = torch.rand(B, nh, T, dtype=D64)
    mu, v = torch.randn(B, nh, T, 2, dtype=D64) * 3, torch.randn(B, nh, T, 2, dtype=D64)
    sigma = torch.tensor([0.4, 0.9], dtype=D64)
    c = (2 * np.pi * sigma**2) / (2 * np.pi) ** 2
    kv = v @ basis.kappa_t(v).T  # (B, nh, T, K): κ_m·v_t
    diag = torch.diagonal(token_h(basis, alpha, mu, v, sigma), dim1=-2, dim2=-1)
    want = -alpha[..., None] * c[:, None, None] * kv**2
    assert (diag - want).abs().max() <= 1e-13 * want.abs().max() and diag.real.max() <= 0
    args = (mu, mu, torch.randn(B, nh, T, 3, dtype=D64), alpha, v, sigma, torch.full((nh,), 0.02, dtype=D64))
    gamma = torch.full((nh,), 0.9, dtype=D64)
    H0 = smt_recurrent(basis, *args, None, gamma)[1].H
    H1 = smt_recurrent(basis, *args, torch.full((nh,), 0.5, dtype=D64), gamma)[1].H
    off = ~torch.eye(basis.n_modes, dtype=torch.bool)
    assert torch.allclose(torch.diagonal(H1, dim1=-2, dim2=-1), torch.diagonal(H0, dim1=-2, dim2=-1), rtol=1e-13, atol=0)
    assert (H1[..., off].abs().sum() < 0.9 * H0[..., off].abs().sum())  # the rest does decay


def test_torus_elements_gradcheck():
    basis = torus_basis(5, 2, [4.0, 5.0])
    g = torch.Generator().manual_seed(3)
    alpha = torch.rand(3, dtype=D64, generator=g).requires_grad_()
    mu = (torch.rand(3, 2, dtype=D64, generator=g) * 4).requires_grad_()
    v = torch.randn(3, 2, dtype=D64, generator=g).requires_grad_()
    sigma = torch.tensor(0.7, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, m, w, s: torus_token_elements(basis, a, m, w, s), (alpha, mu, v, sigma))
    # per-token σ (broadcast shape) and a loss that uses only one output
    sig3 = torch.tensor([0.5, 0.8, 1.2], dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, m, w, s: torus_token_elements(basis, a, m, w, s)[1], (alpha, mu, v, sig3))


def test_torus_elements_gradient_matches_fd_of_numpy_core(rng):
    lengths = [2 * np.pi, 5.0]
    basis = torus_basis(13, 2, lengths)
    alpha, mu, v = _tokens(rng, 4, 2, lengths)
    sigma = 0.8
    W1 = rng.normal(size=(basis.n_modes,) * 2) + 1j * rng.normal(size=(basis.n_modes,) * 2)
    W2 = rng.normal(size=(basis.n_modes,) * 2) + 1j * rng.normal(size=(basis.n_modes,) * 2)

    def loss_np(a, m, w, s):
        K, M = torus_matrix_elements(basis.modes, lengths, a, m, w, s)
        return float(np.real(np.sum(np.conj(W1) * K) + np.sum(np.conj(W2) * M)))

    ts = [torch.tensor(x, requires_grad=True) for x in (alpha, mu, v)] + [torch.tensor(sigma, dtype=D64, requires_grad=True)]
    K, M = torus_token_elements(basis, *ts)
    loss = (torch.conj(torch.tensor(W1)) * K.sum(0)).real.sum() + (torch.conj(torch.tensor(W2)) * M.sum(0)).real.sum()
    grads = torch.autograd.grad(loss, ts)
    h = 1e-6
    base = [alpha, mu, v, np.array(sigma)]
    for gi, (g, x) in enumerate(zip(grads, base)):
        fd = np.zeros_like(x, dtype=float)
        for idx in np.ndindex(x.shape):
            xp, xm = [b.copy() for b in base], [b.copy() for b in base]
            xp[gi][idx] += h
            xm[gi][idx] -= h
            fd[idx] = (loss_np(*xp[:3], float(xp[3])) - loss_np(*xm[:3], float(xm[3]))) / (2 * h)
        assert np.allclose(g.numpy(), fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max()), gi


def _pencil(rng, K, eps):
    A = rng.normal(size=(K, K)) + 1j * rng.normal(size=(K, K))
    Bm = rng.normal(size=(K, K)) + 1j * rng.normal(size=(K, K))
    return eps * (A + A.conj().T), 0.3 * eps * (Bm + Bm.conj().T)


def test_first_order_filter_matches_numpy_and_is_second_order_accurate(rng):
    basis = torus_basis(13, 2)  # shells 1 + 4 + 4 + 4: exact degeneracy
    lam0 = basis.lam0
    tau = 0.3
    errs = []
    dK1, dM1 = _pencil(rng, len(lam0), 1.0)  # one direction, two sizes
    for eps in (3e-3, 3e-4):
        dK, dM = eps * dK1, eps * dM1
        H = dK - 0.5 * (lam0[:, None] + lam0[None, :]) * dM
        fo = first_order_filter(torch.tensor(lam0), torch.tensor(H), torch.tensor(tau, dtype=D64)).numpy()
        ref = spectral_function(lam0, dK, dM, *heat_filter(tau))
        assert np.abs(fo - ref).max() <= 1e-13
        exact = ritz_filter(torch.tensor(lam0), torch.tensor(dK), torch.tensor(dM), torch.tensor(tau, dtype=D64)).numpy()
        w, V = sla.eigh(ritz_lowdin(lam0, dK, dM))
        assert np.abs(exact - (V * np.exp(-tau * w)) @ V.conj().T).max() <= 1e-12
        errs.append(np.abs(fo - exact).max())
        # point-evaluation kernel B f(L) B and its first-order form
        kern = ritz_kernel(torch.tensor(lam0), torch.tensor(dK), torch.tensor(dM), torch.tensor(tau, dtype=D64)).numpy()
        errs.append(np.abs(first_order_kernel(torch.tensor(lam0), torch.tensor(dK), torch.tensor(dM), torch.tensor(tau, dtype=D64)).numpy() - kern).max())
    assert 70 <= errs[0] / errs[2] <= 130  # O(ε²), class C
    assert 70 <= errs[1] / errs[3] <= 130


def test_divided_differences_stable_at_ties_and_tiny_gaps():
    lam = torch.tensor([0.0, 1.0, 1.0, 1.0 + 1e-13, 2.0], dtype=D64)
    tau = torch.tensor(0.7, dtype=D64)
    F = heat_divided_differences(lam, tau)
    assert torch.isfinite(F).all()
    fp = -0.7 * np.exp(-0.7)
    assert abs(float(F[1, 2]) - fp) < 1e-15 and abs(float(F[1, 3]) - fp) < 1e-12
    assert abs(float(F[0, 4]) - (1 - np.exp(-1.4)) / -2.0) < 1e-15


def test_spectral_gradchecks_including_exact_degeneracy(rng):
    lam0 = torch.tensor(torus_basis(9, 2).lam0)  # 1, 4 × 1, 4 × 2: exactly degenerate shells
    K = len(lam0)
    dK, dM = (torch.tensor(x).requires_grad_() for x in _pencil(rng, K, 0.05))
    tau = torch.tensor(0.4, dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h, t: first_order_filter(lam0, h, t), (dK, tau))
    assert torch.autograd.gradcheck(lambda a, b, t: ritz_filter(lam0, a, b, t), (dK, dM, tau))
    # exact degeneracy at the evaluation point: A = diag(λ0) (torch.linalg.eigh's backward gives NaN/inf here)
    A = torch.diag(lam0).to(torch.complex128).requires_grad_()
    out = hermitian_function(A, tau, "heat")
    G = torch.tensor(rng.normal(size=(K, K)) + 1j * rng.normal(size=(K, K)))
    gA, = torch.autograd.grad((G.conj() * out).real.sum(), A)
    assert torch.isfinite(gA.real).all() and torch.isfinite(gA.imag).all()
    # Daleckii–Krein at a diagonal point: dL/dA = F(λ0) ∘ sym(G), F the divided differences
    Fdd = heat_divided_differences(lam0, tau.detach()).numpy()
    Gs = 0.5 * (G.numpy() + G.numpy().conj().T)
    assert np.abs(gA.detach().numpy() - Fdd * Gs).max() <= 1e-12
    assert torch.autograd.gradcheck(lambda a, t: hermitian_function(a, t, "heat"), (A, tau))
    Bsym = torch.tensor(np.eye(K) * 2.0 + 0.1 * rng.normal(size=(K, K))).requires_grad_()
    assert torch.autograd.gradcheck(lambda b: hermitian_function(b, kind="invsqrt"), (Bsym,))


def test_spectral_filter_gradient_matches_fd_of_numpy_core(rng):
    lam0 = torus_basis(9, 2).lam0
    dK, dM = _pencil(rng, len(lam0), 0.05)
    W = rng.normal(size=dK.shape)

    def loss_np(tau, s):
        return float(np.real(np.sum(W * spectral_function(lam0, s * dK, s * dM, *heat_filter(tau)))))

    tau = torch.tensor(0.4, dtype=D64, requires_grad=True)
    s = torch.tensor(1.0, dtype=D64, requires_grad=True)
    H = s * torch.tensor(dK) - 0.5 * (torch.tensor(lam0)[:, None] + torch.tensor(lam0)[None, :]) * s * torch.tensor(dM)
    loss = (torch.tensor(W) * first_order_filter(torch.tensor(lam0), H, tau)).real.sum()
    gt, gs = torch.autograd.grad(loss, (tau, s))
    h = 1e-6
    assert abs(float(gt) - (loss_np(0.4 + h, 1) - loss_np(0.4 - h, 1)) / (2 * h)) < 1e-7
    assert abs(float(gs) - (loss_np(0.4, 1 + h) - loss_np(0.4, 1 - h)) / (2 * h)) < 1e-7


def test_bad_inputs_raise_clear_errors():
    from manifoldspec import ManifoldSpecError
    with pytest.raises(ManifoldSpecError, match="kind"):
        hermitian_function(torch.eye(3, dtype=D64), kind="log")
    with pytest.raises(ManifoldSpecError, match="positive definite"):
        hermitian_function(-torch.eye(3, dtype=D64), kind="invsqrt")
    with pytest.raises(ManifoldSpecError, match="latent_dim"):
        torus_basis(8, 2, [1.0, 2.0, 3.0])


def test_nn_without_torch_names_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import manifoldspec.nn\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install manifoldspec[nn]" in out
