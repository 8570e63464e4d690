"""The kernels compile under NVRTC, the compiler cupy.RawModule uses, exactly as the loader asks.

nvcc (test_gpu_compile.py) and NVRTC are different front ends: NVRTC has no host headers,
no host compiler, and resolves templates through name expressions. NVRTC needs no GPU, so
this test runs in CI wherever libnvrtc can be loaded (the ``nvidia-cuda-nvrtc-cu12`` wheel of
the ``test`` extra on Linux x86_64, or a CUDA toolkit), and is skipped elsewhere.
"""
import ctypes
import ctypes.util
import re
from pathlib import Path

import pytest

from manifoldspec.gpu import loader


def _find_nvrtc():
    candidates = []
    try:
        import nvidia.cuda_nvrtc as pkg  # the PyPI wheel lays the library out under nvidia/cuda_nvrtc/lib

        for d in pkg.__path__:
            candidates += sorted(Path(d, "lib").glob("libnvrtc.so.*"))
    except ImportError:
        pass
    found = ctypes.util.find_library("nvrtc")
    if found:
        candidates.append(found)
    for c in candidates:
        try:
            return ctypes.CDLL(str(c))
        except OSError:
            continue
    return None


NVRTC = _find_nvrtc()
pytestmark = pytest.mark.skipif(NVRTC is None, reason="libnvrtc not found (pip install nvidia-cuda-nvrtc-cu12)")


def _check(res):
    if res != 0:
        NVRTC.nvrtcGetErrorString.restype = ctypes.c_char_p
        raise RuntimeError(NVRTC.nvrtcGetErrorString(res).decode())


def nvrtc_compile(source: str, options, name_expressions=()):
    """Compile with NVRTC; returns (ok, log, ptx, {expression: lowered name})."""
    prog = ctypes.c_void_p()
    _check(NVRTC.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"kernel.cu", 0, None, None))
    try:
        for e in name_expressions:
            _check(NVRTC.nvrtcAddNameExpression(prog, e.encode()))
        opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        res = NVRTC.nvrtcCompileProgram(prog, len(options), opts)
        size = ctypes.c_size_t()
        _check(NVRTC.nvrtcGetProgramLogSize(prog, ctypes.byref(size)))
        buf = ctypes.create_string_buffer(size.value)
        _check(NVRTC.nvrtcGetProgramLog(prog, buf))
        log = buf.value.decode()
        if res != 0:
            return False, log, "", {}
        _check(NVRTC.nvrtcGetPTXSize(prog, ctypes.byref(size)))
        buf = ctypes.create_string_buffer(size.value)
        _check(NVRTC.nvrtcGetPTX(prog, buf))
        lowered = {}
        for e in name_expressions:
            name = ctypes.c_char_p()
            _check(NVRTC.nvrtcGetLoweredName(prog, e.encode(), ctypes.byref(name)))
            lowered[e] = name.value.decode()
        return True, log, buf.value.decode(), lowered
    finally:
        NVRTC.nvrtcDestroyProgram(ctypes.byref(prog))


def _loader_options(family, arch):
    # what get_module passes to cupy.RawModule, plus the -arch and -ftz=true cupy appends itself
    _, options, _ = loader.FAMILIES[family]
    return ["--std=c++14", *options, f"-arch=compute_{arch}", "-ftz=true"]


@pytest.mark.parametrize("arch", ["80", "90"])
@pytest.mark.parametrize("family", sorted(loader.FAMILIES))
def test_kernels_compile_under_nvrtc_with_every_name_expression(family, arch):
    filename, _, exprs = loader.FAMILIES[family]
    ok, log, ptx, lowered = nvrtc_compile(loader.kernel_source(filename), _loader_options(family, arch), exprs)
    assert ok, log
    assert "warning" not in log.lower(), log
    entries = set(re.findall(r"\.entry (\w+)\(", ptx))  # template instances are .weak, not .visible
    # every template instantiation the launcher asks for by name exists as a kernel entry point
    assert set(lowered) == set(exprs)
    assert set(lowered.values()) == entries
    assert f".target sm_{arch}" in ptx


def test_nvrtc_errors_point_into_the_cu_file():
    filename = loader.FAMILIES["torus"][0]
    src = loader.kernel_source(filename) + "\n__global__ void broken() { undefined_symbol += 1; }\n"
    ok, log, _, _ = nvrtc_compile(src, _loader_options("torus", "80"))
    assert not ok
    assert filename in log and "undefined_symbol" in log
