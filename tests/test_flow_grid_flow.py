"""Ricci(–DeTurck) flow on the periodic chart grid (THEOREMS.md §1, RF-4, E5; DESIGN.md §6)."""
import numpy as np
import pytest

from manifoldspec import ManifoldSpecError, TokenWarp
from manifoldspec.flow.grid_curvature import PeriodicGrid, integrate
from manifoldspec.flow.grid_flow import explicit_step, grid_flow, ricci_flow_rhs, stable_dt
from manifoldspec.flow.stress import WarpStress, tokens_from_warp
from manifoldspec.spectral.torus_modes import torus_modes
from manifoldspec.spectral.torus_sparse import flow_decay, torus_pattern


def _mode_amplitude(h, phase, E):
    basis = np.cos(phase)[..., None, None] * E
    return np.sum(h * basis) / np.sum(basis**2)


@pytest.mark.parametrize("n", [2, 3])
def test_linearized_perturbation_decays_like_exp_minus_q2_t(n):
    """A perturbation ε cos(q·x) E decays by exp(−|q|² t) (to O(ε) and O(Δt))."""
    L = (2 * np.pi, 2 * np.pi, 2 * np.pi)[:n]
    shape = (13, 11, 12)[:n]
    grid = PeriodicGrid(L, shape)
    x = grid.coordinates()
    q = np.array([1.0, -2.0, 1.0])[:n]
    rng = np.random.default_rng(n)
    E = rng.standard_normal((n, n))
    E = E + E.T
    eps, dt, steps = 1e-6, 1e-3, 60
    phase = x @ q
    g0 = np.eye(n) + eps * np.cos(phase)[..., None, None] * E
    res = grid_flow(g0, grid, dt=dt, steps=steps, deturck=True)
    h = res.final - np.eye(n)
    amp = _mode_amplitude(h, phase, E) / eps
    q2 = float(q @ q)
    # the scheme's own factor: spatially exact, so only O(ε) nonlinearity remains
    assert abs(amp - (1 - q2 * dt) ** steps) < 1e-5
    # the continuum law, to the O(Δt) time error of forward Euler
    assert abs(amp / np.exp(-q2 * dt * steps) - 1) < 0.5 * q2**2 * dt * dt * steps * 1.2
    # nothing leaks into other modes or components
    assert np.abs(h - eps * amp * np.cos(phase)[..., None, None] * E).max() < 1e-5 * eps


def test_decay_matches_smt_state_flow_decay():
    """torus_sparse.flow_decay (the SMT recurrence) is the linearized flow of this module."""
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (16, 15))
    x = grid.coordinates()
    modes = torus_modes((2 * np.pi, 2 * np.pi), 9)
    pat = torus_pattern(modes, (2 * np.pi, 2 * np.pi), sigma=0.5)
    T = 0.05
    D = flow_decay(pat, T)
    E = np.array([[1.0, 0.3], [0.3, -0.2]])
    for e in np.unique(np.round(pat.q, 12), axis=0)[:6]:
        if not np.any(e):
            continue
        phase = x @ e
        g0 = np.eye(2) + 1e-6 * np.cos(phase)[..., None, None] * E
        res = grid_flow(g0, grid, dt=T / 500, steps=500, deturck=True)
        amp = _mode_amplitude(res.final - np.eye(2), phase, E) / 1e-6
        entry = D[np.argmax(np.all(np.isclose(pat.q, e), axis=1))]
        assert abs(amp - entry) < 2e-3 * entry


def test_flat_torus_is_a_fixed_point():
    grid = PeriodicGrid((2 * np.pi, 3.0), (15, 14))
    g = np.broadcast_to(np.array([[2.0, 0.3], [0.3, 1.0]]), grid.shape + (2, 2)).copy()
    for method in ("explicit", "semi-implicit"):
        res = grid_flow(g, grid, dt=0.01, steps=5, method=method)
        assert np.abs(res.final - g).max() < 1e-14
    grid3 = PeriodicGrid((1.0, 2.0, 3.0), (7, 8, 9))
    g3 = np.broadcast_to(np.diag([1.0, 2.0, 0.5]), grid3.shape + (3, 3)).copy()
    assert np.abs(ricci_flow_rhs(g3, grid3, deturck=True)).max() < 1e-13


def _perturbed_torus(grid):
    x = grid.coordinates()
    u = 0.3 * np.sin(x[..., 0]) * np.cos(x[..., 1])
    g = np.exp(2 * u)[..., None, None] * np.eye(2)
    g[..., 0, 1] = g[..., 1, 0] = 0.1 * np.sin(x[..., 1])
    return g


