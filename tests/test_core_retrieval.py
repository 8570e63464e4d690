"""Eqs. (5)–(6) on computed spectra (manifoldspec.spectral.retrieval) against exact oracles."""
import numpy as np
import pytest

import manifoldspec as ms
from manifoldspec import ManifoldSpecError
from manifoldspec.spectral.retrieval import retrieve, spectral_coefficients
from docs_blocks import python_block

TORUS = ms.FlatTorus((2 * np.pi, 2 * np.pi))


@pytest.fixture(scope="module")
def torus_spec():
    return ms.solve(ms.discretize(TORUS, 24, 2), 13)  # whole shells |m|² ≤ 4: 1 + 4 + 4 + 4


@pytest.fixture(scope="module")
def sphere_spec():
    return ms.solve(ms.discretize(ms.Sphere(1.0), 3, 2), 16)  # l ≤ 3: 1 + 3 + 5 + 7


def test_one_token_reads_back_the_reproducing_kernel_on_the_torus(torus_spec, rng):
    # Σ_k φ_k(μ)² over whole shells of the flat torus is K/Area at every point (|e_m|² = 1/Area)
    mu = rng.uniform(0, 2 * np.pi, (5, 2))
    for m in mu:
        c = spectral_coefficients(torus_spec, m[None], [1.0], weights=1.0)
        y = retrieve(torus_spec, m[None], c)
        assert y[0] == pytest.approx(13 / (4 * np.pi**2), rel=1e-4)


def test_one_token_reads_back_the_addition_theorem_on_the_sphere(sphere_spec, rng):
    # Σ_{l ≤ L} Σ_m Y_lm(x)² = (L + 1)²/(4π) for any x on S² (addition theorem), L = 3
    x = rng.normal(size=(4, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for p in x:
        y = retrieve(sphere_spec, p[None], spectral_coefficients(sphere_spec, p[None], [2.0], weights=1.0))
        assert y[0] == pytest.approx(2.0 * 16 / (4 * np.pi), rel=2e-3)
    # with the heat filter the diagonal is Σ_l (2l + 1) e^{−τ l(l+1)}/(4π)
    tau = 0.1
    y = retrieve(sphere_spec, x[:1], spectral_coefficients(sphere_spec, x[:1], [1.0], weights=1.0), tau=tau)
    exact = sum((2 * l + 1) * np.exp(-tau * l * (l + 1)) for l in range(4)) / (4 * np.pi)
    assert y[0] == pytest.approx(exact, rel=2e-3)


def test_band_limited_field_is_reconstructed_at_the_fe_rate():
    # V in span{|m|² ≤ 4}, sampled on a uniform grid (the trapezoid rule is exact for these modes):
    # eq. (5) gives its coefficients and eq. (6) returns V itself, up to the eigenfunctions' P2 error,
    # which at arbitrary points is O(h³)
    g = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    X, Y = np.meshgrid(g, g, indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel()])
    field = lambda p: np.column_stack([1 + np.cos(p[:, 0]) - 0.5 * np.sin(p[:, 0] + p[:, 1]),  # noqa: E731
                                       np.sin(2 * p[:, 1]) + 0.3 * np.cos(2 * p[:, 0])])
    q = np.random.default_rng(5).uniform(0, 2 * np.pi, (50, 2))
    errs = []
    for res in (16, 32):
        spec = ms.solve(ms.discretize(TORUS, res, 2), 13)
        c = spectral_coefficients(spec, pts, field(pts))  # default weights Area/N
        errs.append(np.abs(retrieve(spec, q, c) - field(q)).max())
        # a mode outside the band is filtered out: orthogonal to every kept φ_k (measured 4e-15; the grid points
        # are mesh nodes and the P2 eigenvectors of the structured mesh keep discrete Fourier orthogonality)
        assert np.abs(spectral_coefficients(spec, pts, np.cos(3 * pts[:, 0]))).max() < 1e-10
    assert errs[1] < 1e-3 and np.log2(errs[0] / errs[1]) > 2.5, errs


def test_shapes_and_errors(torus_spec):
    mu = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert spectral_coefficients(torus_spec, mu, [1.0, 2.0]).shape == (13,)
    c = spectral_coefficients(torus_spec, mu, np.ones((2, 3)), weights=[0.5, 0.5])
    assert c.shape == (13, 3) and retrieve(torus_spec, mu, c).shape == (2, 3)
    with pytest.raises(ManifoldSpecError, match="values"):
        spectral_coefficients(torus_spec, mu, [1.0, 2.0, 3.0])
    with pytest.raises(ManifoldSpecError, match="values"):
        spectral_coefficients(torus_spec, mu, [1.0, np.nan])
    with pytest.raises(ManifoldSpecError, match="weights"):
        spectral_coefficients(torus_spec, mu, [1.0, 2.0], weights=[1.0, -1.0])
    with pytest.raises(ManifoldSpecError, match="weights"):
        spectral_coefficients(torus_spec, mu, [1.0, 2.0], weights=[1.0, 1.0, 1.0])
    with pytest.raises(ManifoldSpecError, match="points"):
        spectral_coefficients(torus_spec, [[1.0, 2.0, 3.0]], [1.0])
    with pytest.raises(ManifoldSpecError, match="coefficients"):
        retrieve(torus_spec, mu, np.ones(12))
    with pytest.raises(ManifoldSpecError, match="tau"):
        retrieve(torus_spec, mu, np.ones(13), tau=-1.0)
    with pytest.raises(ManifoldSpecError, match="f, tau"):
        retrieve(torus_spec, mu, np.ones(13), tau=1.0, f=np.exp)
    with pytest.raises(ManifoldSpecError, match="f:"):
        retrieve(torus_spec, mu, np.ones(13), f=lambda lam: np.where(lam > 1.5, np.inf, 1.0))


def test_docs_example_matches_the_addition_theorem(capsys):
    from scipy.special import eval_legendre

    block = python_block("spectra.md", "spectral_coefficients")
    scope = {}
    exec(compile(block, "docs/spectra.md", "exec"), scope)
    kernel = lambda cos: sum((2 * l + 1) * np.exp(-0.1 * l * (l + 1)) * eval_legendre(l, cos)  # noqa: E731
                             for l in range(4)) / (4 * np.pi)
    np.testing.assert_allclose(scope["y"], [[kernel(1.0), kernel(0.0)], [kernel(0.0), kernel(1.0)]], atol=2e-3)
    assert "[[ 0.661 -0.03 ]" in capsys.readouterr().out
