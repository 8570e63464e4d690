"""CPU check of the kernel math: the __host__ __device__ helpers of cuda/*.cu built with a host
C++ compiler and driven block-by-block like the kernels, compared with the numpy references.

This runs the exact tile-loading and per-entry update code the GPU runs (not the __global__
wrappers, whose only extra logic is the grid/thread indexing and __syncthreads). Tiles are
made small (-DMS_TORUS_BLOCK=8, -DMS_FE_TILE=3) so that tile boundaries are crossed with
small inputs. Skipped without a C++ compiler.
"""
import math
import shutil
import subprocess

import numpy as np
import pytest

from manifoldspec.gpu import fe_matrix_elements_loop
from manifoldspec.gpu.loader import kernel_path
from manifoldspec.spectral.torus_sparse import accumulate_torus_elements, flow_decay, stream_torus_elements
from test_gpu_cases import (TOL, assert_close, duplicate_tokens, fe_case, random_tokens, seam_tokens, sub_pattern,
                            torus_case)

CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(CXX is None, reason="no host C++ compiler")

HARNESS = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <vector>
#define __host__
#define __device__
#define __forceinline__ inline
#include "torus_elements.cu"
#include "fe_elements.cu"

static std::string dir;
template <class T> std::vector<T> rd(const char* name, long long n) {
    std::vector<T> a(n > 0 ? n : 1);
    if (n <= 0) return a;
    FILE* f = fopen((dir + "/" + name).c_str(), "rb");
    if (!f) { fprintf(stderr, "missing %s\n", name); exit(3); }
    if (n > 0 && fread(a.data(), sizeof(T), n, f) != (size_t)n) { fprintf(stderr, "short %s\n", name); exit(3); }
    fclose(f);
    return a;
}
template <class T> void wr(const char* name, const std::vector<T>& a, long long n) {
    FILE* f = fopen((dir + "/" + name).c_str(), "wb");
    if (n > 0) fwrite(a.data(), sizeof(T), n, f);
    fclose(f);
}

// Same loop structure as the torus_stream kernel, one "thread" at a time.
template <typename R, int N>
void torus(long long B, long long T, long long nnz, long long K, int has_decay, int has_state, double c0, double hs2) {
    auto alpha = rd<R>("alpha", B * T), mu = rd<R>("mu", B * T * N), v = rd<R>("v", B * T * N);
    auto kappa = rd<R>("kappa", K * N), decay = rd<R>("decay", has_decay ? nnz : 0);
    auto rows = rd<long long>("rows", nnz), cols = rd<long long>("cols", nnz);
    auto sK = rd<R>("state_K", has_state ? 2 * B * nnz : 0), sM = rd<R>("state_M", has_state ? 2 * B * nnz : 0);
    std::vector<R> oK(2 * B * nnz + 1), oM(2 * B * nnz + 1), tile(MS_TORUS_BLOCK * TorusSlot<N>::size);
    std::vector<TorusEntry<R, N>> en(nnz + 1);
    for (long long e = 0; e < nnz; ++e) torus_entry_init<R, N>(kappa.data(), rows[e], cols[e], (R)c0, (R)hs2, en[e]);
    for (long long b = 0; b < B; ++b) {
        std::vector<R> acc(4 * nnz + 1, 0);
        for (long long e = 0; e < nnz && has_state; ++e) {
            long long o = 2 * (b * nnz + e);
            acc[4 * e] = sK[o]; acc[4 * e + 1] = sK[o + 1]; acc[4 * e + 2] = sM[o]; acc[4 * e + 3] = sM[o + 1];
        }
        for (long long t0 = 0; t0 < T; t0 += MS_TORUS_BLOCK) {
            int ntok = (int)(T - t0 < MS_TORUS_BLOCK ? T - t0 : MS_TORUS_BLOCK);
            torus_load_tile<R, N>(alpha.data(), mu.data(), v.data(), b, T, t0, ntok, 0, 1, tile.data());
            for (long long e = 0; e < nnz; ++e)
                torus_entry_update<R, N>(en[e], tile.data(), ntok, has_decay ? decay[e] : (R)1, has_decay != 0,
                                         acc[4 * e], acc[4 * e + 1], acc[4 * e + 2], acc[4 * e + 3]);
        }
        for (long long e = 0; e < nnz; ++e) {
            long long o = 2 * (b * nnz + e);
            oK[o] = acc[4 * e]; oK[o + 1] = acc[4 * e + 1]; oM[o] = acc[4 * e + 2]; oM[o + 1] = acc[4 * e + 3];
        }
    }
    wr("out_K", oK, 2 * B * nnz);
    wr("out_M", oM, 2 * B * nnz);
}

