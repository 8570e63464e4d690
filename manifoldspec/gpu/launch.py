"""cupy launchers of the H_mk kernels: input checks on the device, constants, grid shapes.

Inputs are cupy arrays (torch tensors arrive here already viewed through DLPack). The
compute dtype is float32 when every floating input is float32, else float64; complex
outputs are complex64 / complex128 with the interleaved (re, im) layout the kernels write.
"""
from __future__ import annotations

import math
import weakref

import numpy as np

from .._checks import ManifoldSpecError
from . import loader

_MAX_GRID_Y = 65535  # CUDA limit; the kernels stride over batches beyond it
_pattern_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compute_dtype(*arrays):
    return np.float32 if all(a.dtype == np.float32 for a in arrays if a is not None) else np.float64


def _finite(cp, a, name: str):
    if a.size and not bool(cp.isfinite(a).all()):
        bad = int(a.size - int(cp.count_nonzero(cp.isfinite(a))))
        raise ManifoldSpecError(f"{name}: contains {bad} NaN or infinite value(s); only finite values are accepted")


def _real(cp, a, name: str, dtype):
    if a.dtype.kind not in "biuf":
        raise ManifoldSpecError(f"{name}: expected a real array, got dtype {a.dtype}")
    a = cp.ascontiguousarray(a, dtype=dtype)  # no copy when dtype and layout already match
    _finite(cp, a, name)
    return a


def _index(cp, a, name: str, upper: int, shape=None):
    """int64 contiguous index array with values in [0, upper)."""
    if a.dtype.kind not in "iu":
        raise ManifoldSpecError(f"{name}: expected an integer array, got dtype {a.dtype}")
    if shape is not None and a.shape != shape:
        raise ManifoldSpecError(f"{name}: expected shape {shape}, got {a.shape}")
    a = cp.ascontiguousarray(a, dtype=cp.int64)
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi >= upper:
            raise ManifoldSpecError(f"{name}: values must lie in [0, {upper}), got [{lo}, {hi}]")
    return a


def _device_constants(cp, owner, key, make):
    """Per-(pattern, device, dtype) device copies, dropped with the pattern object."""
    per = _pattern_cache.setdefault(owner, {})
    k = (cp.cuda.Device().id,) + key
    if k not in per:
        per[k] = make()
    return per[k]


