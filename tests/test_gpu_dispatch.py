"""CPU behaviour of the public GPU functions: numpy / torch-CPU dispatch equals the references
(and independent closed forms), the FE vectorized path equals the plain loop, bad input is refused."""
import numpy as np
import pytest
import scipy.sparse as sp

import manifoldspec.gpu as mg
from manifoldspec import ManifoldSpecError
from manifoldspec.spectral import torus_sparse as ts
from manifoldspec.spectral.torus_modes import torus_matrix_elements
from test_gpu_cases import assert_close, fe_case, random_tokens, seam_tokens, torus_case


@pytest.fixture
def torus(rng):
    modes, L, pat = torus_case([2 * np.pi, 5.0], 21, sigma=0.7)
    return modes, L, pat, random_tokens(rng, 3, 11, L)


def test_numpy_accumulate_equals_reference_and_closed_form(torus):
    modes, L, pat, (alpha, mu, v) = torus
    dK, dM = mg.accumulate_torus_elements(pat, alpha, mu, v)
    # the CPU path is the BLAS form (dense pattern here): equal to the elementwise reference to rounding
    for got, want in zip((dK, dM), ts.accumulate_gemm(pat, alpha, mu, v)):
        np.testing.assert_array_equal(got, want)
    rK, rM = ts.accumulate_torus_elements(pat, alpha, mu, v)
    assert_close(dK, rK, 1e-13, "dK vs reference")
    assert_close(dM, rM, 1e-13, "dM vs reference")
    for b in range(3):  # independent dense closed form, sampled on the pattern
        K, M = torus_matrix_elements(modes, L, alpha[b], mu[b], v[b], pat.sigma)
        assert_close(dK[b], K[pat.rows, pat.cols], 1e-13, "dK")
        assert_close(dM[b], M[pat.rows, pat.cols], 1e-13, "dM")


def test_numpy_stream_equals_reference(torus, rng):
    modes, L, pat, (alpha, mu, v) = torus
    D = ts.flow_decay(pat, 0.03)
    state = tuple(rng.normal(size=(3, pat.nnz)) + 1j * rng.normal(size=(3, pat.nnz)) for _ in range(2))
    got = mg.stream_torus_elements(pat, alpha, mu, v, D, state)
    ref = ts.stream_torus_elements(pat, alpha, mu, v, D, state)
    for g, r in zip(got, ref):
        np.testing.assert_array_equal(g, r)


def test_seam_tokens_are_periodic(rng):
    """μ on the seam and μ + L give the same elements (exp(i q·L) = 1): an oracle, not a recorded value."""
    modes, L, pat = torus_case([2 * np.pi, 3.0], 15, sigma=0.5)
    alpha, mu, v = seam_tokens(rng, 2, 9, L)
    a = mg.accumulate_torus_elements(pat, alpha, mu, v)
    b = mg.accumulate_torus_elements(pat, alpha, mu - 2 * L, v)
    for x, y in zip(a, b):
        assert_close(x, y, 1e-12, "periodic shift")


def test_torch_cpu_returns_torch_and_matches(torus, rng):
    torch = pytest.importorskip("torch")
    modes, L, pat, (alpha, mu, v) = torus
    D = ts.flow_decay(pat, 0.1)
    state = tuple(rng.normal(size=(3, pat.nnz)) + 0j for _ in range(2))
    t = [torch.from_numpy(a) for a in (alpha, mu, v)]
    dK, dM = mg.stream_torus_elements(pat, *t, torch.from_numpy(D), tuple(torch.from_numpy(s) for s in state))
    assert isinstance(dK, torch.Tensor) and dK.dtype == torch.complex128
    rK, rM = ts.stream_torus_elements(pat, alpha, mu, v, D, state)
    np.testing.assert_array_equal(dK.numpy(), rK)
    np.testing.assert_array_equal(dM.numpy(), rM)
    aK, _ = mg.accumulate_torus_elements(pat, *t)
    np.testing.assert_array_equal(aK.numpy(), mg.accumulate_torus_elements(pat, alpha, mu, v)[0])
    assert_close(aK.numpy(), ts.accumulate_torus_elements(pat, alpha, mu, v)[0], 1e-13, "torch CPU vs reference")


def test_torch_requiring_grad_is_refused_not_silently_detached(torus):
    torch = pytest.importorskip("torch")
    modes, L, pat, (alpha, mu, v) = torus
    a = torch.from_numpy(alpha).requires_grad_()
    with pytest.raises(ManifoldSpecError, match="alpha: requires grad"):
        mg.accumulate_torus_elements(pat, a, torch.from_numpy(mu), torch.from_numpy(v))
    with torch.no_grad():
        dK, _ = mg.accumulate_torus_elements(pat, a, torch.from_numpy(mu), torch.from_numpy(v))
    assert dK.shape == (3, pat.nnz)


def test_mixed_array_kinds_are_refused(torus):
    torch = pytest.importorskip("torch")
    modes, L, pat, (alpha, mu, v) = torus
    with pytest.raises(ManifoldSpecError, match="all inputs must be of one kind"):
        mg.accumulate_torus_elements(pat, alpha, torch.from_numpy(mu), v)


