"""Icosphere: recursive subdivision of the icosahedron, vertices projected to the sphere."""
from __future__ import annotations

import numpy as np


def icosahedron() -> tuple[np.ndarray, np.ndarray]:
    """Unit icosahedron: vertices (12, 3), outward-oriented triangles (20, 3)."""
    p = (1 + 5**0.5) / 2
    v = np.array([[-1, p, 0], [1, p, 0], [-1, -p, 0], [1, -p, 0],
                  [0, -1, p], [0, 1, p], [0, -1, -p], [0, 1, -p],
                  [p, 0, -1], [p, 0, 1], [-p, 0, -1], [-p, 0, 1]], dtype=float)
    f = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
                  [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
                  [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
                  [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]], dtype=np.int64)
    return v / np.linalg.norm(v, axis=1, keepdims=True), f


def edges_of(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected edges of a triangle list.

    Returns ``edges`` (E, 2) with sorted vertex pairs, and ``tri_edges`` (F, 3) where
    column j is the index of the edge between local vertices j and (j + 1) % 3.
    """
    pairs = np.stack([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]], axis=1)
    pairs = np.sort(pairs.reshape(-1, 2), axis=1)
    edges, inverse = np.unique(pairs, axis=0, return_inverse=True)
    return edges, inverse.reshape(-1, 3)


def icosphere(level: int, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Icosphere with ``10 * 4**level + 2`` vertices.

    Returns
    -------
    vertices : ndarray, shape (V, 3)
    triangles : ndarray, shape (F, 3), F = 20 * 4**level, counter-clockwise seen from outside.
    """
    v, f = icosahedron()
    for _ in range(int(level)):
        edges, te = edges_of(f)
        mid = v[edges[:, 0]] + v[edges[:, 1]]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        m = te + len(v)  # midpoint vertex ids: m[:, j] on side (j, j+1)
        v = np.vstack([v, mid])
        f = np.concatenate([
            np.column_stack([f[:, 0], m[:, 0], m[:, 2]]),
            np.column_stack([f[:, 1], m[:, 1], m[:, 0]]),
            np.column_stack([f[:, 2], m[:, 2], m[:, 1]]),
            m,
        ])
    return radius * v, f


def icosphere_level_for(n_vertices: int) -> int:
    """Smallest level whose icosphere has at least ``n_vertices`` vertices."""
    level = 0
    while 10 * 4**level + 2 < n_vertices:
        level += 1
    return level
