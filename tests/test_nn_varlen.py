"""Varlen packing (``cu_seqlens``, NN_ANCHORS §2.1–2.2 and T4) and the NaN-poisoning of uninitialised memory.

Oracle: every sequence run alone (its own call, its own zero or given initial state). A pack of N
sequences must give, on each sequence's slice, the outputs of that separate run and, in row i of the
returned state, its final state; gradients of a loss on outputs and final states must equal those
of the sum of the separate losses. Zero-length sequences have no run: their final state is the
initial one (or zero), which is what the reference uses for them.
"""
import itertools

import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.nn import (LinearAttention, SMTLanguageModel, SMTState, SoftmaxAttention,  # noqa: E402
                             SpectralManifoldAttention, linear_attention_chunked, linear_attention_recurrent,
                             smt_chunked, smt_recurrent, torus_basis)

F64, F32 = torch.float64, torch.float32
TOL = {F64: 1e-10, F32: 1e-5}
LENGTHS = [7, 0, 1, 12, 5]  # a zero-length and a length-1 sequence; chunk sizes 3 and 5 divide neither 7 nor 12
TOKENS = ("q_pos", "k_pos", "values", "alpha", "warp_v")


def _cu(lengths):
    return torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int64)


def _spans(lengths):
    cu = _cu(lengths).tolist()
    return list(zip(cu[:-1], cu[1:]))


def _rel(a, b):
    scale = float(b.detach().abs().max())
    return float((a - b).detach().abs().max()) / (scale if scale > 0 else 1.0)


def _smt_inputs(dtype, lengths=LENGTHS, flow=False, nh=2, dv=3, seed=0):
    T, g = sum(lengths), torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, dtype=dtype, generator=g)  # noqa: E731
    x = dict(q_pos=2 * r(1, nh, T, 2), k_pos=2 * r(1, nh, T, 2), values=r(1, nh, T, dv),
             alpha=torch.rand(1, nh, T, dtype=dtype, generator=g), warp_v=r(1, nh, T, 2))
    p = dict(sigma=torch.tensor([0.5, 0.8], dtype=dtype), tau=torch.tensor([0.1, 0.3], dtype=dtype),
             flow_dt=torch.tensor([0.02, 0.3], dtype=dtype) if flow else None,
             gamma=torch.tensor([0.9, 1.0], dtype=dtype))
    return x, p


def _smt_state(basis, N, nh=2, dv=3, dtype=F64, seed=1):
    g = torch.Generator().manual_seed(seed)
    K = basis.n_modes

    def c(*s):
        return torch.complex(torch.randn(*s, dtype=dtype, generator=g), torch.randn(*s, dtype=dtype, generator=g))

    A = c(N, nh, K, K)
    return SMTState(0.1 * (A + A.conj().transpose(-1, -2)), c(N, nh, K, dv))  # H0 Hermitian


def _smt_alone(basis, x, p, state, lengths):
    """Reference: each sequence on its own through the token loop, as (y_i, SMTState_i) per sequence."""
    out = []
    for i, (a, b) in enumerate(_spans(lengths)):
        st = None if state is None else SMTState(state.H[i:i + 1], state.C[i:i + 1])
        if a == b:  # nothing to run: the state passes through (zero without an initial state)
            _, nh, _, dv = x["values"].shape
            K, cdt = basis.n_modes, (x["values"][..., :1] * 1j).dtype
            if st is None:
                st = SMTState(torch.zeros(1, nh, K, K, dtype=cdt), torch.zeros(1, nh, K, dv, dtype=cdt))
            out.append((None, st))
        else:
            out.append(smt_recurrent(basis, **{k: x[k][:, :, a:b] for k in TOKENS}, **p, state=st))
    return out


