"""Contracts over every manifold, the surface assembly against scikit-fem, evaluation, files, imports."""
import json
import subprocess
import sys

import numpy as np
import pytest

import manifoldspec as ms
from manifoldspec.cli import main
from manifoldspec.geometry.icosphere import icosphere
from manifoldspec.geometry.manifolds import TriangleSurface
from manifoldspec.spectral.surface_fem import element_matrices

MANIFOLDS = {
    "circle": (ms.FlatTorus((3.0,)), 12),
    "interval-dirichlet": (ms.Box((1.5,), "dirichlet"), 12),
    "torus2": (ms.FlatTorus((2 * np.pi, 3.0)), 8),
    "torus3": (ms.FlatTorus((1.0, 2.0, 1.5)), 3),
    "box-neumann": (ms.Box((1.0, 2.0)), 8),
    "box-dirichlet": (ms.Box((1.0, 2.0), "dirichlet"), 8),
    "sphere": (ms.Sphere(1.7), 2),
}


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("name", list(MANIFOLDS))
def test_operator_contracts(name, order):
    manifold, res = MANIFOLDS[name]
    ops = ms.assemble(ms.discretize(manifold, res, order))
    K, M = ops.K.toarray(), ops.M.toarray()
    assert np.abs(K - K.T).max() < 1e-12 * np.abs(K).max()
    assert np.abs(M - M.T).max() < 1e-12 * np.abs(M).max()
    assert np.linalg.eigvalsh(M).min() > 0
    assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()
    # flat charts: area exact to rounding; sphere: exact geometry, so only quadrature error remains
    # (degree-4 rule on the radial map at 162 vertices: 2e-7; it falls like h^6)
    tol = 1e-6 if name == "sphere" else 1e-10
    assert abs(ops.area - manifold.volume) < tol * manifold.volume
    if not name.endswith("dirichlet"):
        assert np.abs(K @ np.ones(len(K))).max() < 1e-11 * np.abs(K).max()  # constants are in the kernel
        assert abs(M.sum() - manifold.volume) < tol * manifold.volume


def _flat_square_as_surface(order):
    """The same P1/P2 space built by scikit-fem (chart) and by our surface code (plane z = 0 in R^3)."""
    disc_chart = ms.discretize(ms.Box((1.0, 1.3)), 5, order)
    mesh = disc_chart.basis.mesh
    surf = TriangleSurface(np.column_stack([mesh.p.T, np.zeros(mesh.p.shape[1])]), mesh.t.T.copy())
    disc_surf = ms.discretize(surf, order=order)
    # match dofs by coordinates
    key = lambda pts: np.lexsort(np.round(pts[:, :2], 10).T[::-1])
    return disc_chart, disc_surf, key(disc_chart.dof_points), key(disc_surf.dof_points)


@pytest.mark.parametrize("order", [1, 2])
def test_surface_assembly_equals_scikit_fem_on_a_plane(order):
    chart, surf, ic, is_ = _flat_square_as_surface(order)
    bump = lambda x: np.exp(-np.sum((x[:, :2] - [0.4, 0.6]) ** 2, 1) / 0.1)
    v = np.array([0.6, 0.8])
    g2 = lambda x: np.eye(2) + 0.7 * bump(x)[:, None, None] * np.outer(v, v)

    def g3(x):
        g = np.zeros((len(x), 3, 3))
        g[:, :2, :2] = g2(x)
        g[:, 2, 2] = 1.0
        return g

    a, b = ms.assemble(chart, g2), ms.assemble(surf, g3)
    for A, B in ((a.K, b.K), (a.M, b.M)):
        A, B = A.toarray()[np.ix_(ic, ic)], B.toarray()[np.ix_(is_, is_)]
        # different quadrature rules (degree 6 vs 8) on a non-polynomial integrand
        assert np.abs(A - B).max() < 1e-4 * np.abs(A).max()
    # polynomial integrands, integrated exactly by both rules: constant anisotropic g (stiffness),
    # conformal g = c(x)² I with √|g| = c² quadratic (mass): agreement to rounding
    G = np.array([[1.3, 0.4], [0.4, 0.8]])
    c2 = lambda x: 1 + x[:, 0] ** 2 + 0.5 * x[:, 1]
    for m2, m3, attr in [(lambda x: np.broadcast_to(G, (len(x), 2, 2)), None, "K"),
                         (lambda x: c2(x)[:, None, None] * np.eye(2), None, "M")]:
        m3 = (lambda f: (lambda x: np.pad(f(x), ((0, 0), (0, 1), (0, 1))) + np.diag([0, 0, 1.0])))(m2)
        A = getattr(ms.assemble(chart, m2), attr).toarray()[np.ix_(ic, ic)]
        B = getattr(ms.assemble(surf, m3), attr).toarray()[np.ix_(is_, is_)]
        np.testing.assert_allclose(A, B, atol=1e-13 * np.abs(A).max())


