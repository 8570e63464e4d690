"""benchmarks/bench_varlen.py: its three ways of running a pack compute the same outputs, and the per-sequence
baseline (the pre-bucketing paths) leaves the bucketing restored."""
import pathlib
import sys

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_varlen import MIXERS, forward, inputs, main  # noqa: E402

from manifoldspec.nn import baselines  # noqa: E402
from manifoldspec.nn.ops import varlen  # noqa: E402


@pytest.mark.parametrize("name", list(MIXERS))
def test_before_buckets_and_padded_agree(name):
    torch.manual_seed(0)
    layer = MIXERS[name]().double()
    lengths = [5, 1, 9, 3, 0, 4]
    buckets, sdpa = varlen.length_buckets, baselines.packed_sdpa
    out = {}
    for how in ("before", "buckets", "padded"):
        x, call = inputs(lengths, how)
        out[how] = forward(layer, x.double(), call, how)
        assert varlen.length_buckets is buckets and baselines.packed_sdpa is sdpa
    width, start = max(lengths), 0
    for i, L in enumerate(lengths):  # the padded batch holds sequence i right-aligned in row i
        for how in ("before", "buckets"):
            got = out[how][0, start:start + L]
            assert torch.allclose(got, out["padded"][i, width - L:], rtol=1e-10, atol=1e-12), (how, i)
        start += L


def test_refuses_unknown_mixer(capsys):
    with pytest.raises(SystemExit):
        main(["--mixers", "smt,nope"])
    assert "unknown ['nope']" in capsys.readouterr().err
