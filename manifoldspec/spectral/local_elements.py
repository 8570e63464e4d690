"""Finite-element matrix elements of a token warp from the few elements its bumps touch (DESIGN.md §5).

A token's Gaussian bump exp(−|x − μ|²/2σ²) is below e^{−c²/2} beyond c·σ from μ (c = ``cutoff``, default 8:
e^{−32} ≈ 1.3e-14), so the warped operators differ from the base ones only on the elements near
the tokens. :func:`local_warp` computes the local differences δK_e = K_e(g) − K_e(g0), δM_e on those
elements alone, and :func:`local_fe_elements` contracts them with the base eigenvectors,

    δK̃ = Σ_e Φ0[dofs_e]ᵀ δK_e Φ0[dofs_e],     δM̃ likewise,

which is :func:`~manifoldspec.spectral.matrix_elements.fe_elements` (a re-assembly of the whole mesh)
restricted to where the warp lives; tests hold the two equal. The same arrays are the inputs of the
GPU kernel ``manifoldspec.gpu.fe_matrix_elements`` (:func:`stack_local` batches several warps).
Surfaces (sphere, meshes) only: on flat charts the torus closed form is the fast path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .._checks import ManifoldSpecError, positive_scalar
from ..geometry.metric import IdentityMetric, SumMetric
from ..geometry.warp import TokenWarp
from .matrix_elements import MatrixElements, _relative
from .surface_fem import element_matrices


@dataclass(frozen=True, eq=False)
class LocalWarp:
    """Local operator differences of a warp on the elements it touches.

    Attributes
    ----------
    elements : int (E_t,)      indices of the touched elements
    dofs : int (E_t, n_loc)    their global dofs
    dK, dM : (E_t, n_loc, n_loc)   K_e(g) − K_e(g0) and M_e(g) − M_e(g0), symmetric
    cutoff : float             bump radius in units of σ beyond which elements were skipped
    """

    elements: np.ndarray
    dofs: np.ndarray
    dK: np.ndarray
    dM: np.ndarray
    cutoff: float


def touched_elements(disc, warp: TokenWarp, cutoff: float = 8.0) -> np.ndarray:
    """Indices (ascending) of the elements with a point within ``cutoff``·σ of some token position μ_i."""
    if getattr(disc, "kind", None) != "surface":
        raise ManifoldSpecError("disc: local element matrices need a surface discretization (sphere or mesh); "
                                "on the torus use torus_elements (closed form)")
    if not isinstance(warp, TokenWarp) or warp.dim != 3 or warp.period is not None:
        raise ManifoldSpecError("warp: expected a non-periodic TokenWarp with 3-d (ambient) token positions")
    cutoff = positive_scalar(cutoff, "cutoff")
    tri = disc.vertices[disc.triangles]  # (E, 3, 3)
    centre = tri.mean(axis=1)
    # element reach from its centroid; 1.5× covers the curved (exactly mapped) elements' bulge
    reach = 1.5 * float(np.linalg.norm(tri - centre[:, None], axis=-1).max())
    hits = cKDTree(centre).query_ball_point(warp.mu, cutoff * warp.sigma + reach)
    return np.unique(np.concatenate([np.asarray(h, dtype=np.int64) for h in hits] + [np.zeros(0, np.int64)]))


def base_element_matrices(disc, base_metric=None) -> tuple:
    """(K0_e, M0_e) (E, n_loc, n_loc) of every element under the base metric: compute once and pass as
    ``base_elements`` when many warps share a base, so each call computes only the warped elements."""
    K0, M0, _ = element_matrices(disc, IdentityMetric() if base_metric is None else base_metric)
    return K0, M0


def local_warp(disc, warp: TokenWarp, *, base_metric=None, cutoff: float = 8.0, base_elements=None) -> LocalWarp:
    """δK_e, δM_e on the touched elements of the tokens' bumps added to the base metric:
    g = g0 + Σ α_i G_i v_i v_iᵀ against g0 = ``base_metric`` (default the induced metric, so g = ``warp``).
    Dropped: elements where every bump is below e^{−cutoff²/2}. ``base_elements``: the output of
    :func:`base_element_matrices` for the same ``base_metric`` (else the base elements are recomputed)."""
    which = touched_elements(disc, warp, cutoff)
    if len(which) == 0:
        n = disc.elements.shape[1]
        empty = np.zeros((0, n, n))
        return LocalWarp(which, np.zeros((0, n), np.int64), empty, empty.copy(), float(cutoff))
    base = IdentityMetric() if base_metric is None else base_metric
    full = warp if base_metric is None else SumMetric(base, warp.perturbation)
    Kw, Mw, dofs = element_matrices(disc, full, which=which)
    if base_elements is None:
        K0, M0, _ = element_matrices(disc, base, which=which)
    else:
        K0, M0 = (np.asarray(a) for a in base_elements)
        want = (disc.elements.shape[0],) + Kw.shape[1:]
        if K0.shape != want or M0.shape != want:
            raise ManifoldSpecError(f"base_elements: expected per-element matrices {want} of this discretization "
                                    f"(base_element_matrices), got {K0.shape} and {M0.shape}")
        K0, M0 = K0[which], M0[which]
    return LocalWarp(which, dofs, Kw - K0, Mw - M0, float(cutoff))


def local_fe_elements(base, warp: TokenWarp, *, base_metric=None, cutoff: float = 8.0,
                      drop_tol: float = 1e-14, base_elements=None) -> MatrixElements:
    """Matrix elements δK̃ = Φ0ᵀ δK Φ0, δM̃ of a token warp from its touched elements only.

    Parameters
    ----------
    base : Spectrum
        Base eigenpairs on a surface discretization, computed with ``base_metric``.
    warp : TokenWarp
        Tokens (ambient coordinates); their bumps Σ α_i G_i v_i v_iᵀ are added to the base metric.
    base_metric : callable, optional
        The metric g0 of ``base`` (default: the induced metric, for which g0 + bumps is ``warp`` itself).
    cutoff : float
        Elements farther than cutoff·σ from every token are skipped (default 8).
    drop_tol : float
        Relative drop tolerance of the returned sparse matrices (as in ``fe_elements``).
    base_elements : tuple, optional
        :func:`base_element_matrices` of ``base.discretization`` and ``base_metric``, reused across calls.

    Returns
    -------
    MatrixElements (real symmetric), equal to ``fe_elements(base, g0 + bumps)`` up to the skipped bump tails.
    """
    loc = local_warp(base.discretization, warp, base_metric=base_metric, cutoff=cutoff, base_elements=base_elements)
    Phi = base.eigenvectors[loc.dofs]  # (E_t, n_loc, K)
    dK = np.einsum("eik,eij,ejl->kl", Phi, loc.dK, Phi, optimize=True)
    dM = np.einsum("eik,eij,ejl->kl", Phi, loc.dM, Phi, optimize=True)
    return _relative(0.5 * (dK + dK.T), 0.5 * (dM + dM.T), base.eigenvalues, drop_tol)


def stack_local(warps) -> tuple:
    """Batch several :class:`LocalWarp` into the CSR inputs of ``manifoldspec.gpu.fe_matrix_elements``.

    Returns
    -------
    dofs (E, n_loc), local_K, local_M (E, n_loc, n_loc), ptr (B + 1,), touched (E,): batch b sums
    contributions ``touched[ptr[b]:ptr[b + 1]]``.
    """
    warps = list(warps)
    if not warps:
        raise ManifoldSpecError("warps: need at least one LocalWarp")
    sizes = [len(w.elements) for w in warps]
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return (np.concatenate([w.dofs for w in warps]).astype(np.int64), np.concatenate([w.dK for w in warps]),
            np.concatenate([w.dM for w in warps]), ptr, np.arange(ptr[-1], dtype=np.int64))
