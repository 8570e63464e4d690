"""Matrix elements δK̃ = Φ0ᴴ δK Φ0 and δM̃ = Φ0ᴴ δM Φ0 (the paper's H_mk) from any base.

Three bases (each L²/M-orthonormal in the *base* metric):

* analytic flat-torus modes e_m = exp(iκ_m·ξ)/√V — closed form of DESIGN.md §5
  (:func:`torus_elements`, first order in α, complex Hermitian) or quadrature of any metric
  on the periodic trapezoid grid (:func:`torus_quadrature_elements`, spectrally accurate);
* analytic real spherical harmonics — quadrature on a Gauss–Legendre × trapezoid grid
  (:func:`sphere_elements`);
* a finite-element :class:`~manifoldspec.spectral.Spectrum` — re-assembly,
  δK = K(g) − K(g0), then projection (:func:`fe_elements`).

With the weak form K_ij = ∫ √|g| g^{ab} ∂_a N_i ∂_b N_j and M_ij = ∫ √|g| N_i N_j, the
quadrature forms integrate the change of the coefficient fields,

    δK̃_mk = ∫ ∇ē_m · (√|g| g⁻¹ − I) ∇e_k dξ,   δM̃_mk = ∫ ē_m (√|g| − 1) e_k dξ,

exactly (``linearized=False``, what a re-solve sees) or to first order in h = g − I
(``linearized=True``: ½ tr(h) I − h and ½ tr(h), what the closed form uses).

Results are :class:`MatrixElements` holding scipy.sparse CSR matrices with a stated drop
tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError, check_spd, positive_int, positive_scalar
from ..geometry.metric import as_metric
from .sphere_modes import real_sph_harm, sphere_eigenvalues, sphere_frame, sphere_modes, sphere_quadrature
from .torus_modes import torus_eigenvalues, torus_mode_values, torus_wavevectors
from .torus_sparse import accumulate_fast, torus_pattern


@dataclass(frozen=True, eq=False)
class MatrixElements:
    """Projected operator changes in a base basis.

    Attributes
    ----------
    dK, dM : scipy.sparse.csr_matrix (K, K)
        δK̃ and δM̃, real symmetric or complex Hermitian (1/length² and dimensionless
        for M-orthonormal bases of an area-normalized inner product).
    eigenvalues : ndarray (K,)
        Base eigenvalues λ0, ascending.
    drop_tol : float
        Drop criterion used (see ``rule``).
    dropped : float
        Bound on (or the largest) magnitude of any entry that was dropped.
    rule : str
        How ``drop_tol`` was applied.
    """

    dK: sp.csr_matrix
    dM: sp.csr_matrix
    eigenvalues: np.ndarray
    drop_tol: float
    dropped: float
    rule: str

    @property
    def n_modes(self) -> int:
        return len(self.eigenvalues)

    def dense(self):
        """(δK̃, δM̃) as dense (K, K) arrays."""
        return self.dK.toarray(), self.dM.toarray()


def sparsify(A: np.ndarray, drop_tol: float):
    """Drop entries with |A_ij| < drop_tol · max|A|; returns (csr, largest dropped magnitude)."""
    if not 0 <= drop_tol < 1:
        raise ManifoldSpecError(f"drop_tol: must lie in [0, 1), got {drop_tol}")
    A = np.asarray(A)
    mag = np.abs(A)
    keep = mag >= drop_tol * mag.max() if mag.size else mag.astype(bool)
    if drop_tol == 0:
        keep = mag > 0
    dropped = float(mag[~keep].max()) if np.any(~keep) else 0.0
    rows, cols = np.nonzero(keep)
    return sp.csr_matrix((A[rows, cols], (rows, cols)), shape=A.shape), dropped


def _relative(dK, dM, lam0, drop_tol) -> MatrixElements:
    sK, dropK = sparsify(dK, drop_tol)
    sM, dropM = sparsify(dM, drop_tol)
    return MatrixElements(sK, sM, np.asarray(lam0, float), float(drop_tol), max(dropK, dropM),
                          "relative: |entry| < drop_tol · max|entry| of each matrix")


def torus_elements(modes, lengths, warp, *, drop_tol: float = 1e-12) -> MatrixElements:
    """Closed-form torus matrix elements of a token warp on the sparse mode pattern.

    Parameters
    ----------
    modes : int (K, n) from :func:`~manifoldspec.spectral.torus_modes.torus_modes`
    lengths : n side lengths
    warp : TokenWarp
        Periodized token warp (``period`` = lengths).
    drop_tol : float
        Pairs with exp(−σ²|κ_k − κ_m|²/2) < drop_tol are dropped (the pattern of
        :func:`~manifoldspec.spectral.torus_sparse.torus_pattern`); ``dropped`` is the
        resulting bound Σ_i |α_i| (2πσ²)^{n/2}/V · (3/2)|v_i|² κ_max² · drop_tol.

    Returns
    -------
    MatrixElements (complex Hermitian, first order in α)
    """
    lengths = np.asarray(lengths, float)
    if warp.period is None or not np.allclose(warp.period, lengths):
        raise ManifoldSpecError(f"warp: expected a periodized TokenWarp with period {tuple(lengths)}, "
                                f"got period {warp.period}")
    pat = torus_pattern(modes, lengths, warp.sigma, drop_tol)
    dk, dm = accumulate_fast(pat, warp.alpha[None], warp.mu[None], warp.v[None])
    K = pat.n_modes
    dK = sp.csr_matrix((dk[0], (pat.rows, pat.cols)), shape=(K, K))
    dM = sp.csr_matrix((dm[0], (pat.rows, pat.cols)), shape=(K, K))
    n = len(lengths)
    kmax2 = float(np.max(np.sum(pat.kappa**2, axis=1)))
    c0 = (2 * np.pi * warp.sigma**2) ** (n / 2) / pat.volume
    bound = float(np.sum(np.abs(warp.alpha) * c0 * 1.5 * np.sum(warp.v**2, 1) * max(kmax2, 1.0))) * drop_tol
    return MatrixElements(dK, dM, torus_eigenvalues(modes, lengths), float(drop_tol), bound,
                          "pattern: pairs with exp(−σ²|κ_k − κ_m|²/2) < drop_tol dropped")


def _coefficient_change(g: np.ndarray, linearized: bool):
    """(√|g| g⁻¹ − I, √|g| − 1) at points, shapes (P, d, d) and (P,)."""
    d = g.shape[-1]
    if linearized:
        h = g - np.eye(d)
        tr = np.trace(h, axis1=-2, axis2=-1)
        return 0.5 * tr[:, None, None] * np.eye(d) - h, 0.5 * tr
    s = np.sqrt(np.linalg.det(g))
    return s[:, None, None] * np.linalg.inv(g) - np.eye(d), s - 1.0


def torus_quadrature_elements(modes, lengths, metric, *, n_quad: int = 32, linearized: bool = False,
                              drop_tol: float = 0.0) -> MatrixElements:
    """Torus matrix elements of any metric by the periodic trapezoid rule (spectrally accurate).

    Parameters
    ----------
    modes : int (K, n) ; lengths : n floats
    metric : callable x (P, n) -> g (P, n, n)
        The *full* perturbed metric g = I + δg on the chart (e.g. a periodized TokenWarp).
    n_quad : int
        Points per axis (P = n_quad^n). Exact for trigonometric integrands of degree
        < n_quad; choose n_quad > 2·max|m| plus the bandwidth of δg.
    linearized : bool
        First order in h = g − I (matches the closed form) instead of the exact change.

    Returns
    -------
    MatrixElements (complex Hermitian)
    """
    lengths = np.asarray(lengths, float)
    n = len(lengths)
    n_quad = positive_int(n_quad, "n_quad")
    metric = as_metric(metric)
    axes = [np.arange(n_quad) * L / n_quad for L in lengths]
    x = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, n)
    w = np.prod(lengths) / n_quad**n
    g = np.asarray(metric(x), float)
    check_spd(g, "metric", where=x)
    dA, ds = _coefficient_change(g, linearized)
    E = torus_mode_values(modes, lengths, x)  # (P, K)
    kap = torus_wavevectors(modes, lengths)
    Eh = E.conj().T
    dM = Eh @ (w * ds[:, None] * E)
    dK = np.zeros_like(dM)
    for a in range(n):
        for b in range(n):
            dK += np.outer(kap[:, a], kap[:, b]) * (Eh @ (w * dA[:, a, b][:, None] * E))
    return _relative(0.5 * (dK + dK.conj().T), 0.5 * (dM + dM.conj().T), torus_eigenvalues(modes, lengths), drop_tol)


def sphere_elements(lmax: int, metric, *, radius: float = 1.0, n_z: int | None = None, n_phi: int | None = None,
                    linearized: bool = False, drop_tol: float = 0.0) -> MatrixElements:
    """Matrix elements in the real spherical-harmonic basis l ≤ lmax of a metric on the sphere.

    Parameters
    ----------
    lmax : int
        Base set: all (lmax+1)² harmonics, ordered as :func:`sphere_modes`.
    metric : callable x (P, 3) -> g (P, 3, 3)
        The *full* perturbed ambient metric at points of the sphere of radius ``radius``;
        the surface metric is its restriction to the tangent plane (DESIGN.md §3),
        G_ab = e_aᵀ g e_b in the orthonormal frame (e_θ, e_φ). ``None``-metric (identity)
        gives zero.
    n_z, n_phi : int, optional
        Quadrature sizes (default n_z = 2·lmax + 24, n_phi = 2·n_z); exact for polynomial
        integrands of degree < min(2·n_z, n_phi).
    linearized : bool
        First order in h = G − I instead of the exact change.

    Returns
    -------
    MatrixElements (real symmetric); eigenvalues l(l+1)/r².
    """
    modes = sphere_modes(lmax)
    r = positive_scalar(radius, "radius")
    n_z = 2 * int(lmax) + 24 if n_z is None else positive_int(n_z, "n_z")
    n_phi = 2 * n_z if n_phi is None else positive_int(n_phi, "n_phi")
    theta, phi, w = sphere_quadrature(n_z, n_phi)
    nrm, e_t, e_p = sphere_frame(theta, phi)
    g = np.asarray(as_metric(metric)(r * nrm), float)
    if g.shape != (len(theta), 3, 3):
        raise ManifoldSpecError(f"metric: expected shape ({len(theta)}, 3, 3) at sphere points, got {g.shape}")
    F = np.stack([e_t, e_p], axis=-1)  # (P, 3, 2)
    G = np.einsum("pca,pcd,pdb->pab", F, g, F)
    check_spd(G, "metric (tangential part)", where=r * nrm)
    dA, ds = _coefficient_change(G, linearized)
    Y, grad = real_sph_harm(modes, theta, phi, r)
    wa = w * r**2  # area weights of the radius-r sphere
    dM = Y.T @ ((wa * ds)[:, None] * Y)
    dK = np.einsum("pma,pab,pkb->mk", grad * wa[:, None, None], dA, grad, optimize=True)
    return _relative(0.5 * (dK + dK.T), 0.5 * (dM + dM.T), sphere_eigenvalues(modes, r), drop_tol)


def fe_elements(base, metric=None, *, operators=None, drop_tol: float = 1e-14) -> MatrixElements:
    """Matrix elements of a finite-element base spectrum: δK̃ = Φ0ᵀ(K(g) − K0)Φ0, same for M.

    Parameters
    ----------
    base : Spectrum
        Base eigenpairs (Φ0 M0-orthonormal) and their operators K0, M0.
    metric : callable, optional
        The *full* perturbed metric g (not the change); assembled on ``base.discretization``.
    operators : Operators, optional
        Pre-assembled perturbed operators instead of ``metric``.
    drop_tol : float
        Relative drop tolerance: entries below drop_tol · max|entry| are removed.

    Returns
    -------
    MatrixElements (real symmetric); exact differences, all orders in the warp.
    """
    from .assemble import assemble

    if operators is None:
        if metric is None:
            raise ManifoldSpecError("metric: give the perturbed metric g, or pre-assembled operators=")
        operators = assemble(base.discretization, metric)
    if operators.K.shape != base.K.shape:
        raise ManifoldSpecError(f"operators: shape {operators.K.shape} does not match the base discretization {base.K.shape}")
    Phi = base.eigenvectors
    dK = Phi.T @ ((operators.K - base.K) @ Phi)
    dM = Phi.T @ ((operators.M - base.M) @ Phi)
    return _relative(0.5 * (dK + dK.T), 0.5 * (dM + dM.T), base.eigenvalues, drop_tol)


__all__ = ["MatrixElements", "fe_elements", "sparsify", "sphere_elements", "sphere_modes", "torus_elements",
           "torus_quadrature_elements"]
