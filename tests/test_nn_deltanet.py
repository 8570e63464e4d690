"""DeltaNet (the delta rule), the recall baseline NN_ANCHORS places above Based: its two forms agree,
it recalls exactly what its definition says (overwrite, not accumulate), and it follows the mixer contracts."""
import pytest

torch = pytest.importorskip("torch")

from manifoldspec import ManifoldSpecError  # noqa: E402
from manifoldspec.nn import DeltaNetAttention, TrainConfig, delta_rule_chunked, delta_rule_recurrent  # noqa: E402
from manifoldspec.nn.train import build_model, equal_state_features  # noqa: E402

F64 = torch.float64


def _inputs(B=2, nh=3, T=37, dk=5, dv=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, nh, T, dk, dtype=F64, generator=g)
    k = torch.nn.functional.normalize(torch.randn(B, nh, T, dk, dtype=F64, generator=g), dim=-1)
    v = torch.randn(B, nh, T, dv, dtype=F64, generator=g)
    beta = torch.rand(B, nh, T, dtype=F64, generator=g)
    S0 = torch.randn(B, nh, dk, dv, dtype=F64, generator=g)
    return q, k, v, beta, S0


def _rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_chunked_equals_recurrent(chunk):
    q, k, v, beta, S0 = _inputs()
    y1, S1 = delta_rule_recurrent(q, k, v, beta, S0)
    y2, S2 = delta_rule_chunked(q, k, v, beta, S0, chunk)
    assert _rel(y2, y1) < 1e-12 and _rel(S2, S1) < 1e-12
    # state handover: two calls equal one
    ya, Sa = delta_rule_chunked(q[:, :, :11], k[:, :, :11], v[:, :, :11], beta[:, :, :11], S0, chunk)
    yb, Sb = delta_rule_chunked(q[:, :, 11:], k[:, :, 11:], v[:, :, 11:], beta[:, :, 11:], Sa, chunk)
    assert _rel(torch.cat([ya, yb], 2), y1) < 1e-12 and _rel(Sb, S1) < 1e-12


def test_delta_rule_overwrites_where_linear_attention_accumulates():
    # orthonormal keys with β = 1: S holds exactly the last value written under each key, so querying a key
    # returns that value; linear attention (S += k vᵀ) would return the sum of all values written under it
    dk, dv = 4, 3
    keys = torch.eye(dk, dtype=F64)
    order = [0, 2, 1, 2, 3, 0, 2]
    k = keys[order][None, None]
    v = torch.randn(1, 1, len(order), dv, dtype=F64, generator=torch.Generator().manual_seed(3))
    beta = torch.ones(1, 1, len(order), dtype=F64)
    last = {i: v[0, 0, t] for t, i in enumerate(order)}
    q = keys[None, None]
    for op in (delta_rule_recurrent, lambda *a: delta_rule_chunked(*a, chunk_size=3)):
        _, S = op(k, k, v, beta)
        read = torch.einsum("bhqk,bhkd->bhqd", q, S)[0, 0]
        for i in range(dk):
            assert torch.allclose(read[i], last[i], atol=1e-14, rtol=0)
        summed = sum(v[0, 0, t] for t, j in enumerate(order) if j == 2)
        assert not torch.allclose(read[2], summed, atol=1e-3)  # key 2 was written three times
    # β = 0 writes nothing; β = ½ moves the read-out half way to the new value
    q1, k1, v1, _, S0 = _inputs(B=1, nh=1, T=1, dk=4, dv=3)
    assert torch.equal(delta_rule_recurrent(q1, k1, v1, torch.zeros(1, 1, 1, dtype=F64), S0)[1], S0)
    S = delta_rule_recurrent(q1, k1, v1, torch.full((1, 1, 1), 0.5, dtype=F64), S0)[1]
    old, new = k1[0, 0, 0] @ S0[0, 0], k1[0, 0, 0] @ S[0, 0]
    assert torch.allclose(new, 0.5 * (old + v1[0, 0, 0]), atol=1e-14)


def test_gradcheck_chunked_form():
    q, k, v, beta, S0 = (x.requires_grad_() for x in _inputs(B=1, nh=2, T=5, dk=3, dv=2))
    assert torch.autograd.gradcheck(lambda *a: delta_rule_chunked(*a, chunk_size=2), (q, k, v, beta, S0))


def test_layer_modes_state_carry_and_state_size():
    torch.manual_seed(0)
    layer = DeltaNetAttention(12, n_heads=2, key_dim=5, chunk_size=4).double()
    x = torch.randn(2, 11, 12, dtype=F64)
    y1, S1 = layer(x)
    y2, S2 = layer(x, mode="recurrent")
    ya, Sa = layer(x[:, :6])
    yb, Sb = layer(x[:, 6:], Sa, mode="recurrent")
    assert _rel(y2, y1) < 1e-12 and _rel(torch.cat([ya, yb], 1), y1) < 1e-12 and _rel(Sb, S1) < 1e-12
    assert layer.state_size() == 2 * 5 * 6 == S1[0].numel()


def test_equal_state_key_dim():
    cfg = TrainConfig()
    dk = equal_state_features(cfg, "deltanet", "key_dim")
    smt = build_model("smt", cfg).state_size(1)
    size = lambda d: build_model("deltanet", TrainConfig(deltanet={"key_dim": d})).state_size(1)  # noqa: E731
    assert size(dk) >= smt > size(dk - 1)


def test_errors_name_the_argument():
    q, k, v, beta, _ = _inputs(B=1, nh=1, T=3)
    with pytest.raises(ManifoldSpecError, match="beta: expected shape"):
        delta_rule_recurrent(q, k, v, beta[..., :2])
    with pytest.raises(ManifoldSpecError, match="q: expected shape"):
        delta_rule_chunked(q[..., :2], k, v, beta)
    with pytest.raises(ManifoldSpecError, match="chunk_size"):
        delta_rule_chunked(q, k, v, beta, chunk_size=0)
    with pytest.raises(ManifoldSpecError, match="key_dim"):
        DeltaNetAttention(8, key_dim=0)