def test_bad_torus_inputs(torus):
    modes, L, pat, (alpha, mu, v) = torus
    with pytest.raises(ManifoldSpecError, match="pattern: expected a TorusPattern"):
        mg.accumulate_torus_elements((pat.rows, pat.cols), alpha, mu, v)
    with pytest.raises(ManifoldSpecError, match="state: expected a pair"):
        mg.stream_torus_elements(pat, alpha, mu, v, state=np.zeros((3, pat.nnz)))
    with pytest.raises(ManifoldSpecError, match="mu"):
        mg.accumulate_torus_elements(pat, alpha, mu[..., :1], v)


# ---------------------------------------------------------------- finite-element path

FE_CASES = {
    "p1-dense-B3": dict(nloc=3, B=3),
    "p1-nnz131-B1": dict(nloc=3, B=1, K=17, nnz=131),
    "nloc6-nnz97-B4": dict(nloc=6, B=4, nnz=97),
    "p1-B0": dict(nloc=3, B=0),
}


@pytest.mark.parametrize("case", sorted(FE_CASES))
def test_fe_vectorized_equals_loop(rng, case):
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, **FE_CASES[case])
    got = mg.fe_matrix_elements(pattern, phi, dofs, lK, lM, ptr, touched)  # numpy dispatch -> vectorized
    ref = mg.fe_matrix_elements_loop(pattern, phi, dofs, lK, lM, ptr, touched)
    for g, r in zip(got, ref):
        assert g.shape == (len(ptr) - 1, pattern.nnz)
        assert_close(g, r, 1e-13)
    small = mg.fe_matrix_elements_numpy(pattern, phi, dofs, lK, lM, ptr, touched, chunk_bytes=1)  # one per chunk
    assert_close(small[0], ref[0], 1e-13)


def test_fe_loop_equals_projected_global_matrix(rng):
    """Oracle: Φ0ᵀ (Σ_c scatter L_c) Φ0, assembled globally with scipy, sampled on the pattern."""
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=3, B=3)
    dK, dM = mg.fe_matrix_elements_loop(pattern, phi, dofs, lK, lM, ptr, touched)
    ndof = phi.shape[0]
    for b in range(3):
        ids = touched[ptr[b]:ptr[b + 1]]
        r = np.repeat(dofs[ids], 3, axis=1).ravel()
        c = np.tile(dofs[ids], (1, 3)).ravel()
        for got, loc in ((dK, lK), (dM, lM)):
            G = sp.coo_matrix((loc[ids].ravel(), (r, c)), shape=(ndof, ndof)).toarray()
            full = phi.T @ G @ phi
            assert_close(got[b], full[pattern.rows, pattern.cols], 1e-13)
            assert_close(pattern.to_dense(got[b]), np.where(pattern.to_dense(np.ones(pattern.nnz)) > 0, full, 0), 1e-13)


def test_fe_defaults_to_one_batch_and_optional_mass(rng):
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=3, B=2)
    dK, dM = mg.fe_matrix_elements(pattern, phi, dofs, lK)
    assert dM is None and dK.shape == (1, pattern.nnz)
    ref, _ = mg.fe_matrix_elements_loop(pattern, phi, dofs, lK, None, [0, len(dofs)], np.arange(len(dofs)))
    assert_close(dK, ref, 1e-13)


def test_fe_torch_cpu(rng):
    torch = pytest.importorskip("torch")
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=3, B=3)
    args = [torch.from_numpy(np.asarray(a)) for a in (phi, dofs, lK, lM, ptr, touched)]
    dK, dM = mg.fe_matrix_elements(pattern, *args)
    ref = mg.fe_matrix_elements_loop(pattern, phi, dofs, lK, lM, ptr, touched)
    assert isinstance(dK, torch.Tensor)
    assert_close(dK.numpy(), ref[0], 1e-13)
    assert_close(dM.numpy(), ref[1], 1e-13)


@pytest.mark.parametrize("change,match", [
    (dict(ptr="decreasing"), "ptr: expected non-decreasing"),
    (dict(touched=None), "give both"),
    (dict(dofs="oob"), r"dofs: values must lie in \[0, 41\)"),
    (dict(touched="oob"), r"touched: values must lie in \[0, 37\)"),
    (dict(local_K="nan"), "local_K: contains 1 NaN"),
    (dict(pattern="oob"), r"rows: expected integers in \[0, 13\)"),
])
def test_fe_bad_inputs(rng, change, match):
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=3, B=2)
    kw = dict(pattern=pattern, phi=phi, dofs=dofs, local_K=lK, local_M=lM, ptr=ptr, touched=touched)
    for k, val in change.items():
        if val is None:
            pass
        elif val == "oob" and k == "pattern":
            val = mg.ModePairs(pattern.rows + 1, pattern.cols, pattern.n_modes)
        elif val == "oob":
            val = kw[k].copy()
            val.flat[0] = 10**6
        elif val == "nan":
            val = kw[k].copy()
            val.flat[0] = np.nan
        elif val == "decreasing":
            val = np.array([0, len(touched) + 1, len(touched)])
        kw[k] = val
    with pytest.raises(ManifoldSpecError, match=match):
        mg.fe_matrix_elements(**kw)
