"""SMT layer: recurrent vs chunked forms, exact special cases (DESIGN.md §7), models and decoding.

Oracles: the token-by-token recurrence (plain loop, closed-form elements from the autograd
Function), linear attention with a Fourier feature map (quadratic masked product), translation
invariance of the torus kernel (§5.1), and full-sequence logits for cached decoding.
"""
import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.nn import (LinearAttention, SMTLanguageModel, SMTState, SpectralManifoldAttention, linear_attention_chunked,  # noqa: E402
                             linear_attention_recurrent, smt_chunked, smt_recurrent, torus_basis)
from manifoldspec.nn.ops.linear import fourier_features, linear_attention_parallel  # noqa: E402

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}




def _inputs(dtype, B=2, nh=3, T=29, n=2, dv=5, seed=0, flow=True):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, dtype=dtype, generator=g)  # noqa: E731
    x = dict(q_pos=2 * r(B, nh, T, n), k_pos=2 * r(B, nh, T, n), values=r(B, nh, T, dv),
             alpha=torch.rand(B, nh, T, dtype=dtype, generator=g), warp_v=r(B, nh, T, n))
    p = dict(sigma=torch.tensor([0.5, 0.7, 0.9], dtype=dtype), tau=torch.tensor([0.1, 0.05, 0.2], dtype=dtype),
             flow_dt=torch.tensor([0.01, 0.0, 0.3], dtype=dtype) if flow else None,
             gamma=torch.tensor([0.95, 1.0, 0.8], dtype=dtype))
    return x, p


def _rel(a, b):
    return float(((a - b).abs().max() / b.abs().max()).detach())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("flow", [True, False], ids=["flow", "noflow"])
def test_recurrent_and_chunked_agree(dtype, flow):
    basis = torus_basis(12, 2)  # K = 13
    x, p = _inputs(dtype, flow=flow)
    y_ref, s_ref = smt_recurrent(basis, **x, **p)
    for chunk in (1, 5, 8, 29, 64, None):  # 5 and 8 do not divide T = 29; None: the default for this path
        y, s = smt_chunked(basis, **x, **p, chunk_size=chunk)
        assert _rel(y, y_ref) <= TOL[dtype], chunk
        assert _rel(s.H, s_ref.H) <= TOL[dtype] and _rel(s.C, s_ref.C) <= TOL[dtype], chunk


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "noflow"])
def test_state_handover_and_gradients_match(flow):
    basis = torus_basis(8, 2)
    x, p = _inputs(torch.float64, T=17, flow=flow)
    for k in ("q_pos", "k_pos", "values", "alpha", "warp_v"):
        x[k].requires_grad_()
    y_ref, s_ref = smt_recurrent(basis, **x, **p)
    # first 10 tokens chunked, then the rest token by token from the handed-over state
    head = {k: v[:, :, :10] for k, v in x.items()}
    tail = {k: v[:, :, 10:] for k, v in x.items()}
    y1, s1 = smt_chunked(basis, **head, **p, chunk_size=4)
    y2, s2 = smt_recurrent(basis, **tail, **p, state=s1)
    assert _rel(torch.cat([y1, y2], 2), y_ref) <= 1e-12
    assert _rel(s2.H, s_ref.H) <= 1e-12 and _rel(s2.C, s_ref.C) <= 1e-12
    assert s2.H.shape == (2, 3, basis.n_modes, basis.n_modes)  # size independent of T
    # gradients of output and final state agree between the two forms
    w = torch.randn_like(y_ref)
    yc, sc = smt_chunked(basis, **x, **p, chunk_size=6)
    gr = torch.autograd.grad((y_ref * w).sum() + s_ref.H.abs().sum(), list(x.values()))
    gc = torch.autograd.grad((yc * w).sum() + sc.H.abs().sum(), list(x.values()))
    for a, b in zip(gr, gc):
        assert _rel(b, a) <= 1e-10


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "noflow"])
def test_chunked_gradcheck(flow):
    basis = torus_basis(5, 2)
    x, p = _inputs(torch.float64, B=1, nh=3, T=5, dv=2, flow=flow)
    args = [x["alpha"], x["k_pos"], x["warp_v"], x["values"], p["sigma"], p["tau"]] + ([p["flow_dt"]] if flow else [])
    for a in args:
        a.requires_grad_()

    def f(alpha, k_pos, warp_v, values, sigma, tau, flow_dt=None):
        return smt_chunked(basis, x["q_pos"], k_pos, values, alpha, warp_v, sigma, tau, flow_dt,
                           p["gamma"], chunk_size=2)

    # T = 5 in chunks of 2: a partial last chunk, the carried state and every lag power of the flow decay;
    # the outputs include the final state, whose H the no-flow path builds by a cumulative sum
    assert torch.autograd.gradcheck(lambda *a: (f(*a)[0], f(*a)[1].H, f(*a)[1].C), tuple(args))


