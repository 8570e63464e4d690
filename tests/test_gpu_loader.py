"""The kernel loader without a GPU: clear errors naming the extra, per-device caching, light imports."""
import subprocess
import sys
import types

import numpy as np
import pytest

import manifoldspec.gpu as mg
from manifoldspec.gpu import loader


def _fake_cupy(device_count=1, fail=None, device_id=0):
    """A stand-in cupy module: device queries and a RawModule that records what it was asked to compile."""
    calls = []

    class RawModule:
        def __init__(self, code, options=(), name_expressions=None):
            calls.append(dict(code=code, options=options, exprs=tuple(name_expressions)))
            self.compiled = False

        def compile(self):
            self.compiled = True

        def get_function(self, name):
            return ("kernel", name)

    def count():
        if fail:
            raise RuntimeError(fail)
        return device_count

    state = {"id": device_id}

    class Device:
        def __init__(self, i=None):
            self.id = state["id"] if i is None else i

    cp = types.ModuleType("cupy")
    cp.RawModule = RawModule
    cp.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count), Device=Device)
    return cp, calls, state


@pytest.fixture(autouse=True)
def _fresh_cache():
    loader.clear_cache()
    yield
    loader.clear_cache()


def test_error_without_cupy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(mg.GPUUnavailableError, match=r"pip install manifoldspec\[gpu\]"):
        loader.require_cupy()
    with pytest.raises(ImportError, match=r"manifoldspec\[gpu\]"):  # an ImportError, as the project rule asks
        loader.get_module("torus")


@pytest.mark.parametrize("count,fail,what", [(0, None, "found no CUDA device"),
                                             (1, "cudaErrorNoDevice", "no CUDA device is usable")])
def test_error_without_device_names_the_extra(monkeypatch, count, fail, what):
    cp, _, _ = _fake_cupy(device_count=count, fail=fail)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    with pytest.raises(mg.GPUUnavailableError) as info:
        loader.get_kernel("torus", "torus_stream", "float64", 2)
    assert what in str(info.value) and "manifoldspec[gpu]" in str(info.value)


def test_module_compiled_once_per_device_with_line_prefix(monkeypatch):
    cp, calls, state = _fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", cp)
    k1 = loader.get_kernel("torus", "torus_stream", "float32", 3)
    loader.get_kernel("torus", "torus_stream", "float64", 2)
    assert len(calls) == 1  # cached on device 0
    assert k1 == ("kernel", "torus_stream<float, 3>")
    assert calls[0]["code"].startswith('#line 1 "') and "torus_elements.cu" in calls[0]["code"].splitlines()[0]
    assert f"-DMS_TORUS_BLOCK={loader.TORUS_BLOCK}" in calls[0]["options"]
    assert calls[0]["exprs"] == loader.FAMILIES["torus"][2]
    state["id"] = 1
    loader.get_kernel("torus", "torus_stream", "float64", 2)
    loader.get_kernel("fe", "fe_elements", "float64", 6)
    assert len(calls) == 3  # a second device compiles its own copy; the fe family is separate


def test_unknown_instantiation_is_refused(monkeypatch):
    cp, _, _ = _fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", cp)
    with pytest.raises(KeyError, match="no compiled instantiation"):
        loader.get_kernel("torus", "torus_stream", "float64", 7)


def test_import_does_not_load_cupy_or_torch():
    code = ("import sys, manifoldspec, manifoldspec.gpu; "
            "print('cupy' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_numpy_inputs_never_need_cupy(monkeypatch, rng):
    monkeypatch.setitem(sys.modules, "cupy", None)
    from manifoldspec.spectral.torus_modes import torus_modes
    from manifoldspec.spectral.torus_sparse import torus_pattern

    L = np.array([2 * np.pi, 2 * np.pi])
    pat = torus_pattern(torus_modes(L, 9), L, 0.5)
    dK, dM = mg.accumulate_torus_elements(pat, rng.uniform(size=(2, 3)), rng.uniform(size=(2, 3, 2)),
                                          rng.normal(size=(2, 3, 2)))
    assert dK.shape == (2, pat.nnz) and np.iscomplexobj(dM)
