"""FE-1 (THEOREMS §5.4): exact discrete spectra of P1 on a circle (consistent and lumped mass) and of the
5-point Laplacian on a torus grid; warped circles and intervals against their exact spectra (any metric on
S¹ is isometric to the round circle of the same length), with the FE convergence orders."""
import numpy as np
import pytest
import scipy.linalg as sla

import manifoldspec as ms
from manifoldspec import ManifoldSpecError
from manifoldspec.cli import main
from manifoldspec.geometry.exact import fd_torus_eigenvalues, p1_circle_eigenvalues, riemannian_length


def _circle_spectrum(n, k, length=2 * np.pi, order=1, mass="consistent", metric=None):
    return ms.solve(ms.discretize(ms.FlatTorus((length,)), n, order), k, metric, mass=mass).eigenvalues


def test_closed_forms_match_the_theorems_table():
    # THEOREMS §5.4 at N = 32, k = 1, 2, 3 (each twice): an independent check of the formulas themselves
    cons = p1_circle_eigenvalues(32, 7)
    lump = p1_circle_eigenvalues(32, 7, mass="lumped")
    assert np.allclose(cons[[1, 3, 5]], [1.00321687, 4.05166418, 9.26313056], atol=5e-9)
    assert np.allclose(lump[[1, 3, 5]], [0.99679136, 3.94885932, 8.74275756], atol=5e-9)
    assert np.array_equal(cons[1::2], cons[2::2]) and cons[0] == 0


@pytest.mark.parametrize("n,length", [(32, 2 * np.pi), (17, 5.0), (8, 0.3)])
@pytest.mark.parametrize("mass", ["consistent", "lumped"])
def test_p1_circle_assembly_equals_the_exact_discrete_spectrum(n, length, mass):
    # the whole discrete spectrum (m = N/2 included, simple for even N), by LAPACK on the assembled pencil
    ops = ms.assemble(ms.discretize(ms.FlatTorus((length,)), n, 1), mass=mass)
    got = sla.eigh(ops.K.toarray(), ops.M.toarray(), eigvals_only=True)
    want = p1_circle_eigenvalues(n, n, length=length, mass=mass)
    assert np.abs(got - want).max() < 1e-12 * want.max()
    assert abs(ops.area - length) < 1e-13 * length and np.allclose(ops.M.sum(axis=1), length / n)


def test_consistent_above_exact_above_lumped():
    exact = ms.exact_eigenvalues(ms.FlatTorus((2 * np.pi,)), 9)[1:]
    cons, lump = _circle_spectrum(40, 9)[1:], _circle_spectrum(40, 9, mass="lumped")[1:]
    assert np.all(cons > exact) and np.all(lump < exact)
    # both O(h²) with the leading constants ±κ⁴h²/12 and −κ⁴h²/12 (THEOREMS §5.4)
    h, kap = 2 * np.pi / 40, np.sqrt(exact)
    assert np.allclose((cons - exact) / (kap**4 * h**2 / 12), 1, atol=0.02)
    assert np.allclose((exact - lump) / (kap**4 * h**2 / 12), 1, atol=0.02)


@pytest.mark.parametrize("lengths,n", [((2 * np.pi, 2 * np.pi), 8), ((2 * np.pi, 3.0), 12)])
def test_lumped_p1_on_the_torus_grid_is_the_five_point_laplacian(lengths, n):
    disc = ms.discretize(ms.FlatTorus(lengths), n, 1)
    ops = ms.assemble(disc, mass="lumped")
    got = sla.eigh(ops.K.toarray(), ops.M.toarray(), eigvals_only=True)
    want = fd_torus_eigenvalues(lengths, n, n * n)
    assert np.abs(got - want).max() < 1e-11 * want.max()
    # and consistent mass is a different operator: the oracle can tell them apart
    cons = ms.assemble(disc)
    assert np.abs(sla.eigh(cons.K.toarray(), cons.M.toarray(), eigvals_only=True) - want).max() > 1e-3


@pytest.mark.parametrize("method", ["shift-invert", "lobpcg", "dense"])
@pytest.mark.parametrize("k", [10, 21, 40, 64])
def test_solvers_keep_every_copy_of_a_degenerate_eigenvalue(method, k):
    # the 8 x 8 five-point torus grid: eigenvalues of multiplicity up to 8. Lanczos with k of n = 64 pairs
    # (k ≥ n/3) returned 8 of the 9 copies of 6.4846 at k = 40 before the solver switched to LAPACK there
    disc = ms.discretize(ms.FlatTorus(), 8, 1)
    got = ms.solve(disc, k, method=method, mass="lumped").eigenvalues
    want = fd_torus_eigenvalues((2 * np.pi, 2 * np.pi), 8, k)
    assert np.abs(got - want).max() < 1e-9 * want.max()


def _warp(period):
    return ms.TokenWarp(np.array([0.8, 0.5, 1.5]), np.array([[1.0], [4.0], [4.3]]), np.array([[1.0], [-1.0], [1.0]]),
                        0.6, period=period)


