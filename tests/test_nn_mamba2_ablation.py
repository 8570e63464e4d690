"""benchmarks/mamba2_ablation.py: each variant removes exactly its ingredient, and the layer class is restored."""
import pathlib
import sys

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
from mamba2_ablation import variant  # noqa: E402

from manifoldspec.nn import GatedLinearAttention, gated_linear_recurrent  # noqa: E402


def _layer():
    torch.manual_seed(0)
    return GatedLinearAttention(8, n_heads=2, key_dim=3, gate="mamba2").double()


def test_variants_remove_one_ingredient_and_restore_the_class():
    init, forward = GatedLinearAttention.__init__, GatedLinearAttention.forward
    x = torch.randn(1, 7, 8, dtype=torch.float64)
    full = _layer()(x)[0]
    with variant("no-skip"):
        layer = _layer()
        assert float(layer.D.abs().max()) == 0 and not layer.D.requires_grad
    with variant("no-write-step"):
        layer = _layer()
        y, S = layer(x)
    ref = _layer()
    g = ref.log_decay(x)  # Δ only in the decay: the write of every token is k_t itself
    k = ref.qk_proj(x).view(1, 7, 2, 2, 3).permute(2, 0, 3, 1, 4)[1]
    v = ref.v_proj(x).view(1, 7, 2, 4).transpose(1, 2)
    q = ref.qk_proj(x).view(1, 7, 2, 2, 3).permute(2, 0, 3, 1, 4)[0]
    assert torch.allclose(S, gated_linear_recurrent(q, k, v, g)[1], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(y, full)
    with variant("no-gate"):
        layer = _layer()
        assert not layer.z_proj.weight.requires_grad
    assert GatedLinearAttention.__init__ is init and GatedLinearAttention.forward is forward
    assert torch.equal(_layer()(x)[0], full)
