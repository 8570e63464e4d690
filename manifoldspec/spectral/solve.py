"""Generalized eigensolvers for the smallest eigenpairs of K φ = λ M φ.

* ``shift-invert`` (default): ARPACK Lanczos on (K − σM)⁻¹M with a sparse LU
  factorization (SuperLU in symmetric mode, minimum-degree ordering on Aᵀ + A). σ sits just below 0 because K is singular on closed manifolds.
* ``lobpcg``: block LOBPCG preconditioned by smoothed-aggregation AMG (pyamg) on
  K + σ₀M; scalable in memory, but slower than shift-invert at the sizes measured
  in docs/benchmarks.md — use it when the factorization does not fit in memory.

Both finish with a Rayleigh–Ritz step in the computed subspace, which makes the
eigenvectors M-orthonormal to rounding (Φᵀ M Φ = I) and the eigenvalues consistent.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from .._checks import ManifoldSpecError, positive_int
from .assemble import Operators, assemble
from .spectrum import Spectrum

METHODS = ("shift-invert", "lobpcg", "dense")
# Above this size the dense solver's (n, n) matrices (8n² bytes each, 0.8 GB at 10000; LAPACK takes minutes) are refused.
DENSE_MAX = 10000


def _check_k(k, n: int) -> int:
    k = positive_int(k, "k")
    if k > n:
        raise ManifoldSpecError(
            f"k: asked for {k} eigenpairs but the discretization has only {n} degrees of freedom; "
            f"k must be ≤ {n} (refine the mesh with a higher resolution or order, or lower k)")
    return k


def _lobpcg_block(k: int) -> int:
    return k + max(4, k // 4)


def _needs_dense(k: int, n: int, method: str = "shift-invert") -> bool:
    """Whether Lanczos cannot be trusted for k of n pairs.

    A Krylov space holds one vector per distinct eigenvalue of its start vector, so the copies of a
    degenerate eigenvalue enter only through rounding and restarts. When the wanted set is a large
    part of the space (ncv capped near n), ARPACK then returns some copies and skips others — on
    symmetric torus meshes 68 of 418 solves with k > 0.6 n lost a copy, none with k < n/3
    (tests/test_core_circle.py) — so from k ≥ n/3 the dense solver is used. LOBPCG needs n ≥ 5 times
    its block (below that SciPy itself switches to a dense solve, with a warning).
    """
    if method == "lobpcg" and 5 * _lobpcg_block(k) >= n:
        return True
    return 3 * k >= n or k >= n - 1


def _progress_operator(op: spla.LinearOperator, progress, desc: str):
    if not progress:
        return op, None
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit=" solves", leave=False)

    def mv(x):
        bar.update(1)
        return op.matvec(x)

    return spla.LinearOperator(op.shape, matvec=mv, dtype=op.dtype), bar


def ritz(K, M, Phi):
    """Rayleigh–Ritz in span(Phi): returns eigenvalues (k,) and M-orthonormal vectors (n, k)."""
    A = Phi.T @ (K @ Phi)
    B = Phi.T @ (M @ Phi)
    lam, C = sla.eigh(0.5 * (A + A.T), 0.5 * (B + B.T))
    return lam, Phi @ C


def _fix_signs(Phi: np.ndarray) -> np.ndarray:
    # deterministic output: the largest-magnitude entry of each vector is positive
    idx = np.argmax(np.abs(Phi), axis=0)
    return Phi * np.sign(Phi[idx, np.arange(Phi.shape[1])])


def solve_operators(K, M, k: int, *, method: str = "shift-invert", sigma: float | None = None,
                    tol: float = 0.0, seed: int = 0, progress: bool = False):
    """Smallest ``k`` eigenpairs of the sparse symmetric pencil (K, M).

    Parameters
    ----------
    K, M : scipy.sparse matrices (n, n)
        K symmetric positive semi-definite, M symmetric positive definite.
    k : int
        Number of eigenpairs, k ≤ n.
    method : {"shift-invert", "lobpcg", "dense"}
        ``"dense"``: LAPACK on the full matrices (n ≤ 10000), exact to rounding. The iterative
        methods switch to it by themselves when k ≥ n/3, where Lanczos can miss copies of
        degenerate eigenvalues and LOBPCG's block nears n (:func:`_needs_dense`).
    sigma : float, optional
        Shift for shift-invert (default: −1e-3 × the mean of diag(K)/diag(M) scale,
        just below the spectrum).
    tol : float
        ARPACK / LOBPCG tolerance (0 = machine precision for ARPACK).
    progress : bool
        Show a tqdm counter of operator applications.

    Returns
    -------
    lam : ndarray (k,), ascending
    Phi : ndarray (n, k), M-orthonormal: Phi.T @ M @ Phi = I.
    """
    if method not in METHODS:
        raise ManifoldSpecError(f"method: expected one of {METHODS}, got {method!r}")
    n = K.shape[0]
    k = _check_k(k, n)
    scale = float(np.mean(K.diagonal()) / np.mean(M.diagonal()))
    if method == "dense" or _needs_dense(k, n, method):
        return _dense(K, M, k)
    if method == "shift-invert":
        shift = -1e-3 * scale / max(n, 1) ** 0.5 if sigma is None else float(sigma)
        op = _shifted_inverse(K, M, shift)
        op, bar = _progress_operator(op, progress, "shift-invert Lanczos")
        v0 = np.random.default_rng(seed).standard_normal(n)
        # Lanczos can converge before it has found every copy of a degenerate eigenvalue at
        # the edge of the wanted set; a guard band of extra pairs keeps the first k complete
        kk = min(n - 2, k + max(8, k // 10))
        ncv = min(n - 1, max(2 * k + 1, kk + 32))
        _, Phi = spla.eigsh(K, k=kk, M=M, sigma=shift, which="LM", OPinv=op, v0=v0, tol=tol, ncv=ncv)
        if bar is not None:
            bar.close()
    else:
        Phi = _lobpcg(K, M, k, scale, tol, seed, progress)
    lam, Phi = ritz(K, M, Phi)
    return lam[:k], _fix_signs(Phi[:, :k])


def _dense(K, M, k: int):
    n = K.shape[0]
    if n > DENSE_MAX:
        raise ManifoldSpecError(f"k: {k} of {n} eigenpairs needs the dense solver (method='dense', or k ≥ n/3, where "
                                f"Lanczos misses copies of degenerate eigenvalues), which is limited to n ≤ {DENSE_MAX} "
                                "degrees of freedom (8n² bytes per matrix); lower k below n/3")
    A, B = K.toarray(), M.toarray()
    lam, Phi = sla.eigh(0.5 * (A + A.T), 0.5 * (B + B.T), subset_by_index=[0, k - 1])
    return lam, _fix_signs(Phi)


def _shifted_inverse(K, M, shift: float) -> spla.LinearOperator:
    """x -> (K − σM)⁻¹ x through a sparse LU factorization.

    K − σM is SPD, so SuperLU runs in symmetric mode without pivoting (25x faster to
    factor than partial pivoting at 40k DOFs), with a minimum-degree ordering applied
    after a reverse Cuthill–McKee pre-ordering: minimum degree's tie-breaking depends on
    the input numbering, and on icosphere numbering alone it took 236 s to factor P1 at
    164k DOFs against 2.8 s after RCM (docs/benchmarks.md).
    """
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    A = (K - shift * M).tocsr()
    perm = reverse_cuthill_mckee(A, symmetric_mode=True)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    lu = spla.splu(A[perm][:, perm].tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                   options={"SymmetricMode": True})
    return spla.LinearOperator(A.shape, matvec=lambda x: lu.solve(np.asarray(x).ravel()[perm])[inv], dtype=float)


def _lobpcg(K, M, k, scale, tol, seed, progress):
    try:
        import pyamg
    except ImportError:
        raise ManifoldSpecError("method 'lobpcg' needs pyamg: pip install manifoldspec[amg]") from None
    n = K.shape[0]
    A = (K + 1e-2 * scale / n**0.5 * M).tocsr()
    ml = pyamg.smoothed_aggregation_solver(A, symmetry="symmetric")
    prec = ml.aspreconditioner(cycle="V")
    X = np.random.default_rng(seed).standard_normal((n, _lobpcg_block(k)))
    # residual tolerance 1e-6: eigenvalue errors go like its square, far below discretization error
    _, X = spla.lobpcg(K, X, B=M, M=prec, largest=False, tol=tol or 1e-6, maxiter=500, verbosityLevel=0)
    return X


def solve(disc, k: int, metric=None, *, method: str = "shift-invert", progress: bool = False,
          operators: Operators | None = None, mass: str = "consistent", **kwargs) -> Spectrum:
    """Assemble and solve: the first ``k`` eigenpairs of −Δ_g on a discretization.

    Parameters
    ----------
    disc : Discretization
    k : int
        Number of eigenpairs.
    metric : None, metric object or callable, optional
        See :func:`assemble`.
    method : {"shift-invert", "lobpcg"}
    progress : bool
        Show progress of the iterative solve.
    operators : Operators, optional
        Pre-assembled operators (skips assembly).
    mass : {"consistent", "lumped"}
        Mass matrix; see :func:`assemble`.

    Returns
    -------
    Spectrum
        Eigenvalues (k,) in 1/length², eigenvectors (n_dofs, k), M-orthonormal.
    """
    ops = assemble(disc, metric, mass=mass) if operators is None else operators
    k = _check_k(k, disc.n_dofs)
    lam, Phi = solve_operators(ops.K, ops.M, k, method=method, progress=progress, **kwargs)
    return Spectrum(lam, Phi, ops, disc)
