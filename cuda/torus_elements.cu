// Batched sparse H_mk on the flat torus: closed-form token contributions (DESIGN.md §5)
// accumulated into a fixed (m, k) pattern, with the streaming update H <- D∘H + h(x_t).
//
// Layout (all C-contiguous, R = float or double):
//   alpha (B, T); mu, v (B, T, N); kappa (K, N); rows, cols (nnz,) int64
//   decay (nnz,) real; state_K, state_M, out_K, out_M (B, nnz) complex = interleaved (re, im)
//
// Gather form: one thread per (batch b, pattern entry e) loops over the tokens of b in
// order (sequential over t, no atomics, so results are deterministic). Tokens are staged
// in shared memory in tiles of MS_TORUS_BLOCK; every thread of a block reads the same
// token, so token data is read from DRAM once per block instead of once per entry.
//
// The math lives in __host__ __device__ helpers so a host C++ build (tests, g++) runs the
// same code on the CPU; kernels are only compiled by nvcc / NVRTC (__CUDACC__, __CUDACC_RTC__).

#ifndef MS_TORUS_BLOCK
#define MS_TORUS_BLOCK 128
#endif

__host__ __device__ __forceinline__ void ms_sincos(double x, double* s, double* c) { sincos(x, s, c); }
__host__ __device__ __forceinline__ void ms_sincos(float x, float* s, float* c) { sincosf(x, s, c); }
__host__ __device__ __forceinline__ double ms_exp(double x) { return exp(x); }
__host__ __device__ __forceinline__ float ms_exp(float x) { return expf(x); }

// Per-entry constants: κ_m, κ_k, q = κ_k − κ_m, the Gaussian prefactor and κ_m·κ_k.
template <typename R, int N>
struct TorusEntry {
    R kr[N];
    R kc[N];
    R q[N];
    R pref;
    R dot;
};

template <typename R, int N>
__host__ __device__ __forceinline__ void torus_entry_init(const R* kappa, long long row, long long col,
                                                          R c0, R half_s2, TorusEntry<R, N>& en) {
    R q2 = 0, dot = 0;
#pragma unroll
    for (int j = 0; j < N; ++j) {
        const R a = kappa[row * N + j];
        const R b = kappa[col * N + j];
        en.kr[j] = a;
        en.kc[j] = b;
        en.q[j] = b - a;
        q2 += (b - a) * (b - a);
        dot += a * b;
    }
    // Ĝ(q) without the phase: (2πσ²)^{n/2}/V · exp(−σ²|q|²/2); c0 and half_s2 = σ²/2 come from the host.
    en.pref = c0 * ms_exp(-half_s2 * q2);
    en.dot = dot;
}

// Token slot in shared memory: [α, ½|v|², μ_0..μ_{N-1}, v_0..v_{N-1}].
template <int N>
struct TorusSlot {
    static constexpr int size = 2 + 2 * N;
};

// Load tokens t0 .. t0+ntok-1 of batch b; thread `tid` of `nthreads` loads a strided share
// (the host harness calls it with tid = 0, nthreads = 1).
template <typename R, int N>
__host__ __device__ __forceinline__ void torus_load_tile(const R* alpha, const R* mu, const R* v, long long b,
                                                         long long T, long long t0, int ntok, int tid,
                                                         int nthreads, R* tile) {
    for (int s = tid; s < ntok; s += nthreads) {
        const long long bt = b * T + t0 + s;
        R* slot = tile + s * TorusSlot<N>::size;
        R v2 = 0;
#pragma unroll
        for (int j = 0; j < N; ++j) {
            const R vj = v[bt * N + j];
            slot[2 + j] = mu[bt * N + j];
            slot[2 + N + j] = vj;
            v2 += vj * vj;
        }
        slot[0] = alpha[bt];
        slot[1] = R(0.5) * v2;
    }
}

