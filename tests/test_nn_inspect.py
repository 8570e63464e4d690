"""The spectrum an SMT state encodes against the exact spectrum of the prompt's warped manifold.

Oracle (THEOREMS §8 class C): ``warped_spectrum`` is first order in the warp, so its eigenvalue shifts
differ from the finite-element solve of ``prompt_warps``' metric by O(α²): the error ratio between α and
α/10 must lie in [70, 130] (measured 100.7 on the torus, 97.5 on the sphere). Shifts, not eigenvalues,
are compared so that the mesh's own error of the unwarped spectrum cancels.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import manifoldspec as ms  # noqa: E402
from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.nn import SpectralManifoldAttention  # noqa: E402
from manifoldspec.nn.inspect import SphereBumpWarp, prompt_warps, warped_spectrum  # noqa: E402
from manifoldspec.nn.ops.smt import smt_recurrent  # noqa: E402
from manifoldspec.nn.ops.sphere import smt_sphere_recurrent  # noqa: E402
from docs_blocks import python_block  # noqa: E402


def _layer(base, n_modes, seed=0):
    torch.manual_seed(seed)
    layer = SpectralManifoldAttention(d_model=8, n_heads=2, n_modes=n_modes, base=base).double()
    return layer, torch.randn(1, 6, 8, dtype=torch.float64)


def _shift_errors(layer, x, disc, op):
    """max |first-order shift − FE shift| over heads and modes, at the prompt's α scaled by 0.1 and 0.01."""
    q, k, v, a, wv = layer.project(x)
    sigma, tau, _, gamma = layer.geometry()
    K = layer.n_modes
    base = ms.solve(disc, K).eigenvalues
    lam0 = np.sort(layer.basis.lam0_t(torch.zeros(1, dtype=torch.float64)).numpy())
    warps = prompt_warps(layer, x)[0]
    errs = []
    for eps in (0.1, 0.01):
        st = op(layer, q, k, v, eps * a, wv, sigma, tau, gamma)
        lam = warped_spectrum(layer, st)[0].detach().numpy()
        exact = [ms.solve(disc, K, metric=warps[h].scaled(eps)).eigenvalues - base for h in range(layer.n_heads)]
        errs.append(max(np.abs((lam[h] - lam0) - exact[h]).max() for h in range(layer.n_heads)))
    return errs


def test_torus_state_spectrum_is_first_order_in_the_prompt_warp():
    layer, x = _layer("torus", 5)
    disc = ms.discretize(ms.FlatTorus((2 * np.pi, 2 * np.pi)), 24, 2)

    def op(layer, q, k, v, a, wv, sigma, tau, gamma):
        return smt_recurrent(layer.basis, q, k, v, a, wv, sigma, tau, None, gamma)[1]

    e1, e2 = _shift_errors(layer, x, disc, op)
    assert 70 < e1 / e2 < 130 and e1 < 1e-4


def test_sphere_state_spectrum_is_first_order_in_the_prompt_warp():
    layer, x = _layer("sphere", 4, seed=1)
    disc = ms.discretize(ms.Sphere(), 3, 2)

    def op(layer, q, k, v, a, wv, sigma, tau, gamma):
        return smt_sphere_recurrent(layer.basis, q, k, v, a, sigma, tau, gamma)[1]

    e1, e2 = _shift_errors(layer, x, disc, op)
    assert 70 < e1 / e2 < 130 and e1 < 1e-2


def _flow_shift_errors(base, n_modes, disc, flowed, seed=0):
    """As _shift_errors, for a layer with the flow decay: its state against prompt_warps(..., flowed)."""
    torch.manual_seed(seed)
    layer = SpectralManifoldAttention(d_model=8, n_heads=2, n_modes=n_modes, base=base, flow_dt=0.05).double()
    x = torch.randn(1, 6, 8, dtype=torch.float64)
    q, k, v, a, wv = layer.project(x)
    sigma, tau, dt, gamma = layer.geometry()
    K = layer.n_modes
    ref = ms.solve(disc, K).eigenvalues
    lam0 = np.sort(layer.basis.lam0_t(torch.zeros(1, dtype=torch.float64)).numpy())
    warps = prompt_warps(layer, x, flowed=flowed)[0]
    errs = []
    for eps in (0.1, 0.01):
        st = (smt_recurrent(layer.basis, q, k, v, eps * a, wv, sigma, tau, dt, gamma) if base == "torus" else
              smt_sphere_recurrent(layer.basis, q, k, v, eps * a, sigma, tau, gamma, flow_dt=dt))[1]
        lam = warped_spectrum(layer, st)[0].detach().numpy()
        exact = [ms.solve(disc, K, metric=warps[h].scaled(eps)).eigenvalues - ref for h in range(layer.n_heads)]
        errs.append(max(np.abs((lam[h] - lam0) - exact[h]).max() for h in range(layer.n_heads)))
    return errs


