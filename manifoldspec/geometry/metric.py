"""Metric fields g(x): callables mapping ambient points (P, d) to SPD tensors (P, d, d).

Convention (used everywhere in manifoldspec): metric values carry the matrix axes
*last*, ``g[p, a, b]``. On an embedded surface the field is an ambient d x d tensor
and the surface metric is its pull-back Jᵀ g J to the element chart, which is the
tangent projection of DESIGN.md §3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._checks import ManifoldSpecError


def _points(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ManifoldSpecError(f"points: expected shape (P, d), got {x.shape}")
    return x


@dataclass(frozen=True)
class IdentityMetric:
    """The flat metric δ_ab (on a surface: the metric induced from R^3)."""

    def __call__(self, x) -> np.ndarray:
        x = _points(x)
        return np.broadcast_to(np.eye(x.shape[1]), (len(x), x.shape[1], x.shape[1])).copy()


@dataclass(frozen=True)
class ConformalMetric:
    """g = exp(2 u(x)) g0 for a scalar function u: (P, d) -> (P,)."""

    u: Callable[[np.ndarray], np.ndarray]
    base: Callable = IdentityMetric()

    def __call__(self, x) -> np.ndarray:
        x = _points(x)
        u = np.asarray(self.u(x), dtype=float)
        if u.shape != (len(x),):
            raise ManifoldSpecError(f"conformal factor u: expected shape ({len(x)},) for {len(x)} points, got {u.shape}")
        if not np.all(np.isfinite(u)):
            raise ManifoldSpecError("conformal factor u: returned NaN or infinite values")
        return np.exp(2 * u)[:, None, None] * self.base(x)


@dataclass(frozen=True)
class ScaledMetric:
    """g = c² g0 with a constant c > 0 (eigenvalues scale exactly by 1/c²)."""

    c: float
    base: Callable = IdentityMetric()

    def __call__(self, x) -> np.ndarray:
        return self.c**2 * self.base(x)


@dataclass(frozen=True)
class CallableMetric:
    """Any user function ``fn(x) -> g`` with x (P, d) and g (P, d, d); validated on use."""

    fn: Callable[[np.ndarray], np.ndarray]
    name: str = "user metric"

    def __call__(self, x) -> np.ndarray:
        x = _points(x)
        g = np.asarray(self.fn(x), dtype=float)
        d = x.shape[1]
        if g.shape != (len(x), d, d):
            raise ManifoldSpecError(f"{self.name}: must return shape ({len(x)}, {d}, {d}) for points of shape {x.shape}, got {g.shape}")
        return g


@dataclass(frozen=True)
class SumMetric:
    """g = g0 + δg for two metric-like fields (δg need not be SPD; the sum must be)."""

    base: Callable
    delta: Callable

    def __call__(self, x) -> np.ndarray:
        return self.base(x) + self.delta(x)


def as_metric(metric) -> Callable:
    """Accept ``None`` (identity), a metric object, or a plain callable."""
    from .warp import TokenWarp

    if metric is None:
        return IdentityMetric()
    if isinstance(metric, (IdentityMetric, ConformalMetric, ScaledMetric, CallableMetric, SumMetric, TokenWarp)):
        return metric
    if callable(metric):
        return CallableMetric(metric)
    raise ManifoldSpecError(f"metric: expected None, a metric object or a callable x -> g, got {type(metric).__name__}")
