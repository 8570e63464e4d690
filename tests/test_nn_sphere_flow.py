"""The linearized Ricci-flow decay (eq. 8) on the S² base of the SMT layer (manifoldspec.nn.ops.sphere_flow).

Oracles: the token-by-token recurrence; flow_dt = 0 against the no-flow path; the closed-form decay of the
linearized normalized flow, ρ_l = l(l+1) − 2 (l ≥ 1), ρ_0 = 0, written here from the formula, with the
starting coefficients from scipy (Funk–Hecke) and the core's harmonics, and H from the core's
sphere_elements on the flowed conformal factor; the core's conformal mesh Ricci flow on an icosphere
(THEOREMS.md RF-6); torch.autograd.gradcheck in float64.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.nn.ops.sphere import SphereState, smt_sphere_chunked, smt_sphere_recurrent  # noqa: E402
from manifoldspec.nn.sphere_basis import sphere_basis, sphere_features  # noqa: E402

D64 = torch.float64


def _inputs(rng, B, nh, T, dv, amp=1.0):
    t = lambda x: torch.tensor(x, dtype=D64)  # noqa: E731
    return dict(q_pos=t(rng.normal(size=(B, nh, T, 3))), k_pos=t(rng.normal(size=(B, nh, T, 3))),
                values=t(rng.normal(size=(B, nh, T, dv))), alpha=t(amp * rng.uniform(0.2, 1.0, (B, nh, T))),
                sigma=t(rng.uniform(0.4, 0.9, nh)), tau=t(rng.uniform(0.05, 0.2, nh)),
                gamma=t(rng.uniform(0.8, 0.99, nh)))


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def _split(kw, a, b):
    return {k: (v[:, :, a:b] if torch.is_tensor(v) and v.dim() >= 3 else v) for k, v in kw.items()}


def _random_state(rng, basis, B, nh, dv):
    # a flowed state is determined by A (H = P∘(𝒢·A)); its H is not read, so a NaN H would still pass
    K, K2 = basis.n_modes, basis.modes2.shape[0]
    return SphereState(torch.full((B, nh, K, K), float("nan"), dtype=D64), torch.tensor(rng.normal(size=(B, nh, K, dv))),
                       torch.tensor(0.3 * rng.normal(size=(B, nh, K2))))


def _pg(basis, like):
    # P∘𝒢, (K, K, K2): a ↦ P∘(𝒢·a) with P_jk = −½(λ_j + λ_k)
    lam = basis.lam0_t(like)
    return -0.5 * (lam[:, None] + lam[None, :])[..., None] * basis.gaunt_t(like)


# ---- chunked form and state ------------------------------------------------------------------------------------

@pytest.mark.parametrize("filter", ["heat", "none"])
def test_chunked_equals_recurrent_with_flow_and_state_handover(rng, filter):
    basis = sphere_basis(16)  # L = 3, K2 = 49: degrees up to 6, rates up to 40
    B, nh, T, dv = 2, 3, 37, 4
    kw = dict(_inputs(rng, B, nh, T, dv), filter=filter, flow_dt=torch.tensor([0.01, 0.0, 0.3], dtype=D64))
    st0 = _random_state(rng, basis, B, nh, dv)
    yr, sr = smt_sphere_recurrent(basis, **kw, state=st0)
    assert torch.isfinite(sr.H).all()  # H comes from A, not from the NaN H of st0
    for cs in (1, 5, 64, None):
        yc, sc = smt_sphere_chunked(basis, **kw, state=st0, chunk_size=cs)
        assert _rel(yc, yr) <= 1e-12, cs
        for name in ("H", "C", "A"):
            assert _rel(getattr(sc, name), getattr(sr, name)) <= 1e-12, (cs, name)
    # with the warp filter on, the flow must change the output (with filter "none" the warp drops out):
    # against no flow from the same start, H_0 = P∘(𝒢·A_0)
    H0 = torch.einsum("jki,bhi->bhjk", _pg(basis, st0.A), st0.A)
    y_noflow, _ = smt_sphere_recurrent(basis, **dict(kw, flow_dt=None), state=SphereState(H0, st0.C))
    if filter == "heat":
        assert _rel(yr, y_noflow) >= 1e-3
    # two calls (chunked, then recurrent from the handed-over state) equal one
    T1 = 15
    y1, s1 = smt_sphere_chunked(basis, **_split(kw, 0, T1), chunk_size=4)
    y2, s2 = smt_sphere_recurrent(basis, **_split(kw, T1, T), state=s1)
    yf, sf = smt_sphere_chunked(basis, **kw, chunk_size=4)
    assert _rel(torch.cat([y1, y2], 2), yf) <= 1e-12
    assert _rel(s2.A, sf.A) <= 1e-12 and _rel(s2.H, sf.H) <= 1e-12 and _rel(s2.C, sf.C) <= 1e-12
    K, K2 = basis.n_modes, basis.modes2.shape[0]
    assert sf.A.shape == (B, nh, K2) and sf.n_scalars == nh * (K * K + K * dv + K2)
    # the returned H is P∘(𝒢·A) of the returned A (a consistent state; H itself is checked against the
    # core in the decay test)
    assert _rel(torch.einsum("jki,bhi->bhjk", _pg(basis, sf.A), sf.A), sf.H) <= 1e-13
    # T = 0 hands the state back
    y0, s0 = smt_sphere_chunked(basis, **_split(kw, 0, 0))
    assert y0.shape == (B, nh, 0, dv) and float(s0.A.abs().max()) == 0.0


def test_flow_dt_zero_equals_no_flow(rng):
    basis = sphere_basis(9)
    B, nh, T, dv = 2, 2, 23, 3
    kw = _inputs(rng, B, nh, T, dv)
    zero = torch.zeros(nh, dtype=D64)
    for op, extra in ((smt_sphere_chunked, dict(chunk_size=6)), (smt_sphere_recurrent, {})):
        y0, s0 = op(basis, **kw, **extra)
        yz, sz = op(basis, **kw, **extra, flow_dt=zero)
        assert s0.A is None and sz.A is not None
        assert _rel(yz, y0) <= 1e-13 and _rel(sz.H, s0.H) <= 1e-13 and _rel(sz.C, s0.C) <= 1e-13
        # without flow a given A is carried along (A + Σ a_s), so the two states agree in A too
        st = SphereState(torch.zeros_like(s0.H), torch.zeros_like(s0.C), torch.zeros_like(sz.A))
        _, sa = op(basis, **kw, **extra, state=st)
        assert _rel(sa.A, sz.A) <= 1e-13 and _rel(sa.H, s0.H) == 0.0


# ---- the decay itself ------------------------------------------------------------------------------------------

def _rho(l):
    # the linearized normalized Ricci flow about the round unit sphere: ∂_t u = Δu + 2(u − ū)
    return 0.0 if l == 0 else l * (l + 1) - 2.0


def _angles(x):
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return np.arccos(np.clip(x[..., 2], -1, 1)), np.arctan2(x[..., 1], x[..., 0])


def test_exact_decay_of_a_silent_run_and_h_from_core_elements(rng):
    from scipy.special import spherical_in

    from manifoldspec.spectral.matrix_elements import sphere_elements
    from manifoldspec.spectral.sphere_modes import real_sph_harm

    L, nh, n = 2, 2, 12
    basis = sphere_basis((L + 1) ** 2)
    dt = np.array([0.03, 0.11])
    sigma, alpha = np.array([0.5, 0.8]), 0.7
    mu = rng.normal(size=(nh, 3))
    T = n + 1
    kpos = torch.tensor(np.repeat(mu[None, :, None, :], T, axis=2))
    al = torch.zeros(1, nh, T, dtype=D64)
    al[..., 0] = alpha  # one warped token, then n tokens with α = 0
    kw = dict(q_pos=kpos, k_pos=kpos, values=torch.tensor(rng.normal(size=(1, nh, T, 2))), alpha=al,
              sigma=torch.tensor(sigma), tau=torch.full((nh,), 0.1, dtype=D64), gamma=torch.full((nh,), 0.9, dtype=D64),
              flow_dt=torch.tensor(dt))
    _, st = smt_sphere_chunked(basis, **kw, chunk_size=5)
    _, sr = smt_sphere_recurrent(basis, **kw)
    modes2 = basis.modes2
    lam0 = basis.lam0
    for h in range(nh):
        kap = 1 / sigma[h] ** 2
        c = 4 * np.pi * np.exp(-kap) * spherical_in(modes2[:, 0], kap)  # Funk–Hecke, from scipy
        th, ph = _angles(mu[h])
        a0 = alpha * c * real_sph_harm(modes2, np.array([th]), np.array([ph]))[0][0]
        decay = np.exp(-np.array([_rho(l) for l in modes2[:, 0]]) * dt[h] * n)
        want = decay * a0
        for s in (st, sr):
            assert np.abs(s.A[0, h].numpy() - want).max() <= 1e-13 * np.abs(want).max(), h
        # the degree-l block shrank by exactly exp(−ρ_l dt n): l = 1 not at all, l = 2 by e^{−4 dt n}, …
        for l in range(2 * L + 1):
            blk = modes2[:, 0] == l
            ratio = st.A[0, h].numpy()[blk] / a0[blk]
            assert np.abs(ratio - np.exp(-_rho(l) * dt[h] * n)).max() <= 1e-12, (h, l)

        # H from the core: δM̃ of the exact conformal metric (1 + w_flowed) g_round, w_flowed = Σ_i A_i Y_i
        def metric(x, A=want):
            t_, p_ = _angles(x)
            w = real_sph_harm(modes2, t_, p_)[0] @ A
            return (1 + w)[:, None, None] * np.eye(3)

        rK, rM = sphere_elements(L, metric, n_z=3 * L + 4, n_phi=6 * L + 8).dense()
        H_core = -0.5 * (lam0[:, None] + lam0[None, :]) * rM
        assert np.abs(st.H[0, h].numpy() - H_core).max() <= 1e-12 * np.abs(H_core).max(), h
        assert np.abs(rK).max() <= 1e-13


def test_rates_agree_with_the_core_mesh_ricci_flow():
    # RF-6 through the layer: the core's normalized conformal mesh flow (icosphere level 3, 642 vertices), started
    # from u₀ = ε·w/2 for one bump w (g = (1 + εw) g_round ≈ e^{2u} g_round), run for τ = 0.25, and projected
    # onto the harmonics of degree ≤ 2 (dual-area quadrature) must give the nn state A after τ/dt silent tokens.
    # The icosphere's own relaxation (icosahedral modes, degree 0, 6, 10, …) is removed by a run from u₀ = 0;
    # Richardson in dt removes the implicit step's first-order time error. Measured max relative deviation per
    # degree block: 4.6e-5 (l = 0), 2.2e-3 (l = 1), 2.7e-3 (l = 2) at level 3; 9.1e-3 and 8.4e-3 at level 2,
    # 4.6e-4 and 1.4e-3 at level 4 (mesh error, converging). A wrong rate is far outside: ρ_l = l(l+1)
    # (no normalization term) moves the l = 1 and l = 2 blocks by 1 − e^{−0.5} = 39 %.
    from manifoldspec.flow.mesh_flow import mesh_flow
    from manifoldspec.verify.ricci import unit_area_icosphere

    mesh = unit_area_icosphere(3)
    x = mesh.vertices / np.linalg.norm(mesh.vertices, axis=1, keepdims=True)
    mu = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    sig, eps, tau, dt = 0.6, 1e-3, 0.25, 0.01
    w = np.exp(-(1 - x @ mu) / sig**2)
    basis = sphere_basis(4)  # L = 1: A has degrees 0, 1, 2
    # the icosphere has vertices at the poles, where the core's (θ, φ) frame is singular: the nn features
    # (checked against the core's real_sph_harm in test_nn_sphere.py) are pole-safe
    Y = sphere_features(2 * basis.lmax, torch.tensor(x)).numpy()
    dA = mesh.curvature(np.zeros(len(x)))["dual_area"]

    def flowed(u0, step):
        steps = int(round(tau / step))
        return mesh_flow(mesh, dt=step, steps=steps, u0=u0, method="implicit", normalized=True,
                         record_every=steps).u[-1]

    proj = {s: 2 * Y.T @ (dA * (flowed(eps * w / 2, s) - flowed(np.zeros(len(x)), s))) / eps for s in (dt, dt / 2)}
    core = 2 * proj[dt / 2] - proj[dt]
    n = 50
    T = n + 1
    kpos = torch.tensor(np.tile(mu, (1, 1, T, 1)))
    al = torch.zeros(1, 1, T, dtype=D64)
    al[..., 0] = 1.0
    one = lambda x: torch.tensor([x], dtype=D64)  # noqa: E731
    _, st = smt_sphere_chunked(basis, kpos, kpos, torch.zeros(1, 1, T, 1, dtype=D64), al, one(sig), one(0.1), one(0.9),
                               flow_dt=one(tau / n))
    A = st.A[0, 0].numpy()
    l = basis.modes2[:, 0]
    for deg, tol in ((0, 1e-4), (1, 3.5e-3), (2, 4e-3)):
        blk = l == deg
        assert np.abs(A[blk] - core[blk]).max() <= tol * np.abs(A[blk]).max(), (deg, A[blk], core[blk])
        if deg > 0:  # the un-normalized heat rate l(l+1) would be far off
            wrong = A[blk] * np.exp(-(deg * (deg + 1) - _rho(deg)) * tau)
            assert np.abs(wrong - core[blk]).max() >= 0.3 * np.abs(A[blk]).max()


def test_gradcheck_chunked_with_flow(rng):
    basis = sphere_basis(9)  # L = 2: degrees ≤ 4 in A
    kw = _inputs(rng, 1, 2, 5, 2)
    st = _random_state(rng, basis, 1, 2, 2)
    names = ["q_pos", "k_pos", "values", "alpha", "sigma", "flow_dt", "A0"]
    # dt well above gradcheck's step, so that its perturbations stay ≥ 0
    vals = dict(kw, flow_dt=torch.tensor([0.05, 0.2], dtype=D64), A0=st.A)
    args = tuple(vals[n].clone().requires_grad_() for n in names)
    fixed = {k: kw[k] for k in ("tau", "gamma")}

    def fn(*xs):
        d = dict(zip(names, xs))
        state = SphereState(torch.zeros(1, 2, 9, 9, dtype=D64), st.C, d.pop("A0"))
        y, s = smt_sphere_chunked(basis, **d, **fixed, state=state, chunk_size=3)
        return y, s.H, s.A

    assert torch.autograd.gradcheck(fn, args)


# ---- errors ----------------------------------------------------------------------------------------------------

def test_flow_errors_name_the_argument(rng):
    basis = sphere_basis(4)
    kw = _inputs(rng, 1, 2, 5, 3)
    K = basis.n_modes
    no_a = SphereState(torch.zeros(1, 2, K, K, dtype=D64), torch.zeros(1, 2, K, 3, dtype=D64))
    dt = torch.tensor([0.1, 0.2], dtype=D64)
    for op in (smt_sphere_chunked, smt_sphere_recurrent):
        with pytest.raises(ManifoldSpecError, match="state: with flow_dt .*warp coefficients A"):
            op(basis, **kw, flow_dt=dt, state=no_a)
        with pytest.raises(ManifoldSpecError, match=r"state: expected A of shape \(1, 2, 9\)"):
            op(basis, **kw, flow_dt=dt, state=SphereState(no_a.H, no_a.C, torch.zeros(1, 2, 4, dtype=D64)))
        for bad, what in ((dt[:1], "shape"), (dt[None], "shape"), (0.1, "shape"),
                          (torch.tensor([0.1, -1e-3], dtype=D64), "finite and ≥ 0"),
                          (torch.tensor([0.1, float("nan")], dtype=D64), "finite and ≥ 0"),
                          (torch.tensor([float("inf"), 0.1], dtype=D64), "finite and ≥ 0")):
            with pytest.raises(ManifoldSpecError, match=f"flow_dt: .*{what}"):
                op(basis, **kw, flow_dt=bad)


# ---- the layer -------------------------------------------------------------------------------------------------

def test_sphere_layer_with_flow_modes_state_and_state_size():
    from manifoldspec.nn import SpectralManifoldAttention

    torch.manual_seed(0)
    layer = SpectralManifoldAttention(12, n_heads=2, n_modes=9, base="sphere", flow_dt=0.05).double()
    plain = SpectralManifoldAttention(12, n_heads=2, n_modes=9, base="sphere").double()
    plain.load_state_dict({k: v for k, v in layer.state_dict().items() if k != "raw_dt"})
    x = torch.randn(2, 40, 12, dtype=D64)  # 40 > 16, the default chunk with flow: several chunks
    y1, s1 = layer(x)
    y2, s2 = layer(x, mode="recurrent")
    ya, sa = layer(x[:, :17])
    yb, sb = layer(x[:, 17:], sa, mode="recurrent")
    with torch.no_grad():
        assert _rel(y2, y1) <= 1e-12 and _rel(s2.A, s1.A) <= 1e-12
        assert _rel(torch.cat([ya, yb], 1), y1) <= 1e-12 and _rel(sb.A, s1.A) <= 1e-12 and _rel(sb.H, s1.H) <= 1e-12
        assert _rel(plain(x)[0], y1) >= 1e-4  # the flow changes the output
    assert layer.geometry()[2].shape == (2,)
    assert layer.state_size() == 2 * (25 + 9 * 6)  # (A, C): K2 = (2L+1)² = 25 at L = 2, no K(K+1)/2 for H
    assert plain.state_size() == 2 * (9 * 10 // 2 + 9 * 6)
    y1.square().sum().backward()
    assert layer.raw_dt.grad is not None and float(layer.raw_dt.grad.abs().max()) > 0
    # a state without A (from a layer without flow) is refused with the reason
    with pytest.raises(ManifoldSpecError, match="state: with flow_dt"):
        layer(x[:, :3], plain(x[:, :3])[1])


def test_cli_train_recall_sphere_flow(capsys):
    from manifoldspec.cli import main

    assert main(["train-recall", "--mixers", "smt", "--base", "sphere", "--flow", "--modes", "4", "--d-model", "16",
                 "--layers", "1", "--steps", "1", "--batch-size", "2", "--test-examples", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    row = next(r for r in out.splitlines() if r.startswith("smt "))
    # state column (one layer): nh·(K2 + K·d_v) = 2·(9 + 4·8) at L = 1, d_v = 16/2; without flow 2·(10 + 32) = 84
    assert " 82 " in f" {row} ", row