// Run the recurrence of one entry over a tile of ntok tokens:
//   dK += α Ĝ(q) (½|v|² κ_m·κ_k − (κ_m·v)(κ_k·v)),  dM += α Ĝ(q) ½|v|²,
// each multiplied by the phase exp(i q·μ); with decay, H <- d·H + h instead of H += h.
template <typename R, int N>
__host__ __device__ __forceinline__ void torus_entry_update(const TorusEntry<R, N>& en, const R* tile, int ntok,
                                                            R d, bool has_decay, R& k_re, R& k_im, R& m_re,
                                                            R& m_im) {
    for (int s = 0; s < ntok; ++s) {
        const R* tok = tile + s * TorusSlot<N>::size;
        R ph = 0, kvm = 0, kvk = 0;
#pragma unroll
        for (int j = 0; j < N; ++j) {
            ph += en.q[j] * tok[2 + j];
            kvm += en.kr[j] * tok[2 + N + j];
            kvk += en.kc[j] * tok[2 + N + j];
        }
        R sn, cs;
        ms_sincos(ph, &sn, &cs);
        const R amp = tok[0] * en.pref;
        const R fm = amp * tok[1];
        const R fk = fm * en.dot - amp * kvm * kvk;
        if (has_decay) {
            k_re = d * k_re + fk * cs;
            k_im = d * k_im + fk * sn;
            m_re = d * m_re + fm * cs;
            m_im = d * m_im + fm * sn;
        } else {
            k_re += fk * cs;
            k_im += fk * sn;
            m_re += fm * cs;
            m_im += fm * sn;
        }
    }
}

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Grid: x covers the nnz entries in blocks of MS_TORUS_BLOCK (the last block is partial),
// y strides over batches (B may exceed the 65535 limit of gridDim.y). All index
// arithmetic is int64: B·nnz and B·T·N overflow int32 at the sizes benchmarked.
template <typename R, int N>
__global__ void __launch_bounds__(MS_TORUS_BLOCK)
torus_stream(const R* __restrict__ alpha, const R* __restrict__ mu, const R* __restrict__ v,
             const R* __restrict__ kappa, const long long* __restrict__ rows, const long long* __restrict__ cols,
             const R* __restrict__ decay, int has_decay, const R* __restrict__ state_K,
             const R* __restrict__ state_M, int has_state, R c0, R half_s2, long long B, long long T,
             long long nnz, R* __restrict__ out_K, R* __restrict__ out_M) {
    __shared__ R tile[MS_TORUS_BLOCK * TorusSlot<N>::size];
    const long long e = (long long)blockIdx.x * MS_TORUS_BLOCK + threadIdx.x;
    const bool active = e < nnz;
    TorusEntry<R, N> en;
    R d = 1;
    if (active) {
        torus_entry_init<R, N>(kappa, rows[e], cols[e], c0, half_s2, en);
        if (has_decay) d = decay[e];
    }
    for (long long b = blockIdx.y; b < B; b += gridDim.y) {
        R k_re = 0, k_im = 0, m_re = 0, m_im = 0;
        const long long o = 2 * (b * nnz + e);
        if (active && has_state) {
            k_re = state_K[o];
            k_im = state_K[o + 1];
            m_re = state_M[o];
            m_im = state_M[o + 1];
        }
        for (long long t0 = 0; t0 < T; t0 += MS_TORUS_BLOCK) {
            const int ntok = (int)(T - t0 < MS_TORUS_BLOCK ? T - t0 : MS_TORUS_BLOCK);
            __syncthreads();  // the previous tile is no longer read
            torus_load_tile<R, N>(alpha, mu, v, b, T, t0, ntok, threadIdx.x, MS_TORUS_BLOCK, tile);
            __syncthreads();
            // Inactive threads (e >= nnz in the last block) still load and sync, but skip the math.
            if (active) torus_entry_update<R, N>(en, tile, ntok, d, has_decay != 0, k_re, k_im, m_re, m_im);
        }
        if (active) {
            out_K[o] = k_re;
            out_K[o + 1] = k_im;
            out_M[o] = m_re;
            out_M[o + 1] = m_im;
        }
    }
}
#endif
