"""Find, compile (once per device) and cache the CUDA kernels of ``cuda/*.cu``.

cupy is imported here only, lazily, when a kernel is first needed; ``import manifoldspec``
and ``import manifoldspec.gpu`` never touch it (STYLE.md habit 4).

Kernel sources are looked up in the installed package (``manifoldspec/cuda``, placed there
by hatchling's ``force-include`` when a wheel is built) and then in the repository's
top-level ``cuda/`` (an editable install does not apply ``force-include``). Each source is
prefixed with ``#line 1 "<file>"`` so NVRTC errors point into the ``.cu`` file.
"""
from __future__ import annotations

import threading
from pathlib import Path

INSTALL_HINT = "pip install manifoldspec[gpu]"

#: Threads per block; passed to NVRTC as -D so the launcher and the kernel agree.
TORUS_BLOCK = 128
FE_BLOCK = 128
FE_TILE = 32

#: Largest torus dimension and the element sizes that have compiled instantiations.
TORUS_DIMS = (1, 2, 3, 4)
FE_NLOCS = (3, 4, 6, 10)

_DTYPES = {"float64": "double", "float32": "float"}


def _expr(kernel: str, ctype: str, n: int) -> str:
    return f"{kernel}<{ctype}, {n}>"


#: family -> (source file, compile options, template instantiations requested by name)
FAMILIES = {
    "torus": ("torus_elements.cu", (f"-DMS_TORUS_BLOCK={TORUS_BLOCK}",),
              tuple(_expr("torus_stream", c, n) for c in _DTYPES.values() for n in TORUS_DIMS)),
    "fe": ("fe_elements.cu", (f"-DMS_FE_BLOCK={FE_BLOCK}", f"-DMS_FE_TILE={FE_TILE}"),
           tuple(_expr("fe_elements", c, n) for c in _DTYPES.values() for n in FE_NLOCS)),
}


class GPUUnavailableError(ImportError):
    """The GPU path cannot run here: cupy is not installed or no CUDA device is visible."""


def kernel_dirs() -> list[Path]:
    """Directories searched for ``.cu`` sources, in order (installed package, then repository)."""
    pkg = Path(__file__).resolve().parent.parent
    return [pkg / "cuda", pkg.parent / "cuda"]


def kernel_path(filename: str) -> Path:
    """Path of a kernel source file; raises FileNotFoundError naming the places searched."""
    for d in kernel_dirs():
        p = d / filename
        if p.is_file():
            return p
    raise FileNotFoundError(f"CUDA source {filename!r} not found in {', '.join(str(d) for d in kernel_dirs())}; "
                            "reinstall manifoldspec (the wheel carries manifoldspec/cuda)")


def kernel_source(filename: str) -> str:
    """Kernel source prefixed with ``#line 1 "<path>"`` so compiler messages name the file."""
    p = kernel_path(filename)
    return f'#line 1 "{p.as_posix()}"\n' + p.read_text()


def require_cupy():
    """Import and return cupy, or raise :class:`GPUUnavailableError` naming the extra to install."""
    try:
        import cupy
    except ImportError as exc:
        raise GPUUnavailableError(
            f"the GPU path needs cupy, which is not installed ({exc}); install it with `{INSTALL_HINT}` "
            "(or a cupy wheel matching your CUDA version), or pass numpy arrays to use the CPU reference") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # cupy raises CUDARuntimeError without a driver
        raise GPUUnavailableError(
            f"cupy is installed but no CUDA device is usable ({type(exc).__name__}: {exc}); the GPU path needs an "
            f"NVIDIA GPU with a working driver (`{INSTALL_HINT}`); pass numpy arrays to use the CPU reference") from None
    if count < 1:
        raise GPUUnavailableError(
            f"cupy is installed but found no CUDA device; the GPU path needs an NVIDIA GPU (`{INSTALL_HINT}`); "
            "pass numpy arrays to use the CPU reference")
    return cupy


_modules: dict = {}
_lock = threading.Lock()


def get_module(family: str):
    """The compiled ``cupy.RawModule`` of a kernel family on the current device (cached per device)."""
    cupy = require_cupy()
    if family not in FAMILIES:
        raise KeyError(f"unknown kernel family {family!r}; known: {sorted(FAMILIES)}")
    dev = cupy.cuda.Device().id
    key = (family, dev)
    with _lock:
        mod = _modules.get(key)
        if mod is None:
            filename, options, exprs = FAMILIES[family]
            mod = cupy.RawModule(code=kernel_source(filename), options=("--std=c++14",) + options,
                                 name_expressions=exprs)
            mod.compile()  # compile now, on this device, so errors surface here and not at launch
            _modules[key] = mod
    return mod


def get_kernel(family: str, kernel: str, dtype: str, n: int):
    """Compiled kernel ``kernel<dtype, n>`` (dtype ``"float32"`` or ``"float64"``)."""
    expr = _expr(kernel, _DTYPES[dtype], n)
    if expr not in FAMILIES[family][2]:
        raise KeyError(f"no compiled instantiation {expr}")
    return get_module(family).get_function(expr)


def clear_cache() -> None:
    """Forget compiled modules (tests; after a device reset)."""
    with _lock:
        _modules.clear()
