"""Geodesic distance by the heat method against exact distances: a warped interval (arc length, no cut
locus), the flat and an anisotropic flat torus (minimal-image distance), the round sphere (great circles),
and the exact scaling law g → c²g ⇒ d → c·d. Orders are class B (THEOREMS §8): the observed order over
three refinements within ±0.25 of the measured one, and the finest error at most 1.5× the measured value."""
import numpy as np
import pytest
from scipy.integrate import cumulative_simpson

import manifoldspec as ms
from manifoldspec import ManifoldSpecError
from manifoldspec.spectral.geodesic import boundary_dofs, distance_interpolant, geodesic_distance
from docs_blocks import python_block

TWO_PI = 2 * np.pi


def _orders(errs):
    errs = np.asarray(errs)
    return np.log2(errs[:-1] / errs[1:])


def _warp_1d(period=None):
    centres = np.array([[1.0], [2.0], [2.3]])
    return ms.TokenWarp(np.array([0.8, 0.5, 1.5]), centres, np.array([[1.0], [-1.0], [1.0]]), 0.4, period=period)


def _arc_length(metric, L, n=300_001):
    x = np.linspace(0.0, L, n)
    return x, cumulative_simpson(np.sqrt(metric(x[:, None])[:, 0, 0]), x=x, initial=0.0)


@pytest.mark.parametrize("order, expected, finest", [(1, 2.0, 1.04e-4), (2, 4.0, 6.2e-8)])
def test_warped_interval_from_its_end_is_the_arc_length(order, expected, finest):
    # from an end of an interval the distance is the arc length s(x) = ∫₀ˣ √g: the heat gradient has one sign
    # everywhere (no cut locus), and the Galerkin fit of φ' = √g converges at nodes like h^{2p}
    L, warp = 3.0, _warp_1d()
    x, s = _arc_length(warp, L)
    errs = []
    # P2 at 16 elements: the Neumann end, where ∇u = 0, still flips the direction inside an element
    for res in (32, 64, 128):
        disc = ms.discretize(ms.Box((L,)), res, order)
        d = geodesic_distance(disc, np.array([0.0]), warp)
        errs.append(np.abs(d - np.interp(disc.dof_points[:, 0], x, s)).max())
    assert np.all(np.abs(_orders(errs) - expected) < 0.25), errs
    assert errs[-1] < 1.5 * finest


def _torus_exact(disc, i, G):
    D = disc.dof_points - disc.dof_points[i]
    best = np.full(len(D), np.inf)
    for a in (-1, 0, 1):  # minimal image: the nearest of the 9 copies of the source
        for b in (-1, 0, 1):
            Y = D + TWO_PI * np.array([a, b])
            best = np.minimum(best, np.sqrt(np.einsum("pi,ij,pj->p", Y, G, Y)))
    return best


@pytest.mark.parametrize("case", ["flat", "anisotropic"])
def test_torus_distance_converges_at_first_order(case):
    # the heat method with t ∝ h is first order: measured orders 0.90–1.07 (flat) and 0.78–0.80 (anisotropic),
    # near the source (d < 1.5), away from the cut locus where the exact distance has a ridge. The
    # anisotropic constant metric exercises g⁻¹ in both steps.
    G = np.eye(2) if case == "flat" else np.array([[1.0, -0.3], [-0.3, 0.6]])
    metric = None if case == "flat" else (lambda p: np.broadcast_to(G, (len(p), 2, 2)).copy())
    finest = 1.88e-2 if case == "flat" else 2.10e-2
    errs = []
    for res in (32, 64, 128):
        disc = ms.discretize(ms.FlatTorus((TWO_PI, TWO_PI)), res, 1)
        i = int(np.argmin(((disc.dof_points - np.pi) ** 2).sum(1)))
        exact = _torus_exact(disc, i, G)
        errs.append(np.abs(geodesic_distance(disc, i, metric) - exact)[exact < 1.5].max())
    assert np.all((_orders(errs) > 0.65) & (_orders(errs) < 1.25)), errs
    assert errs[-1] < 1.5 * finest


def test_sphere_distance_is_the_great_circle_distance_to_first_order():
    errs = []
    for level in (3, 4, 5):
        disc = ms.discretize(ms.Sphere(), level, 1)
        exact = np.arccos(np.clip(disc.dof_points @ disc.dof_points[0], -1.0, 1.0))
        errs.append(np.abs(geodesic_distance(disc, 0) - exact)[exact < 2.0].max())
    assert np.all(np.abs(_orders(errs) - 1.0) < 0.25), errs
    assert errs[-1] < 1.5 * 6.60e-3


