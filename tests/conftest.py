import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _torch_one_thread(request):
    """nn tests use small tensors: on a shared 2-core machine extra torch threads only contend (measured 10x slower)."""
    if not request.module.__name__.rsplit(".", 1)[-1].startswith("test_nn_"):
        yield
        return
    import torch

    # an earlier module that changes torch's global default dtype (geomstats' torch backend does, on import)
    # would make every nn test run in another precision without a sign
    assert torch.get_default_dtype() == torch.float32, f"torch default dtype is {torch.get_default_dtype()}"
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
