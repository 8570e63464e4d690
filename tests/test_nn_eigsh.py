"""Sparse generalized eigensolver with an adjoint backward (manifoldspec.nn.sparse_eigsh).

Oracles: torch.autograd.gradcheck (float64) on a non-degenerate pencil; central finite
differences of the numpy core (assemble + solve_operators) for a token-warp path K(θ), M(θ) on a
finite-element torus; and, on an exactly degenerate torus cluster, a projector loss whose gradient
must not depend on the basis the solver picked inside the cluster.
"""
import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from manifoldspec import FlatTorus, ManifoldSpecError, TokenWarp, assemble, discretize  # noqa: E402
from manifoldspec.nn import sparse_eigsh  # noqa: E402
from manifoldspec.nn.ops.eigsh import eigsh_backward, sparse_pattern, values_on  # noqa: E402
from manifoldspec.spectral.solve import solve_operators  # noqa: E402




def _random_pencil(rng, n=15):
    o = rng.uniform(-1, -0.2, n - 1)
    K = sp.diags([o, rng.uniform(3, 5, n), o], [-1, 0, 1]).tocsr()
    M = sp.diags([0.1 * np.ones(n - 1), rng.uniform(1, 2, n), 0.1 * np.ones(n - 1)], [-1, 0, 1]).tocsr()
    return K, M


def test_gradcheck_eigenvalues_and_eigenvectors(rng):
    K, M = _random_pencil(rng)
    rows, cols = sparse_pattern(K, M)
    Kv = torch.tensor(values_on(K, rows, cols), requires_grad=True)
    Mv = torch.tensor(values_on(M, rows, cols), requires_grad=True)

    def f(a, b):
        lam, Phi = sparse_eigsh(a, b, rows, cols, 15, 3)
        return lam, Phi * Phi  # sign-invariant eigenvector output

    assert torch.autograd.gradcheck(f, (Kv, Mv), eps=1e-6, atol=1e-6, rtol=1e-4)


def _torus_problem(res=6):
    # square torus P1 grid: the first nonzero eigenvalue is exactly 4-fold (up to rounding)
    disc = discretize(FlatTorus((2 * np.pi, 2 * np.pi)), res, order=1)
    ops0 = assemble(disc)
    warp = TokenWarp([0.4, 0.25], [[1.0, 2.0], [4.0, 3.5]], [[1.0, 0.3], [-0.2, 1.0]], 0.9, period=(2 * np.pi, 2 * np.pi))
    ops1 = assemble(disc, warp)
    return disc, ops0, ops1


def test_gradient_matches_fd_of_numpy_core():
    disc, ops0, ops1 = _torus_problem()
    rows, cols = sparse_pattern(ops0.K, ops0.M, ops1.K, ops1.M)
    K0, M0 = values_on(ops0.K, rows, cols), values_on(ops0.M, rows, cols)
    dK, dM = values_on(ops1.K, rows, cols) - K0, values_on(ops1.M, rows, cols) - M0
    n, k = disc.n_dofs, 9  # whole clusters: 1 + 4 + 4
    w = np.linspace(0.5, 1.5, k)
    W = np.random.default_rng(5).normal(size=n)
    th0 = 0.3

    def loss_np(th):
        lam, Phi = solve_operators(sp.csr_matrix((K0 + th * dK, (rows, cols)), shape=(n, n)),
                                   sp.csr_matrix((M0 + th * dM, (rows, cols)), shape=(n, n)), k)
        return float(w @ lam + np.sum(W[:, None] * Phi[:, 1:5] ** 2))  # eigenvalues + cluster projector diagonal

    th = torch.tensor(th0, dtype=torch.float64, requires_grad=True)
    lam, Phi = sparse_eigsh(torch.tensor(K0) + th * torch.tensor(dK), torch.tensor(M0) + th * torch.tensor(dM), rows, cols, n, k)
    loss = (torch.tensor(w) * lam).sum() + (torch.tensor(W)[:, None] * Phi[:, 1:5] ** 2).sum()
    g, = torch.autograd.grad(loss, th)
    h = 1e-5
    fd = (loss_np(th0 + h) - loss_np(th0 - h)) / (2 * h)
    assert abs(float(g) - fd) <= 1e-6 * max(1.0, abs(fd))


def test_degenerate_cluster_gradient_is_basis_invariant(rng):
    disc, ops0, ops1 = _torus_problem()
    K, M = ops0.K, ops0.M
    rows, cols = sparse_pattern(K, M, ops1.K, ops1.M)
    lam, Phi = solve_operators(K, M, 10)
    C = slice(1, 5)
    assert np.ptp(lam[C]) <= 1e-10 * lam[1]  # exactly degenerate cluster
    Wm = rng.normal(size=(disc.n_dofs, disc.n_dofs))
    Wm = Wm + Wm.T

    def cot(P):  # L = tr(W Φ_C Φ_Cᵀ): depends on the cluster projector only; ∂L/∂Φ_C = 2 W Φ_C
        g = np.zeros_like(P)
        g[:, C] = 2 * Wm @ P[:, C]
        return g

    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    Phi2 = Phi.copy()
    Phi2[:, C] = Phi[:, C] @ Q  # another valid M-orthonormal basis of the same eigenspace
    g1 = eigsh_backward(K, M, lam[:9], Phi[:, :9], None, cot(Phi[:, :9]), rows, cols, lam_next=lam[9])
    g2 = eigsh_backward(K, M, lam[:9], Phi2[:, :9], None, cot(Phi2[:, :9]), rows, cols, lam_next=lam[9])
    for a, b in zip(g1, g2):
        assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max()
        assert np.all(np.isfinite(a))
    # and it is the derivative: a perturbation direction on the pattern, central differences of the projector loss
    E = rng.normal(size=len(rows))

    def L(t):
        Kt = K + t * sp.csr_matrix((E, (rows, cols)), shape=K.shape)
        Kt = 0.5 * (Kt + Kt.T)
        lt, Pt = solve_operators(Kt.tocsr(), M, 9)
        return float(np.trace(Pt[:, C].T @ Wm @ Pt[:, C]))

    h = 1e-6
    fd = (L(h) - L(-h)) / (2 * h)
    assert abs(float(g1[0] @ E) - fd) <= 1e-5 * max(1.0, abs(fd))


def test_cut_cluster_and_bad_sizes_raise(rng):
    disc, ops0, _ = _torus_problem()
    rows, cols = sparse_pattern(ops0.K, ops0.M)
    Kv = torch.tensor(values_on(ops0.K, rows, cols), requires_grad=True)
    Mv = torch.tensor(values_on(ops0.M, rows, cols))
    lam, Phi = sparse_eigsh(Kv, Mv, rows, cols, disc.n_dofs, 3)  # cuts the 4-fold cluster
    lam.sum().backward()  # eigenvalue gradients exist
    with pytest.raises(ManifoldSpecError, match="cut a degenerate cluster"):
        _, Phi = sparse_eigsh(Kv, Mv, rows, cols, disc.n_dofs, 3)
        (Phi**2).sum().backward()
    with pytest.raises(ManifoldSpecError, match="k: must be"):
        sparse_eigsh(Kv, Mv, rows, cols, disc.n_dofs, disc.n_dofs)
    with pytest.raises(ManifoldSpecError, match="pattern"):
        sparse_eigsh(Kv[:-1], Mv, rows, cols, disc.n_dofs, 3)
