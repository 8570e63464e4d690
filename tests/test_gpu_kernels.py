"""CUDA kernels against the numpy references (marked gpu; skipped without cupy and a device).

Tolerances: 1e-12 (float64) and 1e-5 (float32), relative to the largest reference entry,
the reference being float64 numpy on the same (rounded) inputs. Cases: random, tokens on
the periodic seam, duplicate positions, one token, empty batch, empty sequence, nnz not a
multiple of the block size, B above the 65535 grid limit, contributions above one tile.
"""
import numpy as np
import pytest

import manifoldspec.gpu as mg
from manifoldspec import ManifoldSpecError
from manifoldspec.gpu import loader
from manifoldspec.spectral import torus_sparse as ts
from test_gpu_cases import (TOL, assert_close, duplicate_tokens, fe_case, random_tokens, seam_tokens, sub_pattern,
                            torus_case)

pytestmark = pytest.mark.gpu
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
TOKENS = {"random": random_tokens, "seam": seam_tokens, "duplicate": duplicate_tokens}


@pytest.fixture(scope="module")
def cp():
    try:
        return loader.require_cupy()
    except mg.GPUUnavailableError as exc:
        pytest.skip(str(exc))


def _np(x):
    return x.get() if hasattr(x, "get") else np.asarray(x)


def _pattern(rng, n, K=40, nnz=None, sigma=0.6):
    lengths = np.array([2 * np.pi, 5.0, 3.0, 4.0][:n])
    _, L, pat = torus_case(lengths, K, sigma)
    if nnz is not None:
        pat = sub_pattern(pat, min(nnz, pat.nnz), rng)
    return L, pat


@DTYPES
@pytest.mark.parametrize("kind", sorted(TOKENS))
@pytest.mark.parametrize("n,B,T,nnz", [(2, 3, 301, None), (2, 1, 1, 129), (1, 2, 130, 1), (3, 5, 64, 127),
                                       (4, 2, 33, 255)], ids=lambda x: str(x))
def test_torus_accumulate(cp, rng, dtype, kind, n, B, T, nnz):
    L, pat = _pattern(rng, n, nnz=nnz)
    alpha, mu, v = TOKENS[kind](rng, B, T + (T % 2 if kind == "duplicate" else 0), L, dtype)
    dK, dM = mg.accumulate_torus_elements(pat, *(cp.asarray(a) for a in (alpha, mu, v)))
    assert isinstance(dK, cp.ndarray)
    assert dK.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
    rK, rM = ts.accumulate_torus_elements(pat, alpha, mu, v)
    assert_close(_np(dK), rK, TOL[dtype], "dK")
    assert_close(_np(dM), rM, TOL[dtype], "dM")


@DTYPES
def test_torus_stream_decay_and_state(cp, rng, dtype):
    L, pat = _pattern(rng, 2, K=33)
    alpha, mu, v = random_tokens(rng, 3, 200, L, dtype)
    D = ts.flow_decay(pat, 0.02).astype(dtype)
    cd = np.complex64 if dtype == np.float32 else np.complex128
    state = tuple((rng.normal(size=(3, pat.nnz)) + 1j * rng.normal(size=(3, pat.nnz))).astype(cd) for _ in range(2))
    got = mg.stream_torus_elements(pat, *(cp.asarray(a) for a in (alpha, mu, v)), cp.asarray(D),
                                   tuple(cp.asarray(s) for s in state))
    ref = ts.stream_torus_elements(pat, alpha, mu, v, D, state)
    for g, r in zip(got, ref):
        assert_close(_np(g), r, TOL[dtype])


@pytest.mark.parametrize("B,T", [(0, 5), (3, 0)], ids=["empty-batch", "empty-sequence"])
def test_torus_empty(cp, rng, B, T):
    L, pat = _pattern(rng, 2, K=20)
    alpha, mu, v = random_tokens(rng, B, T, L)
    dK, dM = mg.accumulate_torus_elements(pat, *(cp.asarray(a) for a in (alpha, mu, v)))
    assert dK.shape == (B, pat.nnz) and not bool(cp.any(dK)) and not bool(cp.any(dM))