// Same loop structure as the fe_elements kernel.
template <typename R, int NLOC>
void fe(long long ndof, long long K, long long E, long long B, long long nt, long long nnz, int has_M) {
    auto phi = rd<R>("phi", ndof * K), lK = rd<R>("local_K", E * NLOC * NLOC), lM = rd<R>("local_M", has_M ? E * NLOC * NLOC : 0);
    auto dofs = rd<long long>("dofs", E * NLOC), ptr = rd<long long>("ptr", B + 1), touched = rd<long long>("touched", nt);
    auto rows = rd<long long>("rows", nnz), cols = rd<long long>("cols", nnz);
    std::vector<long long> s_dofs(MS_FE_TILE * NLOC);
    std::vector<R> s_K(MS_FE_TILE * NLOC * NLOC), s_M(MS_FE_TILE * NLOC * NLOC), oK(B * nnz + 1), oM(B * nnz + 1);
    for (long long b = 0; b < B; ++b) {
        long long first = ptr[b], count = ptr[b + 1] - ptr[b];
        std::vector<R> aK(nnz + 1, 0), aM(nnz + 1, 0);
        for (long long c0 = 0; c0 < count; c0 += MS_FE_TILE) {
            int ntile = (int)(count - c0 < MS_FE_TILE ? count - c0 : MS_FE_TILE);
            fe_load_tile<R, NLOC>(dofs.data(), lK.data(), lM.data(), has_M, touched.data(), first + c0, ntile, 0, 1,
                                  s_dofs.data(), s_K.data(), s_M.data());
            for (long long p = 0; p < nnz; ++p)
                fe_entry_update<R, NLOC>(phi.data(), K, rows[p], cols[p], s_dofs.data(), s_K.data(), s_M.data(), has_M,
                                         ntile, aK[p], aM[p]);
        }
        for (long long p = 0; p < nnz; ++p) { oK[b * nnz + p] = aK[p]; oM[b * nnz + p] = aM[p]; }
    }
    wr("out_K", oK, B * nnz);
    wr("out_M", oM, B * nnz);
}

