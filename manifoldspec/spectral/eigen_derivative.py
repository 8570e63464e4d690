"""Exact first derivative of one simple eigenpair of K φ = λ M φ (THEOREMS.md §3 item 5, Nelson-type).

For K(ε) = K0 + εK1 + …, M(ε) = M0 + εM1 + … and an M0-normalized eigenpair (λ, x) the derivative
solves one sparse bordered system,

    [[K0 − λ M0, −M0 x], [xᵀ M0, 0]] · [x'; λ'] = [−(K1 − λ M1) x; −½ xᵀ M1 x],

which is non-singular exactly when λ is simple. Unlike the modal sum Σ_{j≠i} x_j (x_jᵀ(K1 − λM1)x)/(λ − λ_j)
it needs no other eigenpairs, so it has no truncation error: the modal sum over K computed modes leaves an
O(ε) error in the eigenvector when K < n. x' keeps the normalization xᵀM x = 1 to first order
(x'ᵀM0 x = −½ xᵀM1 x). Inside a degenerate cluster use the cluster-wise theory (``perturb.first_order``).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._checks import ManifoldSpecError, as_finite_array


def _sparse(A, name: str, n: int):
    A = sp.csr_matrix(A, dtype=float)
    if A.shape != (n, n):
        raise ManifoldSpecError(f"{name}: expected shape ({n}, {n}), got {A.shape}")
    if A.nnz and not np.all(np.isfinite(A.data)):
        raise ManifoldSpecError(f"{name}: contains NaN or infinite entries")
    return A


def eigenpair_derivative(K0, M0, lam: float, x, K1, M1, *, gap: float | None = None) -> tuple[float, np.ndarray]:
    """λ' and x' of a simple eigenpair (λ, x) of K0 x = λ M0 x under K0 + εK1, M0 + εM1.

    Parameters
    ----------
    K0, M0 : sparse or dense (n, n)
        The unperturbed pencil (symmetric, M0 positive definite).
    lam : float
        The eigenvalue λ (1/length²).
    x : array (n,)
        Its eigenvector, M0-normalized (xᵀ M0 x = 1).
    K1, M1 : sparse or dense (n, n)
        First-order changes of K and M (symmetric).
    gap : float, optional
        Distance from λ to the nearest other eigenvalue, if known: a gap below 1e-8·max(|λ|, 1) is refused
        (λ degenerate: the derivative of x does not exist; use ``perturb.first_order`` on the cluster).

    Returns
    -------
    dlam : float
        λ' = xᵀ(K1 − λ M1) x.
    dx : ndarray (n,)
        x', with x'ᵀ M0 x = −½ xᵀ M1 x.
    """
    x = as_finite_array(x, "x", ndim=1)
    n = len(x)
    K0, M0, K1, M1 = (_sparse(A, name, n) for A, name in ((K0, "K0"), (M0, "M0"), (K1, "K1"), (M1, "M1")))
    lam = float(lam)
    if not np.isfinite(lam):
        raise ManifoldSpecError(f"lam: must be finite, got {lam}")
    Mx = M0 @ x
    norm = float(x @ Mx)
    if abs(norm - 1.0) > 1e-8:
        raise ManifoldSpecError(f"x: must be M0-normalized (xᵀ M0 x = 1), got {norm:.3e}")
    resid = np.linalg.norm(K0 @ x - lam * Mx) / max(np.linalg.norm(K0 @ x), abs(lam), 1e-300)
    if resid > 1e-6:
        raise ManifoldSpecError(f"lam, x: not an eigenpair of (K0, M0): relative residual {resid:.1e}")
    if gap is not None and gap < 1e-8 * max(abs(lam), 1.0):
        raise ManifoldSpecError(f"gap: λ = {lam:.6g} is degenerate (gap {gap:.1e}); the eigenvector derivative "
                                "does not exist there — use perturb.first_order on the cluster")
    A = sp.bmat([[K0 - lam * M0, -Mx[:, None]], [Mx[None, :], None]], format="csc")
    rhs = np.concatenate([-(K1 @ x - lam * (M1 @ x)), [-0.5 * float(x @ (M1 @ x))]])
    try:
        sol = spla.splu(A).solve(rhs)
    except RuntimeError:  # exactly singular: a repeated eigenvalue
        raise ManifoldSpecError(f"lam: the bordered system is singular, so λ = {lam:.6g} is not simple; "
                                "use perturb.first_order on its cluster") from None
    if not np.all(np.isfinite(sol)):
        raise ManifoldSpecError(f"lam: the bordered solve returned non-finite values; λ = {lam:.6g} is (nearly) degenerate")
    return float(sol[-1]), sol[:-1]