def _random_state(basis, B, nh, dv, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    K = basis.n_modes
    A = torch.complex(torch.randn(B, nh, K, K, dtype=dtype, generator=g), torch.randn(B, nh, K, K, dtype=dtype, generator=g))
    C = torch.complex(torch.randn(B, nh, K, dv, dtype=dtype, generator=g), torch.randn(B, nh, K, dv, dtype=dtype, generator=g))
    return 0.1 * (A + A.conj().transpose(-1, -2)), C  # H0 Hermitian


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "noflow"])
def test_gradients_through_initial_state_and_head_parameters(flow):
    # NN_ANCHORS §2.2: a random h0 with dh0 compared across forms, and every per-head parameter (σ, τ, dt, γ)
    basis = torus_basis(8, 2)
    x, p = _inputs(torch.float64, T=13, flow=flow)
    H0, C0 = _random_state(basis, 2, 3, 5, torch.float64)
    leaves = [H0, C0] + [p[k] for k in ("sigma", "tau", "flow_dt", "gamma") if p[k] is not None]
    for a in leaves:
        a.requires_grad_()
    w = torch.randn(2, 3, 13, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    outs = []
    for fn in (smt_recurrent, lambda *a, **k: smt_chunked(*a, **k, chunk_size=4)):
        y, st = fn(basis, **x, **p, state=SMTState(H0, C0))
        loss = (y * w).sum() + st.H.real.square().sum() + st.C.imag.sum()
        outs.append(torch.autograd.grad(loss, leaves))
    for a, b in zip(*outs):
        assert float(a.abs().max()) > 0 and _rel(b, a) <= 1e-10


def test_chunked_gradcheck_initial_state_and_gamma():
    basis = torus_basis(5, 2)
    x, p = _inputs(torch.float64, B=1, nh=3, T=5, dv=2)
    H0, C0 = _random_state(basis, 1, 3, 2, torch.float64)
    gamma = p["gamma"].clone().clamp(max=0.97).requires_grad_()  # γ = 1 is the edge of (0, 1]: FD would step past it
    H0.requires_grad_(), C0.requires_grad_()

    def f(H0, C0, gamma):
        y, st = smt_chunked(basis, **x, **dict(p, gamma=gamma), state=SMTState(H0, C0), chunk_size=2)
        return y, st.H, st.C

    assert torch.autograd.gradcheck(f, (H0, C0, gamma))


def test_zero_warp_unit_filter_is_linear_attention_with_fourier_features():
    basis = torus_basis(20, 2, [5.0, 7.0])
    x, p = _inputs(torch.float64, T=23)
    x["alpha"] = torch.zeros_like(x["alpha"])
    y, _ = smt_chunked(basis, **x, **p, filter="none", chunk_size=7)
    kap = torch.tensor(basis.kappa)
    phi_q, phi_k = (fourier_features(x[k], kap, basis.volume) for k in ("q_pos", "k_pos"))
    y_la = linear_attention_parallel(phi_q, phi_k, x["values"], p["gamma"])
    assert _rel(y, y_la) <= 1e-12
    # with f ≡ 1 the warp drops out entirely (F ≡ 0): DESIGN.md §7's reason for a filter
    x["alpha"] = torch.rand_like(x["alpha"])
    y_w, _ = smt_chunked(basis, **x, **p, filter="none")
    assert _rel(y_w, y_la) <= 1e-12


def test_warping_changes_output_with_heat_filter():
    basis = torus_basis(20, 2)
    x, p = _inputs(torch.float64, T=23)
    y_w, _ = smt_chunked(basis, **x, **p)
    x0 = dict(x, alpha=torch.zeros_like(x["alpha"]))
    y_0, _ = smt_chunked(basis, **x0, **p)
    assert _rel(y_w, y_0) > 1e-3


def test_positional_keys_give_relative_position_scores():
    basis = torus_basis(24, 2)
    T, omega = 19, torch.tensor([0.37, 0.81], dtype=torch.float64)
    pos = (torch.arange(T, dtype=torch.float64)[:, None] * omega)[None, None].expand(1, 3, T, 2)
    _, p = _inputs(torch.float64)
    p["gamma"] = torch.ones(3, dtype=torch.float64)
    eye = torch.eye(T, dtype=torch.float64)[None, None].expand(1, 3, T, T)  # V_s = e_s reads out scores
    zero = torch.zeros(1, 3, T, dtype=torch.float64)
    S, _ = smt_chunked(basis, pos, pos, eye, zero, torch.zeros(1, 3, T, 2, dtype=torch.float64), **p, chunk_size=6)
    S = S[0]  # (nh, T, T): S[h, t, s] = score of key s for query t (s ≤ t)
    for d in range(T):
        diag = torch.diagonal(S, offset=-d, dim1=-2, dim2=-1)
        assert float((diag - diag[..., :1]).abs().max()) <= 1e-12 * float(S.abs().max())
    assert float(S.triu(1).abs().max()) == 0.0  # causal
    # with a (constant-amplitude) warp the whole layer is invariant under a global shift of the torus
    g = torch.Generator().manual_seed(1)
    vals = torch.randn(1, 3, T, 4, dtype=torch.float64, generator=g)
    a = torch.full((1, 3, T), 0.5, dtype=torch.float64)
    wv = torch.tensor([0.6, -0.8], dtype=torch.float64).expand(1, 3, T, 2)
    y1, _ = smt_chunked(basis, pos, pos, vals, a, wv, **p)
    y2, _ = smt_chunked(basis, pos + 1.234, pos + 1.234, vals, a, wv, **p)
    assert _rel(y2, y1) <= 1e-12


def test_linear_attention_forms_agree():
    g = torch.Generator().manual_seed(2)
    q, k = torch.rand(2, 3, 21, 6, dtype=torch.float64, generator=g), torch.rand(2, 3, 21, 6, dtype=torch.float64, generator=g)
    v, gam = torch.randn(2, 3, 21, 4, dtype=torch.float64, generator=g), torch.tensor([0.9, 1.0, 0.5], dtype=torch.float64)
    ref = linear_attention_parallel(q, k, v, gam)
    y1, S1 = linear_attention_recurrent(q, k, v, gam)
    y2, S2 = linear_attention_chunked(q, k, v, gam, chunk_size=8)
    assert _rel(y1, ref) <= 1e-12 and _rel(y2, ref) <= 1e-12 and _rel(S2, S1) <= 1e-12


MODEL_CASES = ["smt", "linear", "softmax", "deltanet", "gla", "gla_scalar", "smt_sphere", "smt_sphere_flow"]


def _model_case(case, smt_modes, sphere_modes):
    """(mixer, keyword arguments) of a model-level test case; ``*_modes`` set the SMT sizes."""
    kw = {"smt": dict(n_modes=smt_modes, chunk_size=4), "linear": dict(feature_dim=6), "softmax": {},
          "deltanet": dict(key_dim=5, chunk_size=4), "gla": dict(key_dim=5, chunk_size=4),
          "gla_scalar": dict(key_dim=5, gate="scalar", chunk_size=4),
          "smt_sphere": dict(base="sphere", n_modes=sphere_modes, chunk_size=4),
          # with flow a padded token is still a time step (A decays by D); from a zero state that leaves A at zero
          "smt_sphere_flow": dict(base="sphere", n_modes=sphere_modes, chunk_size=4, flow_dt=0.05)}[case]
    return {"smt_sphere": "smt", "smt_sphere_flow": "smt", "gla_scalar": "gla"}.get(case, case), kw


@pytest.mark.parametrize("mixer", MODEL_CASES)
def test_model_cached_decoding_equals_full_forward(mixer):
    torch.manual_seed(0)
    mixer, kw = _model_case(mixer, smt_modes=10, sphere_modes=9)
    model = SMTLanguageModel(37, d_model=12, n_layers=2, mixer=mixer, n_heads=2, **kw).double().eval()
    ids = torch.randint(0, 37, (3, 13))
    with torch.no_grad():
        full, _ = model(ids)
        out, st = model(ids[:, :6])  # prefill (chunked), then one token at a time (recurrent)
        outs = [out]
        for t in range(6, 13):
            o, st = model(ids[:, t:t + 1], st, mode="recurrent")
            outs.append(o)
    assert _rel(torch.cat(outs, 1), full) <= 1e-10


def test_layer_modes_and_dtype_float32():
    torch.manual_seed(1)
    layer = SpectralManifoldAttention(16, n_heads=2, n_modes=12, latent_dim=3, chunk_size=5)
    x = torch.randn(2, 11, 16)
    y1, s1 = layer(x)
    y2, s2 = layer(x, mode="recurrent")
    assert y1.shape == x.shape and _rel(y1, y2) <= 1e-5
    K = layer.n_modes
    assert layer.state_size() == 2 * (K * (K + 1) // 2 + K * layer.d_value)
    y1.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters() if p.requires_grad)


def test_no_warp_keeps_h_zero_and_counts_only_c():
    torch.manual_seed(2)
    layer = SpectralManifoldAttention(16, n_heads=2, n_modes=5, warp=False)
    _, st = layer(torch.randn(2, 40, 16))
    assert float(st.H.detach().abs().max()) == 0.0  # α ≡ 0: every token operator vanishes
    assert layer.state_size() == 2 * layer.n_modes * layer.d_value


def _antipode(basis):
    # index of −m for every mode m (the mode set is closed under m → −m)
    where = {tuple(m): i for i, m in enumerate(basis.modes)}
    return torch.tensor([where[tuple(-m)] for m in basis.modes])


def test_state_has_the_conjugation_symmetry_that_halves_its_size():
    # C_{−m} = conj(C_m), H_{−m,−k} = conj(H_mk): the state is real in the (cos, sin) basis, which is
    # why state_size() counts nh·(K(K+1)/2 + K·d_v) and not the nh·(K² + 2K·d_v) SMTState stores
    torch.manual_seed(3)
    layer = SpectralManifoldAttention(16, n_heads=2, n_modes=9, latent_dim=2).double()
    with torch.no_grad():
        layer.warp_proj.bias[:2].fill_(0.5)  # a warp of order one, so H is far from zero
        _, st = layer(torch.randn(2, 33, 16, dtype=torch.float64))
    J = _antipode(layer.basis)
    assert float(st.H.abs().max()) > 1e-3 and float(st.C.abs().max()) > 1e-3
    assert float((st.C[:, :, J] - st.C.conj()).abs().max()) <= 1e-12 * float(st.C.abs().max())
    assert float((st.H[:, :, J][:, :, :, J] - st.H.conj()).abs().max()) <= 1e-12 * float(st.H.abs().max())
    # the real-basis dimension: unitary U with U e = [cos, sin] makes U H Uᴴ real symmetric, U C real
    K = layer.n_modes
    U = torch.zeros(K, K, dtype=torch.complex128)
    for m in range(K):
        j = int(J[m])
        if j == m:
            U[m, m] = 1.0
        elif m < j:
            U[m, m], U[m, j] = 2**-0.5, 2**-0.5
            U[j, m], U[j, j] = -1j * 2**-0.5, 1j * 2**-0.5
    assert float((U @ U.conj().T - torch.eye(K, dtype=U.dtype)).abs().max()) <= 1e-15
    Hr, Cr = U @ st.H @ U.conj().T, U @ st.C
    assert float(Hr.imag.abs().max()) <= 1e-12 * float(st.H.abs().max())
    assert float(Cr.imag.abs().max()) <= 1e-12 * float(st.C.abs().max())
    assert st.n_scalars == 2 * (K * K + 2 * K * layer.d_value)  # storage, about twice state_size()


def test_fourier_linear_attention_state_counts_independent_features():
    torch.manual_seed(4)
    lin = LinearAttention(16, n_heads=2, feature_dim=10, feature_map="fourier").double()
    _, S = lin(torch.randn(2, 20, 16, dtype=torch.float64))
    K = lin.basis.n_modes
    assert lin.feature_dim == 2 * K and lin.state_size() == 2 * K * lin.d_value
    # the (nh, d_f, d_v) state has rank K over its feature axis: the ±m rows repeat up to sign
    assert int(torch.linalg.matrix_rank(S[0, 0])) == K
    assert LinearAttention(16, n_heads=2, feature_dim=10).state_size() == 2 * 10 * 8


def test_errors_are_clear():
    with pytest.raises(ManifoldSpecError, match="filter"):
        SpectralManifoldAttention(8, filter="gauss")
    with pytest.raises(ManifoldSpecError, match="mixer"):
        SMTLanguageModel(10, mixer="mamba")
    with pytest.raises(ManifoldSpecError, match="x: expected shape"):
        SpectralManifoldAttention(8)(torch.randn(2, 3, 9))
    with pytest.raises(ManifoldSpecError, match="feature_map"):
        LinearAttention(8, feature_map="relu")
    with pytest.raises(ManifoldSpecError, match="chunk_size"):
        x, p = _inputs(torch.float64, T=3)
        smt_chunked(torus_basis(5, 2), **x, **p, chunk_size=0)


def test_gradient_checkpointing_gives_the_same_outputs_and_gradients():
    torch.manual_seed(3)
    plain = SpectralManifoldAttention(12, n_heads=2, n_modes=5, chunk_size=8, flow_dt=1e-2).double()
    ckpt = SpectralManifoldAttention(12, n_heads=2, n_modes=5, chunk_size=8, flow_dt=1e-2, checkpoint=24).double()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 61, 12, dtype=torch.float64, requires_grad=True)  # 61: a partial last segment and chunk
    grads = []
    for layer in (plain, ckpt):
        y, st = layer(x)
        loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum() + st.H.abs().sum()
        grads.append(torch.autograd.grad(loss, [x, *layer.parameters()]))
        if layer is plain:
            y_ref, h_ref = y, st.H
    assert _rel(y, y_ref) <= 1e-12 and _rel(st.H, h_ref) <= 1e-12
    for a, b in zip(*grads):
        assert _rel(b, a) <= 1e-10
    with pytest.raises(ManifoldSpecError, match="checkpoint"):
        SpectralManifoldAttention(12, checkpoint=0)


