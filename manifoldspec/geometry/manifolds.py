"""The manifolds a user can discretize: flat torus, box, round sphere, triangle surface.

Each is a small frozen dataclass describing the *continuous* object; meshes are built
by :func:`manifoldspec.spectral.discretize`. Analytic spectra live in
:mod:`manifoldspec.geometry.exact`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array, positive_scalar


def _lengths(lengths, name: str) -> tuple[float, ...]:
    vals = tuple(positive_scalar(x, f"{name}[{i}]") for i, x in enumerate(np.atleast_1d(lengths)))
    if len(vals) not in (1, 2, 3):
        raise ManifoldSpecError(f"{name}: dimension must be 1, 2 or 3, got {len(vals)} side lengths")
    return vals


@dataclass(frozen=True)
class FlatTorus:
    """Flat torus R^n / (L_1 Z x ... x L_n Z), n = 1, 2 or 3, chart [0, L_1) x ... x [0, L_n).

    n = 1 is the circle of circumference L_1: every metric on it is isometric to a round circle of
    its Riemannian length, so its spectrum (2πk/L_g)² is known exactly for any warp (THEOREMS FE-1).
    """

    lengths: tuple[float, ...] = (2 * np.pi, 2 * np.pi)

    def __post_init__(self):
        object.__setattr__(self, "lengths", _lengths(self.lengths, "lengths"))

    @property
    def dim(self) -> int:
        return len(self.lengths)

    @property
    def ambient_dim(self) -> int:
        return self.dim

    @property
    def period(self) -> tuple[float, ...]:
        return self.lengths

    @property
    def volume(self) -> float:
        return float(np.prod(self.lengths))


@dataclass(frozen=True)
class Box:
    """Interval/rectangle/box [0, L_1] x ... x [0, L_n], n = 1, 2 or 3, with Neumann or Dirichlet boundary
    conditions."""

    lengths: tuple[float, ...] = (1.0, 1.0)
    bc: str = "neumann"

    def __post_init__(self):
        object.__setattr__(self, "lengths", _lengths(self.lengths, "lengths"))
        if self.bc not in ("neumann", "dirichlet"):
            raise ManifoldSpecError(f"bc: expected 'neumann' or 'dirichlet', got {self.bc!r}")

    @property
    def dim(self) -> int:
        return len(self.lengths)

    @property
    def ambient_dim(self) -> int:
        return self.dim

    @property
    def period(self) -> None:
        return None

    @property
    def volume(self) -> float:
        return float(np.prod(self.lengths))


@dataclass(frozen=True)
class Sphere:
    """Round sphere S^2 of the given radius, centred at the origin of R^3."""

    radius: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "radius", positive_scalar(self.radius, "radius"))

    dim = 2
    ambient_dim = 3
    period = None

    @property
    def volume(self) -> float:
        return 4 * np.pi * self.radius**2

    def project(self, x: np.ndarray) -> np.ndarray:
        """Closest point on the sphere, shape (..., 3) -> (..., 3)."""
        return self.radius * x / np.linalg.norm(x, axis=-1, keepdims=True)


@dataclass(frozen=True, eq=False)
class TriangleSurface:
    """A closed or open triangle surface mesh in R^3 (vertices (V, 3), triangles (F, 3))."""

    vertices: np.ndarray
    triangles: np.ndarray
    name: str = "mesh"

    dim = 2
    ambient_dim = 3
    period = None

    def __post_init__(self):
        v = as_finite_array(self.vertices, "vertices", shape=(None, 3))
        t = np.asarray(self.triangles)
        if t.ndim != 2 or t.shape[1] != 3 or not np.issubdtype(t.dtype, np.integer):
            raise ManifoldSpecError(f"triangles: expected an integer array of shape (F, 3), got {t.dtype} {t.shape}")
        if t.size == 0:
            raise ManifoldSpecError("triangles: the mesh has no triangles")
        if t.min() < 0 or t.max() >= len(v):
            raise ManifoldSpecError(f"triangles: vertex indices must lie in [0, {len(v) - 1}], got [{t.min()}, {t.max()}]")
        e1, e2 = v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]
        area = 0.5 * np.linalg.norm(np.cross(e1, e2), axis=1)
        if np.any(area <= 1e-14 * max(np.ptp(v), 1.0) ** 2):
            raise ManifoldSpecError(f"triangles: {int((area <= 0).sum() or (area <= 1e-14).sum())} degenerate (zero-area) triangle(s)")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "triangles", t.astype(np.int64))

    @property
    def volume(self) -> float:
        v, t = self.vertices, self.triangles
        return float(0.5 * np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1).sum())

    @classmethod
    def from_file(cls, path) -> "TriangleSurface":
        """Read a triangle surface with meshio (.obj, .off, .ply, .stl, .vtk, .msh, ...)."""
        import meshio

        p = Path(path)
        if not p.is_file():
            raise ManifoldSpecError(f"mesh file: {str(p)!r} does not exist or is not a file")
        try:
            m = meshio.read(p)
        except Exception as exc:  # meshio raises many types; the user needs one clear message
            raise ManifoldSpecError(f"mesh file: cannot read {str(p)!r} as a mesh ({type(exc).__name__}: {exc})") from None
        tris = [c.data for c in m.cells if c.type == "triangle"]
        if not tris:
            kinds = sorted({c.type for c in m.cells}) or ["none"]
            raise ManifoldSpecError(f"mesh file: {str(p)!r} has no triangle cells (found: {', '.join(kinds)})")
        pts = np.asarray(m.points, dtype=float)
        if pts.shape[1] == 2:
            pts = np.column_stack([pts, np.zeros(len(pts))])
        return cls(pts, np.concatenate(tris).astype(np.int64), name=p.stem)


Manifold = FlatTorus | Box | Sphere | TriangleSurface
