"""Gated linear attention (GLA and the scalar-gate Mamba-2/SSD recurrence), a recall baseline: its two forms
agree with each other and with a dense oracle, g ≡ 0 is linear attention, strong decay stays finite, and the
layer follows the mixer contracts (padding, equal state, errors)."""
import itertools

import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.cli import main  # noqa: E402
from manifoldspec.nn import (GatedLinearAttention, TrainConfig, gated_linear_chunked,  # noqa: E402
                             gated_linear_recurrent, linear_attention_recurrent)
from manifoldspec.nn.ops.linear import linear_attention_parallel  # noqa: E402
from manifoldspec.nn.train import build_model, equal_state_features  # noqa: E402
from docs_blocks import python_block  # noqa: E402

F64 = torch.float64
GATES = ("vector", "scalar")
LAYER_GATES = ("vector", "scalar", "mamba2")


def _inputs(B=2, nh=3, T=37, dk=5, dv=4, gate="vector", seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, dtype=F64, generator=g)  # noqa: E731
    q, k, v, S0 = r(B, nh, T, dk), r(B, nh, T, dk), r(B, nh, T, dv), r(B, nh, dk, dv)
    # decays exp(g) spread over [0.37, 1]; the scalar gate is one value per (head, token), expanded over d_k
    shape = (B, nh, T, dk) if gate == "vector" else (B, nh, T, 1)
    logd = -torch.rand(*shape, dtype=F64, generator=g)
    return q, k, v, logd.expand(B, nh, T, dk), S0


def _rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


def _cut(xs, a, b):
    return [x[:, :, a:b] for x in xs]


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_chunked_equals_recurrent(chunk, gate):
    q, k, v, g, S0 = _inputs(gate=gate)
    y1, S1 = gated_linear_recurrent(q, k, v, g, S0)
    y2, S2 = gated_linear_chunked(q, k, v, g, S0, chunk)
    assert _rel(y2, y1) < 1e-12 and _rel(S2, S1) < 1e-12
    # state handover: two calls equal one
    ya, Sa = gated_linear_chunked(*_cut((q, k, v, g), 0, 11), S0, chunk)
    yb, Sb = gated_linear_chunked(*_cut((q, k, v, g), 11, None), Sa, chunk)
    assert _rel(torch.cat([ya, yb], 2), y1) < 1e-12 and _rel(Sb, S1) < 1e-12


@pytest.mark.parametrize("gate", GATES)
def test_both_forms_equal_the_dense_oracle(gate):
    # o_t = Σ_{s≤t} (q_t ⊙ exp(Σ_{r=s+1}^t g_r))·k_s v_s + (q_t ⊙ exp(Σ_{r≤t} g_r))ᵀ S_0, summed term by term;
    # the decay is a direct sum of g's, not a difference of cumulative sums as in the chunked form
    q, k, v, g, S0 = _inputs(B=1, nh=2, T=13, dk=3, dv=2, gate=gate, seed=4)
    B, nh, T, _ = q.shape
    o = torch.zeros(B, nh, T, v.shape[-1], dtype=F64)
    S_T = torch.zeros_like(S0)
    for b, h, t in itertools.product(range(B), range(nh), range(T)):
        o[b, h, t] = (q[b, h, t] * torch.exp(g[b, h, :t + 1].sum(0))) @ S0[b, h]
        for s in range(t + 1):
            w = q[b, h, t] * torch.exp(g[b, h, s + 1:t + 1].sum(0))
            o[b, h, t] += (w @ k[b, h, s]) * v[b, h, s]
    for b, h in itertools.product(range(B), range(nh)):
        S_T[b, h] = torch.exp(g[b, h].sum(0))[:, None] * S0[b, h]
        for s in range(T):
            S_T[b, h] += torch.exp(g[b, h, s + 1:].sum(0))[:, None] * torch.outer(k[b, h, s], v[b, h, s])
    for y, S in (gated_linear_recurrent(q, k, v, g, S0), gated_linear_chunked(q, k, v, g, S0, 5)):
        assert _rel(y, o) < 1e-12 and _rel(S, S_T) < 1e-12


def test_zero_gate_is_causal_linear_attention():
    q, k, v, g, S0 = _inputs()
    zero, ones = torch.zeros_like(g), torch.ones(q.shape[1], dtype=F64)
    y1, S1 = gated_linear_recurrent(q, k, v, zero, S0)
    y_lin, S_lin = linear_attention_recurrent(q, k, v, ones, S0)
    assert torch.equal(y1, y_lin) and torch.equal(S1, S_lin)  # exp(0) = 1: the same arithmetic, bit for bit
    # the chunked form against linear attention's quadratic (masked product) form, without initial state
    y2, _ = gated_linear_chunked(q, k, v, zero, None, 8)
    assert _rel(y2, linear_attention_parallel(q, k, v, ones)) < 1e-12


