"""Conformal mesh Ricci flow: Gauss–Bonnet, area law, round sphere, normalized flow (THEOREMS.md RF-1, RF-3, GB-1, EV-1)."""
import numpy as np
import pytest

from manifoldspec import ManifoldSpecError, Sphere, TriangleSurface
from manifoldspec.flow.mesh_curvature import cotan_laplacian, p1_mass, triangle_areas
from manifoldspec.flow.mesh_flow import conformal_mesh, explicit_mesh_step, mesh_flow, mesh_stable_dt
from manifoldspec.flow.mesh_spectrum import intrinsic_p1_operators, intrinsic_spectrum, sphere_p2_conformal_operators
from manifoldspec.geometry.icosphere import icosphere

L_OF = np.repeat(np.arange(6), 2 * np.arange(6) + 1)
LL = L_OF * (L_OF + 1)


def _bumpy(level=3):
    V, F = icosphere(level)
    x, y, z = V.T
    return V * (1 + 0.25 * (z**2 - 1 / 3) + 0.15 * x * y + 0.1 * x)[:, None], F


def _area_matched_u0(mesh, r0=1.0):
    A = mesh.curvature(np.zeros(mesh.n_vertices))["area"]
    return np.full(mesh.n_vertices, 0.5 * np.log(4 * np.pi * r0**2 / A))


def test_gauss_bonnet_and_area_law_on_bumpy_sphere():
    mesh = conformal_mesh(*_bumpy())
    assert mesh.chi == 2
    res = mesh_flow(mesh, dt=1e-3, steps=120, record_every=10)
    assert np.abs(res.gauss_bonnet).max() < 1e-10  # Σ Θ = 4π at every recorded step
    slope = np.polyfit(res.times, res.area, 1)[0]
    assert abs(slope / (-8 * np.pi) - 1) < 1e-3  # within 1% required; semi-discretely exact
    imp = mesh_flow(mesh, dt=0.01, steps=12, method="implicit", record_every=3)
    assert abs(np.polyfit(imp.times, imp.area, 1)[0] / (-8 * np.pi) - 1) < 1e-2


def test_defect_jacobian_is_cotan_laplacian_and_area_derivative():
    """∂Θ/∂u = L (cotan) and ∂A/∂u_i = 2A_i: the two identities the steppers rely on."""
    mesh = conformal_mesh(*_bumpy(2))
    rng = np.random.default_rng(7)
    u = 0.1 * rng.standard_normal(mesh.n_vertices)
    c = mesh.curvature(u)
    L = cotan_laplacian(mesh.triangles, c["cot"], mesh.n_vertices).toarray()
    for j in rng.choice(mesh.n_vertices, 5, replace=False):
        e = np.zeros(mesh.n_vertices)
        e[j] = 1e-6
        cp, cm = mesh.curvature(u + e), mesh.curvature(u - e)
        assert np.abs((cp["defect"] - cm["defect"]) / 2e-6 - L[:, j]).max() < 1e-7
        assert abs((cp["area"] - cm["area"]) / 2e-6 - 2 * c["dual_area"][j]) < 1e-7


