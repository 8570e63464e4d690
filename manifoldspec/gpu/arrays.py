"""Which array library the caller uses, and zero-copy moves between torch and cupy (DLPack).

Kinds: ``"numpy"`` (numpy arrays, lists, scalars), ``"torch-cpu"``, ``"torch-cuda"``,
``"cupy"``. Detection looks at the type's module name, so neither torch nor cupy is
imported unless the caller already passed one of their arrays.
"""
from __future__ import annotations

import contextlib

from .._checks import ManifoldSpecError


def _kind(x) -> str | None:
    if x is None:
        return None
    mod = type(x).__module__.split(".")[0]
    if mod == "cupy":
        return "cupy"
    if mod == "torch":
        return "torch-cuda" if x.is_cuda else "torch-cpu"
    return "numpy"


def array_kind(**arrays) -> str:
    """Common kind of the named arrays (``None`` entries ignored); raises on a mix."""
    kinds = {name: _kind(a) for name, a in arrays.items() if a is not None}
    found = set(kinds.values())
    if len(found) > 1:
        detail = ", ".join(f"{n}: {k}" for n, k in kinds.items())
        raise ManifoldSpecError(f"arrays: all inputs must be of one kind (numpy, cupy, torch CPU or torch CUDA), got {detail}")
    return found.pop() if found else "numpy"


def check_no_grad(**arrays) -> None:
    """The kernels have no autograd: refuse torch inputs that expect a gradient rather than drop it."""
    import torch

    if not torch.is_grad_enabled():
        return
    for name, a in arrays.items():
        if a is not None and getattr(a, "requires_grad", False):
            raise ManifoldSpecError(
                f"{name}: requires grad, but the H_mk kernels are not differentiable; call them under "
                "torch.no_grad() (or pass .detach()), or use the differentiable torch path of manifoldspec.nn")


def torch_to_numpy(a):
    return None if a is None else a.detach().cpu().numpy()


def numpy_to_torch(a):
    import torch

    return None if a is None else torch.from_numpy(a)


def torch_to_cupy(a):
    """Zero-copy view of a CUDA tensor as a cupy array (DLPack)."""
    import cupy

    return None if a is None else cupy.from_dlpack(a.detach())


def cupy_to_torch(a):
    """Zero-copy view of a cupy array as a CUDA tensor (DLPack)."""
    import torch

    return None if a is None else torch.from_dlpack(a)


@contextlib.contextmanager
def torch_stream_scope(tensor):
    """Run cupy work on the device and current stream of ``tensor``, so no cross-stream sync is needed."""
    import cupy
    import torch

    dev = tensor.device.index if tensor.device.index is not None else torch.cuda.current_device()
    stream = torch.cuda.current_stream(dev)
    with cupy.cuda.Device(dev), cupy.cuda.ExternalStream(stream.cuda_stream):
        yield
