"""Claim 8: O(1) memory (state size constant in N, measured) and O(N) cost (measured scaling exponent).

State: the streaming state of DESIGN.md §7 (``manifoldspec.spectral.stream``): δK̃, δM̃ on
the fixed sparse mode pattern (K_b² at most — the warp state counts) plus C (K_b × d_v).
Its size is measured after N absorbed tokens and compared with a softmax KV cache
(2·N·d numbers). Cost: wall time of the recurrent SMT forward (absorb + retrieval
y_t = e(q_t)ᵀ[f(Λ0) + F∘H_t]C_t per token) against softmax attention timed in the same
run; the exponent is the least-squares slope of log t vs log N.
"""
from __future__ import annotations

import time

import numpy as np

from .._checks import ManifoldSpecError
from ._spectral_kernel import heat_filter, kernel_matrix
from .result import FAILS, CheckResult, fmt, holds_under


def scaling_exponent(sizes, times) -> float:
    """Slope p of the least-squares fit log t = p log N + c."""
    sizes, times = np.asarray(sizes, float), np.asarray(times, float)
    if len(sizes) < 2 or np.any(sizes <= 0) or np.any(times <= 0):
        raise ManifoldSpecError("sizes/times: need ≥ 2 positive sizes and positive times to fit an exponent")
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def _stream_setup(K=21, d_v=8, sigma=0.6):
    from ..spectral.stream import init_stream
    from ..spectral.torus_modes import torus_modes

    lengths = (2 * np.pi, 2 * np.pi)
    return init_stream(torus_modes(lengths, K, whole_shells=True), lengths, sigma, d_v=d_v, drop_tol=1e-8)


def smt_state_bytes(n_tokens: int, seed: int = 0) -> int:
    """Bytes of the SMT streaming state after ``n_tokens`` random tokens."""
    from ..spectral.stream import absorb

    st = _stream_setup()
    rng = np.random.default_rng(seed)
    d_v = st.C.shape[1]
    for _ in range(n_tokens):
        st = absorb(st, 0.3 * rng.uniform(), rng.uniform(0, 2 * np.pi, 2), rng.normal(size=2), rng.normal(size=d_v))
    return st.nbytes


def _nn_layer(seed: int = 0):
    import torch

    from ..nn import SpectralManifoldAttention

    torch.manual_seed(seed)
    return SpectralManifoldAttention(d_model=16, n_heads=2)


def nn_state_bytes(n_tokens: int, seed: int = 0, segment: int = 256) -> int | None:
    """Bytes of the ``manifoldspec.nn`` layer's recurrent state after ``n_tokens`` tokens.

    The tokens are fed in segments with the state handed over, as in decoding or in training on
    a long stream. ``None`` when torch is not installed.
    """
    try:
        import torch
    except ImportError:
        return None
    layer = _nn_layer(seed)
    gen = torch.Generator().manual_seed(seed)
    state = None
    with torch.no_grad():
        for s0 in range(0, n_tokens, segment):
            x = torch.randn(1, min(segment, n_tokens - s0), 16, generator=gen)
            _, state = layer(x, state=state)
    if state is None:
        return 0
    return int(state.H.element_size() * state.H.numel() + state.C.element_size() * state.C.numel())


