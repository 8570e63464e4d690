"""Discretizations: a manifold plus a mesh plus a Lagrange finite-element space (P1 or P2).

Two kinds share one frozen dataclass:

* ``chart`` — flat chart domains (torus, box; 1D, 2D or 3D) meshed and assembled with scikit-fem.
  Periodic (torus) and Dirichlet (box) constraints are a sparse matrix ``P`` mapping
  the reduced degrees of freedom to the full scikit-fem ones: u_full = P u.
* ``surface`` — triangle surfaces in R^3 (sphere, any mesh), assembled by our own
  vectorized local-frame code (scikit-fem has no embedded-surface mesh type). On the
  sphere, the element map is the exact one (flat triangle projected radially), so
  P2 keeps its O(h⁴) eigenvalue convergence (DESIGN.md §4, §9).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._checks import ManifoldSpecError, positive_int
from ..geometry.icosphere import edges_of, icosphere
from ..geometry.manifolds import Box, FlatTorus, Sphere, TriangleSurface


@dataclass(frozen=True, eq=False)
class Discretization:
    """A meshed manifold with a P1/P2 Lagrange space.

    Attributes
    ----------
    manifold : FlatTorus | Box | Sphere | TriangleSurface
    order : int
        Polynomial degree, 1 or 2.
    kind : str
        ``"chart"`` (scikit-fem, flat) or ``"surface"`` (embedded triangles).
    dof_points : ndarray, shape (n_dofs, d)
        Ambient coordinates of the (reduced) degrees of freedom.
    basis : skfem.Basis or None
        Chart kind only.
    P : scipy.sparse matrix, shape (n_full, n_dofs) or None
        Chart kind only: full scikit-fem dofs from reduced dofs.
    vertices, triangles : ndarray or None
        Surface kind only: the P1 triangle mesh (V, 3), (F, 3).
    elements : ndarray, shape (F, 3 or 6) or None
        Surface kind only: dof indices of each element (P2: vertices, then the
        midpoints of sides (0,1), (1,2), (2,0)).
    exact_sphere : bool
        Surface kind only: map elements radially onto the exact sphere.
    """

    manifold: Any
    order: int
    kind: str
    dof_points: np.ndarray
    basis: Any = None
    P: Any = None
    vertices: np.ndarray | None = None
    triangles: np.ndarray | None = None
    elements: np.ndarray | None = None
    exact_sphere: bool = False

    @property
    def n_dofs(self) -> int:
        return len(self.dof_points)

    @property
    def dim(self) -> int:
        return self.manifold.dim

    @property
    def h(self) -> float:
        """Mesh size: the longest element edge."""
        if self.kind == "surface":
            v, t = self.vertices, self.triangles
            e = np.concatenate([v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 1]], v[t[:, 0]] - v[t[:, 2]]])
            return float(np.linalg.norm(e, axis=1).max())
        m = self.basis.mesh
        # the element sides: cells in 1D, facets (edges) in 2D, edges in 3D
        a, b = {1: m.t, 2: m.facets}.get(m.dim(), m.edges)[:2]
        return float(np.linalg.norm(m.p[:, a] - m.p[:, b], axis=0).max())

    def describe(self) -> str:
        name = type(self.manifold).__name__
        return f"{name} P{self.order}, {self.n_dofs} DOFs, h = {self.h:.4g}"


def discretize(manifold, resolution: int = 16, order: int = 1) -> Discretization:
    """Mesh ``manifold`` and build a P1/P2 Lagrange space on it.

    Parameters
    ----------
    manifold : FlatTorus | Box | Sphere | TriangleSurface
    resolution : int
        Torus/box (also the 1-D circle and interval): elements per side (each side split into
        ``resolution`` intervals).
        Sphere: icosphere subdivision level (10·4^level + 2 vertices).
        TriangleSurface: ignored (the mesh is used as given).
    order : {1, 2}
        Lagrange degree.

    Returns
    -------
    Discretization
    """
    if order not in (1, 2):
        raise ManifoldSpecError(f"order: expected 1 (P1) or 2 (P2), got {order!r}")
    if isinstance(manifold, (FlatTorus, Box)):
        return _chart(manifold, positive_int(resolution, "resolution"), order)
    if isinstance(manifold, Sphere):
        level = int(resolution)
        if level < 0 or level > 9:
            raise ManifoldSpecError(f"resolution: icosphere level must lie in 0..9, got {resolution}")
        v, t = icosphere(level, manifold.radius)
        return _surface(manifold, v, t, order, exact_sphere=True)
    if isinstance(manifold, TriangleSurface):
        return _surface(manifold, manifold.vertices, manifold.triangles, order, exact_sphere=False)
    raise ManifoldSpecError(f"manifold: expected FlatTorus, Box, Sphere or TriangleSurface, got {type(manifold).__name__}")


def _chart(manifold, n: int, order: int) -> Discretization:
    import skfem

    axes = [np.linspace(0.0, L, n + 1) for L in manifold.lengths]
    if manifold.dim == 1:
        mesh = skfem.MeshLine(axes[0])
        elem = skfem.ElementLineP1() if order == 1 else skfem.ElementLineP2()
    elif manifold.dim == 2:
        mesh = skfem.MeshTri.init_tensor(*axes)
        elem = skfem.ElementTriP1() if order == 1 else skfem.ElementTriP2()
    else:
        mesh = skfem.MeshTet.init_tensor(*axes)
        elem = skfem.ElementTetP1() if order == 1 else skfem.ElementTetP2()
    # quadrature exact for the unwarped forms, and accurate for smooth warps
    basis = skfem.Basis(mesh, elem, intorder=2 * order + 2)
    locs = basis.doflocs.T  # (n_full, d)
    n_full = len(locs)
    if isinstance(manifold, FlatTorus):
        # dofs sit on a lattice of spacing L/(order·n): identify them modulo the period
        steps = order * n
        ijk = np.rint(locs / np.asarray(manifold.lengths) * steps).astype(np.int64) % steps
        _, first, red = np.unique(ijk, axis=0, return_index=True, return_inverse=True)
        red = red.ravel()
        P = sp.csr_matrix((np.ones(n_full), (np.arange(n_full), red)), shape=(n_full, len(first)))
        pts = locs[first]
    elif manifold.bc == "dirichlet":
        interior = np.setdiff1d(np.arange(n_full), basis.get_dofs().flatten())
        P = sp.csr_matrix((np.ones(len(interior)), (interior, np.arange(len(interior)))), shape=(n_full, len(interior)))
        pts = locs[interior]
    else:
        P = sp.identity(n_full, format="csr")
        pts = locs
    return Discretization(manifold, order, "chart", pts, basis=basis, P=P)


def _surface(manifold, v: np.ndarray, t: np.ndarray, order: int, *, exact_sphere: bool) -> Discretization:
    if order == 1:
        return Discretization(manifold, 1, "surface", v.copy(), vertices=v, triangles=t, elements=t.copy(),
                              exact_sphere=exact_sphere)
    edges, tri_edges = edges_of(t)
    mid = 0.5 * (v[edges[:, 0]] + v[edges[:, 1]])
    if exact_sphere:
        mid = manifold.project(mid)
    nodes = np.vstack([v, mid])
    elements = np.hstack([t, tri_edges + len(v)])
    return Discretization(manifold, 2, "surface", nodes, vertices=v, triangles=t, elements=elements,
                          exact_sphere=exact_sphere)