@pytest.mark.parametrize("base, n_modes, disc", [("torus", 5, (ms.FlatTorus((2 * np.pi, 2 * np.pi)), 24, 2)),
                                                 ("sphere", 4, (ms.Sphere(), 3, 2))])
def test_flow_state_spectrum_is_first_order_in_the_flowed_prompt_warp(base, n_modes, disc):
    disc = ms.discretize(*disc)
    e1, e2 = _flow_shift_errors(base, n_modes, disc, flowed=True)
    assert 70 < e1 / e2 < 130
    # the warps as read, before the flow, are not what the state encodes: a first-order mismatch
    w1, w2 = _flow_shift_errors(base, n_modes, disc, flowed=False)
    assert w1 / w2 < 20 and w2 > 10 * e2


@pytest.mark.parametrize("base", ["torus", "sphere"])
def test_flow_times_count_padded_steps_after_a_token_not_before(base):
    torch.manual_seed(0)
    layer = SpectralManifoldAttention(d_model=8, n_heads=2, n_modes=5 if base == "torus" else 4, base=base,
                                      flow_dt=0.05).double()
    x, pad = torch.randn(1, 6, 8, dtype=torch.float64), torch.randn(1, 2, 8, dtype=torch.float64)
    dt = layer.geometry()[2].detach().numpy()
    (plain,) = prompt_warps(layer, x, flowed=True)
    (left,) = prompt_warps(layer, torch.cat([pad, x], 1), torch.tensor([[0, 0] + [1] * 6]), flowed=True)
    (right,) = prompt_warps(layer, torch.cat([x, pad], 1), torch.tensor([[1] * 6 + [0, 0]]), flowed=True)
    for h in range(2):
        assert np.allclose(plain[h].tau, dt[h] * np.arange(5, -1, -1), rtol=1e-15)
        assert np.allclose(left[h].tau, plain[h].tau) and np.allclose(right[h].tau, plain[h].tau + 2 * dt[h])
    assert type(prompt_warps(layer, x)[0][0]).__name__ in ("TokenWarp", "SphereBumpWarp")  # flowed=False: as read


def test_flowed_warps_at_zero_time_are_the_warps_as_read():
    from manifoldspec.nn.flowed_warps import FlowedSphereBumpWarp, FlowedTokenWarp

    rng = np.random.default_rng(3)
    a, mu, v = rng.uniform(0, 1, 5), rng.uniform(0, 2 * np.pi, (5, 2)), rng.normal(size=(5, 2))
    x = rng.uniform(0, 2 * np.pi, (200, 2))
    torus = ms.TokenWarp(a, mu, v, 0.5, (2 * np.pi,) * 2)
    assert np.abs(FlowedTokenWarp(a, mu, v, 0.5, np.zeros(5), torus.period)(x) - torus(x)).max() < 1e-14
    mus, X = rng.normal(size=(5, 3)), rng.normal(size=(300, 3))
    for sigma in (0.3, 0.7, 1.5):  # the Legendre series of the bump sums it to rounding
        flowed = FlowedSphereBumpWarp(a, mus, sigma, np.zeros(5)).factor(X)
        assert np.abs(flowed - SphereBumpWarp(a, mus, sigma).factor(X)).max() < 1e-13
    many, big = rng.normal(size=(100, 3)), rng.normal(size=(50_000, 3))  # 40 tokens per pass: three passes
    a100 = rng.uniform(0, 1, 100)
    mu2, v2, x2 = rng.uniform(0, 2 * np.pi, (100, 2)), rng.normal(size=(100, 2)), rng.uniform(0, 2 * np.pi, (50_000, 2))
    ref = ms.TokenWarp(a100, mu2, v2, 0.5, torus.period)(x2)
    assert np.abs(FlowedTokenWarp(a100, mu2, v2, 0.5, np.zeros(100), torus.period)(x2) - ref).max() < 1e-13
    got = FlowedSphereBumpWarp(a100, many, 0.5, np.zeros(100)).factor(big)
    assert np.abs(got - SphereBumpWarp(a100, many, 0.5).factor(big)).max() < 1e-12
    # a long flow keeps only what the flow conserves: the mean (l = 0) and, on the sphere, the l = 1 part
    far = FlowedSphereBumpWarp(a, mus, 0.7, np.full(5, 50.0)).factor(X) - 1
    from manifoldspec.nn.flowed_warps import bump_legendre_coefficients
    c = bump_legendre_coefficients(0.7)
    u = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert np.allclose(far, (c[0] + c[1] * (u @ (mus / np.linalg.norm(mus, axis=1, keepdims=True)).T)) @ a, atol=1e-13)
    with pytest.raises(ManifoldSpecError, match="tau"):
        FlowedTokenWarp(a, mu, v, 0.5, -np.ones(5), torus.period)


