"""The result users hold: eigenvalues, M-orthonormal eigenfunctions, and their discretization."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array
from .._files import atomic_write
from .assemble import Operators
from .clusters import CLUSTER_RTOL, cluster_indices
from .locate import evaluation_matrix


@dataclass(frozen=True, eq=False)
class Spectrum:
    """First k eigenpairs of −Δ_g on a discretization.

    Attributes
    ----------
    eigenvalues : ndarray (k,)
        Ascending, in 1/length² (λ of −Δ_g φ = λ φ).
    eigenvectors : ndarray (n_dofs, k)
        Nodal values, M-orthonormal: ``eigenvectors.T @ M @ eigenvectors = I``,
        i.e. orthonormal in L²(M, dVol_g) of the discrete metric.
    operators : Operators
        K (stiffness) and M (mass) they solve.
    discretization : Discretization
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    operators: Operators
    discretization: object

    @property
    def k(self) -> int:
        return len(self.eigenvalues)

    @property
    def K(self):
        return self.operators.K

    @property
    def M(self):
        return self.operators.M

    @property
    def area(self) -> float:
        """Riemannian volume ∫√|g| of the discretized manifold."""
        return self.operators.area

    def orthonormality_error(self) -> float:
        """max |Φᵀ M Φ − I|."""
        G = self.eigenvectors.T @ (self.M @ self.eigenvectors)
        return float(np.abs(G - np.eye(self.k)).max())

    def clusters(self, rtol: float = CLUSTER_RTOL) -> list[np.ndarray]:
        """Index groups of (near-)degenerate eigenvalues; see :func:`~manifoldspec.spectral.clusters.cluster_indices`.

        The default ``rtol = 1e-2`` (the perturbation engine's) groups the multiplets a mesh splits
        (relative splitting ~1e-4 on a level-3 icosphere); pass a smaller ``rtol`` to see the splitting.
        """
        return cluster_indices(self.eigenvalues, rtol)

    def evaluate(self, points, which=None) -> np.ndarray:
        """Eigenfunction values at arbitrary points.

        Parameters
        ----------
        points : array (P, d)
            Ambient coordinates. Torus points are wrapped into the chart; surface
            points are projected onto the nearest element.
        which : index array, optional
            Subset of eigenfunctions (default all).

        Returns
        -------
        ndarray (P, k)
        """
        d = self.discretization.dof_points.shape[1]
        pts = as_finite_array(points, "points", shape=(None, d))
        E = evaluation_matrix(self.discretization, pts)
        Phi = self.eigenvectors if which is None else self.eigenvectors[:, which]
        return E @ Phi

    def counting_function(self, lam) -> np.ndarray:
        """N(λ): number of computed eigenvalues ≤ λ."""
        return np.searchsorted(self.eigenvalues, np.asarray(lam), side="right")

    def save(self, path) -> Path:
        """Write ``.npz`` (eigenvalues, eigenvectors, dof_points) or ``.json`` (eigenvalues, metadata)."""
        path = Path(path)
        meta = {"manifold": type(self.discretization.manifold).__name__, "order": self.discretization.order,
                "n_dofs": self.discretization.n_dofs, "area": self.area}
        if path.suffix == ".npz":
            def write(tmp):
                with open(tmp, "wb") as fh:  # a file object: np.savez would append .npz to the temporary name
                    np.savez(fh, eigenvalues=self.eigenvalues, eigenvectors=self.eigenvectors,
                             dof_points=self.discretization.dof_points, **{k: np.asarray(v) for k, v in meta.items()})
        elif path.suffix == ".json":
            def write(tmp):
                Path(tmp).write_text(json.dumps({**meta, "eigenvalues": self.eigenvalues.tolist()}, indent=1))
        else:
            raise ManifoldSpecError(f"path: expected a .npz or .json file name, got {str(path)!r}")
        return atomic_write(path, write)  # an existing file is replaced whole or left as it was