def nn_forward(n_tokens: int, seed: int = 0):
    """Forward of the ``manifoldspec.nn`` layer (chunked form, no grad) over ``n_tokens`` random tokens."""
    import torch

    layer = _nn_layer(seed)
    x = torch.randn(1, n_tokens, 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return layer(x)[0]


def kv_cache_bytes(n_tokens: int, d: int = 16) -> int:
    """Bytes of a softmax-attention KV cache (keys and values, float64) after ``n_tokens`` tokens."""
    return int(2 * n_tokens * d * 8)


def smt_forward(n_tokens: int, seed: int = 0) -> np.ndarray:
    """Recurrent SMT forward over n_tokens random tokens: outputs (N, d_v)."""
    from ..spectral.stream import absorb
    from ..spectral.torus_modes import torus_mode_values

    st = _stream_setup()
    c = st.consts
    f, fp = heat_filter(0.3)
    rng = np.random.default_rng(seed)
    d_v = st.C.shape[1]
    out = np.zeros((n_tokens, d_v))
    for t in range(n_tokens):
        mu = rng.uniform(0, 2 * np.pi, 2)
        st = absorb(st, 0.3 * rng.uniform(), mu, rng.normal(size=2), rng.normal(size=d_v))
        B = kernel_matrix(c.lam0, f, fp, c.pattern.to_dense(st.dK), c.pattern.to_dense(st.dM))
        e = torus_mode_values(c.modes, c.lengths, rng.uniform(0, 2 * np.pi, (1, 2)))[0]
        out[t] = (e @ B @ st.C).real
    return out


def softmax_forward(n_tokens: int, d: int = 16, seed: int = 0) -> np.ndarray:
    """Causal softmax attention (numpy, O(N²)) over random tokens: outputs (N, d)."""
    rng = np.random.default_rng(seed)
    Q, Kk, V = (rng.normal(size=(n_tokens, d)) for _ in range(3))
    S = Q @ Kk.T / np.sqrt(d)
    S[np.triu_indices(n_tokens, 1)] = -np.inf
    P = np.exp(S - S.max(axis=1, keepdims=True))
    return (P / P.sum(axis=1, keepdims=True)) @ V


def _time(fn, n, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t0)
    return best


def check_memory(*, quick: bool = False, state_fn=None, forward_fn=None, max_exponent: float = 1.3,
                 n_values=None, nn: bool | None = None) -> CheckResult:
    """O(1) state and O(N) time of the SMT stream.

    Parameters
    ----------
    state_fn : callable N -> bytes, optional
        State size after N tokens (default: the SMT streaming state). A growing state
        (e.g. :func:`kv_cache_bytes`) must give FAILS.
    forward_fn : callable N -> outputs, optional
        The forward pass to time (default: the recurrent SMT forward).
    max_exponent : float
        Largest scaling exponent accepted as "O(N)" (timing noise on a shared machine).
    nn : bool, optional
        Also measure the ``manifoldspec.nn`` layer's state and chunked forward (default: when
        torch is installed and the default state/forward are used).
    """
    state_fn = state_fn or smt_state_bytes
    forward_fn = forward_fn or smt_forward
    n_state = np.array(n_values or ([10, 100, 1000] if quick else [10, 100, 1000, 10000]))
    sizes = np.array([state_fn(int(n)) for n in n_state])
    kv = np.array([kv_cache_bytes(int(n)) for n in n_state])
    constant = bool(np.all(sizes == sizes[0]))
    n_time = np.array([128, 256, 512, 1024] if quick else [256, 512, 1024, 2048, 4096])
    reps = 1 if quick else 2
    t_smt = np.array([_time(forward_fn, int(n), reps) for n in n_time])
    t_soft = np.array([_time(softmax_forward, int(n), reps) for n in n_time])
    p_smt, p_soft = scaling_exponent(n_time, t_smt), scaling_exponent(n_time, t_soft)
    if nn is None:
        nn = state_fn is smt_state_bytes and forward_fn is smt_forward
    nn_sizes = [nn_state_bytes(int(n)) for n in n_state] if nn else [None]
    if nn_sizes[0] is None:
        nn_line, nn_ok, t_nn, p_nn = " The manifoldspec.nn layer was not measured (torch is not installed).", True, None, None
    else:
        nn_const = len(set(nn_sizes)) == 1
        nn_forward(16)  # warm-up: the first torch call pays one-off dispatch/allocation costs
        t_nn = np.array([_time(nn_forward, int(n), reps) for n in n_time])
        p_nn = scaling_exponent(n_time, t_nn)
        nn_ok = nn_const and p_nn <= max_exponent
        nn_line = (f" The manifoldspec.nn layer (SpectralManifoldAttention, d_model 16, 2 heads, K = 5, fed in segments "
                   f"of 256 with the state handed over): state {', '.join(map(str, nn_sizes))} bytes "
                   f"({'constant' if nn_const else 'GROWS'}); chunked forward {fmt(t_nn[0])} s → {fmt(t_nn[-1])} s, "
                   f"exponent {p_nn:.2f}.")
    ok = constant and p_smt <= max_exponent and nn_ok
    details = (f"State after N = {', '.join(map(str, n_state))} tokens: {', '.join(map(str, sizes))} bytes "
               f"({'constant' if constant else 'GROWS'}); softmax KV cache (d = 16): {kv[0]} → {kv[-1]} bytes. "
               f"Recurrent SMT forward (K = 21 modes, d_v = 8, warp state on the sparse pattern): "
               f"{fmt(t_smt[0])} s → {fmt(t_smt[-1])} s for N = {n_time[0]} → {n_time[-1]}, exponent {p_smt:.2f}; "
               f"softmax attention in the same run: exponent {p_soft:.2f}. Constant state means fixed capacity: "
               f"at most K values retrievable (see retrieval_capacity)." + nn_line)
    return CheckResult(
        name="memory", claim="O(1) memory in N (streaming state) and O(N) training/inference cost",
        equation="Abstract, eq. (6), §4", computed="state bytes vs N; wall time vs N (fit exponent)",
        measured=f"state {'const' if constant else 'grows'} ({sizes[-1]} B); exponent {p_smt:.2f}"
                 + ("" if p_nn is None else f"; nn layer state {'const' if len(set(nn_sizes)) == 1 else 'grows'} "
                                            f"({nn_sizes[-1]} B), exponent {p_nn:.2f}"),
        bound=f"const; exponent ≤ {max_exponent:g}",
        verdict=holds_under("fixed K (state K_b² + K_b·d_v numbers; capacity ≤ K tokens)") if ok else FAILS,
        details=details,
        data={"n_state": n_state, "state_bytes": sizes, "kv_bytes": kv, "n_time": n_time, "t_smt": t_smt,
              "t_soft": t_soft, "p_smt": p_smt, "p_soft": p_soft, "nn_state_bytes": nn_sizes, "t_nn": t_nn, "p_nn": p_nn})


def plot_memory(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a, b) = figure(2)
    a.loglog(d["n_state"], d["state_bytes"], "o-", label="SMT state")
    a.loglog(d["n_state"], d["kv_bytes"], "s--", label="softmax KV cache")
    a.set_xlabel("N tokens"), a.set_ylabel("bytes"), a.legend(fontsize=7)
    b.loglog(d["n_time"], d["t_smt"], "o-", label=f"SMT recurrent (slope {d['p_smt']:.2f})")
    b.loglog(d["n_time"], d["t_soft"], "s--", label=f"softmax attention (slope {d['p_soft']:.2f})")
    if d.get("t_nn") is not None:
        a.loglog(d["n_state"], d["nn_state_bytes"], "^:", label="nn layer state")
        a.legend(fontsize=7)
        b.loglog(d["n_time"], d["t_nn"], "^:", label=f"nn layer, chunked (slope {d['p_nn']:.2f})")
    b.set_xlabel("N tokens"), b.set_ylabel("seconds"), b.legend(fontsize=7)
    return save(fig, path, "O(1) state and O(N) cost")