@pytest.mark.parametrize("source, finest", [((0.5, 0.5), 1.10e-2), ((0.2, 0.3), 1.57e-2)])
def test_square_with_averaged_boundary_steps_converges_where_neumann_stalls(source, finest):
    # a convex domain: d is the Euclidean distance. The Neumann heat step has ∇u = 0 on the boundary, so its
    # isolines meet the boundary at right angles and the error stalls there (measured 2.7e-2 → 2.1e-2 from
    # the centre at 32² → 64²); Crane et al.'s average with the Dirichlet step converges at first order
    errs, neumann = [], []
    for res in (16, 32, 64):
        disc = ms.discretize(ms.Box((1.0, 1.0)), res, 1)
        i = int(np.argmin(((disc.dof_points - np.asarray(source)) ** 2).sum(1)))
        exact = np.linalg.norm(disc.dof_points - disc.dof_points[i], axis=1)
        errs.append(np.abs(geodesic_distance(disc, i) - exact).max())
        neumann.append(np.abs(geodesic_distance(disc, i, boundary="neumann") - exact).max())
    assert np.all((_orders(errs) > 0.75) & (_orders(errs) < 1.25)), errs
    assert errs[-1] < 1.5 * finest
    assert neumann[-1] > 1.5 * errs[-1] and _orders(neumann)[-1] < 0.6, neumann


@pytest.mark.parametrize("order, finest", [(1, 1.30e-2), (2, 1.88e-3)])
def test_flat_disk_surface_distance_from_its_centre(order, finest):
    # a planar triangle surface with boundary (skfem's disk meshes in the plane z = 0): d = |x − x₀|
    import skfem

    errs = []
    for nref in (3, 4, 5):
        m = skfem.MeshTri.init_circle(nref)
        disc = ms.discretize(ms.TriangleSurface(np.column_stack([m.p.T, np.zeros(m.p.shape[1])]), m.t.T), 0, order)
        i = int(np.argmin((disc.dof_points**2).sum(1)))
        exact = np.linalg.norm(disc.dof_points - disc.dof_points[i], axis=1)
        errs.append(np.abs(geodesic_distance(disc, i) - exact).max())
        on_circle = np.flatnonzero(np.abs(np.linalg.norm(disc.dof_points, axis=1) - 1) < 1e-12)
        # every boundary vertex lies on the unit circle; P2 adds one midpoint per boundary side (inside it)
        nv = len(on_circle)
        assert np.array_equal(np.intersect1d(boundary_dofs(disc), on_circle), on_circle)
        assert len(boundary_dofs(disc)) == nv * order
    assert np.all(np.diff(errs) < 0) and errs[-1] < 1.5 * finest, errs


def test_closed_manifolds_have_no_boundary_dofs_and_boxes_have_theirs():
    assert len(boundary_dofs(ms.discretize(ms.Sphere(), 1, 2))) == 0
    assert len(boundary_dofs(ms.discretize(ms.FlatTorus((1.0, 1.0)), 4, 1))) == 0
    box = ms.discretize(ms.Box((1.0, 2.0)), 4, 2)  # 9 × 9 P2 nodes: 32 on the boundary
    b = boundary_dofs(box)
    p = box.dof_points[b]
    assert len(b) == 32 and np.all((p[:, 0] % 1.0 < 1e-12) | (p[:, 1] % 2.0 < 1e-12) | np.isclose(p[:, 0], 1.0))


@pytest.mark.parametrize("manifold, res, order",
                         [(ms.FlatTorus((TWO_PI, TWO_PI)), 12, 2), (ms.Sphere(), 2, 1), (ms.FlatTorus((TWO_PI,) * 3), 6, 1)])
def test_scaling_the_metric_scales_the_distance_exactly(manifold, res, order):
    # g → c²g multiplies K by c^{n−2}, M by c^n and the default t by c², so every step is exactly rescaled
    disc = ms.discretize(manifold, res, order)
    base = ms.random_warp(4, manifold.ambient_dim, sigma=0.8, amplitude=0.5, period=manifold.period, seed=1)
    c = 1.7
    d1 = geodesic_distance(disc, 3, base)
    d2 = geodesic_distance(disc, 3, lambda p: c**2 * base(p))
    assert np.abs(d2 - c * d1).max() < 1e-10 * d1.max()
    assert d1[3] == 0.0 and np.all(np.isfinite(d1))


@pytest.mark.parametrize("manifold, res, order", [(ms.FlatTorus((TWO_PI, TWO_PI)), 8, 2), (ms.Sphere(), 1, 1)])
def test_the_metric_is_evaluated_once_and_the_distance_is_unchanged(manifold, res, order, monkeypatch):
    import manifoldspec.spectral.geodesic as geo
    disc = ms.discretize(manifold, res, order)
    warp = ms.random_warp(3, manifold.ambient_dim, sigma=0.8, amplitude=0.5, period=manifold.period, seed=2)
    calls = []

    def counted(p):
        calls.append(len(p))
        return warp(p)

    once = geodesic_distance(disc, 1, counted)
    assert len(calls) == 1
    monkeypatch.setattr(geo, "_EvaluatedOnce", lambda m: m)  # the plain path: g evaluated wherever it is asked for
    calls.clear()
    assert np.array_equal(geodesic_distance(disc, 1, counted), once) and len(calls) == 2


def test_a_point_source_is_its_nearest_dof_including_periodic_images():
    disc = ms.discretize(ms.FlatTorus((TWO_PI, TWO_PI)), 8, 1)
    # just below the period: the nearest dof is the origin's image, dof of (0, 0)
    origin = int(np.argmin((disc.dof_points**2).sum(1)))
    assert np.array_equal(geodesic_distance(disc, np.array([TWO_PI - 1e-3, 1e-3])), geodesic_distance(disc, origin))