def torus_stream(pattern, alpha, mu, v, decay=None, state=None):
    """H_T of the recurrence H_t = D∘H_{t−1} + h(x_t) on the GPU; D = None means plain sums.

    Parameters and results as :func:`manifoldspec.spectral.torus_sparse.stream_torus_elements`,
    with cupy arrays; returns complex (B, nnz) cupy arrays (dK, dM).
    """
    cp = loader.require_cupy()
    n = pattern.kappa.shape[1]
    if n not in loader.TORUS_DIMS:
        raise ManifoldSpecError(f"pattern: the GPU kernels support torus dimensions {loader.TORUS_DIMS}, got n = {n}; "
                                "use numpy inputs for the CPU reference")
    dtype = _compute_dtype(alpha, mu, v)
    cdtype = np.complex64 if dtype == np.float32 else np.complex128
    alpha, mu, v = (_real(cp, a, name, dtype) for a, name in ((alpha, "alpha"), (mu, "mu"), (v, "v")))
    if alpha.ndim != 2 or mu.shape != alpha.shape + (n,) or v.shape != mu.shape:
        raise ManifoldSpecError(f"tokens: expected alpha (B, T), mu and v (B, T, {n}); got {alpha.shape}, {mu.shape}, {v.shape}")
    B, T = alpha.shape
    nnz = pattern.nnz
    kappa, rows, cols = _device_constants(cp, pattern, ("torus", np.dtype(dtype).name), lambda: (
        cp.asarray(pattern.kappa, dtype=dtype), cp.asarray(pattern.rows, dtype=cp.int64),
        cp.asarray(pattern.cols, dtype=cp.int64)))
    out_K = cp.empty((B, nnz), dtype=cdtype)
    out_M = cp.empty((B, nnz), dtype=cdtype)
    has_decay = decay is not None
    if has_decay:
        decay = _real(cp, decay, "decay", dtype)
        if decay.shape != (nnz,):
            raise ManifoldSpecError(f"decay: expected shape ({nnz},) (one factor per pattern entry), got {decay.shape}")
    has_state = state is not None
    if has_state:
        if len(state) != 2:
            raise ManifoldSpecError("state: expected a pair (dK, dM) of complex (B, nnz) arrays")
        sK, sM = state
        for name, s in (("state[0]", sK), ("state[1]", sM)):
            if s.shape != (B, nnz):
                raise ManifoldSpecError(f"{name}: expected shape ({B}, {nnz}), got {s.shape}")
            _finite(cp, s, name)
        sK = cp.ascontiguousarray(sK, dtype=cdtype)
        sM = cp.ascontiguousarray(sM, dtype=cdtype)
    if B == 0 or nnz == 0:
        return out_K, out_M
    sigma = pattern.sigma
    c0 = (2 * math.pi * sigma**2) ** (n / 2) / pattern.volume
    kern = loader.get_kernel("torus", "torus_stream", np.dtype(dtype).name, n)
    grid = ((nnz + loader.TORUS_BLOCK - 1) // loader.TORUS_BLOCK, min(B, _MAX_GRID_Y))
    kern(grid, (loader.TORUS_BLOCK,), (
        alpha, mu, v, kappa, rows, cols,
        decay if has_decay else out_K, np.int32(has_decay),  # unused pointers alias the output; never read
        sK if has_state else out_K, sM if has_state else out_M, np.int32(has_state),
        dtype(c0), dtype(0.5 * sigma**2), np.int64(B), np.int64(T), np.int64(nnz), out_K, out_M))
    return out_K, out_M


def fe_elements(pattern, phi, dofs, local_K, local_M=None, ptr=None, touched=None):
    """Finite-element H_mk contributions on the GPU (see :mod:`manifoldspec.gpu.reference`).

    Returns real (B, nnz) cupy arrays (dK, dM); dM is None without ``local_M``.
    """
    cp = loader.require_cupy()
    dtype = _compute_dtype(phi, local_K, local_M)
    phi = _real(cp, phi, "phi", dtype)
    if phi.ndim != 2:
        raise ManifoldSpecError(f"phi: expected a 2-d array (ndof, K), got shape {phi.shape}")
    ndof, K = phi.shape
    local_K = _real(cp, local_K, "local_K", dtype)
    if local_K.ndim != 3 or local_K.shape[1] != local_K.shape[2]:
        raise ManifoldSpecError(f"local_K: expected shape (E, n_loc, n_loc), got {local_K.shape}")
    E, nloc = local_K.shape[:2]
    if nloc not in loader.FE_NLOCS:
        raise ManifoldSpecError(f"local_K: the GPU kernel supports n_loc in {loader.FE_NLOCS}, got {nloc}; "
                                "use numpy inputs for the CPU path")
    if local_M is not None:
        local_M = _real(cp, local_M, "local_M", dtype)
        if local_M.shape != local_K.shape:
            raise ManifoldSpecError(f"local_M: expected shape {local_K.shape}, got {local_M.shape}")
    dofs = _index(cp, dofs, "dofs", ndof, shape=(E, nloc))
    if (ptr is None) != (touched is None):
        raise ManifoldSpecError("ptr, touched: give both (CSR list of contributions per batch) or neither (one batch)")
    if ptr is None:
        ptr, touched = cp.asarray([0, E], dtype=cp.int64), cp.arange(E, dtype=cp.int64)
    touched = _index(cp, touched, "touched", E)
    if ptr.ndim != 1 or ptr.dtype.kind not in "iu" or len(ptr) < 1:
        raise ManifoldSpecError(f"ptr: expected a 1-d integer array (B+1,), got {ptr.dtype} {ptr.shape}")
    ptr = cp.ascontiguousarray(ptr, dtype=cp.int64)
    if int(ptr[0]) != 0 or int(ptr[-1]) != len(touched) or bool((cp.diff(ptr) < 0).any()):
        raise ManifoldSpecError(f"ptr: expected non-decreasing offsets (B+1,) from 0 to len(touched) = {len(touched)}")
    rows, cols = _device_constants(cp, pattern, ("fe",), lambda: (
        cp.asarray(pattern.rows, dtype=cp.int64), cp.asarray(pattern.cols, dtype=cp.int64)))
    if len(rows) and (int(rows.max()) >= K or int(cols.max()) >= K):
        raise ManifoldSpecError(f"pattern: mode indices must be < K = {K} (columns of phi)")
    B, nnz = len(ptr) - 1, len(rows)
    out_K = cp.zeros((B, nnz), dtype=dtype)
    out_M = cp.zeros((B, nnz), dtype=dtype) if local_M is not None else None
    if B == 0 or nnz == 0:
        return out_K, out_M
    kern = loader.get_kernel("fe", "fe_elements", np.dtype(dtype).name, nloc)
    grid = ((nnz + loader.FE_BLOCK - 1) // loader.FE_BLOCK, min(B, _MAX_GRID_Y))
    kern(grid, (loader.FE_BLOCK,), (
        phi, np.int64(K), dofs, local_K, local_M if local_M is not None else local_K, np.int32(local_M is not None),
        ptr, touched, rows, cols, np.int64(B), np.int64(nnz), out_K, out_M if out_M is not None else out_K))
    return out_K, out_M