def test_element_matrices_scatter_to_global():
    disc = ms.discretize(ms.Sphere(), 1, 2)
    Ke, Me, el = element_matrices(disc, ms.IdentityMetric())
    u = np.random.default_rng(0).normal(size=disc.n_dofs)
    ops = ms.assemble(disc)
    assert abs(u @ ops.K @ u - np.einsum("ei,eij,ej->", u[el], Ke, u[el])) < 1e-10 * abs(u @ ops.K @ u)


def test_torus_eigenfunctions_span_fourier_modes(rng):
    L = (2 * np.pi, 3.0)
    spec = ms.solve(ms.discretize(ms.FlatTorus(L), 24, 2), 5)
    pts = rng.uniform(0, 1, (40, 2)) * L + rng.integers(-2, 3, (40, 2)) * L  # includes points outside the chart
    vals = spec.evaluate(pts, [1, 2])  # λ = 1: cos x, sin x (next is (2π/3)² ≈ 4.4)
    basis = np.column_stack([np.cos(pts[:, 0]), np.sin(pts[:, 0])])
    coef, *_ = np.linalg.lstsq(basis, vals, rcond=None)
    assert np.abs(basis @ coef - vals).max() < 1e-3 * np.abs(vals).max()


def test_sphere_eigenfunctions_l1_are_linear(rng):
    spec = ms.solve(ms.discretize(ms.Sphere(2.0), 3, 2), 4)
    pts = rng.normal(size=(50, 3))
    vals = spec.evaluate(pts, [1, 2, 3])  # off-sphere points are projected radially
    coef, *_ = np.linalg.lstsq(pts / np.linalg.norm(pts, axis=1, keepdims=True), vals, rcond=None)
    resid = vals - pts / np.linalg.norm(pts, axis=1, keepdims=True) @ coef
    assert np.abs(resid).max() < 1e-4 * np.abs(vals).max()
    # M-orthonormal: ∫ φ² dA = 1, so |φ_1| max ≈ √(3/(4π r²))
    assert abs(np.abs(vals).max() - np.sqrt(3 / (4 * np.pi * 4.0))) < 0.05 * np.sqrt(3 / (16 * np.pi))


def test_mesh_file_round_trip_and_spectrum(tmp_path):
    meshio = pytest.importorskip("meshio")
    v, t = icosphere(3)
    path = tmp_path / "ico.obj"
    meshio.write_points_cells(path, v, [("triangle", t)])
    surf = TriangleSurface.from_file(path)
    assert surf.triangles.shape == t.shape
    lam = ms.solve(ms.discretize(surf, order=1), 16).eigenvalues
    exact = ms.exact_eigenvalues(ms.Sphere(), 16)
    # flat P1 triangles at 642 vertices: error 3.3e-2 (THEOREMS.md §5.4 table) — within 5%
    assert np.max(np.abs(lam[1:] - exact[1:]) / exact[1:]) < 0.05


def test_import_is_light():
    code = "import sys, manifoldspec; print('torch' in sys.modules, 'cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_cli_spectrum_writes_table_plot_and_files(tmp_path, capsys):
    rc = main(["spectrum", "--manifold", "sphere", "--resolution", "2", "--k", "9", "--plot", str(tmp_path / "s.png"),
               "--eigenfunctions", str(tmp_path / "e.png"), "--out", str(tmp_path / "s.json")])
    assert rc == 0
    out = capsys.readouterr().out
    rows = [l.split() for l in out.splitlines() if not l.startswith("#") and l.strip() and l.split()[0].isdigit()]
    assert len(rows) == 9 and float(rows[4][2]) == 6.0  # exact column: l(l+1) = 6 at index 4
    assert (tmp_path / "s.png").stat().st_size > 10000 and (tmp_path / "e.png").stat().st_size > 10000
    data = json.loads((tmp_path / "s.json").read_text())
    assert len(data["eigenvalues"]) == 9


def test_cli_tokens_file(tmp_path, capsys):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "tok.npz", alpha=rng.uniform(0, 0.5, 6), mu=rng.uniform(0, 6, (6, 2)),
             v=rng.normal(size=(6, 2)), sigma=0.5)
    assert main(["spectrum", "--tokens", str(tmp_path / "tok.npz"), "--resolution", "8", "--k", "6",
                 "--out", str(tmp_path / "s.npz")]) == 0
    assert "warped by 6 tokens" in capsys.readouterr().out
    assert np.load(tmp_path / "s.npz")["eigenvectors"].shape[1] == 6