SMT_FORMS = {"recurrent": smt_recurrent, "chunk3": lambda *a, **k: smt_chunked(*a, **k, chunk_size=3),
             "chunk5": lambda *a, **k: smt_chunked(*a, **k, chunk_size=5), "chunk_default": smt_chunked}


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("flow", [True, False], ids=["flow", "noflow"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "initial_state"])
def test_smt_packed_equals_each_sequence_alone(dtype, flow, with_state):
    basis = torus_basis(8, 2)  # K = 9
    x, p = _smt_inputs(dtype, flow=flow)
    N, cu = len(LENGTHS), _cu(LENGTHS)
    st0 = _smt_state(basis, N, dtype=dtype) if with_state else None
    ref = _smt_alone(basis, x, p, st0, LENGTHS)
    for name, op in SMT_FORMS.items():
        y, st = op(basis, **x, **p, state=st0, cu_seqlens=cu)
        assert y.shape == x["values"].shape and st.H.shape[0] == N and st.C.shape[0] == N, name
        for i, ((a, b), (y_i, st_i)) in enumerate(zip(_spans(LENGTHS), ref)):
            if y_i is not None:
                assert _rel(y[:, :, a:b], y_i) <= TOL[dtype], (name, i)
            assert _rel(st.H[i], st_i.H[0]) <= TOL[dtype] and _rel(st.C[i], st_i.C[0]) <= TOL[dtype], (name, i)


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "noflow"])
def test_smt_packed_gradients_equal_separate_runs(flow):
    # fla's check: backward through outputs *and* final states; gradients w.r.t. token inputs, the initial
    # states and the per-head parameters equal those of the N separate runs
    basis = torus_basis(5, 2)
    lengths = [4, 0, 1, 6]
    x, p = _smt_inputs(F64, lengths, flow=flow)
    st0 = _smt_state(basis, len(lengths))
    leaves = [*x.values(), st0.H, st0.C] + [v for v in p.values() if v is not None]
    for a in leaves:
        a.requires_grad_()
    g = torch.Generator().manual_seed(3)
    w = torch.randn(x["values"].shape, dtype=F64, generator=g)
    wH, wC = (torch.randn(s.shape, dtype=F64, generator=g) for s in (st0.H.real, st0.C.real))

    def loss(y, st, seqs=slice(None), span=slice(None)):
        out = 0.0 if y is None else (y * w[:, :, span]).sum()  # y is None for a zero-length sequence
        return out + (st.H.real * wH[seqs]).sum() + (st.C.imag * wC[seqs]).sum()

    alone = _smt_alone(basis, x, p, st0, lengths)
    ref = sum(loss(y_i, s_i, slice(i, i + 1), slice(a, b))
              for i, ((a, b), (y_i, s_i)) in enumerate(zip(_spans(lengths), alone)))
    g_ref = torch.autograd.grad(ref, leaves)
    for name in ("recurrent", "chunk3"):
        y, st = SMT_FORMS[name](basis, **x, **p, state=st0, cu_seqlens=_cu(lengths))
        for a, b in zip(torch.autograd.grad(loss(y, st), leaves), g_ref):
            assert float(b.abs().max()) > 0 and _rel(a, b) <= 1e-10, name


def _la_inputs(dtype, lengths, seed=4, nh=2, df=4, dv=3):
    T, g = sum(lengths), torch.Generator().manual_seed(seed)
    q, k = (torch.rand(1, nh, T, df, dtype=dtype, generator=g) for _ in range(2))
    v = torch.randn(1, nh, T, dv, dtype=dtype, generator=g)
    S0 = torch.randn(len(lengths), nh, df, dv, dtype=dtype, generator=g)
    return q, k, v, torch.tensor([0.8, 1.0], dtype=dtype), S0


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "initial_state"])
def test_linear_attention_packed_equals_each_sequence_alone(dtype, with_state):
    q, k, v, gam, S0 = _la_inputs(dtype, LENGTHS)
    S0 = S0 if with_state else None
    leaves = [q, k, v] + ([S0] if with_state else [])
    if dtype == F64:
        for a in leaves:
            a.requires_grad_()
    w = torch.randn(v.shape, dtype=dtype, generator=torch.Generator().manual_seed(5))
    ys, Ss = [], []
    for i, (a, b) in enumerate(_spans(LENGTHS)):
        s_i = None if S0 is None else S0[i:i + 1]
        if a == b:
            ys.append(None)
            Ss.append(torch.zeros(1, 2, 4, 3, dtype=dtype) if s_i is None else s_i)
        else:
            y_i, S_i = linear_attention_recurrent(q[:, :, a:b], k[:, :, a:b], v[:, :, a:b], gam, s_i)
            ys.append(y_i)
            Ss.append(S_i)
    ref_loss = sum((y_i * w[:, :, a:b]).sum() for y_i, (a, b) in zip(ys, _spans(LENGTHS)) if y_i is not None) \
        + sum(S_i.square().sum() for S_i in Ss)
    forms = {"recurrent": linear_attention_recurrent,
             **{f"chunk{c}": (lambda c: lambda *a, **kw: linear_attention_chunked(*a, chunk_size=c, **kw))(c)
                for c in (3, 5, 64)}}
    for name, op in forms.items():
        y, S = op(q, k, v, gam, S0, cu_seqlens=_cu(LENGTHS))
        assert y.shape == v.shape and S.shape == (len(LENGTHS), 2, 4, 3), name
        for i, (a, b) in enumerate(_spans(LENGTHS)):
            if ys[i] is not None:
                assert _rel(y[:, :, a:b], ys[i]) <= TOL[dtype], (name, i)
            assert _rel(S[i], Ss[i][0]) <= TOL[dtype], (name, i)
        if dtype == F64:
            g_ref = torch.autograd.grad(ref_loss, leaves, retain_graph=True)
            g = torch.autograd.grad((y * w).sum() + S.square().sum(), leaves)
            for a, b in zip(g, g_ref):
                assert _rel(a, b) <= 1e-10, name