def test_riemannian_length_of_constant_and_warped_metrics():
    circle = ms.FlatTorus((3.0,))
    g = lambda x: np.full((len(x), 1, 1), 2.25)
    assert abs(riemannian_length(circle, g) - 4.5) < 1e-13
    # an explicit antiderivative: g = (1 + ½cos x)², √g = 1 + ½cos x, ∫₀^{2π} = 2π
    g2 = lambda x: ((1 + 0.5 * np.cos(x[:, 0])) ** 2)[:, None, None]
    assert abs(riemannian_length(ms.FlatTorus((2 * np.pi,)), g2) - 2 * np.pi) < 1e-12
    with pytest.raises(ManifoldSpecError, match="manifold"):
        riemannian_length(ms.FlatTorus(), g)


@pytest.mark.parametrize("order,rate", [(1, 2), (2, 4)])
def test_warped_circle_converges_to_its_exact_spectrum(order, rate):
    L = 2 * np.pi
    w = _warp((L,))
    exact = ms.exact_eigenvalues(ms.FlatTorus((L,)), 7, w)
    # the spectrum of a circle of length L_g; a warp that lengthens the circle lowers it
    Lg = riemannian_length(ms.FlatTorus((L,)), w)
    assert Lg > L and np.allclose(exact[0::2], (2 * np.pi * np.arange(4) / Lg) ** 2)
    errs = [np.abs(_circle_spectrum(n, 7, L, order, metric=w)[1:] - exact[1:]).max() / exact[1] for n in (32, 64, 128)]
    orders = np.log2(np.array(errs[:-1]) / errs[1:])
    assert np.all(np.abs(orders - rate) < 0.25), orders


def test_warped_dirichlet_interval_matches_pi_m_over_length():
    w = ms.TokenWarp(np.array([0.7]), np.array([[0.6]]), np.array([[1.0]]), 0.2)
    box = ms.Box((1.5,), "dirichlet")
    exact = ms.exact_eigenvalues(box, 4, w)
    assert np.allclose(exact, (np.pi * np.arange(1, 5) / riemannian_length(box, w)) ** 2, rtol=1e-14)
    got = ms.solve(ms.discretize(box, 256, 2), 4, w).eigenvalues
    assert np.abs(got - exact).max() < 1e-6 * exact.max()


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ManifoldSpecError, match="mass: expected one of"):
        ms.assemble(ms.discretize(ms.FlatTorus((1.0,)), 8), mass="diagonal")
    with pytest.raises(ManifoldSpecError, match="mass: 'lumped' gives .* non-positive"):
        ms.assemble(ms.discretize(ms.FlatTorus(), 4, 2), mass="lumped")
    with pytest.raises(ManifoldSpecError, match="k: an 8-element"):
        p1_circle_eigenvalues(8, 9)
    with pytest.raises(ManifoldSpecError, match="mass"):
        p1_circle_eigenvalues(8, 3, mass="row-sum")
    with pytest.raises(ManifoldSpecError, match="k: a grid"):
        fd_torus_eigenvalues((1.0, 1.0), 3, 10)
    with pytest.raises(ManifoldSpecError, match="metric: exact spectra of a warped metric are known only in 1-D"):
        ms.exact_eigenvalues(ms.FlatTorus(), 3, ms.random_warp(2, 2, period=(2 * np.pi,) * 2))
    with pytest.raises(ManifoldSpecError, match="metric: must be positive"):
        riemannian_length(ms.FlatTorus((1.0,)), lambda x: np.full((len(x), 1, 1), -1.0))
    big = ms.discretize(ms.FlatTorus(), 101, 1)  # 10 201 DOFs: past the dense solver's limit
    with pytest.raises(ManifoldSpecError, match="k: 3401 of 10201 eigenpairs needs the dense solver"):
        ms.solve(big, 3401)
    with pytest.raises(ManifoldSpecError, match="limited to n ≤ 10000"):
        ms.solve(big, 5, method="dense")
    with pytest.raises(ManifoldSpecError, match="lengths: dimension must be 1, 2 or 3"):
        ms.FlatTorus((1.0,) * 4)


def test_p2_lumping_on_a_1d_mesh_is_allowed_and_converges():
    # in 1-D the P2 row sums (h/6, 2h/3, h/6: Simpson) are positive, unlike on triangles
    exact = ms.exact_eigenvalues(ms.FlatTorus((2 * np.pi,)), 5)[1:]
    errs = [np.abs(_circle_spectrum(n, 5, order=2, mass="lumped")[1:] - exact).max() for n in (16, 32)]
    assert errs[1] < errs[0] / 8


def test_cli_warped_circle_prints_its_exact_spectrum(capsys, tmp_path):
    assert main(["spectrum", "--manifold", "circle", "--random-tokens", "3", "--k", "5", "--no-progress",
                 "--plot", str(tmp_path / "c.png"), "--eigenfunctions", str(tmp_path / "e.png")]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if not line.startswith("#")][1:]
    assert "warped by 3 tokens" in out and len(rows) == 5
    rel = np.array([float(r[3]) for r in rows[1:]])
    assert np.all(rel < 1e-5)  # P2, 128 elements: ~1e-8–1e-6 against (2πm/L_g)²
    assert (tmp_path / "c.png").stat().st_size > 0 and (tmp_path / "e.png").stat().st_size > 0
