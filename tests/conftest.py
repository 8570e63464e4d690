import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _is_nn_module(request):
    return request.module.__name__.rsplit(".", 1)[-1].startswith("test_nn_")


@pytest.fixture(autouse=True)
def _torch_one_thread(request):
    """nn tests use small tensors: on a shared 2-core machine extra torch threads only contend (measured 10x slower)."""
    if not _is_nn_module(request):
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


@pytest.fixture(autouse=True)
def _nan_poison_empty(request, monkeypatch):
    """fla's conftest habit (NN_ANCHORS §2.2): in nn tests, torch.empty / empty_like / Tensor.new_empty return
    floating and complex tensors filled with NaN, so code that reads memory it never wrote fails loudly instead
    of passing on whatever the allocator left there. Integer and bool tensors are left as allocated.
    Only Python-level calls are affected (torch's C++ internals allocate without these functions)."""
    if not _is_nn_module(request):
        yield
        return
    import torch

    def poisoned(alloc):
        def wrapper(*args, **kwargs):
            t = alloc(*args, **kwargs)
            if t.layout == torch.strided and (t.is_floating_point() or t.is_complex()):
                with torch.no_grad():  # a leaf made with requires_grad=True refuses in-place writes otherwise
                    t.fill_(float("nan"))
            return t
        return wrapper

    monkeypatch.setattr(torch, "empty", poisoned(torch.empty))
    monkeypatch.setattr(torch, "empty_like", poisoned(torch.empty_like))
    monkeypatch.setattr(torch.Tensor, "new_empty", poisoned(torch.Tensor.new_empty))
    yield
