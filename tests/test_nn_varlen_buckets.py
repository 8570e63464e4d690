"""Batched evaluation of packs (``run_packed`` / ``length_buckets``): sequences of similar length run as one
left-padded batch.

Oracle: each sequence run alone, without ``cu_seqlens`` (outputs, final states, gradients w.r.t. token inputs
and per-head parameters). The lengths are chosen so that several sequences share a bucket and carry padding
(test_nn_varlen's fixed lengths mostly fall into buckets of one).
"""
import random

import pytest

torch = pytest.importorskip("torch")

from manifoldspec.nn import smt_chunked, smt_recurrent, torus_basis  # noqa: E402
from manifoldspec.nn.ops import varlen  # noqa: E402
from manifoldspec.nn.ops.packed_softmax import packed_sdpa, packed_sdpa_reference  # noqa: E402
from manifoldspec.nn.ops.delta import delta_rule_chunked, delta_rule_recurrent  # noqa: E402
from manifoldspec.nn.ops.gla import gated_linear_chunked, gated_linear_recurrent  # noqa: E402
from manifoldspec.nn.ops.linear import linear_attention_chunked, linear_attention_recurrent  # noqa: E402
from test_nn_varlen import _cu, _rel, _spans  # noqa: E402

F64 = torch.float64
# two buckets with padding, {12, 9, 6, 5, 4, 3} and {2, 1, 0}, a zero-length sequence among them
LENGTHS = [5, 2, 9, 0, 6, 3, 1, 12, 4]


def test_length_buckets_partition_and_bound_padding():
    rnd = random.Random(0)
    for _ in range(200):
        lengths = [rnd.choice([0, 1, 2, 3, rnd.randint(0, 300)]) for _ in range(rnd.randint(1, 40))]
        for exact in (False, True):
            groups = varlen.length_buckets(lengths, exact)
            assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
            for g in groups:
                assert g == sorted(g)
                ls = [lengths[i] for i in g]
                if exact:
                    assert len(set(ls)) == 1
                else:  # at most half the slots of a bucket are padding
                    assert 2 * sum(ls) >= len(g) * max(ls)
    # longest first while the mean length is at least half the longest: 12 … 3 fill 78 of 84 slots, 2 would not
    assert varlen.length_buckets(LENGTHS) == [[0, 2, 4, 5, 7, 8], [1, 3, 6]]
    assert varlen.length_buckets([3, 3, 2, 3], exact=True) == [[2], [0, 1, 3]]
    assert varlen.length_buckets([0, 0]) == [[0, 1]] and varlen.length_buckets([]) == []
    # lengths 1 … 64 fill 2080 of 4096 slots: one call, not 64. A long outlier takes at most one short
    # sequence along (1004 of 2000 slots); a third would make the padding more than half (1007 of 3000)
    assert len(varlen.length_buckets(list(range(1, 65)))) == 1
    assert varlen.length_buckets([3, 1000, 2, 4, 1]) == [[1, 3], [0, 2, 4]]


def test_run_packed_hands_each_bucket_left_padded_with_zeros():
    lengths = LENGTHS
    T = sum(lengths)
    x = torch.arange(1, T + 1, dtype=F64).reshape(1, 1, T, 1).expand(1, 2, T, 3).contiguous()
    calls = []

    def fn(tok, st):
        (t,) = tok
        calls.append(t.clone())
        # a recurrent "op": y_t = running sum of the tokens; state = the sum
        return t.cumsum(2), (t.sum(2),)

    y, (S,) = varlen.run_packed(fn, _cu(lengths).tolist(), (x,), None)
    assert len(calls) == 2
    for t, group in zip(calls, varlen.length_buckets(lengths)):
        width = max(lengths[i] for i in group)
        assert t.shape == (len(group), 2, width, 3)
        for row, i in zip(t, group):
            a, b = _spans(lengths)[i]
            pad = width - lengths[i]
            assert torch.equal(row[:, :pad], torch.zeros(2, pad, 3))  # the padding comes first, and is zero
            assert torch.equal(row[:, pad:], x[0, :, a:b])
    for i, (a, b) in enumerate(_spans(lengths)):
        assert torch.equal(y[:, :, a:b], x[:, :, a:b].cumsum(2))
        assert torch.equal(S[i], x[0, :, a:b].sum(1))
    # with an initial state only equal lengths share a call, and no call carries padding
    calls.clear()
    _, (S2,) = varlen.run_packed(fn, _cu(lengths).tolist(), (x,), (torch.zeros(len(lengths), 2, 3, dtype=F64),))
    assert len(calls) == len(set(lengths)) and torch.equal(S2, S)


