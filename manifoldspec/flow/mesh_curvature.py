"""Intrinsic geometry of a triangle mesh given only its edge lengths.

A closed triangle mesh with side lengths ``L`` (F, 3) — ``L[f, j]`` is the side of
triangle f opposite its corner j — is a piecewise-flat surface. Its Gaussian curvature
is concentrated at vertices as angle defects Θ_i = 2π − Σ corner angles, and

    Σ_i Θ_i = 2π χ        (discrete Gauss–Bonnet, exact for any lengths)

with χ = V − E + F. The pointwise curvature is K_i = Θ_i / A_i with the circumcentric
(cotan) dual area A_i = ⅛ Σ (ℓ² cot) over the two sides at i in each triangle; these
dual areas sum to the total area, and under vertex scaling ℓ_ij = e^{(u_i+u_j)/2} ℓ⁰_ij
they satisfy ∂A/∂u_i = 2A_i, which makes the area law of the flow exact (docs/ricci_flow.md).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError, as_finite_array

# corner j's two neighbours in a triangle
_NEXT = np.array([1, 2, 0])
_PREV = np.array([2, 0, 1])


def check_triangles(triangles, n_vertices: int | None = None) -> np.ndarray:
    t = np.asarray(triangles)
    if t.ndim != 2 or t.shape[1] != 3 or not np.issubdtype(t.dtype, np.integer):
        raise ManifoldSpecError(f"triangles: expected an integer array of shape (F, 3), got {t.dtype} {t.shape}")
    if t.size == 0 or t.min() < 0 or (n_vertices is not None and t.max() >= n_vertices):
        raise ManifoldSpecError(f"triangles: vertex indices must lie in [0, {n_vertices}), got range "
                                f"[{t.min() if t.size else '-'}, {t.max() if t.size else '-'}]")
    return t.astype(np.int64)


def side_lengths(vertices, triangles) -> np.ndarray:
    """Side lengths (F, 3) of an embedded mesh; column j is the side opposite corner j."""
    v = as_finite_array(vertices, "vertices", shape=(None, 3))
    t = check_triangles(triangles, len(v))
    return np.linalg.norm(v[t[:, _PREV]] - v[t[:, _NEXT]], axis=-1)


def scaled_lengths(L0: np.ndarray, triangles: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Vertex scaling ℓ_ij = e^{(u_i + u_j)/2} ℓ⁰_ij, shape (F, 3)."""
    return L0 * np.exp(0.5 * (u[triangles[:, _NEXT]] + u[triangles[:, _PREV]]))


def triangle_areas(L: np.ndarray) -> np.ndarray:
    """Areas (F,) from side lengths (Kahan's stable Heron formula); raises on a broken triangle inequality."""
    s = np.sort(L, axis=1)[:, ::-1]  # a ≥ b ≥ c
    a, b, c = s[:, 0], s[:, 1], s[:, 2]
    q = (a + (b + c)) * (c - (a - b)) * (c + (a - b)) * (a + (b - c))
    if np.any(q <= 0) or not np.all(np.isfinite(q)):
        bad = int(np.count_nonzero(~(q > 0)))
        raise ManifoldSpecError(f"edge lengths: {bad} triangle(s) violate the strict triangle inequality; "
                                "the metric degenerated (the flow step was too large or the surface pinched)")
    return 0.25 * np.sqrt(q)


def cotangents(L: np.ndarray, area: np.ndarray | None = None) -> np.ndarray:
    """cot of every corner angle, (F, 3): cot θ_j = (b² + c² − a²) / (4 A)."""
    area = triangle_areas(L) if area is None else area
    L2 = L**2
    return (L2[:, _NEXT] + L2[:, _PREV] - L2) / (4.0 * area[:, None])


def corner_angles(L: np.ndarray) -> np.ndarray:
    """Corner angles θ (F, 3) in radians; atan2 form, accurate for small and obtuse angles."""
    area = triangle_areas(L)
    L2 = L**2
    return np.arctan2(4.0 * area[:, None], L2[:, _NEXT] + L2[:, _PREV] - L2)