@pytest.mark.parametrize("mixer", MODEL_CASES)
@pytest.mark.parametrize("mode", ["chunk", "recurrent"])
def test_left_padded_batch_equals_each_sequence_alone(mixer, mode):
    # fla's padding test: a left-padded batch gives every sequence the outputs it has unpadded, and decoding
    # continues from the padded prefill as from the unpadded one (with learned absolute positions too)
    torch.manual_seed(5)
    mixer, kw = _model_case(mixer, smt_modes=5, sphere_modes=4)
    model = SMTLanguageModel(31, d_model=12, n_layers=2, mixer=mixer, n_heads=2, max_len=32, **kw).double().eval()
    lengths, T = [9, 5, 1], 9
    seqs = [torch.randint(1, 31, (n,)) for n in lengths]
    ids = torch.zeros(3, T, dtype=torch.long)
    mask = torch.zeros(3, T, dtype=torch.bool)
    for b, sq in enumerate(seqs):
        ids[b, T - len(sq):], mask[b, T - len(sq):] = sq, True
    nxt = torch.randint(1, 31, (3, 2))
    with torch.no_grad():
        out, st = model(ids, mode=mode, attention_mask=mask)
        steps = [model(nxt[:, :1], st, mode="recurrent")[0]]
        steps.append(model(nxt[:, 1:], model(nxt[:, :1], st, mode="recurrent")[1], mode="recurrent")[0])
        for b, sq in enumerate(seqs):
            alone, st1 = model(sq[None], mode=mode)
            assert torch.isfinite(out).all()
            assert _rel(out[b, T - len(sq):], alone[0]) <= 1e-10
            dec, st1 = model(nxt[b:b + 1, :1], st1, mode="recurrent")
            assert _rel(steps[0][b], dec[0]) <= 1e-10
            dec, _ = model(nxt[b:b + 1, 1:], st1, mode="recurrent")
            assert _rel(steps[1][b], dec[0]) <= 1e-10


