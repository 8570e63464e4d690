"""The cupy launchers without a GPU: a numpy-backed stand-in for cupy whose "kernels" check every
argument against the C signature parsed from cuda/*.cu (count, order, pointer dtypes, scalar
widths, grid covering nnz) and then evaluate the kernel's contract from the named arguments
with an independent numpy formula. This catches marshalling mistakes (argument order, wrong
constants, int32 vs int64) that only a GPU run would otherwise reveal."""
import re
import sys
import types

import numpy as np
import pytest

from manifoldspec.gpu import fe_matrix_elements_loop, launch, loader
from manifoldspec.spectral import torus_sparse as ts
from test_gpu_cases import assert_close, fe_case, random_tokens, sub_pattern, torus_case


def _signature(filename, kernel):
    src = loader.kernel_path(filename).read_text()
    m = re.search(rf"__global__ void __launch_bounds__\(\w+\)\s*{kernel}\((.*?)\)\s*{{", src, re.S)
    params = []
    for p in m.group(1).split(","):
        p = " ".join(p.replace("__restrict__", "").split())
        typ, name = p.rsplit(" ", 1)
        if name.startswith("*"):
            typ, name = typ + "*", name[1:]
        params.append((typ.replace("const ", "").replace(" *", "*"), name))
    return params


def _check_args(params, args, R):
    assert len(args) == len(params), f"{len(args)} arguments for {len(params)} parameters"
    named = {}
    for (typ, name), a in zip(params, args):
        if typ.endswith("*"):
            base = typ[:-1].strip()
            assert isinstance(a, np.ndarray) and a.flags.c_contiguous, f"{name}: not a contiguous array"
            want = np.int64 if base == "long long" else R
            got = a.dtype if a.dtype.kind != "c" else np.dtype(a.real.dtype)
            assert got == want, f"{name}: dtype {a.dtype} for {typ}"
        else:
            want = {"int": np.int32, "long long": np.int64, "R": R}[typ]
            assert type(a) is want, f"{name}: {type(a).__name__} for {typ}"
        named[name] = a
    return named


def _torus_contract(a, R):
    """Independent numpy evaluation of torus_stream from its named arguments (writes out_K, out_M)."""
    B, T, nnz = int(a["B"]), int(a["T"]), int(a["nnz"])
    kap = a["kappa"].reshape(-1, a["mu"].shape[-1]).astype(float)
    kr, kc = kap[a["rows"]], kap[a["cols"]]
    pref = float(a["c0"]) * np.exp(-float(a["half_s2"]) * np.sum((kc - kr) ** 2, 1))
    HK = a["state_K"].astype(complex) if a["has_state"] else np.zeros((B, nnz), complex)
    HM = a["state_M"].astype(complex) if a["has_state"] else np.zeros((B, nnz), complex)
    D = a["decay"].astype(float) if a["has_decay"] else 1.0
    for t in range(T):
        al, mu, v = a["alpha"][:, t, None], a["mu"][:, t].astype(float), a["v"][:, t].astype(float)
        ph = np.exp(1j * mu @ (kc - kr).T)
        hv2 = 0.5 * np.sum(v**2, 1)[:, None]
        HK = D * HK + al * pref * (hv2 * np.sum(kr * kc, 1) - (v @ kr.T) * (v @ kc.T)) * ph
        HM = D * HM + al * pref * hv2 * ph
    a["out_K"][...] = HK
    a["out_M"][...] = HM


def _fe_contract(a, R, nloc):
    phi = a["phi"].astype(float)
    B, nnz = int(a["B"]), int(a["nnz"])
    outs = [np.zeros((B, nnz)), np.zeros((B, nnz))]
    for b in range(B):
        for c in a["touched"][a["ptr"][b]:a["ptr"][b + 1]]:
            P = phi[a["dofs"][c]]
            outs[0][b] += np.einsum("ip,ij,jp->p", P[:, a["rows"]], a["local_K"][c], P[:, a["cols"]])
            if a["has_M"]:
                outs[1][b] += np.einsum("ip,ij,jp->p", P[:, a["rows"]], a["local_M"][c], P[:, a["cols"]])
    a["out_K"][...] = outs[0]
    if a["has_M"]:
        a["out_M"][...] = outs[1]


