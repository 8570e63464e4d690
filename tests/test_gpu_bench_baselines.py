"""The torch baselines of benchmarks/bench_gpu.py compute the same H_mk as the numpy reference
(checked on torch CPU, so a GPU benchmark compares like with like), and the script exits
with a clear message where no GPU path exists."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from manifoldspec.spectral.torus_sparse import accumulate_torus_elements
from test_gpu_cases import assert_close, random_tokens

torch = pytest.importorskip("torch")
BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpu.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("baseline", ["torch_dense_einsum", "torch_sparse_sddmm"])
def test_baselines_match_reference(bench, rng, baseline):
    pat = bench.make_pattern(23, sigma=0.8, drop_tol=1e-6)
    alpha, mu, v = random_tokens(rng, 3, 17, np.array([2 * np.pi, 2 * np.pi]))
    dK, dM = getattr(bench, baseline)(pat, *(torch.from_numpy(a) for a in (alpha, mu, v)))
    rK, rM = accumulate_torus_elements(pat, alpha, mu, v)
    assert_close(dK.numpy(), rK, 1e-12, "dK")
    assert_close(dM.numpy(), rM, 1e-12, "dM")


def test_exits_with_message_without_gpu(bench, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert bench.main(["--quick"]) == 2
    assert "manifoldspec[gpu]" in capsys.readouterr().err
