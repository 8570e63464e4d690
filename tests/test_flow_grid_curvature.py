"""Chart-grid curvature against exact oracles and geomstats' autodiff (THEOREMS.md GB-2, §1.1)."""
import functools
import os

import numpy as np
import pytest

from manifoldspec import ManifoldSpecError, TokenWarp
from manifoldspec.flow.grid_curvature import (PeriodicGrid, christoffel, gaussian_curvature, integrate, ricci_from_riemann,
                                              ricci_tensor, riemann_tensor, scalar_curvature)


def _metric(x, xp, amp=1.0):
    """A smooth, non-diagonal periodic metric written for numpy or torch."""
    n = x.shape[-1]
    X = [x[..., a] for a in range(n)]
    if n == 2:
        a = 1 + 0.3 * amp * xp.sin(X[0]) * xp.cos(X[1])
        b = 0.2 * amp * xp.sin(X[0] + X[1])
        d = 1.5 + 0.4 * amp * xp.cos(2 * X[0])
        rows = [[a, b], [b, d]]
    else:
        a = 1 + 0.3 * amp * xp.sin(X[0]) * xp.cos(X[1])
        b = 0.2 * amp * xp.sin(X[0] + X[2])
        d = 1.5 + 0.4 * amp * xp.cos(X[1])
        e = 0.1 * amp * xp.cos(X[2])
        f = 1.2 + 0.25 * amp * xp.sin(X[2]) * xp.cos(X[0])
        h = 0.15 * amp * xp.sin(X[1])
        rows = [[a, b, e], [b, d, h], [e, h, f]]
    return xp.stack([xp.stack(r, -1) for r in rows], -2)


@pytest.fixture(scope="module")
def geomstats_metric_space():
    """geomstats (pytorch backend) with our analytic metric.

    geomstats 2.8's torch backend takes nested jacobians without ``create_graph``, which
    silently drops the second derivatives the Riemann tensor needs (its ``ricci_tensor``
    is then wrong); we restore the graph so that its own formulas are differentiated
    correctly. The numpy backend has no autodiff and the autograd package is not installed.
    """
    os.environ.setdefault("GEOMSTATS_BACKEND", "pytorch")
    torch = pytest.importorskip("torch")
    # importing geomstats' torch backend sets torch's default dtype to float64 for the whole process;
    # restore it after this module, or every later torch test silently runs in float64
    default_dtype = torch.get_default_dtype()
    try:
        import geomstats._backend.pytorch.autodiff as ad
        from geomstats.geometry.euclidean import Euclidean
        from geomstats.geometry.riemannian_metric import RiemannianMetric
    except Exception as exc:  # pragma: no cover - depends on the environment
        torch.set_default_dtype(default_dtype)
        pytest.skip(f"geomstats with the pytorch backend is unavailable: {exc}")
    if os.environ["GEOMSTATS_BACKEND"] != "pytorch":
        torch.set_default_dtype(default_dtype)
        pytest.skip("geomstats was imported with a non-torch backend in this session")
    ad._torch_jacobian = functools.partial(torch.autograd.functional.jacobian, create_graph=True)

    def make(n, amp):
        class M(RiemannianMetric):
            def metric_matrix(self, base_point=None):
                return _metric(base_point, torch, amp)

        space = Euclidean(dim=n, equip=False)
        space.equip_with_metric(M)
        return space.metric

    torch.set_default_dtype(torch.float64)  # what geomstats' backend expects (set on its first import only)
    yield make, torch
    torch.set_default_dtype(default_dtype)