@pytest.mark.parametrize("base, n_modes", [("torus", 5), ("sphere", 4)])
def test_layer_state_padding_and_empty_prompt(base, n_modes):
    layer, x = _layer(base, n_modes)
    _, st = layer(x)
    lam = warped_spectrum(layer, st)
    assert lam.shape == (1, 2, layer.n_modes)
    # the layer's own state is the op's state on its projections
    q, k, v, a, wv = layer.project(x)
    sigma, tau, _, gamma = layer.geometry()
    ref = (smt_recurrent(layer.basis, q, k, v, a, wv, sigma, tau, None, gamma) if base == "torus"
           else smt_sphere_recurrent(layer.basis, q, k, v, a, sigma, tau, gamma))[1]
    assert torch.allclose(lam, warped_spectrum(layer, ref), atol=1e-12)
    # left padding changes neither the metric nor the spectrum
    xp = torch.cat([torch.randn(1, 3, 8, dtype=torch.float64), x], 1)
    mask = torch.tensor([[0, 0, 0] + [1] * 6])
    _, stp = layer(xp, attention_mask=mask)
    assert torch.allclose(warped_spectrum(layer, stp), lam, atol=1e-12)
    (w,), (wp,) = prompt_warps(layer, x)[0][:1], prompt_warps(layer, xp, attention_mask=mask)[0][:1]
    assert len(wp.alpha) == 6 and np.allclose(wp.alpha, w.alpha) and np.allclose(wp.mu, w.mu)
    # no tokens: the base spectrum, exactly
    _, st0 = layer(xp[:, :3], attention_mask=mask[:, :3])
    lam0 = np.sort(layer.basis.lam0_t(torch.zeros(1, dtype=torch.float64)).numpy())
    assert np.array_equal(warped_spectrum(layer, st0)[0, 0].detach().numpy(), lam0)


def test_warped_spectrum_gradcheck():
    layer, x = _layer("torus", 5)
    _, st = layer(x)
    H = st.H.detach().clone().requires_grad_(True)  # the torus shells are split by the warp: simple eigenvalues

    def f(H):
        return warped_spectrum(layer, type(st)(H, st.C))

    assert torch.autograd.gradcheck(f, (H,), eps=1e-6, atol=1e-6)


def test_errors_name_the_argument():
    layer, x = _layer("torus", 5)
    with pytest.raises(ManifoldSpecError, match=r"state: expected a layer state with H of shape \(B, 2, 5, 5\)"):
        warped_spectrum(layer, object())
    with pytest.raises(ManifoldSpecError, match="positions='content' and warp=True"):
        prompt_warps(SpectralManifoldAttention(d_model=8, warp=False), x.float())
    with pytest.raises(ManifoldSpecError, match="x: expected shape"):
        prompt_warps(layer, x[0])
    with pytest.raises(ManifoldSpecError, match="alpha, mu"):
        SphereBumpWarp([-1.0], [[0.0, 0.0, 1.0]], 0.5)
    with pytest.raises(ManifoldSpecError, match="mu: a bump centre is the zero vector"):
        SphereBumpWarp([1.0], [[0.0, 0.0, 0.0]], 0.5)
    with pytest.raises(ManifoldSpecError, match="sigma"):
        SphereBumpWarp([1.0], [[0.0, 0.0, 1.0]], 0.0)


def test_sphere_bump_warp_is_the_conformal_metric():
    w = SphereBumpWarp([0.5, 0.2], [[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]], 0.7)
    x = np.array([[0.0, 0.0, 1.0], [0.0, 3.0, 0.0]])
    f = 1 + 0.5 * np.exp(-(1 - x[:, 2] / np.linalg.norm(x, axis=1)) / 0.49) \
        + 0.2 * np.exp(-(1 - x[:, 0] / np.linalg.norm(x, axis=1)) / 0.49)
    assert np.allclose(w(x), f[:, None, None] * np.eye(3), rtol=1e-15)
    assert np.allclose(w.scaled(2.0).factor(x) - 1, 2 * (f - 1))


def test_docs_block_runs():
    code = python_block("nn.md", "warped_spectrum")
    scope = {}
    exec(compile(code, "docs/nn.md", "exec"), scope)
    lam, exact = scope["lam"], scope["exact"]
    assert lam.shape == (1, 2, 5)
    assert np.abs(lam[0, 0].detach().numpy() - exact).max() < 2e-2  # first order against the solve, α ≈ 0.1–0.3