def _smt_call(op, T=5, B=1):
    x, p = _smt_inputs(F64, [T])
    if B != 1:
        x = {k: v.expand(B, *v.shape[1:]) for k, v in x.items()}
    return lambda **kw: op(torus_basis(5, 2), **x, **p, **kw)


def _la_call(op, T=5, B=1):
    q, k, v, gam, _ = _la_inputs(F64, [T])
    return lambda state=None, **kw: op(q.expand(B, -1, -1, -1), k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1),
                                       gam, state, **kw)


OPS = {"smt_recurrent": (_smt_call, smt_recurrent), "smt_chunked": (_smt_call, smt_chunked),
       "linear_attention_recurrent": (_la_call, linear_attention_recurrent),
       "linear_attention_chunked": (_la_call, linear_attention_chunked)}


@pytest.mark.parametrize("op", list(OPS))
def test_cu_seqlens_errors_name_the_argument(op):
    make, fn = OPS[op]
    call = make(fn)  # T = 5, B = 1
    bad = [(torch.tensor([0, 2, 5]), 2, "batch size 1"),  # B = 2
           (torch.tensor([[0, 2, 5]]), 1, "1-D"),
           (torch.tensor([0]), 1, "1-D"),
           (torch.tensor([1, 2, 5]), 1, "start at 0"),
           (torch.tensor([0, 2, 4]), 1, "end at the sequence length 5"),
           (torch.tensor([0, 3, 2, 5]), 1, "non-decreasing"),
           (torch.tensor([0.0, 2.0, 5.0]), 1, "integer dtype"),
           (torch.tensor([False, True]), 1, "integer dtype"),
           ([0, 2, 5], 1, "1-D integer tensor")]
    for cu, B, msg in bad:
        with pytest.raises(ManifoldSpecError, match=f"cu_seqlens: .*{msg}"):
            make(fn, B=B)(cu_seqlens=cu)
    ok = torch.tensor([0, 2, 2, 5], dtype=torch.int32)  # int32 accepted, as FlashAttention passes it
    _, st = call(cu_seqlens=ok)
    with pytest.raises(ManifoldSpecError, match="state: with cu_seqlens .*batch axis N = 3.*got batch 2"):
        call(state=st[:2] if torch.is_tensor(st) else SMTState(st.H[:2], st.C[:2]), cu_seqlens=ok)