def _g(seed):
    return torch.Generator().manual_seed(seed)


def _single_state_case(kind, T, nh=2, dk=4, dv=3):
    g = _g(11)
    q, k = torch.rand(1, nh, T, dk, dtype=F64, generator=g), torch.rand(1, nh, T, dk, dtype=F64, generator=g)
    v = torch.randn(1, nh, T, dv, dtype=F64, generator=g)
    if kind == "linear":
        return (q, k, v), (torch.tensor([0.8, 0.97], dtype=F64),)
    if kind == "gla":
        return (q, k, v, -torch.rand(1, nh, T, dk, dtype=F64, generator=g)), ()
    k = k / k.norm(dim=-1, keepdim=True)
    return (q, k, v, torch.rand(1, nh, T, dtype=F64, generator=g)), ()


SINGLE = {"linear_recurrent": ("linear", linear_attention_recurrent, {}),
          "linear_chunk3": ("linear", linear_attention_chunked, {"chunk_size": 3}),
          "gla_recurrent": ("gla", gated_linear_recurrent, {}),
          "gla_chunk3": ("gla", gated_linear_chunked, {"chunk_size": 3}),
          "delta_recurrent": ("delta", delta_rule_recurrent, {}),
          "delta_chunk3": ("delta", delta_rule_chunked, {"chunk_size": 3})}


@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "initial_state"])
@pytest.mark.parametrize("name", list(SINGLE))
def test_single_state_ops_batched_pack_equals_separate_runs(name, with_state, monkeypatch):
    kind, op, kw = SINGLE[name]
    tokens, heads = _single_state_case(kind, sum(LENGTHS))
    S0 = torch.randn(len(LENGTHS), 2, 4, 3, dtype=F64, generator=_g(15)) if with_state else None
    leaves = [x.requires_grad_() for x in (*tokens, *heads, *([S0] if with_state else []))]
    flags, buckets = [], varlen.length_buckets

    def recorded(lengths, exact=False):
        flags.append(exact)
        return buckets(lengths, exact)

    monkeypatch.setattr(varlen, "length_buckets", recorded)
    y, S = op(*tokens, *heads, S0, cu_seqlens=_cu(LENGTHS), **kw)
    # only linear attention's decay γ acts on a zero token, so only it must keep padding away from a state
    assert flags == [with_state and kind == "linear"]
    w = torch.randn(y.shape, dtype=F64, generator=_g(12))
    loss = (y * w).sum() + S.square().sum()
    ref = 0.0
    for i, (a, b) in enumerate(_spans(LENGTHS)):
        y_i, S_i = op(*(x[:, :, a:b] for x in tokens), *heads, None if S0 is None else S0[i:i + 1], **kw)
        if b > a:
            assert _rel(y[:, :, a:b], y_i) <= 1e-12, (name, i)
        assert _rel(S[i:i + 1], S_i) <= 1e-12, (name, i)
        ref = ref + (y_i * w[:, :, a:b]).sum() + S_i.square().sum()
    for got, want in zip(torch.autograd.grad(loss, leaves), torch.autograd.grad(ref, leaves)):
        assert float(want.abs().max()) > 0 and _rel(got, want) <= 1e-12, name


@pytest.mark.parametrize("flow", [False, True], ids=["noflow", "flow"])
@pytest.mark.parametrize("form", ["recurrent", "chunk3"])
def test_smt_batched_pack_equals_separate_runs(flow, form):
    # the decays γ (of C) and D (of H, with flow) act on padded steps too: zero padding must keep the zero state zero
    basis = torus_basis(5, 2)
    T, nh, dv = sum(LENGTHS), 2, 3
    g = _g(13)
    x = dict(q_pos=2 * torch.randn(1, nh, T, 2, dtype=F64, generator=g),
             k_pos=2 * torch.randn(1, nh, T, 2, dtype=F64, generator=g),
             values=torch.randn(1, nh, T, dv, dtype=F64, generator=g),
             alpha=torch.rand(1, nh, T, dtype=F64, generator=g),
             warp_v=torch.randn(1, nh, T, 2, dtype=F64, generator=g))
    p = dict(sigma=torch.tensor([0.5, 0.8], dtype=F64), tau=torch.tensor([0.1, 0.3], dtype=F64),
             flow_dt=torch.tensor([0.02, 0.3], dtype=F64) if flow else None,
             gamma=torch.tensor([0.9, 0.99], dtype=F64))
    leaves = [*x.values(), *(v for v in p.values() if v is not None)]
    for a in leaves:
        a.requires_grad_()
    op = smt_recurrent if form == "recurrent" else (lambda *a, **k: smt_chunked(*a, chunk_size=3, **k))
    y, st = op(basis, **x, **p, cu_seqlens=_cu(LENGTHS))
    w = torch.randn(y.shape, dtype=F64, generator=_g(14))

    def loss(y, st, span=slice(None)):
        return (y * w[:, :, span]).sum() + st.H.real.square().sum() + st.C.imag.sum()

    ref = 0.0
    for i, (a, b) in enumerate(_spans(LENGTHS)):
        if a == b:
            assert float(st.H[i].detach().abs().max()) == 0 and float(st.C[i].detach().abs().max()) == 0
            continue
        y_i, st_i = smt_recurrent(basis, **{k: v[:, :, a:b] for k, v in x.items()}, **p)
        assert _rel(y[:, :, a:b], y_i) <= 1e-10 and _rel(st.H[i:i + 1], st_i.H) <= 1e-10, (form, i)
        assert _rel(st.C[i:i + 1], st_i.C) <= 1e-10, (form, i)
        ref = ref + loss(y_i, st_i, slice(a, b))
    for got, want in zip(torch.autograd.grad(loss(y, st), leaves), torch.autograd.grad(ref, leaves)):
        assert float(want.abs().max()) > 0 and _rel(got, want) <= 1e-10, form