def angle_defects(triangles: np.ndarray, angles: np.ndarray, n_vertices: int) -> np.ndarray:
    """Θ_i = 2π − Σ corner angles at i, shape (V,) (closed meshes: every vertex is interior)."""
    return 2 * np.pi - np.bincount(triangles.ravel(), weights=angles.ravel(), minlength=n_vertices)


def dual_areas(triangles: np.ndarray, L: np.ndarray, cot: np.ndarray, n_vertices: int) -> np.ndarray:
    """Circumcentric dual areas A_i (V,); Σ A_i = total area. Non-positive on badly obtuse meshes."""
    w = L**2 * cot  # (F, 3): side j term ℓ_j² cot θ_j, shared by the side's two end corners
    per_corner = (w[:, _NEXT] + w[:, _PREV]) / 8.0
    return np.bincount(triangles.ravel(), weights=per_corner.ravel(), minlength=n_vertices)


def euler_characteristic(triangles: np.ndarray, n_vertices: int) -> int:
    """χ = V − E + F."""
    pairs = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    n_edges = len(np.unique(pairs, axis=0))
    return int(n_vertices - n_edges + len(triangles))


def cotan_laplacian(triangles: np.ndarray, cot: np.ndarray, n_vertices: int) -> sp.csr_matrix:
    """P1 stiffness (V, V): L_ij = −½(cot α + cot β) for an edge ij, zero row sums; symmetric PSD on Delaunay meshes."""
    t = triangles
    i, j = t[:, _NEXT].ravel(), t[:, _PREV].ravel()  # side opposite corner k joins NEXT(k), PREV(k)
    w = 0.5 * cot.ravel()
    off = sp.coo_matrix((-w, (i, j)), shape=(n_vertices, n_vertices))
    off = off + off.T
    diag = -np.asarray(off.sum(axis=1)).ravel()
    return (off + sp.diags(diag)).tocsr()


def p1_mass(triangles: np.ndarray, area: np.ndarray, n_vertices: int) -> sp.csr_matrix:
    """Consistent P1 mass (V, V): A_f/12 · [[2,1,1],[1,2,1],[1,1,2]] per triangle."""
    t = triangles
    local = (area[:, None, None] / 12.0) * (np.ones((3, 3)) + np.eye(3))
    rows = np.repeat(t, 3, axis=1).ravel()
    cols = np.tile(t, (1, 3)).ravel()
    return sp.csr_matrix((local.ravel(), (rows, cols)), shape=(n_vertices, n_vertices))


def mesh_curvature(triangles: np.ndarray, L: np.ndarray, n_vertices: int) -> dict:
    """All per-vertex curvature data of a piecewise-flat metric.

    Returns
    -------
    dict with
        ``defect`` (V,) angle defects Θ_i (radians, integrated curvature),
        ``dual_area`` (V,) circumcentric areas A_i,
        ``K`` (V,) pointwise Gaussian curvature Θ_i / A_i (1/length²),
        ``area`` float total area, ``cot`` (F, 3), ``tri_area`` (F,).
    """
    tri_area = triangle_areas(L)
    cot = cotangents(L, tri_area)
    angles = np.arctan2(4.0 * tri_area[:, None], (L**2)[:, _NEXT] + (L**2)[:, _PREV] - L**2)
    defect = angle_defects(triangles, angles, n_vertices)
    A = dual_areas(triangles, L, cot, n_vertices)
    if np.any(A <= 0):
        raise ManifoldSpecError(f"mesh: {int(np.sum(A <= 0))} vertex dual area(s) are not positive (badly obtuse "
                                "triangles); the pointwise curvature Θ_i/A_i is undefined — use a Delaunay mesh")
    return {"defect": defect, "dual_area": A, "K": defect / A, "area": float(tri_area.sum()), "cot": cot,
            "tri_area": tri_area}