int main(int argc, char** argv) {
    dir = argv[1];
    bool f32 = !strcmp(argv[3], "f32");
    long long a[8];
    for (int i = 0; i < 8; ++i) a[i] = atoll(argv[4 + i]);
    int n = (int)a[7];
    if (!strcmp(argv[2], "torus")) {
        double c0 = atof(argv[12]), hs2 = atof(argv[13]);
#define T_(R, N) if (n == N) { torus<R, N>(a[0], a[1], a[2], a[3], (int)a[4], (int)a[5], c0, hs2); return 0; }
        if (f32) { T_(float, 1) T_(float, 2) T_(float, 3) T_(float, 4) } else { T_(double, 1) T_(double, 2) T_(double, 3) T_(double, 4) }
    } else {
#define F_(R, L) if (n == L) { fe<R, L>(a[0], a[1], a[2], a[3], a[4], a[5], (int)a[6]); return 0; }
        if (f32) { F_(float, 3) F_(float, 6) } else { F_(double, 3) F_(double, 6) }
    }
    return 2;
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    d = tmp_path_factory.mktemp("harness")
    src = d / "harness.cpp"
    src.write_text(HARNESS)
    exe = d / "harness"
    cuda_dir = kernel_path("torus_elements.cu").parent
    cmd = [CXX, "-O2", "-std=c++14", "-DMS_TORUS_BLOCK=8", "-DMS_FE_TILE=3", f"-I{cuda_dir}", str(src), "-o", str(exe), "-lm"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return exe, d


def _run(harness, tag, files: dict, ints, extra=()):
    exe, d = harness
    work = d / tag
    work.mkdir(exist_ok=True)
    for name, a in files.items():
        np.ascontiguousarray(a).tofile(work / name)
    res = subprocess.run([str(exe), str(work), *[str(x) for x in ints], *[repr(float(x)) for x in extra]],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return work


def host_torus(harness, pattern, alpha, mu, v, decay=None, state=None, dtype=np.float64):
    B, T = alpha.shape
    n = pattern.kappa.shape[1]
    nnz, K = pattern.nnz, pattern.n_modes
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    files = dict(alpha=alpha.astype(dtype), mu=mu.astype(dtype), v=v.astype(dtype), kappa=pattern.kappa.astype(dtype),
                 rows=pattern.rows, cols=pattern.cols)
    if decay is not None:
        files["decay"] = np.asarray(decay, dtype)
    if state is not None:
        files["state_K"], files["state_M"] = (np.asarray(s, cdt) for s in state)
    tag = "torus_" + ("f32" if dtype == np.float32 else "f64")
    c0 = (2 * math.pi * pattern.sigma**2) ** (n / 2) / pattern.volume
    work = _run(harness, tag, files, ["torus", "f32" if dtype == np.float32 else "f64", B, T, nnz, K,
                                      int(decay is not None), int(state is not None), 0, n], (c0, 0.5 * pattern.sigma**2))
    out = [np.fromfile(work / f, dtype=cdt).reshape(B, nnz) for f in ("out_K", "out_M")]
    return out[0], out[1]


def host_fe(harness, pattern, phi, dofs, local_K, local_M, ptr, touched, dtype=np.float64):
    ndof, K = phi.shape
    E, nloc = dofs.shape
    B, nnz = len(ptr) - 1, pattern.nnz
    files = dict(phi=phi.astype(dtype), local_K=local_K.astype(dtype), dofs=dofs.astype(np.int64),
                 ptr=np.asarray(ptr, np.int64), touched=np.asarray(touched, np.int64), rows=pattern.rows, cols=pattern.cols)
    if local_M is not None:
        files["local_M"] = local_M.astype(dtype)
    work = _run(harness, "fe", files, ["fe", "f32" if dtype == np.float32 else "f64", ndof, K, E, B, len(touched), nnz,
                                       int(local_M is not None), nloc])
    return [np.fromfile(work / f, dtype=dtype).reshape(B, nnz) for f in ("out_K", "out_M")]


TOKENS = {"random": random_tokens, "seam": seam_tokens, "duplicate": duplicate_tokens}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", sorted(TOKENS))
@pytest.mark.parametrize("n,B,T", [(2, 3, 21), (3, 1, 1), (1, 2, 10)], ids=["n2-B3-T21", "n3-B1-T1", "n1-B2-T10"])
def test_torus_host_matches_reference(harness, rng, dtype, kind, n, B, T):
    lengths = [2 * np.pi, 5.0, 3.0][:n]
    _, _, pat = torus_case(lengths, 23, sigma=0.6)
    pat = sub_pattern(pat, min(pat.nnz, 131), rng)  # not a multiple of any block size
    alpha, mu, v = TOKENS[kind](rng, B, T + (T % 2 if kind == "duplicate" else 0), np.asarray(lengths), dtype)
    dK, dM = host_torus(harness, pat, alpha, mu, v, dtype=dtype)
    rK, rM = accumulate_torus_elements(pat, alpha, mu, v)  # float64 reference on the same (rounded) inputs
    assert_close(dK, rK, TOL[dtype], "dK")
    assert_close(dM, rM, TOL[dtype], "dM")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_torus_host_stream_with_decay_and_state(harness, rng, dtype):
    lengths = np.array([2 * np.pi, 4.0])
    _, _, pat = torus_case(lengths, 17, sigma=0.5)
    alpha, mu, v = random_tokens(rng, 2, 19, lengths, dtype)
    D = flow_decay(pat, 0.05)
    state = tuple((rng.normal(size=(2, pat.nnz)) + 1j * rng.normal(size=(2, pat.nnz))).astype(
        np.complex64 if dtype == np.float32 else np.complex128) for _ in range(2))
    dK, dM = host_torus(harness, pat, alpha, mu, v, decay=D.astype(dtype), state=state, dtype=dtype)
    rK, rM = stream_torus_elements(pat, alpha, mu, v, D.astype(dtype), state)
    assert_close(dK, rK, TOL[dtype], "dK")
    assert_close(dM, rM, TOL[dtype], "dM")


def test_torus_host_empty_sequence_returns_state(harness, rng):
    lengths = np.array([2 * np.pi, 2 * np.pi])
    _, _, pat = torus_case(lengths, 9, sigma=0.5)
    alpha, mu, v = random_tokens(rng, 2, 0, lengths)
    state = tuple(rng.normal(size=(2, pat.nnz)) + 1j * rng.normal(size=(2, pat.nnz)) for _ in range(2))
    dK, dM = host_torus(harness, pat, alpha, mu, v, decay=flow_decay(pat, 0.1), state=state)
    np.testing.assert_array_equal(dK, state[0])
    np.testing.assert_array_equal(dM, state[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("nloc,nnz", [(3, None), (3, 61), (6, 97)], ids=["p1-dense", "p1-nnz61", "nloc6-nnz97"])
def test_fe_host_matches_loop(harness, rng, dtype, nloc, nnz):
    pattern, phi, dofs, lK, lM, ptr, touched = fe_case(rng, nloc=nloc, nnz=nnz, B=3)
    args = (phi.astype(dtype), dofs, lK.astype(dtype), lM.astype(dtype), ptr, touched)
    dK, dM = host_fe(harness, pattern, *args, dtype=dtype)
    rK, rM = fe_matrix_elements_loop(pattern, *args)
    assert_close(dK, rK, TOL[dtype], "dK")
    assert_close(dM, rM, TOL[dtype], "dM")
    assert np.all(dK[1] == 0) and np.all(dM[1] == 0)  # the empty batch