def test_padding_mask_errors():
    layer = SpectralManifoldAttention(8, n_heads=2)
    x = torch.randn(2, 5, 8)
    with pytest.raises(ManifoldSpecError, match="attention_mask"):
        layer(x, attention_mask=torch.ones(2, 4))
    with pytest.raises(ManifoldSpecError, match="attention_mask"):
        layer(x, attention_mask=torch.full((2, 5), 0.5))


def test_index_positions_ablation_ignores_content_for_positions():
    torch.manual_seed(6)
    layer = SpectralManifoldAttention(12, n_heads=2, positions="index").double()
    x = torch.randn(2, 11, 12, dtype=torch.float64)
    y, _ = layer(x)
    y2, _ = layer(x, mode="recurrent")
    assert _rel(y2, y) <= 1e-10
    y.square().sum().backward()
    assert layer.pos_proj.weight.grad is None and float(layer.omega.grad.abs().max()) > 0
    with pytest.raises(ManifoldSpecError, match="state"):
        layer(x, state=_)
    with pytest.raises(ManifoldSpecError, match="positions"):
        SpectralManifoldAttention(12, positions="rope")
    # index positions count real tokens: a left-padded sequence gives the unpadded outputs
    with torch.no_grad():
        alone, _ = layer(x[:1, 3:])
        padded, _ = layer(x[:1], attention_mask=torch.tensor([[0] * 3 + [1] * 8]))
    assert _rel(padded[0, 3:], alone[0]) <= 1e-10