def test_layers_pass_cu_seqlens_through_and_restart_index_positions():
    # positions="index" (μ_t = ω·t) must count t from 0 in every packed sequence, and gradient checkpointing
    # must not let a segment span a boundary
    torch.manual_seed(0)
    lengths = [6, 0, 1, 9]
    layers = [SpectralManifoldAttention(8, n_heads=2, n_modes=5, positions="index").double(),
              SpectralManifoldAttention(8, n_heads=2, n_modes=5, flow_dt=0.05, chunk_size=4, checkpoint=5).double(),
              SpectralManifoldAttention(8, n_heads=2, n_modes=5, chunk_size=4, checkpoint=5).double(),
              LinearAttention(8, n_heads=2, feature_dim=4, chunk_size=4).double(), SoftmaxAttention(8, 2).double()]
    x = torch.randn(1, sum(lengths), 8, dtype=F64, requires_grad=True)
    w = torch.randn(x.shape, dtype=F64)
    for layer in layers:
        for mode in ("chunk", "recurrent"):
            y, _ = layer(x, mode=mode, cu_seqlens=_cu(lengths))
            alone = [layer(x[:, a:b], mode=mode)[0] for a, b in _spans(lengths) if b > a]
            ref = torch.cat(alone, 1)
            assert _rel(y, ref) <= 1e-10, (type(layer).__name__, mode)
            g, g_ref = (torch.autograd.grad((z * w).sum(), x) for z in (y, ref))
            assert _rel(g[0], g_ref[0]) <= 1e-10, (type(layer).__name__, mode)
    # the torus kernel is invariant under a global shift (test_nn_layer), so outputs alone cannot show where the
    # index starts: check the positions themselves
    q_pos = layers[0].project(x, None, _cu(lengths).tolist())[0]
    ref = torch.cat([layers[0].project(x[:, a:b])[0] for a, b in _spans(lengths)], 2)
    assert torch.equal(q_pos, ref)
    with pytest.raises(ManifoldSpecError, match="attention_mask: cannot be combined with cu_seqlens"):
        layers[3](x, attention_mask=torch.ones(1, 16), cu_seqlens=_cu(lengths))
    with pytest.raises(ManifoldSpecError, match="cu_seqlens: .*batch size 1"):
        layers[4](x.detach().expand(2, -1, -1), cu_seqlens=_cu(lengths))


MODEL_KW = {"smt": dict(mixer="smt", n_modes=5, chunk_size=3), "smt_flow": dict(mixer="smt", n_modes=5, flow_dt=0.05),
            "linear": dict(mixer="linear", feature_dim=4, chunk_size=3), "softmax": dict(mixer="softmax"),
            "deltanet": dict(mixer="deltanet", key_dim=4, chunk_size=3),
            "gla": dict(mixer="gla", key_dim=4, chunk_size=3),
            "gla_scalar": dict(mixer="gla", gate="scalar", key_dim=4, chunk_size=3),
            "smt_sphere": dict(mixer="smt", base="sphere", n_modes=4, chunk_size=3),
            "smt_sphere_flow": dict(mixer="smt", base="sphere", n_modes=4, chunk_size=3, flow_dt=0.05)}


def _model(name, dtype=F64, seed=0):
    torch.manual_seed(seed)
    return SMTLanguageModel(23, d_model=12, n_layers=2, n_heads=2, max_len=32, **MODEL_KW[name]).to(dtype)