@pytest.mark.parametrize("n, shape, amp", [(2, (45, 38), 1.0), (3, (27, 23, 25), 0.5)], ids=["2d", "3d"])
def test_ricci_matches_geomstats_autodiff(geomstats_metric_space, n, shape, amp):
    make, torch = geomstats_metric_space
    grid = PeriodicGrid((2 * np.pi,) * n, shape)
    x = grid.coordinates()
    ric = ricci_tensor(_metric(x, np, amp), grid)
    R = scalar_curvature(_metric(x, np, amp), grid)
    rng = np.random.default_rng(3)
    idx = [tuple(rng.integers(0, s) for s in shape) for _ in range(5)]
    pts = torch.tensor(np.array([x[i] for i in idx]), dtype=torch.float64)
    metric = make(n, amp)
    ref = metric.ricci_tensor(pts).detach().numpy()
    mine = np.array([ric[i] for i in idx])
    assert np.abs(mine - ref).max() / np.abs(ref).max() < 1e-6
    ref_R = metric.scalar_curvature(pts).detach().numpy()
    assert np.abs(np.array([R[i] for i in idx]) - ref_R).max() / np.abs(ref_R).max() < 1e-6


def test_two_d_ricci_is_K_g_and_contraction_of_riemann():
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (41, 36))
    g = _metric(grid.coordinates(), np)
    ric = ricci_tensor(g, grid)
    K = gaussian_curvature(g, grid)
    assert np.abs(ric - K[..., None, None] * g).max() < 1e-6 * np.abs(ric).max()
    # plain reference: the full Riemann tensor contracted
    assert np.allclose(ricci_from_riemann(riemann_tensor(g, grid)), ric, atol=1e-7 * np.abs(ric).max())
    # Gauss–Bonnet on the torus: ∫ K dA = 0
    assert abs(integrate(K, g, grid)) < 1e-8


def test_riemann_contraction_3d():
    grid = PeriodicGrid((2 * np.pi,) * 3, (15, 17, 16))
    g = _metric(grid.coordinates(), np, 0.3)
    ric = ricci_tensor(g, grid)
    assert np.allclose(ricci_from_riemann(riemann_tensor(g, grid)), ric, atol=1e-6 * np.abs(ric).max())


def test_conformal_metric_gaussian_curvature_closed_form():
    """g = e^{2u} I: K = −e^{−2u} Δu exactly (THEOREMS.md §1.1.1)."""
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (37, 44))
    x = grid.coordinates()
    u = 0.3 * np.sin(x[..., 0]) * np.cos(2 * x[..., 1])
    g = np.exp(2 * u)[..., None, None] * np.eye(2)
    K_exact = -np.exp(-2 * u) * (-5 * u)
    assert np.abs(gaussian_curvature(g, grid) - K_exact).max() < 1e-10


def test_token_bump_curvature_at_centre():
    """GB-2: g = I + α G e_x e_xᵀ, α = s = ½, on the 2π torus: K(μ) = α/(2s²(1+α)) = 2/3."""
    warp = TokenWarp([0.5], [[np.pi, np.pi]], [[1.0, 0.0]], 0.5, period=(2 * np.pi, 2 * np.pi))
    errs = []
    for N in (32, 48, 64):
        grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (N, N))
        g = grid.sample(warp)
        K = gaussian_curvature(g, grid)
        errs.append(abs(K[N // 2, N // 2] - 2 / 3))
        assert abs(integrate(K, g, grid)) < 1e-9
    assert errs[-1] < 1e-9 and errs[0] > errs[-1]  # spectral convergence


def test_christoffel_symmetric_and_flat_zero():
    grid = PeriodicGrid((2.0, 3.0), (9, 10))
    g = np.broadcast_to(np.array([[2.0, 0.4], [0.4, 1.0]]), grid.shape + (2, 2)).copy()
    assert np.abs(christoffel(g, grid)).max() < 1e-14
    assert np.abs(ricci_tensor(g, grid)).max() < 1e-14


def test_bad_grid_input():
    with pytest.raises(ManifoldSpecError, match="shape"):
        PeriodicGrid((1.0, 1.0), (8,))
    with pytest.raises(ManifoldSpecError, match="dimension"):
        PeriodicGrid((1.0,), (8,))
    with pytest.raises(ManifoldSpecError, match="lengths"):
        PeriodicGrid((1.0, -1.0), (8, 8))
    grid = PeriodicGrid((1.0, 1.0, 1.0), (5, 5, 5))
    with pytest.raises(ManifoldSpecError, match="2D"):
        gaussian_curvature(np.broadcast_to(np.eye(3), (5, 5, 5, 3, 3)), grid)
