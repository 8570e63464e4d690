"""Conformal Ricci flow with Dirichlet boundary data (THEOREMS RF-9) on a planar disk, ∂u/∂t = e^{−2u}Δu.

Oracles: the cigar u = −½ log(e^{4t} + r²) with its exact boundary values, and the harmonic
extension of time-independent boundary data as t → ∞ (flat, K = 0). Measured on
skfem.MeshTri.init_circle(2, 3, 4) (h = 0.420, 0.222, 0.114):
cigar at t = 1/4, explicit at its stability limit: max error 4.5e-3, 1.1e-3, 2.8e-4 (orders 2.18, 2.09);
implicit with dt ∝ h²: 4.8e-4, 1.0e-4 (2.39); harmonic limit: 3.2e-3, 9.7e-4, 2.8e-4 (orders 1.85, 1.85).
"""
import numpy as np
import pytest

from manifoldspec import ManifoldSpecError
from manifoldspec.flow.dirichlet_flow import boundary_vertices, dirichlet_mesh_flow, dirichlet_stable_dt
from manifoldspec.flow.mesh_flow import conformal_mesh
from manifoldspec.geometry.icosphere import icosphere


def _disk(nrefs):
    import skfem

    m = skfem.MeshTri.init_circle(nrefs)
    v = np.c_[m.p.T, np.zeros(m.p.shape[1])]
    h = np.max(np.linalg.norm(v[m.facets[0]] - v[m.facets[1]], axis=1))
    return conformal_mesh(v, m.t.T), v, h, m


def cigar(p, t):
    return -0.5 * np.log(np.exp(4 * t) + p[:, 0] ** 2 + p[:, 1] ** 2)


def harmonic(p, t=0.0):
    return 0.3 * p[:, 0] + 0.2 * (p[:, 0] ** 2 - p[:, 1] ** 2)


def _order(e, h):
    e, h = np.asarray(e), np.asarray(h)
    return np.log(e[:-1] / e[1:]) / np.log(h[:-1] / h[1:])


def test_boundary_vertices_are_the_mesh_boundary():
    mesh, v, _, m = _disk(2)
    B = boundary_vertices(mesh.triangles, mesh.n_vertices)
    assert np.array_equal(np.flatnonzero(B), np.sort(m.boundary_nodes()))
    assert np.allclose(np.linalg.norm(v[B, :2], axis=1), 1.0)


def test_cigar_explicit_converges_at_second_order():
    T = 0.25
    errs, hs = [], []
    for nrefs in (2, 3, 4):
        mesh, v, h, _ = _disk(nrefs)
        r = dirichlet_mesh_flow(mesh, dt=T, steps=1, boundary=cigar, u0=cigar(v, 0.0), method="explicit")
        assert r.substeps > 1  # the step was split at the stability limit
        errs.append(np.abs(r.u[-1] - cigar(v, T)).max())
        hs.append(h)
    assert errs[-1] < 5e-4
    assert np.all(np.abs(_order(errs, hs) - 2) < 0.25), (errs, _order(errs, hs))


def test_cigar_implicit_converges_and_boundary_values_are_exact():
    T = 0.25
    errs, hs = [], []
    for nrefs in (2, 3):
        mesh, v, h, _ = _disk(nrefs)
        n = 4 ** nrefs * 4  # dt ∝ h², so the first-order time error keeps pace with the O(h²) space error
        r = dirichlet_mesh_flow(mesh, dt=T / n, steps=n, boundary=cigar, u0=cigar(v, 0.0), record_every=n)
        B = r.boundary
        assert np.array_equal(r.u[-1, B], cigar(v[B], T))
        errs.append(np.abs(r.u[-1] - cigar(v, T)).max())
        hs.append(h)
    assert errs[-1] < 2e-4 and 1.75 < _order(errs, hs)[0] < 2.6, errs


def test_time_independent_data_flow_to_the_harmonic_extension():
    errs, hs = [], []
    for nrefs in (2, 3, 4):
        mesh, v, h, _ = _disk(nrefs)
        r = dirichlet_mesh_flow(mesh, dt=0.5, steps=30, boundary=harmonic(v[boundary_vertices(mesh.triangles, len(v))]),
                                record_every=10)
        assert np.abs(r.u[-1] - r.u[-2]).max() < 1e-10  # stationary: the discrete metric is flat
        errs.append(np.abs(r.u[-1] - harmonic(v)).max())
        hs.append(h)
    assert np.all(np.abs(_order(errs, hs) - 2) < 0.25), (errs, _order(errs, hs))


def test_flat_data_stay_flat_and_wrong_data_are_caught():
    mesh, v, _, _ = _disk(2)
    r = dirichlet_mesh_flow(mesh, dt=0.1, steps=3, boundary=lambda p, t: np.full(len(p), 0.7), u0=np.full(len(v), 0.7))
    assert np.abs(r.u - 0.7).max() < 1e-13
    # an oracle that is off by a little must fail: the cigar with the wrong time rate
    r = dirichlet_mesh_flow(mesh, dt=0.25, steps=1, boundary=cigar, u0=cigar(v, 0.0), method="explicit")
    wrong = -0.5 * np.log(np.exp(4.4 * 0.25) + v[:, 0] ** 2 + v[:, 1] ** 2)
    assert np.abs(r.u[-1] - wrong).max() > 5 * np.abs(r.u[-1] - cigar(v, 0.25)).max()


def test_explicit_limit_scales_like_h_squared():
    lim = [dirichlet_stable_dt(m, np.zeros(m.n_vertices), boundary_vertices(m.triangles, m.n_vertices))
           for m in (_disk(2)[0], _disk(3)[0], _disk(4)[0])]
    assert np.all(np.abs(np.log2(np.array(lim[:-1]) / lim[1:]) - 2) < 0.3), lim


def test_bad_input_is_refused():
    mesh, v, _, _ = _disk(1)
    nb = int(boundary_vertices(mesh.triangles, mesh.n_vertices).sum())
    with pytest.raises(ManifoldSpecError, match="boundary: expected finite values of shape"):
        dirichlet_mesh_flow(mesh, dt=0.1, steps=1, boundary=np.zeros(nb + 1))
    with pytest.raises(ManifoldSpecError, match="NaN"):
        dirichlet_mesh_flow(mesh, dt=0.1, steps=1, boundary=lambda p, t: np.full(len(p), np.nan))
    with pytest.raises(ManifoldSpecError, match="method"):
        dirichlet_mesh_flow(mesh, dt=0.1, steps=1, boundary=np.zeros(nb), method="rk4")
    with pytest.raises(ManifoldSpecError, match="dt"):
        dirichlet_mesh_flow(mesh, dt=-0.1, steps=1, boundary=np.zeros(nb))
    with pytest.raises(ManifoldSpecError, match="steps"):
        dirichlet_mesh_flow(mesh, dt=0.1, steps=0, boundary=np.zeros(nb))
    with pytest.raises(ManifoldSpecError, match="u0"):
        dirichlet_mesh_flow(mesh, dt=0.1, steps=1, boundary=np.zeros(nb), u0=np.zeros(3))
    with pytest.raises(ManifoldSpecError, match="closed mesh"):
        dirichlet_mesh_flow(conformal_mesh(*icosphere(1)), dt=0.1, steps=1, boundary=np.zeros(0))
    with pytest.raises(ManifoldSpecError, match="mesh: expected a ConformalMesh"):
        dirichlet_mesh_flow(v, dt=0.1, steps=1, boundary=np.zeros(nb))