@pytest.fixture
def fake_cupy(monkeypatch):
    launches = []
    sigs = {"torus_stream": _signature("torus_elements.cu", "torus_stream"),
            "fe_elements": _signature("fe_elements.cu", "fe_elements")}
    blocks = {"torus_stream": loader.TORUS_BLOCK, "fe_elements": loader.FE_BLOCK}

    class Kernel:
        def __init__(self, expr):
            self.kernel, rest = expr.split("<")
            ctype, n = rest.rstrip(">").split(",")
            self.R, self.n = {"double": np.float64, "float": np.float32}[ctype.strip()], int(n)

        def __call__(self, grid, block, args):
            named = _check_args(sigs[self.kernel], args, self.R)
            assert block == (blocks[self.kernel],)
            assert grid[0] * block[0] >= named["nnz"] > (grid[0] - 1) * block[0]
            assert 1 <= grid[1] <= min(int(named["B"]), 65535)
            launches.append(self.kernel)
            if self.kernel == "torus_stream":
                named["alpha"] = named["alpha"].reshape(int(named["B"]), int(named["T"]))
                named["mu"] = named["mu"].reshape(int(named["B"]), int(named["T"]), self.n)
                named["v"] = named["v"].reshape(named["mu"].shape)
                _torus_contract(named, self.R)
            else:
                named["local_K"] = named["local_K"].reshape(-1, self.n, self.n)
                named["local_M"] = named["local_M"].reshape(-1, self.n, self.n)
                named["dofs"] = named["dofs"].reshape(-1, self.n)
                _fe_contract(named, self.R, self.n)

    class RawModule:
        def __init__(self, code, options=(), name_expressions=()):
            self.exprs = name_expressions

        def compile(self):
            pass

        def get_function(self, expr):
            assert expr in self.exprs
            return Kernel(expr)

    cp = types.ModuleType("cupy")
    for name in dir(np):
        if not name.startswith("_"):
            setattr(cp, name, getattr(np, name))
    cp.RawModule = RawModule
    cp.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
                                    Device=lambda i=None: types.SimpleNamespace(id=0))
    monkeypatch.setitem(sys.modules, "cupy", cp)
    loader.clear_cache()
    yield launches
    loader.clear_cache()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("decay,state", [(False, False), (True, True)], ids=["sum", "stream"])
def test_torus_launch_contract(fake_cupy, rng, dtype, decay, state):
    _, L, pat = torus_case([2 * np.pi, 5.0, 3.0], 30, 0.6)
    pat = sub_pattern(pat, 131, rng)
    alpha, mu, v = random_tokens(rng, 3, 7, L, dtype)
    cd = np.complex64 if dtype == np.float32 else np.complex128
    D = ts.flow_decay(pat, 0.05).astype(dtype) if decay else None
    S = tuple((rng.normal(size=(3, pat.nnz)) + 1j).astype(cd) for _ in range(2)) if state else None
    dK, dM = launch.torus_stream(pat, alpha, mu, v, D, S)
    assert fake_cupy == ["torus_stream"] and dK.dtype == cd
    rK, rM = ts.stream_torus_elements(pat, alpha, mu, v, D, S)
    assert_close(dK, rK, 1e-12 if dtype == np.float64 else 1e-5)
    assert_close(dM, rM, 1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("nloc,with_M", [(3, True), (6, False)])
def test_fe_launch_contract(fake_cupy, rng, nloc, with_M):
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=nloc, B=3, nnz=129)
    lM = lM if with_M else None
    dK, dM = launch.fe_elements(pattern, phi, dofs.astype(np.int32), lK, lM, ptr, touched)
    rK, rM = fe_matrix_elements_loop(pattern, phi, dofs, lK, lM, ptr, touched)
    assert fake_cupy == ["fe_elements"]
    assert_close(dK, rK, 1e-12)
    assert (dM is None) == (not with_M)
    if with_M:
        assert_close(dM, rM, 1e-12)


def test_launch_skips_empty_grids(fake_cupy, rng):
    _, L, pat = torus_case([2 * np.pi, 2 * np.pi], 9, 0.5)
    dK, _ = launch.torus_stream(pat, *random_tokens(rng, 0, 4, L))
    assert dK.shape == (0, pat.nnz) and fake_cupy == []


def test_unsupported_sizes_are_refused(fake_cupy, rng):
    from manifoldspec import ManifoldSpecError

    _, L, pat = torus_case([1.0] * 5, 12, 0.5)
    with pytest.raises(ManifoldSpecError, match="torus dimensions"):
        launch.torus_stream(pat, *random_tokens(rng, 1, 2, L))
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=5, B=1)
    with pytest.raises(ManifoldSpecError, match="n_loc in"):
        launch.fe_elements(pattern, phi, dofs, lK, lM, ptr, touched)