@pytest.mark.parametrize("name", list(MODEL_KW))
def test_model_packed_equals_each_sequence_alone(name):
    # fla's model-level varlen test, plus what a pack must hand on: its state continues every sequence,
    # through a second packed call (initial states: conv windows, mixer states, position offsets) and
    # through batched token-by-token decoding
    model = _model(name)
    g = torch.Generator().manual_seed(1)
    # 5 and 6, 2 and 3 share a padded batch in the first call (zero state); the second call has initial states
    first, second = [5, 0, 1, 8, 2, 6, 3], [2, 3, 0, 1, 4, 1, 2]
    seqs = [torch.randint(0, 23, (a + b,), generator=g) for a, b in zip(first, second)]
    nxt = torch.randint(0, 23, (len(seqs), 1), generator=g)
    pack1 = torch.cat([s[:a] for s, a in zip(seqs, first)])[None]
    pack2 = torch.cat([s[a:] for s, a in zip(seqs, first)])[None]
    for mode in ("chunk", "recurrent"):
        with torch.no_grad():
            out1, st = model(pack1, mode=mode, cu_seqlens=_cu(first))
            out2, st = model(pack2, st, mode=mode, cu_seqlens=_cu(second))
            dec, _ = model(nxt, st, mode="recurrent")
            assert torch.equal(st[0], torch.tensor([a + b for a, b in zip(first, second)]))
            for i, s in enumerate(seqs):
                (a1, b1), (a2, b2) = _spans(first)[i], _spans(second)[i]
                full, _ = model(torch.cat([s, nxt[i]])[None], mode=mode)  # the whole sequence alone, in one call
                for got, lo, hi in ((out1[0, a1:b1], 0, first[i]), (out2[0, a2:b2], first[i], len(s)),
                                    (dec[i], len(s), len(s) + 1)):
                    if hi > lo:
                        assert _rel(got, full[0, lo:hi]) <= 1e-10, (mode, i, lo)
    # backward runs, and parameter gradients equal those of the separate runs
    w = torch.randn(1, sum(first), 23, dtype=F64, generator=g)
    out, _ = model(pack1, cu_seqlens=_cu(first))
    g_pack = torch.autograd.grad((out * w).sum(), list(model.parameters()), allow_unused=True)
    ref = sum((model(s[:b - a][None])[0] * w[:, a:b]).sum() for s, (a, b) in zip(seqs, _spans(first)) if b > a)
    g_ref = torch.autograd.grad(ref, list(model.parameters()), allow_unused=True)
    for a, b in zip(g_pack, g_ref):
        assert (a is None) == (b is None) and (a is None or _rel(a, b) <= 1e-10)


@pytest.mark.parametrize("name", ["smt", "linear", "softmax", "deltanet", "gla", "gla_scalar", "smt_sphere",
                                  "smt_sphere_flow"])
def test_model_packed_float32(name):
    model = _model(name, F32)
    lengths = [6, 1, 0, 9]
    ids = torch.randint(0, 23, (1, sum(lengths)), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out, _ = model(ids, cu_seqlens=_cu(lengths))
        for a, b in _spans(lengths):
            if b > a:
                assert _rel(out[:, a:b], model(ids[:, a:b])[0]) <= 1e-5


def test_model_cu_seqlens_errors():
    model = _model("smt")
    ids = torch.randint(0, 23, (1, 6))
    with pytest.raises(ManifoldSpecError, match="cu_seqlens: .*end at the sequence length 6"):
        model(ids, cu_seqlens=torch.tensor([0, 2, 5]))
    with pytest.raises(ManifoldSpecError, match="attention_mask: cannot be combined with cu_seqlens"):
        model(ids, attention_mask=torch.ones(1, 6), cu_seqlens=torch.tensor([0, 2, 6]))
    _, st = model(ids, cu_seqlens=torch.tensor([0, 2, 6]))  # a state for N = 2
    with pytest.raises(ManifoldSpecError, match="state: with cu_seqlens .*batch axis N = 3"):
        model(ids, st, cu_seqlens=torch.tensor([0, 2, 4, 6]))


def test_nan_poisoning_of_uninitialised_memory_is_active():
    # tests/conftest.py fills torch.empty / empty_like / Tensor.new_empty with NaN in nn test modules
    # (fla's habit): if this stops holding, reads of uninitialised memory would pass unnoticed again
    ref = torch.zeros(2, 3, dtype=F64)
    for t in (torch.empty(3), torch.empty(2, 2, dtype=torch.complex128), torch.empty_like(ref), ref.new_empty(4),
              torch.empty(3, requires_grad=True)):
        assert t.is_floating_point() or t.is_complex()
        assert bool(torch.isnan(t).all()), t.dtype
    assert torch.empty(3, dtype=torch.int64).dtype == torch.int64  # integer tensors are left as allocated
    assert torch.empty(2, dtype=torch.bool).dtype == torch.bool


def test_docs_varlen_example_runs():
    # the docs/nn.md example, in the quick start's scope (its model), as written
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "nn.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    scope = {}
    exec(compile(blocks[0], "docs/nn.md", "exec"), scope)
    exec(compile(next(b for b in blocks if "cu_seqlens" in b), "docs/nn.md", "exec"), scope)
    assert scope["logits"].shape == (1, 20, 64) and scope["next_logits"].shape == (3, 1, 64)
    assert torch.isfinite(scope["next_logits"]).all() and scope["state"][0].tolist() == [8, 2, 13]