def test_strong_decay_stays_finite_and_exact():
    q, k, v, g, S0 = _inputs(B=1, nh=2, T=150, seed=2)
    g = g.clone()
    g[..., ::2] = -30.0  # exp(−30) ≈ 1e−13 per token on every other key channel
    # the factorisation (Q ⊙ exp(b))(K ⊙ exp(−b))ᵀ would need exp(−cumsum g) = exp(1920) over a 64-token chunk
    assert torch.isinf(torch.exp(-g[:, :, :64].cumsum(2))).any()
    qg, kg, vg, gg, Sg = (x.clone().requires_grad_() for x in (q, k, v, g, S0))
    y2, S2 = gated_linear_chunked(qg, kg, vg, gg, Sg, 64)
    y1, S1 = gated_linear_recurrent(q, k, v, g, S0)
    assert torch.isfinite(y2).all() and torch.isfinite(S2).all()
    assert _rel(y2, y1) < 1e-12 and _rel(S2, S1) < 1e-12
    grads = torch.autograd.grad(y2.square().sum() + S2.square().sum(), (qg, kg, vg, gg, Sg))
    assert all(torch.isfinite(d).all() for d in grads)


@pytest.mark.parametrize("gate", GATES)
def test_gradcheck_chunked_form(gate):
    xs = [x.detach().clone().requires_grad_() for x in _inputs(B=1, nh=2, T=5, dk=3, dv=2, gate=gate, seed=1)]
    assert torch.autograd.gradcheck(lambda *a: gated_linear_chunked(*a, chunk_size=2), xs)


def test_packed_and_empty_inputs():
    lengths = [7, 0, 1, 12, 5]
    cu = torch.tensor([0, *itertools.accumulate(lengths)])
    q, k, v, g, _ = _inputs(B=1, nh=2, T=sum(lengths))
    S0 = torch.randn(len(lengths), 2, 5, 4, dtype=F64, generator=torch.Generator().manual_seed(7))
    for op in (gated_linear_recurrent, lambda *a, **kw: gated_linear_chunked(*a, chunk_size=3, **kw)):
        y, S = op(q, k, v, g, S0, cu_seqlens=cu)
        for i, (a, b) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist())):
            ya, Sa = op(*_cut((q, k, v, g), a, b), S0[i:i + 1])  # the sequence alone (zero length included)
            if b > a:
                assert _rel(y[:, :, a:b], ya) < 1e-12
            assert _rel(S[i:i + 1], Sa) < 1e-12
        y0, S = op(*_cut((q, k, v, g), 0, 0), S0[:1])
        assert y0.shape == (1, 2, 0, 4) and torch.equal(S, S0[:1])


@pytest.mark.parametrize("gate", LAYER_GATES)
def test_layer_modes_state_carry_and_state_size(gate):
    torch.manual_seed(0)
    layer = GatedLinearAttention(12, n_heads=2, key_dim=5, gate=gate, chunk_size=4).double()
    x = torch.randn(2, 11, 12, dtype=F64)
    y1, S1 = layer(x)
    y2, _ = layer(x, mode="recurrent")
    ya, Sa = layer(x[:, :6])
    yb, Sb = layer(x[:, 6:], Sa, mode="recurrent")
    assert _rel(y2, y1) < 1e-12 and _rel(torch.cat([ya, yb], 1), y1) < 1e-12 and _rel(Sb, S1) < 1e-12
    assert layer.state_size() == 2 * 5 * 6 == S1[0].numel()
    g = layer.log_decay(x)
    assert g.shape == (2, 2, 11, 5) and bool((g <= 0).all()) and bool((g < 0).any())


@pytest.mark.parametrize("gate", LAYER_GATES)
@pytest.mark.parametrize("mode", ["chunk", "recurrent"])
def test_layer_padding_leaves_state_unchanged(gate, mode):
    torch.manual_seed(1)
    layer = GatedLinearAttention(12, n_heads=2, key_dim=4, gate=gate, chunk_size=3).double()
    S0 = torch.randn(3, 2, 4, 6, dtype=F64)
    x = torch.randn(3, 8, 12, dtype=F64)
    _, S = layer(x, S0, mode=mode, attention_mask=torch.zeros(3, 8))
    assert torch.equal(S, S0)  # all padding: the state passes through bit for bit
    lengths = [8, 5, 1]  # left-padded batch against each sequence alone, from its own initial state
    mask = torch.arange(8)[None] >= torch.tensor([8 - n for n in lengths])[:, None]
    y, S = layer(x, S0, mode=mode, attention_mask=mask)
    for b, n in enumerate(lengths):
        alone, Sb = layer(x[b:b + 1, 8 - n:], S0[b:b + 1], mode=mode)
        assert _rel(y[b:b + 1, 8 - n:], alone) < 1e-12 and _rel(S[b:b + 1], Sb) < 1e-12


