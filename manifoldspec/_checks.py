"""Input validation shared by the whole package.

Every public entry point validates its arguments here so that errors name the
argument, say what was wrong, and say what is accepted.
"""
from __future__ import annotations

import numpy as np


class ManifoldSpecError(ValueError):
    """Raised for invalid user input (bad shapes, non-SPD metrics, NaN, ...)."""


def as_finite_array(x, name: str, *, ndim: int | None = None, shape: tuple | None = None,
                    dtype=np.float64) -> np.ndarray:
    """Return ``x`` as a finite float array, or raise naming ``name``.

    ``shape`` may contain ``None`` for a free axis.
    """
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ManifoldSpecError(f"{name}: cannot be converted to a {np.dtype(dtype).name} array ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ManifoldSpecError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ManifoldSpecError(f"{name}: expected shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ManifoldSpecError(f"{name}: contains {bad} NaN or infinite value(s); only finite values are accepted")
    return arr


def positive_scalar(x, name: str) -> float:
    """Return ``x`` as a float > 0, or raise naming ``name``."""
    try:
        val = float(x)
    except (TypeError, ValueError):
        raise ManifoldSpecError(f"{name}: expected a positive number, got {x!r}") from None
    if not np.isfinite(val) or val <= 0:
        raise ManifoldSpecError(f"{name}: must be a finite number > 0, got {val}")
    return val


def positive_int(x, name: str) -> int:
    if isinstance(x, bool) or int(x) != x or int(x) < 1:
        raise ManifoldSpecError(f"{name}: must be a positive integer, got {x!r}")
    return int(x)


def check_spd(g: np.ndarray, name: str = "metric", where: np.ndarray | None = None) -> None:
    """Raise unless every matrix in ``g`` (shape ``(..., n, n)``) is symmetric positive definite.

    Parameters
    ----------
    g : ndarray, shape (..., n, n)
        Metric values at points.
    where : ndarray, shape (..., d), optional
        Coordinates of the same points, used to report the first bad point.
    """
    if not np.all(np.isfinite(g)):
        raise ManifoldSpecError(f"{name}: produced NaN or infinite values; the metric must be finite everywhere")
    scale = np.maximum(np.abs(g).max(axis=(-2, -1)), 1e-300)
    asym = np.abs(g - np.swapaxes(g, -1, -2)).max(axis=(-2, -1)) / scale
    if np.any(asym > 1e-10):
        raise ManifoldSpecError(f"{name}: not symmetric (relative asymmetry {asym.max():.2e}); g must satisfy g = gᵀ")
    if g.shape[-1] == 2:  # closed form: the hot path of every surface assembly
        half_tr = 0.5 * (g[..., 0, 0] + g[..., 1, 1])
        det = g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0]
        lam_min = half_tr - np.sqrt(np.maximum(half_tr**2 - det, 0.0))
    else:
        lam_min = np.linalg.eigvalsh(0.5 * (g + np.swapaxes(g, -1, -2)))[..., 0]
    bad = lam_min <= 1e-12 * scale
    if np.any(bad):
        idx = np.unravel_index(np.argmax(bad), bad.shape)
        loc = ""
        if where is not None:
            loc = f" e.g. at point {np.array2string(np.asarray(where)[idx], precision=4)}"
        raise ManifoldSpecError(
            f"{name}: not positive definite at {int(bad.sum())} of {bad.size} quadrature points"
            f" (smallest eigenvalue {lam_min.min():.3e}){loc}; a Riemannian metric must be SPD everywhere"
        )