def test_interpolant_reproduces_p2_fields_and_wraps_periodically():
    disc = ms.discretize(ms.FlatTorus((TWO_PI, TWO_PI)), 6, 2)
    p = disc.dof_points
    f = distance_interpolant(disc, np.sin(p[:, 0]) + np.cos(p[:, 1]))
    q = np.random.default_rng(0).uniform(0, TWO_PI, (50, 2))
    # exact at dofs, O(h³) between them; a point outside [0, L)² reads its periodic image
    assert np.abs(f(p) - (np.sin(p[:, 0]) + np.cos(p[:, 1]))).max() < 1e-12
    assert np.abs(f(q) - (np.sin(q[:, 0]) + np.cos(q[:, 1]))).max() < 2e-2
    assert np.abs(f(q + TWO_PI) - f(q)).max() < 1e-12


def test_bad_input_is_refused_with_the_argument_named():
    torus = ms.discretize(ms.FlatTorus((TWO_PI, TWO_PI)), 8, 1)
    with pytest.raises(ManifoldSpecError, match="Neumann"):
        geodesic_distance(ms.discretize(ms.Box((1.0, 1.0), "dirichlet"), 4, 1), 0)
    with pytest.raises(ManifoldSpecError, match="source"):
        geodesic_distance(torus, torus.n_dofs)
    with pytest.raises(ManifoldSpecError, match="source"):
        geodesic_distance(torus, np.array([np.nan, 0.0]))
    with pytest.raises(ManifoldSpecError, match="source"):
        geodesic_distance(torus, True)  # a bool is not a dof index
    with pytest.raises(ManifoldSpecError, match="t"):
        geodesic_distance(torus, 0, t=0.0)
    with pytest.raises(ManifoldSpecError, match="boundary"):
        geodesic_distance(torus, 0, boundary="dirichlet")
    with pytest.raises(ManifoldSpecError, match="oscillates"):
        geodesic_distance(torus, 0, t=1e-6)  # far below h² = 0.6: (M + tK)⁻¹ ≈ M⁻¹ has alternating signs
    G = np.array([[1.0, 0.3], [0.3, 0.6]])  # obtuse in g on these right triangles: K has positive off-diagonals
    with pytest.raises(ManifoldSpecError, match="oscillates"):
        geodesic_distance(ms.discretize(ms.FlatTorus((TWO_PI, TWO_PI)), 32, 1), 0,
                          lambda p: np.broadcast_to(G, (len(p), 2, 2)).copy())
    with pytest.raises(ManifoldSpecError, match="values"):
        distance_interpolant(torus, np.zeros(3))
    with pytest.raises(ManifoldSpecError, match="chart"):
        distance_interpolant(ms.discretize(ms.Sphere(), 1, 1), np.zeros(42))


def test_docs_example_runs_and_the_warp_changes_the_distance():
    block = python_block("spectra.md", "geodesic_distance")
    scope = {}
    exec(compile(block, "docs/spectra.md", "exec"), scope)
    d, disc = scope["d"], scope["disc"]
    flat = geodesic_distance(disc, [np.pi, np.pi])
    assert d.shape == (disc.n_dofs,) and np.all(np.isfinite(d)) and d.min() == 0.0
    # the interpolant reads back the dof values; the warp stretches lengths (α > 0 makes g ≥ I)
    assert np.abs(scope["d_at"](disc.dof_points) - d).max() < 1e-12
    assert np.all(d >= flat - 1e-2) and d.max() > 1.05 * flat.max()


def test_uncertainty_curve_with_heat_distances_approaches_the_exact_one():
    # the plumbing the verification docs suggest for a warped chart: d from the heat method into spread_matrix;
    # on the flat torus it must approach the curve built from the exact distance as the mesh is refined
    from manifoldspec.verify.uncertainty_curve import spread_matrix, uncertainty_curve

    errs = []
    for res in (16, 32):
        disc = ms.discretize(ms.FlatTorus((TWO_PI, TWO_PI)), res, 2)
        ops = ms.assemble(disc)
        i = int(np.argmin(((disc.dof_points - np.pi) ** 2).sum(1)))
        c = disc.dof_points[i]

        def exact2(x):
            d = np.abs(x - c)
            return (np.minimum(d, TWO_PI - d) ** 2).sum(1)

        d_at = distance_interpolant(disc, geodesic_distance(disc, i))
        mus = [0.1, 1.0, 10.0]
        ref = uncertainty_curve(ops.K, ops.M, spread_matrix(disc, exact2), mus)
        got = uncertainty_curve(ops.K, ops.M, spread_matrix(disc, lambda x: d_at(x) ** 2), mus)
        errs.append(max(np.abs(g / r - 1).max() for g, r in zip(got, ref)))
    assert errs[1] < 0.6 * errs[0] and errs[0] < 1.5 * 3.74e-2, errs  # measured 3.7e-2, 1.6e-2
