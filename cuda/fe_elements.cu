// Batched sparse H_mk on a finite-element base: token bumps touch a few elements, so
//   out[b, p] = Σ_{c ∈ touched(b)} Φ0[dofs_c, m_p]ᵀ · L_c · Φ0[dofs_c, k_p]
// for each pattern entry p = (m_p, k_p), with L_c the local δK (and δM) of contribution c.
//
// Layout (all C-contiguous, R = float or double):
//   phi (ndof, K) real, M-orthonormal base eigenvectors Φ0
//   dofs (E, NLOC) int64; local_K, local_M (E, NLOC, NLOC)
//   ptr (B + 1,) int64 offsets into touched (nt,) int64 contribution ids (CSR, like scipy)
//   rows, cols (nnz,) int64; out_K, out_M (B, nnz) real
//
// Gather form: one thread per (batch b, entry p) loops over the contributions of b in
// order (deterministic, no atomics). Contributions are staged in shared memory in tiles of
// MS_FE_TILE; the Φ0 reads Φ0[dof, k_p] are coalesced across a warp because the pattern
// is row-major (consecutive entries share m and have increasing k).
//
// The math lives in __host__ __device__ helpers so a host C++ build (tests, g++) runs the
// same code on the CPU; kernels are only compiled by nvcc / NVRTC (__CUDACC__, __CUDACC_RTC__).

#ifndef MS_FE_BLOCK
#define MS_FE_BLOCK 128
#endif
#ifndef MS_FE_TILE
#define MS_FE_TILE 32
#endif

// Stage contributions ptr[b] + c0 ... + c0 + ntile - 1 (dofs and local matrices); thread
// `tid` of `nthreads` loads a strided share (the host harness uses tid = 0, nthreads = 1).
template <typename R, int NLOC>
__host__ __device__ __forceinline__ void fe_load_tile(const long long* dofs, const R* local_K, const R* local_M,
                                                      int has_M, const long long* touched, long long first,
                                                      int ntile, int tid, int nthreads, long long* s_dofs,
                                                      R* s_K, R* s_M) {
    constexpr int L2 = NLOC * NLOC;
    for (int i = tid; i < ntile * L2; i += nthreads) {
        const int c = i / L2, r = i % L2;
        const long long id = touched[first + c];
        s_K[i] = local_K[id * L2 + r];
        if (has_M) s_M[i] = local_M[id * L2 + r];
        if (r < NLOC) s_dofs[c * NLOC + r] = dofs[id * NLOC + r];
    }
}

// Add the ntile staged contributions to entry (m, k): Σ_c a_cᵀ L_c b_c with
// a_c = Φ0[dofs_c, m], b_c = Φ0[dofs_c, k].
template <typename R, int NLOC>
__host__ __device__ __forceinline__ void fe_entry_update(const R* phi, long long K, long long m, long long k,
                                                         const long long* s_dofs, const R* s_K, const R* s_M,
                                                         int has_M, int ntile, R& acc_K, R& acc_M) {
    for (int c = 0; c < ntile; ++c) {
        R a[NLOC], bk[NLOC];
#pragma unroll
        for (int i = 0; i < NLOC; ++i) {
            const long long dof = s_dofs[c * NLOC + i];
            a[i] = phi[dof * K + m];
            bk[i] = phi[dof * K + k];
        }
        const R* Lk = s_K + c * NLOC * NLOC;
        const R* Lm = s_M + c * NLOC * NLOC;
#pragma unroll
        for (int i = 0; i < NLOC; ++i) {
            R rk = 0, rm = 0;
#pragma unroll
            for (int j = 0; j < NLOC; ++j) {
                rk += Lk[i * NLOC + j] * bk[j];
                if (has_M) rm += Lm[i * NLOC + j] * bk[j];
            }
            acc_K += a[i] * rk;
            if (has_M) acc_M += a[i] * rm;
        }
    }
}

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Grid: x covers the nnz entries in blocks of MS_FE_BLOCK (the last block is partial),
// y strides over batches. int64 index arithmetic throughout (ndof·K and B·nnz can pass 2^31).
template <typename R, int NLOC>
__global__ void __launch_bounds__(MS_FE_BLOCK)
fe_elements(const R* __restrict__ phi, long long K, const long long* __restrict__ dofs,
            const R* __restrict__ local_K, const R* __restrict__ local_M, int has_M,
            const long long* __restrict__ ptr, const long long* __restrict__ touched,
            const long long* __restrict__ rows, const long long* __restrict__ cols, long long B, long long nnz,
            R* __restrict__ out_K, R* __restrict__ out_M) {
    __shared__ long long s_dofs[MS_FE_TILE * NLOC];
    __shared__ R s_K[MS_FE_TILE * NLOC * NLOC];
    __shared__ R s_M[MS_FE_TILE * NLOC * NLOC];
    const long long p = (long long)blockIdx.x * MS_FE_BLOCK + threadIdx.x;
    const bool active = p < nnz;
    const long long m = active ? rows[p] : 0;
    const long long k = active ? cols[p] : 0;
    for (long long b = blockIdx.y; b < B; b += gridDim.y) {
        const long long first = ptr[b], count = ptr[b + 1] - ptr[b];
        R acc_K = 0, acc_M = 0;
        for (long long c0 = 0; c0 < count; c0 += MS_FE_TILE) {
            const int ntile = (int)(count - c0 < MS_FE_TILE ? count - c0 : MS_FE_TILE);
            __syncthreads();  // the previous tile is no longer read
            fe_load_tile<R, NLOC>(dofs, local_K, local_M, has_M, touched, first + c0, ntile, threadIdx.x,
                                  MS_FE_BLOCK, s_dofs, s_K, s_M);
            __syncthreads();
            if (active) fe_entry_update<R, NLOC>(phi, K, m, k, s_dofs, s_K, s_M, has_M, ntile, acc_K, acc_M);
        }
        if (active) {
            out_K[b * nnz + p] = acc_K;
            if (has_M) out_M[b * nnz + p] = acc_M;
        }
    }
}
#endif