def test_round_sphere_radius_law():
    """RF-1: r(t)² = r0² − 2t, with r² = A/4π, for explicit and implicit steps."""
    mesh = conformal_mesh(*icosphere(3, 1.3))
    u0 = _area_matched_u0(mesh, 1.3)
    for method, dt, n in (("explicit", 0.004, 100), ("implicit", 0.04, 10)):
        res = mesh_flow(mesh, dt=dt, steps=n, u0=u0, method=method, record_every=n // 5)
        assert np.abs(res.area / (4 * np.pi) - (1.3**2 - 2 * res.times)).max() < 1e-9


def test_round_sphere_spectrum_along_flow():
    """EV-1: λ_l(t)(r0² − 2t) = l(l+1). P1 (intrinsic) is limited by its O(h²) floor; P2 on the
    exact sphere with the flowed conformal factor is accurate to < 1e-3."""
    from manifoldspec.spectral import discretize

    level = 3
    V, F = icosphere(level)
    mesh = conformal_mesh(V, F)
    u0 = _area_matched_u0(mesh)
    res = mesh_flow(mesh, dt=0.025, steps=18, u0=u0, method="implicit", record_every=6)
    disc = discretize(Sphere(1.0), level, order=2)
    K0 = None
    for i, t in enumerate(res.times):
        K0, M = sphere_p2_conformal_operators(disc, res.u[i] - res.u[0], K0=K0)
        from manifoldspec.spectral import solve_operators

        lam, _ = solve_operators(K0, M, 25)
        rel = lam[1:] * (1 - 2 * t) / LL[1:25] - 1
        assert np.abs(rel).max() < 1e-3, (t, np.abs(rel).max())
        lam1, _ = intrinsic_spectrum(F, res.lengths(i), len(V), 25)
        rel1 = lam1[1:] * (1 - 2 * t) / LL[1:25] - 1
        assert np.abs(rel1).max() < 1.5 * 3.27e-2  # THEOREMS.md §5.4 FE-2, level 3


def test_intrinsic_p1_matches_lead_assembly_and_naive_loop():
    from manifoldspec.spectral import assemble, discretize

    V, F = _bumpy(2)
    mesh = conformal_mesh(V, F)
    K, M = intrinsic_p1_operators(F, mesh.L0, len(V))
    ops = assemble(discretize(TriangleSurface(V, F), order=1))
    assert abs(K - ops.K).max() < 1e-12 * abs(ops.K).max()
    assert abs(M - ops.M).max() < 1e-12 * abs(ops.M).max()
    # plain loop reference with a non-trivial scaling
    u = np.random.default_rng(1).normal(0, 0.05, len(V))
    Ls = mesh.lengths(u)
    K, M = intrinsic_p1_operators(F, Ls, len(V))
    Kd, Md = np.zeros((len(V),) * 2), np.zeros((len(V),) * 2)
    for f, (a, b, c) in enumerate(F):
        la, lb, lc = Ls[f]
        s = (la + lb + lc) / 2
        area = np.sqrt(s * (s - la) * (s - lb) * (s - lc))
        idx = (a, b, c)
        lens = (la, lb, lc)
        for k in range(3):
            i, j = idx[(k + 1) % 3], idx[(k + 2) % 3]
            cot = (lens[(k + 1) % 3] ** 2 + lens[(k + 2) % 3] ** 2 - lens[k] ** 2) / (4 * area)
            Kd[i, j] -= cot / 2
            Kd[j, i] -= cot / 2
            Kd[i, i] += cot / 2
            Kd[j, j] += cot / 2
        for p in idx:
            for q in idx:
                Md[p, q] += area / 12 * (2 if p == q else 1)
    assert np.abs(K.toarray() - Kd).max() < 1e-12 and np.abs(M.toarray() - Md).max() < 1e-14


def test_normalized_flow_rounds_a_bumpy_sphere():
    V, F = _bumpy(3)
    mesh = conformal_mesh(V, F)
    res = mesh_flow(mesh, dt=0.05, steps=40, method="implicit", normalized=True, record_every=8)
    var = res.curvature_variance
    assert np.all(np.diff(var) < 0) and var[-1] < 1e-3 * var[0]
    assert np.abs(res.area / res.area[0] - 1).max() < 1e-4
    dist = []
    for i in range(len(res.times)):
        lam, _ = intrinsic_spectrum(F, res.lengths(i), len(V), 16)
        dist.append(np.abs(lam[1:] * res.area[i] / (4 * np.pi) / LL[1:16] - 1).max())
    assert np.all(np.diff(dist) < 0)
    # the floor is the P1 error of a round icosphere of the same level (THEOREMS.md §5.4: 3.27e-2)
    assert dist[0] > 0.1 and dist[-1] < 1.5 * 3.27e-2


def test_stability_rule_and_errors():
    mesh = conformal_mesh(*_bumpy(2))
    u = np.zeros(mesh.n_vertices)
    lim = mesh_stable_dt(mesh, u)
    with pytest.raises(ManifoldSpecError, match="stability limit"):
        explicit_mesh_step(mesh, u, 4 * lim, on_unstable="raise")
    u1, n = explicit_mesh_step(mesh, u, 4 * lim)
    assert n >= 4 and np.all(np.isfinite(u1))
    with pytest.raises(ManifoldSpecError, match=r"non-positive .*extinction.*step 1 of 1, from t = 0 to 0\.6\)"):
        mesh_flow(conformal_mesh(*icosphere(1)), dt=0.6, steps=1, method="implicit")
    # the failing step is named by its place in the run, not by its length
    with pytest.raises(ManifoldSpecError, match=r"step 3 of 3, from t = 0\.4 to 0\.6\)"):
        mesh_flow(conformal_mesh(*icosphere(1)), dt=0.2, steps=3, method="implicit")
    with pytest.raises(ManifoldSpecError, match="triangle inequality"):
        triangle_areas(np.array([[1.0, 1.0, 3.0]]))
    with pytest.raises(ManifoldSpecError, match="method"):
        mesh_flow(mesh, dt=0.1, steps=1, method="rk")


def test_p1_mass_sums_to_area():
    V, F = _bumpy(1)
    mesh = conformal_mesh(V, F)
    area = triangle_areas(mesh.L0)
    assert abs(p1_mass(F, area, len(V)).sum() - area.sum()) < 1e-12


@pytest.mark.slow
def test_round_sphere_spectrum_10k_vertices():
    """EV-1 at the issue's size: 10242 vertices, up to t = 0.9 r0²/2, P2 relative error < 1e-3."""
    from manifoldspec.spectral import discretize, solve_operators

    V, F = icosphere(5)
    mesh = conformal_mesh(V, F)
    res = mesh_flow(mesh, dt=0.045, steps=10, u0=_area_matched_u0(mesh), method="implicit", record_every=5)
    disc = discretize(Sphere(1.0), 5, order=2)
    K0 = None
    for i, t in enumerate(res.times):
        K0, M = sphere_p2_conformal_operators(disc, res.u[i] - res.u[0], K0=K0)
        lam, _ = solve_operators(K0, M, 25)
        assert np.abs(lam[1:] * (1 - 2 * t) / LL[1:25] - 1).max() < 1e-3


def test_weighted_mass_oracles():
    import manifoldspec as ms
    from manifoldspec.spectral.surface_fem import weighted_mass

    disc = ms.discretize(ms.Sphere(), 2, order=2)
    M0 = ms.assemble(disc).M
    one = weighted_mass(disc, lambda N1: np.ones((len(disc.triangles), len(N1))))
    assert abs(one - M0).max() <= 1e-14 * abs(M0).max()  # ρ ≡ 1 is the induced mass
    c = 0.3
    scaled = weighted_mass(disc, lambda N1: np.full((len(disc.triangles), len(N1)), np.exp(2 * c)))
    assert abs(scaled - np.exp(2 * c) * M0).max() <= 1e-13 * abs(M0).max()
    # ρ = (linear interpolant of z)² integrates to 4π/3 + O(h²) on the unit sphere: order 2 under refinement
    errs = []
    for level in (2, 3):
        d = ms.discretize(ms.Sphere(), level, order=2)
        z, ones = d.vertices[:, 2], np.ones(d.n_dofs)
        errs.append(abs(ones @ weighted_mass(d, lambda N1: (z[d.triangles] @ N1.T) ** 2) @ ones - 4 * np.pi / 3))
    assert 1.8 <= np.log2(errs[0] / errs[1]) <= 2.2