@pytest.mark.parametrize("method, dt, steps", [("explicit", 0.01, 120), ("semi-implicit", 0.05, 24)])
def test_perturbed_torus_flows_back_to_flat(method, dt, steps):
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (21, 19))
    res = grid_flow(_perturbed_torus(grid), grid, dt=dt, steps=steps, method=method, record_every=4)
    l2 = res.curvature_l2
    assert np.all(np.diff(l2) < 0), l2
    assert l2[-1] < 0.2 * l2[0]
    # χ = 0: area is conserved by the continuous flow, to the first-order time error here
    assert np.abs(res.volume / res.volume[0] - 1).max() < 2e-3


def test_explicit_stability_rule_enforced():
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (21, 19))
    g = _perturbed_torus(grid)
    limit = stable_dt(g, grid)
    with pytest.raises(ManifoldSpecError, match="stability limit"):
        explicit_step(g, grid, 3 * limit, on_unstable="raise")
    g1, n = explicit_step(g, grid, 3 * limit)
    assert n >= 3 and np.all(np.isfinite(g1))
    # what the rule prevents: one Euler step at 3x the limit amplifies the stiffest grid mode
    x = grid.coordinates()
    noise = 1e-3 * np.cos(10 * x[..., 0]) * np.cos(9 * x[..., 1])
    gn = np.eye(2) * (1 + noise)[..., None, None]
    lim = stable_dt(gn, grid)
    bad = gn + 3 * lim * ricci_flow_rhs(gn, grid, deturck=True)
    good, _ = explicit_step(gn, grid, 3 * lim)
    assert np.abs(bad - np.eye(2)).max() > 2 * np.abs(gn - np.eye(2)).max()
    assert np.abs(good - np.eye(2)).max() < np.abs(gn - np.eye(2)).max()


def test_normalized_flow_keeps_volume_3d():
    grid = PeriodicGrid((2 * np.pi,) * 3, (9, 10, 11))
    x = grid.coordinates()
    g = np.eye(3) * np.exp(0.2 * np.sin(x[..., 0]) * np.cos(x[..., 2]))[..., None, None]
    res = grid_flow(g, grid, dt=0.02, steps=10, method="semi-implicit", normalized=True)
    assert np.abs(res.volume / res.volume[0] - 1).max() < 1e-3
    assert res.curvature_l2[-1] < res.curvature_l2[0]


def test_token_stress_area_law():
    """2D, plain Ricci flow + T: dA/dt = −4πχ + ½∫tr_g T dA (= ½∫tr_g T dA on the torus)."""
    L = (2 * np.pi, 2 * np.pi)
    grid = PeriodicGrid(L, (24, 23))
    warp = TokenWarp([0.4, 0.3], [[1.0, 2.0], [4.0, 5.0]], [[1.0, 0.0], [0.6, 0.8]], 0.7, period=L)
    stress = WarpStress(grid.points(), coupling=0.5, shape=grid.shape)
    tokens = tokens_from_warp(warp, 40)
    g = np.broadcast_to(np.eye(2), grid.shape + (2, 2)).copy()
    res = grid_flow(g, grid, dt=1e-3, steps=40, stress=stress, tokens=tokens, deturck=False)
    predicted = 0.0
    for m, tok in zip(res.metrics[:-1], tokens):
        T = stress(tok, m)
        predicted += 1e-3 * 0.5 * integrate(np.einsum("...ij,...ij->...", np.linalg.inv(m), T), m, grid)
    assert abs((res.volume[-1] - res.volume[0]) - predicted) < 1e-3 * abs(predicted)


def test_bad_inputs():
    grid = PeriodicGrid((1.0, 1.0), (8, 8))
    g = np.broadcast_to(np.eye(2), (8, 8, 2, 2)).copy()
    with pytest.raises(ManifoldSpecError, match="method"):
        grid_flow(g, grid, dt=0.1, steps=1, method="rk4")
    with pytest.raises(ManifoldSpecError, match="g0"):
        grid_flow(g[:4], grid, dt=0.1, steps=1)
    bad = g.copy()
    bad[0, 0] = -np.eye(2)
    with pytest.raises(ManifoldSpecError, match="positive definite"):
        grid_flow(bad, grid, dt=0.1, steps=1)
    with pytest.raises(ManifoldSpecError, match="dt"):
        grid_flow(g, grid, dt=-1, steps=1)
    with pytest.raises(ManifoldSpecError, match="stress"):
        grid_flow(g, grid, dt=1e-4, steps=1, stress=lambda tok, m: np.zeros(3))
