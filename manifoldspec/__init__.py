"""manifoldspec: spectra of token-warped Riemannian manifolds.

The numerical core needs numpy, scipy and scikit-fem only; ``manifoldspec.nn``
needs torch and the GPU path needs cupy — neither is imported here.
"""
from ._checks import ManifoldSpecError
from .geometry import (Box, CallableMetric, ConformalMetric, FlatTorus, IdentityMetric, ScaledMetric, Sphere,
                       TokenWarp, TriangleSurface, exact_eigenvalues, random_warp)
from .spectral import Spectrum, assemble, discretize, geodesic_distance, solve

__version__ = "0.1.0"

__all__ = ["Box", "CallableMetric", "ConformalMetric", "FlatTorus", "IdentityMetric", "ManifoldSpecError",
           "ScaledMetric", "Sphere", "Spectrum", "TokenWarp", "TriangleSurface", "assemble", "discretize",
           "exact_eigenvalues", "geodesic_distance", "random_warp", "solve"]
