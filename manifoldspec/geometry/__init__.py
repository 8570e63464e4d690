"""Manifolds, metric fields and the token warp of eq. (1)."""
from .exact import exact_eigenvalues, weyl_count
from .manifolds import Box, FlatTorus, Sphere, TriangleSurface
from .metric import CallableMetric, ConformalMetric, IdentityMetric, ScaledMetric, SumMetric
from .warp import TokenWarp, random_warp

__all__ = ["Box", "CallableMetric", "ConformalMetric", "FlatTorus", "IdentityMetric", "ScaledMetric", "Sphere",
           "SumMetric", "TokenWarp", "TriangleSurface", "exact_eigenvalues", "random_warp", "weyl_count"]