@pytest.mark.parametrize("with_cache", [False, True], ids=["no_cache", "cache"])
def test_packed_softmax_buckets_equal_block_diagonal_reference(with_cache):
    nh, dh, N, T = 2, 4, len(LENGTHS), sum(LENGTHS)
    g = _g(16)
    q, k, v = (torch.randn(1, nh, T, dh, dtype=F64, generator=g) for _ in range(3))
    leaves = [q, k, v]
    state = None
    if with_cache:  # caches of 3 entries per sequence, some invalid (left padding of an earlier batch)
        ck, cv = (torch.randn(N, nh, 3, dh, dtype=F64, generator=g) for _ in range(2))
        valid = torch.rand(N, 3, generator=g) > 0.4
        state, leaves = (ck, cv, valid), leaves + [ck, cv]
    for a in leaves:
        a.requires_grad_()
    bounds = _cu(LENGTHS).tolist()
    y, (nk, nv, nval) = packed_sdpa(q, k, v, state, bounds)
    y_ref, (rk, rv, rval) = packed_sdpa_reference(q, k, v, state, bounds)
    assert _rel(y, y_ref) <= 1e-12 and torch.equal(nk, rk) and torch.equal(nv, rv) and torch.equal(nval, rval)
    w = torch.randn(y.shape, dtype=F64, generator=g)
    for got, want in zip(torch.autograd.grad((y * w).sum() + nk.sum(), leaves),
                         torch.autograd.grad((y_ref * w).sum() + rk.sum(), leaves)):
        assert float(want.abs().max()) > 0 and _rel(got, want) <= 1e-12
    # the returned caches: row i is [invalid padding, cache i, tokens of sequence i], right-aligned
    P = 3 if with_cache else 0
    assert nk.shape == (N, nh, P + max(LENGTHS), dh) and nval.shape == (N, P + max(LENGTHS))
    for i, (a, b) in enumerate(_spans(LENGTHS)):
        L, W = b - a, P + max(LENGTHS)
        assert torch.equal(nk[i, :, W - L:], k[0, :, a:b]) and torch.equal(nv[i, :, W - L:], v[0, :, a:b])
        assert bool(nval[i, W - L:].all()) and not bool(nval[i, :W - L - P].any())
        if with_cache:
            assert torch.equal(nk[i, :, W - L - P:W - L], ck[i]) and torch.equal(nv[i, :, W - L - P:W - L], cv[i])
            assert torch.equal(nval[i, W - L - P:W - L], valid[i])
    # and against attention written out for each sequence: softmax over its valid cache and earlier tokens
    for i, (a, b) in enumerate(_spans(LENGTHS)):
        if a == b:
            continue
        keys, vals = k[0, :, a:b], v[0, :, a:b]
        seen = torch.ones(b - a, b - a, dtype=torch.bool).tril()
        if with_cache:
            keys, vals = torch.cat([ck[i], keys], 1), torch.cat([cv[i], vals], 1)
            seen = torch.cat([valid[i][None].expand(b - a, 3), seen], 1)
        s = (q[0, :, a:b] @ keys.transpose(-1, -2)) / dh ** 0.5
        want = torch.softmax(s.masked_fill(~seen, float("-inf")), -1) @ vals
        assert _rel(y[0, :, a:b], want) <= 1e-12, i