def test_mamba2_gate_is_the_ssd_recurrence_written_as_a_plain_loop():
    # S_t = exp(−A Δ_t) S_{t−1} + (Δ_t B_t) x_tᵀ, y_t = C_tᵀ S_t + D x_t, out = W_o RMSNorm(y_t ∘ silu(z_t)), per head
    torch.manual_seed(2)
    layer = GatedLinearAttention(10, n_heads=2, key_dim=3, gate="mamba2", chunk_size=4).double()
    with torch.no_grad():
        layer.D.copy_(torch.tensor([0.7, -1.3], dtype=F64))
    x = torch.randn(2, 9, 10, dtype=F64)
    nh, dk, dv = 2, 3, 5
    W = layer.qk_proj(x).view(2, 9, 2, nh, dk)
    C, Bm = W[:, :, 0], W[:, :, 1]
    xv = layer.v_proj(x).view(2, 9, nh, dv)
    z = layer.z_proj(x).view(2, 9, nh, dv)
    delta = torch.nn.functional.softplus(layer.g_proj(x) + layer.dt_bias)  # (B, T, nh)
    A = torch.exp(layer.A_log)
    S = torch.zeros(2, nh, dk, dv, dtype=F64)
    ys = []
    for t in range(9):
        S = torch.exp(-A * delta[:, t])[..., None, None] * S \
            + (delta[:, t, :, None] * Bm[:, t])[..., None] * xv[:, t, :, None, :]
        y = torch.einsum("bhk,bhkv->bhv", C[:, t], S) + layer.D[:, None] * xv[:, t]
        ys.append(layer.norm(y * torch.nn.functional.silu(z[:, t])))
    ref = layer.o_proj(torch.stack(ys, 1).reshape(2, 9, nh * dv))
    for mode in ("chunk", "recurrent"):
        out, Sl = layer(x, mode=mode)
        assert _rel(out, ref) < 1e-12 and _rel(Sl, S) < 1e-12


@pytest.mark.parametrize("gate", LAYER_GATES)
def test_equal_state_key_dim(gate):
    cfg = TrainConfig(gla={"key_dim": 16, "gate": gate})
    dk = equal_state_features(cfg, "gla", "key_dim")
    smt = build_model("smt", cfg).state_size(1)
    size = lambda d: build_model("gla", TrainConfig(gla={"key_dim": d, "gate": gate})).state_size(1)  # noqa: E731
    assert size(dk) >= smt > size(dk - 1)


def test_cli_gla_defaults_to_equal_state(capsys):
    assert main(["train-recall", "--mixers", "gla", "--gla-gate", "scalar", "--steps", "1", "--batch-size", "2",
                 "--test-examples", "2", "--no-progress"]) == 0
    dk = equal_state_features(TrainConfig(gla={"key_dim": 1, "gate": "scalar"}), "gla", "key_dim")
    assert f"gated linear attention (scalar gate): key_dim = {dk} (equal state with SMT)" in capsys.readouterr().out


def test_errors_name_the_argument():
    q, k, v, g, S0 = _inputs(B=1, nh=1, T=3)
    with pytest.raises(ManifoldSpecError, match="g: expected shape"):
        gated_linear_recurrent(q, k, v, g[..., :1])
    with pytest.raises(ManifoldSpecError, match="q: expected shape"):
        gated_linear_chunked(q[..., :2], k, v, g)
    with pytest.raises(ManifoldSpecError, match="v: expected shape"):
        gated_linear_chunked(q, k, v[:, :, :2], g)
    with pytest.raises(ManifoldSpecError, match="state: expected shape"):
        gated_linear_recurrent(q, k, v, g, S0[..., :2])
    with pytest.raises(ManifoldSpecError, match="chunk_size"):
        gated_linear_chunked(q, k, v, g, chunk_size=0)
    with pytest.raises(ManifoldSpecError, match="gate: expected one of"):
        GatedLinearAttention(8, gate="mamba")
    with pytest.raises(ManifoldSpecError, match="key_dim"):
        GatedLinearAttention(8, key_dim=0)


def test_docs_example_runs(capsys):
    import re
    code = python_block("nn.md", "GatedLinearAttention(")
    exec(compile(code, "docs/nn.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(2, 2, 8, 16) 256 256" in out  # S (B, nh, d_k, d_v); state nh·d_k·d_v = 2·8·16 for either gate
    assert float(re.search(r"max \|split − full\| = (\S+)", out).group(1)) < 1e-5
