"""Public H_mk update functions: one signature for numpy, cupy and torch inputs.

Each function looks at the kind of its array arguments and

- numpy (or lists): runs the vectorized CPU path (float64, complex128): for the batched sum,
  the BLAS form ``accumulate_gemm`` (tested equal to the elementwise reference);
- torch CPU tensors: the same CPU path through zero-copy ``.numpy()`` views, torch results;
- cupy arrays: the CUDA kernel of ``cuda/*.cu``, cupy results;
- torch CUDA tensors: the CUDA kernel on the tensors' device and current stream, through
  DLPack views (no copies when inputs are contiguous with one float dtype), torch results.

The GPU path keeps float32 inputs in float32 (complex64 results); everything else runs in
float64. None of these paths is differentiable: torch inputs that require grad while grad
mode is on are refused with an error instead of silently losing the gradient.
"""
from __future__ import annotations

from .._checks import ManifoldSpecError
from ..spectral import torus_sparse as _ts
from . import launch
from .arrays import (array_kind, check_no_grad, cupy_to_torch, numpy_to_torch, torch_stream_scope, torch_to_cupy,
                     torch_to_numpy)
from .reference import fe_matrix_elements_numpy


def _check_torus_pattern(pattern):
    if not isinstance(pattern, _ts.TorusPattern):
        raise ManifoldSpecError(f"pattern: expected a TorusPattern from torus_pattern(), got {type(pattern).__name__}")


def _check_pairs(pattern):
    if not (hasattr(pattern, "rows") and hasattr(pattern, "cols")):
        raise ManifoldSpecError(f"pattern: expected an object with .rows and .cols (ModePairs, TorusPattern), "
                                f"got {type(pattern).__name__}")


def _run(arrays: dict, cpu_fn, gpu_fn):
    """Call ``cpu_fn`` or ``gpu_fn`` with ``arrays`` converted for it; convert the results back."""
    kind = array_kind(**{k: a for k, a in arrays.items() if not isinstance(a, tuple)},
                      **{f"{k}[{i}]": x for k, a in arrays.items() if isinstance(a, tuple) for i, x in enumerate(a)})

    def conv(fn, a):
        return tuple(fn(x) for x in a) if isinstance(a, tuple) else fn(a)

    if kind == "numpy":
        return cpu_fn(**arrays)
    if kind == "cupy":
        return gpu_fn(**arrays)
    check_no_grad(**{k: a for k, a in arrays.items() if not isinstance(a, tuple)})
    if kind == "torch-cpu":
        out = cpu_fn(**{k: conv(torch_to_numpy, a) for k, a in arrays.items()})
        return tuple(numpy_to_torch(o) for o in out)
    # torch-cuda: run on the first tensor's device and current stream
    first = next(a for a in arrays.values() if a is not None and not isinstance(a, tuple))
    with torch_stream_scope(first):
        out = gpu_fn(**{k: conv(torch_to_cupy, a) for k, a in arrays.items()})
        return tuple(cupy_to_torch(o) for o in out)


def accumulate_torus_elements(pattern, alpha, mu, v, *, chunk: int = 256):
    """Batched sum of token contributions Σ_t h(x_t) on the sparse torus pattern.

    Same signature and semantics as
    :func:`manifoldspec.spectral.torus_sparse.accumulate_torus_elements`, for numpy, cupy
    or torch arrays (see the module docstring for where each runs).

    Parameters
    ----------
    pattern : TorusPattern
    alpha : (B, T) ; mu, v : (B, T, n)
        Token warps (eq. 1): amplitude, centre on the torus, direction.
    chunk : int
        Tokens per numpy chunk (CPU path only; bounds memory at B·chunk·nnz, or 16·chunk·K for
        the BLAS form that the CPU path uses unless the pattern is very sparse).

    Returns
    -------
    dK, dM : complex (B, nnz), same kind as the inputs
        δK̃_mk, δM̃_mk on the pattern, in the L²-orthonormal basis e_m = exp(iκ_m·x)/√V.
    """
    _check_torus_pattern(pattern)
    return _run(dict(alpha=alpha, mu=mu, v=v),
                lambda alpha, mu, v: _ts.accumulate_fast(pattern, alpha, mu, v, chunk=chunk),
                lambda alpha, mu, v: launch.torus_stream(pattern, alpha, mu, v))


def stream_torus_elements(pattern, alpha, mu, v, decay=None, state=None):
    """Streaming state H_t = D ∘ H_{t−1} + h(x_t) after the last token, for every batch.

    Same signature and semantics as
    :func:`manifoldspec.spectral.torus_sparse.stream_torus_elements`.

    Parameters
    ----------
    pattern : TorusPattern
    alpha : (B, T) ; mu, v : (B, T, n)
    decay : (nnz,) real, optional
        D on the pattern (e.g. :func:`flow_decay`); ``None``: no decay.
    state : pair of complex (B, nnz), optional
        Initial (dK, dM); ``None``: zeros. Not modified.

    Returns
    -------
    dK, dM : complex (B, nnz), same kind as the inputs
    """
    _check_torus_pattern(pattern)
    if state is not None and (not isinstance(state, (tuple, list)) or len(state) != 2):
        raise ManifoldSpecError("state: expected a pair (dK, dM) of complex (B, nnz) arrays")
    state = None if state is None else tuple(state)
    return _run(dict(alpha=alpha, mu=mu, v=v, decay=decay, state=state),
                lambda alpha, mu, v, decay, state: _ts.stream_torus_elements(pattern, alpha, mu, v, decay, state),
                lambda alpha, mu, v, decay, state: launch.torus_stream(pattern, alpha, mu, v, decay, state))


def fe_matrix_elements(pattern, phi, dofs, local_K, local_M=None, ptr=None, touched=None):
    """Finite-element H_mk: Σ_{c ∈ touched(b)} Φ0[dofs_c, m]ᵀ L_c Φ0[dofs_c, k] on a pattern.

    Parameters
    ----------
    pattern : ModePairs (or any object with ``rows``, ``cols`` (nnz,), e.g. TorusPattern)
    phi : (ndof, K) real
        Base eigenvectors Φ0, M0-orthonormal (Φ0ᵀ M0 Φ0 = I).
    dofs : int (E, n_loc)
        Global dofs of the element of each contribution.
    local_K, local_M : (E, n_loc, n_loc)
        Local δK (and optionally δM) of each contribution (a token's bump on one element).
    ptr, touched : int (B+1,), (nt,), optional
        CSR list: batch b sums contributions ``touched[ptr[b]:ptr[b+1]]``. ``None``: one
        batch with all E contributions.

    Returns
    -------
    dK, dM : real (B, nnz), same kind as the inputs (dM is None without ``local_M``)
        Matrix elements of δK and δM in the Φ0 basis, on the pattern.
    """
    _check_pairs(pattern)

    def gpu(phi, dofs, local_K, local_M, ptr, touched):
        return launch.fe_elements(pattern, phi, dofs, local_K, local_M, ptr, touched)

    def cpu(phi, dofs, local_K, local_M, ptr, touched):
        return fe_matrix_elements_numpy(pattern, phi, dofs, local_K, local_M, ptr, touched)

    return _run(dict(phi=phi, dofs=dofs, local_K=local_K, local_M=local_M, ptr=ptr, touched=touched), cpu, gpu)
