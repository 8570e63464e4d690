"""Point evaluation of finite-element functions: a sparse matrix E with u(points) = E u."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..geometry.manifolds import FlatTorus
from .surface_fem import shape_functions

# candidate elements checked per point (nearest centroids); generous for graded meshes
_CANDIDATES = 12


def evaluation_matrix(disc, points: np.ndarray) -> sp.csr_matrix:
    """Sparse (P, n_dofs) matrix evaluating a nodal vector at ``points`` (P, d)."""
    if disc.kind == "chart":
        L = np.asarray(disc.manifold.lengths)
        if isinstance(disc.manifold, FlatTorus):
            pts = np.mod(points, L)
        else:
            pts = np.clip(points, 0.0, L)
        return (disc.basis.probes(pts.T) @ disc.P).tocsr()
    return _surface_matrix(disc, points)


def locate_on_surface(disc, points: np.ndarray):
    """Element index (P,) and reference coordinates ξ (P, 2) of each point.

    On the exact sphere the point is found along its ray from the centre (the inverse
    of the radial element map); elsewhere it is projected orthogonally onto the
    plane of the nearest flat element.
    """
    from scipy.spatial import cKDTree

    v, t = disc.vertices, disc.triangles
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    tree = cKDTree((a + b + c) / 3)
    nc = min(_CANDIDATES, len(t))
    _, cand = tree.query(points, k=nc)
    cand = cand.reshape(len(points), nc)
    e1, e2 = b[cand] - a[cand], c[cand] - a[cand]  # (P, nc, 3)
    nrm = np.cross(e1, e2)
    p = points[:, None, :]
    if disc.exact_sphere:
        # ray x = s p meets the plane (x − a)·n = 0 at s = (a·n)/(p·n)
        s = np.sum(a[cand] * nrm, -1) / np.sum(p * nrm, -1)
        q = s[..., None] * p
    else:
        q = p - (np.sum((p - a[cand]) * nrm, -1) / np.sum(nrm * nrm, -1))[..., None] * nrm
    r = q - a[cand]
    # barycentric coordinates from the 2x2 Gram system
    d11, d12, d22 = np.sum(e1 * e1, -1), np.sum(e1 * e2, -1), np.sum(e2 * e2, -1)
    r1, r2 = np.sum(r * e1, -1), np.sum(r * e2, -1)
    det = d11 * d22 - d12**2
    xi1 = (d22 * r1 - d12 * r2) / det
    xi2 = (d11 * r2 - d12 * r1) / det
    outside = np.maximum(0, -np.minimum(np.minimum(xi1, xi2), 1 - xi1 - xi2))
    dist = np.linalg.norm(q - p, axis=-1)
    if disc.exact_sphere:
        dist = np.where(np.sum(p * nrm, -1) > 0, 0.0, np.inf)  # the ray must hit the facing side
    best = np.argmin(outside * 1e6 + dist, axis=1)
    rows = np.arange(len(points))
    xi = np.column_stack([xi1[rows, best], xi2[rows, best]])
    # clamp points slightly outside every candidate (off-surface input) onto the element
    xi = np.clip(xi, 0, 1)
    over = xi.sum(1) > 1
    xi[over] /= xi[over].sum(1, keepdims=True)
    return cand[rows, best], xi


def _surface_matrix(disc, points: np.ndarray) -> sp.csr_matrix:
    el, xi = locate_on_surface(disc, points)
    N, _ = shape_functions(disc.order, xi)  # (P, n_loc)
    cols = disc.elements[el]
    rows = np.repeat(np.arange(len(points)), cols.shape[1])
    return sp.csr_matrix((N.ravel(), (rows, cols.ravel())), shape=(len(points), disc.n_dofs))