def test_taylor_features_give_the_second_order_exponential_kernel():
    torch.manual_seed(7)
    lin = LinearAttention(16, n_heads=2, feature_dim=4, feature_map="taylor").double()
    p, r = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    s = (p * r).sum(-1) / 2.0  # qᵀk/√f, f = 4
    assert _rel((lin._phi(p) * lin._phi(r)).sum(-1), 1 + s + s**2 / 2) <= 1e-14
    assert lin.feature_dim == 1 + 4 + 16 and lin.state_size() == 2 * (1 + 4 + 10) * 8
    # the state's p pᵀ rows come in equal pairs (i, j) = (j, i): 1 + f + f(f+1)/2 distinct rows, as counted
    _, S = lin(torch.randn(1, 40, 16, dtype=torch.float64))
    quad = S[0, 0, 5:].reshape(4, 4, -1)
    assert _rel(quad.transpose(0, 1), quad) <= 1e-15
    y1, _ = lin(torch.randn(2, 9, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))
    y2, _ = lin(torch.randn(2, 9, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1)), mode="recurrent")
    assert _rel(y2, y1) <= 1e-12


@pytest.mark.parametrize("base,latent_dim", [("torus", 2), ("torus", 3), ("sphere", 2)])
def test_every_head_starts_with_a_small_warp(base, latent_dim):
    # α_t = softplus(w·x + b) with b = −2 at each head's α slot (0.127 at init); an earlier init set the
    # first n_heads bias entries instead, which for n_heads > 1 left later heads at b = 0 (α ≈ 0.7)
    torch.manual_seed(0)
    layer = SpectralManifoldAttention(16, n_heads=3, latent_dim=latent_dim, base=base)
    with torch.no_grad():
        alpha = layer.project(torch.randn(4, 20, 16))[3]
    assert alpha.shape[1] == 3 and float(alpha.mean(dim=(0, 2)).max()) < 0.3
