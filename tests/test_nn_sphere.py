"""SMT on the base S²: real spherical-harmonic features, Funk–Hecke coefficients, conformal token warps.

Oracles: the numpy core (real_sph_harm, sphere_quadrature, sphere_elements with the exact conformal metric
(1 + w) g_round), scipy's modified spherical Bessel functions, rotation invariance under SO(3), linear
attention (zero warp), the exact Ritz filter (O(ε²) agreement of the first-order readout), the token-by-token
recurrence, and torch.autograd.gradcheck in float64.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.nn.ops.linear import linear_attention_parallel  # noqa: E402
from manifoldspec.nn.ops.spectral import filter_tables, ritz_filter  # noqa: E402
from manifoldspec.nn.ops.sphere import (SphereState, funk_hecke_coefficients, smt_sphere_chunked,  # noqa: E402
                                        smt_sphere_recurrent, sphere_token_mass)
from manifoldspec.nn.sphere_basis import sphere_basis, sphere_features  # noqa: E402
from manifoldspec.spectral.matrix_elements import sphere_elements  # noqa: E402
from manifoldspec.spectral.sphere_modes import real_sph_harm, sphere_frame, sphere_modes, sphere_quadrature  # noqa: E402
from docs_blocks import python_block  # noqa: E402

D64 = torch.float64


def _unit(rng, shape):
    x = rng.normal(size=shape + (3,))
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _inputs(rng, B, nh, T, dv, L, amp=1.0):
    t = lambda x: torch.tensor(x, dtype=D64)  # noqa: E731
    return dict(q_pos=t(rng.normal(size=(B, nh, T, 3))), k_pos=t(rng.normal(size=(B, nh, T, 3))),
                values=t(rng.normal(size=(B, nh, T, dv))), alpha=t(amp * rng.uniform(0.2, 1.0, (B, nh, T))),
                sigma=t(rng.uniform(0.4, 0.9, nh)), tau=t(rng.uniform(0.05, 0.2, nh)),
                gamma=t(rng.uniform(0.8, 0.99, nh)))


def _rotation(rng):
    Q, R = np.linalg.qr(rng.normal(size=(3, 3)))
    Q = Q * np.sign(np.diag(R))
    return Q if np.linalg.det(Q) > 0 else -Q


# ---- features -------------------------------------------------------------------------------------------------

def test_features_match_core_and_are_orthonormal(rng):
    L = 8
    theta, phi = np.arccos(rng.uniform(-1, 1, 200)), rng.uniform(0, 2 * np.pi, 200)
    theta = np.concatenate([theta, [1e-9, np.pi - 1e-9, 1e-5]])  # near the poles
    phi = np.concatenate([phi, [0.3, 2.0, 4.0]])
    n, _, _ = sphere_frame(theta, phi)
    ref, _ = real_sph_harm(sphere_modes(L), theta, phi)
    got = sphere_features(L, torch.tensor(n * rng.uniform(0.5, 3.0, (len(n), 1)))).numpy()  # scale-free
    assert np.abs(got - ref).max() <= 1e-13
    # Cartesian points at the poles themselves, where the (θ, φ) frame of the core is singular
    pole = sphere_features(L, torch.tensor([[1e-9, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, -2.0]], dtype=D64)).numpy()
    zonal = sphere_modes(L)[:, 1] == 0
    l = sphere_modes(L)[:, 0]
    assert np.abs(pole[:, ~zonal]).max() <= 1e-8
    assert np.allclose(pole[1, zonal], np.sqrt((2 * l[zonal] + 1) / (4 * np.pi)), rtol=1e-14)
    assert np.allclose(pole[2, zonal], (-1.0) ** l[zonal] * np.sqrt((2 * l[zonal] + 1) / (4 * np.pi)), rtol=1e-14)
    th, ph, w = sphere_quadrature(L + 2, 2 * L + 3)
    Y = sphere_features(L, torch.tensor(sphere_frame(th, ph)[0])).numpy()
    assert np.abs(Y.T @ (w[:, None] * Y) - np.eye(len(l))).max() <= 1e-13


def test_features_gradients_finite_and_correct_at_poles():
    x = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [1e-9, 0.0, 1.0], [0.3, -0.4, 0.5]], dtype=D64,
                     requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: sphere_features(4, p), (x,))
    g, = torch.autograd.grad(sphere_features(6, x).sum(), x)
    assert torch.isfinite(g).all()


# ---- Funk–Hecke and the token mass ----------------------------------------------------------------------------

def test_funk_hecke_matches_scipy_and_gradcheck():
    from scipy.special import spherical_in

    sig = torch.tensor([0.1, 0.5, 2.0], dtype=D64)
    c = funk_hecke_coefficients(8, sig).numpy()
    for s, row in zip(sig.numpy(), c):
        kap = 1 / s**2
        ref = 4 * np.pi * np.exp(-kap) * spherical_in(np.arange(9), kap)
        assert np.abs(row / ref - 1).max() <= 1e-12, s
    sg = torch.tensor([0.3, 0.8, 2.0], dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: funk_hecke_coefficients(6, s), (sg,))


def _conformal_metric(alpha, mu, sigma):
    def metric(x):  # full ambient metric (1 + w) I₃: its tangential part is (1 + w) g_round
        w = alpha * np.exp(-np.sum((x - mu) ** 2, axis=1) / (2 * sigma**2))
        return (1 + w)[:, None, None] * np.eye(3)
    return metric


@pytest.mark.parametrize("sigma", [0.35, 0.8])
def test_token_mass_matches_core_quadrature(rng, sigma):
    L = 4
    basis = sphere_basis((L + 1) ** 2)
    mu = _unit(rng, ())
    alpha = 0.7
    dM = sphere_token_mass(basis, torch.tensor(alpha, dtype=D64), torch.tensor(3 * mu),
                           torch.tensor(sigma, dtype=D64)).numpy()
    me = sphere_elements(L, _conformal_metric(alpha, mu, sigma), n_z=60, n_phi=120)
    rK, rM = me.dense()
    assert np.abs(dM - rM).max() <= 1e-12 * np.abs(rM).max()
    assert np.abs(rK).max() <= 1e-13  # conformal invariance of the 2-D Dirichlet form: δK̃ = 0
    # and a direct quadrature ∫ w Y_j Y_k dA with many nodes
    th, ph, w = sphere_quadrature(70, 140)
    x = sphere_frame(th, ph)[0]
    Y, _ = real_sph_harm(basis.modes, th, ph)
    wt = alpha * np.exp(-(1 - x @ mu) / sigma**2)
    direct = Y.T @ ((w * wt)[:, None] * Y)
    assert np.abs(dM - direct).max() <= 1e-12 * np.abs(direct).max()


def test_gaunt_tensor_against_quadrature(rng):
    basis = sphere_basis(9)  # L = 2
    th, ph, w = sphere_quadrature(20, 40)
    Y1, _ = real_sph_harm(basis.modes, th, ph)
    Y2, _ = real_sph_harm(basis.modes2, th, ph)
    ref = np.einsum("p,pj,pk,pi->jki", w, Y1, Y1, Y2)
    assert np.abs(basis.gaunt - ref).max() <= 1e-14
    assert basis.gaunt.shape == (9, 9, 25) and basis.lmax == 2 and basis.volume == 4 * np.pi


# ---- the recurrence -------------------------------------------------------------------------------------------

def _random_state(rng, B, nh, K, dv):
    A = rng.normal(size=(B, nh, K, K))
    return SphereState(torch.tensor(0.05 * (A + np.swapaxes(A, -1, -2))), torch.tensor(rng.normal(size=(B, nh, K, dv))))


def test_recurrent_equals_chunked_and_state_handover(rng):
    basis = sphere_basis(16)  # L = 3
    B, nh, T, dv = 2, 3, 37, 4
    kw = _inputs(rng, B, nh, T, dv, basis.lmax)
    st0 = _random_state(rng, B, nh, basis.n_modes, dv)
    yr, sr = smt_sphere_recurrent(basis, **kw, state=st0)
    scale = yr.abs().max()
    for cs in (1, 5, 64):
        yc, sc = smt_sphere_chunked(basis, **kw, state=st0, chunk_size=cs)
        assert (yc - yr).abs().max() <= 1e-11 * scale, cs
        assert (sc.H - sr.H).abs().max() <= 1e-11 * sr.H.abs().max()
        assert (sc.C - sr.C).abs().max() <= 1e-11 * sr.C.abs().max()
    T1 = 15
    first = {k: (v[:, :, :T1] if v.dim() >= 3 else v) for k, v in kw.items()}
    rest = {k: (v[:, :, T1:] if v.dim() >= 3 else v) for k, v in kw.items()}
    y1, s1 = smt_sphere_chunked(basis, **first, chunk_size=8)
    y2, s2 = smt_sphere_chunked(basis, **rest, state=s1, chunk_size=8)
    yf, sf = smt_sphere_chunked(basis, **kw, chunk_size=8)
    assert (torch.cat([y1, y2], 2) - yf).abs().max() <= 1e-12 * yf.abs().max()
    assert (s2.H - sf.H).abs().max() <= 1e-12 * sf.H.abs().max()
    assert sf.n_scalars == nh * (basis.n_modes**2 + basis.n_modes * dv)
    y0, s0 = smt_sphere_chunked(basis, **{k: (v[:, :, :0] if v.dim() >= 3 else v) for k, v in kw.items()})
    assert y0.shape == (B, nh, 0, dv) and float(s0.H.abs().max()) == 0.0


def test_zero_warp_is_sphere_kernel_linear_attention(rng):
    basis = sphere_basis(9)
    kw = _inputs(rng, 2, 2, 20, 3, basis.lmax)
    kw["alpha"] = torch.zeros_like(kw["alpha"])
    y, _ = smt_sphere_chunked(basis, **kw, chunk_size=7)
    f, _ = filter_tables(basis.lam0_t(kw["values"]), kw["tau"])
    rf = f.sqrt()[:, None, :]
    q = sphere_features(basis.lmax, kw["q_pos"]) * rf
    k = sphere_features(basis.lmax, kw["k_pos"]) * rf
    ref = linear_attention_parallel(q, k, kw["values"], kw["gamma"])
    assert (y - ref).abs().max() <= 1e-13 * ref.abs().max()


def test_rotation_invariance_with_warp(rng):
    basis = sphere_basis(16)
    kw = _inputs(rng, 1, 2, 25, 3, basis.lmax, amp=2.0)
    y, _ = smt_sphere_chunked(basis, **kw, chunk_size=10)
    R = torch.tensor(_rotation(rng))
    rot = dict(kw, q_pos=kw["q_pos"] @ R.T, k_pos=kw["k_pos"] @ R.T)
    yr, _ = smt_sphere_chunked(basis, **rot, chunk_size=10)
    assert (yr - y).abs().max() <= 1e-12 * y.abs().max()
    # the test has teeth: the warp moves y far more than the tolerance
    y0, _ = smt_sphere_chunked(basis, **dict(kw, alpha=torch.zeros_like(kw["alpha"])), chunk_size=10)
    assert (y - y0).abs().max() >= 1e-2 * y.abs().max()


def test_first_order_readout_is_second_order_accurate(rng):
    basis = sphere_basis(16)
    lam0 = basis.lam0_t(torch.zeros((), dtype=D64))
    tau = torch.tensor(0.15, dtype=D64)
    dM0 = sphere_token_mass(basis, torch.tensor(1.0, dtype=D64), torch.tensor(_unit(rng, ())),
                            torch.tensor(0.6, dtype=D64))
    f, F = filter_tables(lam0, tau)
    P = -0.5 * (lam0[:, None] + lam0[None, :])
    errs = []
    for eps in (1e-2, 1e-3):
        dM = eps * dM0
        first = torch.diag(f) + F * (P * dM)  # the readout f(Λ0) + F∘h of one token
        exact = ritz_filter(lam0, torch.zeros_like(dM), dM, tau)
        errs.append(float((first - exact).abs().max()))
    assert 80 <= errs[0] / errs[1] <= 125, errs


def test_gradcheck_chunked(rng):
    basis = sphere_basis(9)  # L = 2: Gaunt couplings between l = 1 and l = 2
    kw = _inputs(rng, 1, 2, 4, 2, basis.lmax)
    names = ["q_pos", "k_pos", "values", "alpha", "sigma", "tau", "gamma"]
    args = tuple(kw[n].clone().requires_grad_() for n in names)

    def fn(*xs):
        y, st = smt_sphere_chunked(basis, **dict(zip(names, xs)), chunk_size=3)
        return y, st.H, st.C

    assert torch.autograd.gradcheck(fn, args)


def test_bad_inputs_raise_clear_errors(rng):
    for bad in (0, -3, 2.5):
        with pytest.raises(ManifoldSpecError, match="n_modes"):
            sphere_basis(bad)
    with pytest.raises(ManifoldSpecError, match="x: last axis"):
        sphere_features(2, torch.zeros(5, 2, dtype=D64))
    with pytest.raises(ManifoldSpecError, match="lmax2"):
        funk_hecke_coefficients(-1, torch.tensor([0.5]))
    basis = sphere_basis(4)
    kw = _inputs(rng, 1, 2, 5, 3, basis.lmax)
    for name, bad, what in (("k_pos", kw["k_pos"][..., :2], "k_pos"), ("q_pos", kw["q_pos"][..., :2], "q_pos"),
                            ("alpha", kw["alpha"][..., :4], "alpha"), ("values", kw["values"][0], "values"),
                            ("sigma", kw["sigma"][:1], "sigma"), ("tau", kw["tau"][None], "tau"),
                            ("gamma", kw["gamma"][:1], "gamma")):
        for op in (smt_sphere_chunked, smt_sphere_recurrent):
            with pytest.raises(ManifoldSpecError, match=what):
                op(basis, **dict(kw, **{name: bad}))
    with pytest.raises(ManifoldSpecError, match="chunk_size"):
        smt_sphere_chunked(basis, **kw, chunk_size=0)
    with pytest.raises(ManifoldSpecError, match="state"):
        smt_sphere_chunked(basis, **kw, state=_random_state(rng, 1, 2, 9, 3))


def test_first_call_in_inference_mode_leaves_autograd_usable(rng):
    # the basis caches its torch copies; a copy first made under inference_mode must still be savable for backward
    basis = sphere_basis(36)  # L = 5, not built by any other test
    kw = {k: v.float() for k, v in _inputs(rng, 1, 2, 6, 2, basis.lmax).items()}
    with torch.inference_mode():
        smt_sphere_chunked(basis, **kw)
    xs = {k: v.clone().requires_grad_() for k, v in kw.items()}
    y, _ = smt_sphere_chunked(basis, **xs)
    y.square().sum().backward()
    assert all(torch.isfinite(x.grad).all() for x in xs.values())


def test_docs_sphere_example_runs():
    code = python_block("nn.md", "smt_sphere_chunked")
    scope = {}
    exec(compile(code, "docs/nn.md", "exec"), scope)
    assert scope["y"].shape == (2, 4, 100, 8) and torch.isfinite(scope["y"]).all()
    assert scope["state"].n_scalars == 4 * (16 * 16 + 16 * 8)
    assert scope["state_flow"].A.shape == (2, 4, 49) and scope["state_flow"].n_scalars == 4 * (16 * 16 + 16 * 8 + 49)
    assert torch.isfinite(scope["y_flow"]).all() and float((scope["y_flow"] - scope["y"]).abs().max()) > 0


# ----------------------------------------------------------------------------- the layer with base="sphere"
def test_sphere_layer_modes_state_carry_and_state_size():
    from manifoldspec.nn import SpectralManifoldAttention

    torch.manual_seed(0)
    layer = SpectralManifoldAttention(12, n_heads=2, n_modes=5, base="sphere", chunk_size=4).double()
    assert layer.n_modes == 9 and layer.latent_dim == 2  # rounded up to whole multiplets, L = 2
    x = torch.randn(2, 11, 12, dtype=torch.float64)
    y1, s1 = layer(x)
    y2, _ = layer(x, mode="recurrent")
    ya, sa = layer(x[:, :6])
    yb, sb = layer(x[:, 6:], sa, mode="recurrent")
    ref = float(y1.detach().abs().max())
    with torch.no_grad():
        assert float((y2 - y1).abs().max()) < 1e-12 * ref
        assert float((torch.cat([ya, yb], 1) - y1).abs().max()) < 1e-12 * ref
        assert float((sb.H - s1.H).abs().max()) < 1e-12 * float(s1.H.abs().max())
    assert layer.state_size() == 2 * (9 * 10 // 2 + 9 * 6)
    # every head starts with a small warp (softplus(−2) ≈ 0.127), the bias of α sits at each head's first slot
    with torch.no_grad():
        alpha = layer.project(x)[3]
    assert float(alpha.mean()) < 0.5
    y1.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


def test_sphere_layer_warp_changes_the_output_and_no_warp_is_linear_attention():
    from manifoldspec.nn import SpectralManifoldAttention

    torch.manual_seed(1)
    layer = SpectralManifoldAttention(8, n_heads=1, n_modes=4, base="sphere", tau=0.3).double()
    plain = SpectralManifoldAttention(8, n_heads=1, n_modes=4, base="sphere", tau=0.3, warp=False).double()
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(1, 9, 8, dtype=torch.float64)
    with torch.no_grad():
        assert float((layer(x)[0] - plain(x)[0]).abs().max()) > 1e-3
        assert float(plain(x)[1].H.abs().max()) == 0.0


@pytest.mark.parametrize("kw,name", [(dict(latent_dim=3), "latent_dim"),  # flow_dt is accepted: test_nn_sphere_flow.py
                                     (dict(positions="index"), "positions"), (dict(checkpoint=8), "checkpoint"),
                                     (dict(base="cube"), "base")])
def test_sphere_layer_refuses_what_the_sphere_base_does_not_have(kw, name):
    from manifoldspec.nn import SpectralManifoldAttention

    with pytest.raises(ManifoldSpecError, match=f"{name}:"):
        SpectralManifoldAttention(8, **{"base": "sphere", **kw})
