"""Error-controlled Ricci flow: the error at t_end stays below tol against exact laws and converged references."""
import numpy as np
import pytest

from manifoldspec import ManifoldSpecError
from manifoldspec.flow import (PeriodicGrid, adaptive_grid_flow, adaptive_mesh_flow, conformal_mesh,
                               integrate_adaptive, mesh_flow)
from manifoldspec.geometry.icosphere import icosphere


@pytest.mark.parametrize("method", ["semi-implicit", "explicit"])
def test_grid_error_below_tol_against_the_exact_decay_law(method):
    """Linear regime (ε = 1e-4, nonlinearity 1e-8): g − I = ε e^{−|q|²t} cos(q·x) E exactly (FFT derivatives)."""
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (12, 12))
    q, E, eps, T = np.array([1.0, -2.0]), np.array([[1.0, 0.3], [0.3, -0.5]]), 1e-4, 0.2
    mode = np.cos(grid.coordinates() @ q)[..., None, None] * E
    exact = np.eye(2) + eps * np.exp(-(q @ q) * T) * mode
    errs = []
    for tol in (1e-6, 1e-7):
        res = adaptive_grid_flow(np.eye(2) + eps * mode, grid, t_end=T, tol=tol, method=method)
        assert res.times[-1] == pytest.approx(T, rel=1e-12)
        errs.append(np.abs(res.final - exact).max())
        assert errs[-1] <= tol
    assert errs[1] < errs[0] / 5  # first order: ten times tighter, about ten times smaller


def _bumpy(level):
    V, F = icosphere(level)
    x, y, z = V.T
    return V * (1 + 0.25 * (z**2 - 1 / 3) + 0.15 * x * y + 0.1 * x)[:, None], F


def test_mesh_error_below_tol_against_a_converged_reference():
    mesh = conformal_mesh(*_bumpy(2))
    T = 0.1
    # reference: explicit Euler at dt and dt/2, Richardson-extrapolated (error ≪ 1e-5)
    a = mesh_flow(mesh, dt=2e-4, steps=500, record_every=500).u[-1]
    b = mesh_flow(mesh, dt=1e-4, steps=1000, record_every=1000).u[-1]
    ref = 2 * b - a
    assert np.abs(b - ref).max() < 2e-5
    for tol in (1e-2, 1e-3, 1e-4):
        res = adaptive_mesh_flow(mesh, t_end=T, tol=tol)
        assert np.abs(res.u[-1] - ref).max() <= tol
        assert np.abs(res.gauss_bonnet).max() < 1e-10
    assert res.substeps == 3 * (res.steps + res.rejected)


def test_round_sphere_keeps_the_radius_law_with_variable_steps():
    """RF-1 r² = r0² − 2t holds step by step for any step sizes, so it holds along the adaptive run too."""
    mesh = conformal_mesh(*icosphere(2))
    A0 = mesh.curvature(np.zeros(mesh.n_vertices))["area"]
    u0 = np.full(mesh.n_vertices, 0.5 * np.log(4 * np.pi / A0))
    res = adaptive_mesh_flow(mesh, t_end=0.3, tol=1e-6, u0=u0)
    assert np.abs(res.area / (4 * np.pi) - (1 - 2 * res.times)).max() < 1e-9
    dts = np.diff(res.times)
    assert dts.max() > 2 * dts.min()  # the steps did adapt (curvature grows towards extinction at t = 0.5)


def test_controller_recovers_from_failed_steps_and_reports_bad_input():
    # y' = −y with backward Euler, and a step that refuses h > 0.05 the way the flows refuse a collapsing metric
    def step(y, h, t):
        if h > 0.05:
            raise ManifoldSpecError("too large")
        return y / (1 + h)

    run = integrate_adaptive(np.array([1.0]), step, 1.0, 1e-4, dt0=0.5)
    assert run.rejected >= 1 and run.times[-1] == pytest.approx(1.0)
    assert abs(run.states[-1][0] - np.exp(-1.0)) <= 1e-4
    with pytest.raises(ManifoldSpecError, match="tol"):
        integrate_adaptive(np.array([1.0]), step, 1.0, 0.0)
    with pytest.raises(ManifoldSpecError, match="dt_min"):
        integrate_adaptive(np.array([1.0]), step, 1.0, 1e-12, dt_min=1e-3)
    with pytest.raises(ManifoldSpecError, match="attempts"):
        integrate_adaptive(np.array([1.0]), step, 1.0, 1e-6, max_attempts=5)
    with pytest.raises(ManifoldSpecError, match="method"):
        adaptive_mesh_flow(conformal_mesh(*icosphere(1)), t_end=0.1, tol=1e-3, method="rk4")


def test_docs_example_runs(capsys):
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "ricci_flow.md").read_text()
    section = text.split("## Error-controlled time steps", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "docs/ricci_flow.md", "exec"), {})
    out = capsys.readouterr().out
    first, last = (float(v) for v in re.search(r"from (\S+) to (\S+)", out).groups())
    assert "accepted" in out and last < first  # the curvature decays along the flow


def test_example_script_errors_below_tol(tmp_path):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "ricci_flow_adaptive.py"
    spec = importlib.util.spec_from_file_location("ricci_flow_adaptive", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    errs, tols = mod.main(["--level", "1", "--out", str(tmp_path / "r.png")])
    assert all(e <= t for e, t in zip(errs, tols)) and (tmp_path / "r.png").stat().st_size > 0


def test_precomputed_rhs_and_linearization_give_the_same_steps():
    """The error control reuses F(g) / the mesh linearization for the h and h/2 steps of one state."""
    from manifoldspec.flow import flow_rhs, mesh_linearization, semi_implicit_step
    from manifoldspec.flow.mesh_flow import implicit_mesh_step

    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (10, 10))
    x = grid.coordinates()
    g = np.exp(0.3 * np.sin(x[..., 0]) * np.cos(x[..., 1]))[..., None, None] * np.eye(2)
    F = flow_rhs(g, grid, deturck=True)
    for h in (0.01, 0.005):
        np.testing.assert_array_equal(semi_implicit_step(g, grid, h, deturck=True, rhs=F),
                                      semi_implicit_step(g, grid, h, deturck=True))
    mesh = conformal_mesh(*_bumpy(1))
    u = 0.05 * np.cos(np.arange(mesh.n_vertices))
    lin = mesh_linearization(mesh, u)
    for h in (0.01, 0.005):
        np.testing.assert_array_equal(implicit_mesh_step(mesh, u, h, linearization=lin), implicit_mesh_step(mesh, u, h))