def test_torus_many_batches_beyond_grid_limit(cp, rng):
    L, pat = _pattern(rng, 2, K=9, nnz=3)
    alpha, mu, v = random_tokens(rng, 70001, 1, L)
    dK, _ = mg.accumulate_torus_elements(pat, *(cp.asarray(a) for a in (alpha, mu, v)))
    assert_close(_np(dK), ts.accumulate_torus_elements(pat, alpha, mu, v)[0], 1e-12)


def test_torus_deterministic(cp, rng):
    L, pat = _pattern(rng, 2)
    args = [cp.asarray(a) for a in random_tokens(rng, 2, 500, L)]
    a = mg.accumulate_torus_elements(pat, *args)[0]
    b = mg.accumulate_torus_elements(pat, *args)[0]
    assert bool(cp.all(a == b))


def test_torus_rejects_nan_on_device(cp, rng):
    L, pat = _pattern(rng, 2, K=9)
    alpha, mu, v = random_tokens(rng, 1, 4, L)
    mu[0, 2, 1] = np.nan
    with pytest.raises(ManifoldSpecError, match="mu: contains 1 NaN"):
        mg.accumulate_torus_elements(pat, *(cp.asarray(a) for a in (alpha, mu, v)))


@DTYPES
def test_torus_torch_cuda(cp, rng, dtype):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    L, pat = _pattern(rng, 2, nnz=200)
    alpha, mu, v = random_tokens(rng, 4, 150, L, dtype)
    t = [torch.from_numpy(a).cuda() for a in (alpha, mu, v)]
    dK, dM = mg.stream_torus_elements(pat, *t, torch.from_numpy(ts.flow_decay(pat, 0.1).astype(dtype)).cuda())
    assert isinstance(dK, torch.Tensor) and dK.is_cuda
    rK, rM = ts.stream_torus_elements(pat, alpha, mu, v, ts.flow_decay(pat, 0.1).astype(dtype))
    assert_close(dK.cpu().numpy(), rK, TOL[dtype], "dK")
    assert_close(dM.cpu().numpy(), rM, TOL[dtype], "dM")


FE = {"p1-B3": dict(nloc=3, B=3), "p1-one-batch-many": dict(nloc=3, B=1, E=90, nnz=131),
      "nloc4": dict(nloc=4, B=2, nnz=129), "nloc6": dict(nloc=6, B=4, nnz=97), "nloc10": dict(nloc=10, B=2, ndof=50),
      "p1-B0": dict(nloc=3, B=0)}


@DTYPES
@pytest.mark.parametrize("case", sorted(FE))
def test_fe_elements(cp, rng, dtype, case):
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, **FE[case])
    args = (phi.astype(dtype), dofs, lK.astype(dtype), lM.astype(dtype), ptr, touched)
    dK, dM = mg.fe_matrix_elements(pattern, *(cp.asarray(a) for a in args))
    assert isinstance(dK, cp.ndarray) and dK.dtype == dtype
    rK, rM = mg.fe_matrix_elements_loop(pattern, *args)
    assert_close(_np(dK), rK, TOL[dtype], "dK")
    assert_close(_np(dM), rM, TOL[dtype], "dM")


def test_fe_without_mass_and_torch(cp, rng):
    torch = pytest.importorskip("torch")
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=3, B=3)
    dK, dM = mg.fe_matrix_elements(pattern, *(cp.asarray(a) for a in (phi, dofs, lK)))
    assert dM is None
    assert_close(_np(dK), mg.fe_matrix_elements_loop(pattern, phi, dofs, lK)[0], 1e-12)
    if torch.cuda.is_available():
        t = [torch.from_numpy(np.asarray(a)).cuda() for a in (phi, dofs, lK, lM, ptr, touched)]
        tK, tM = mg.fe_matrix_elements(pattern, *t)
        ref = mg.fe_matrix_elements_loop(pattern, phi, dofs, lK, lM, ptr, touched)
        assert tK.is_cuda
        assert_close(tK.cpu().numpy(), ref[0], 1e-12)
        assert_close(tM.cpu().numpy(), ref[1], 1e-12)
