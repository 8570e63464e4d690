"""Curvature of a metric sampled on a uniform periodic chart grid (n = 2 or 3).

A metric field is stored as ``g`` of shape (N_1, ..., N_n, n, n): the matrix axes
come last (the convention of :mod:`manifoldspec.geometry.metric`), grid point
``j`` sits at x = (j_1 L_1/N_1, ..., j_n L_n/N_n). Derivatives are spectral (FFT),
so for smooth periodic metrics the curvature converges faster than any power of h.

Index conventions (docs/ricci_flow.md):

* Christoffel symbols ``gamma[..., k, i, j]`` = Γ^k_ij = ½ g^{kl}(∂_i g_jl + ∂_j g_il − ∂_l g_ij).
* Riemann ``riem[..., l, i, j, k]`` = R^l_ijk = ∂_j Γ^l_ik − ∂_k Γ^l_ij + Γ^l_jm Γ^m_ik − Γ^l_km Γ^m_ij.
* Ricci R_ik = R^j_ijk (positive on round spheres), scalar R = g^{ik} R_ik, and in 2D
  the Gaussian curvature K = R/2, with Ric = K g.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import ManifoldSpecError, as_finite_array, check_spd, positive_scalar


@dataclass(frozen=True)
class PeriodicGrid:
    """Uniform periodic grid on the chart [0, L_1) x ... x [0, L_n).

    Parameters
    ----------
    lengths : tuple of n floats
        Periods L_a (chart length units).
    shape : tuple of n ints
        Points per axis N_a (odd or even; the Nyquist mode of an even axis is
        differentiated to zero).
    """

    lengths: tuple
    shape: tuple

    def __post_init__(self):
        lengths = tuple(positive_scalar(x, f"lengths[{i}]") for i, x in enumerate(np.atleast_1d(self.lengths)))
        shape = tuple(int(s) for s in np.atleast_1d(self.shape))
        if len(lengths) not in (2, 3):
            raise ManifoldSpecError(f"lengths: the grid dimension must be 2 or 3, got {len(lengths)} periods")
        if len(shape) != len(lengths):
            raise ManifoldSpecError(f"shape: expected {len(lengths)} point counts to match lengths, got {shape}")
        if any(s < 4 for s in shape):
            raise ManifoldSpecError(f"shape: need at least 4 points per axis, got {shape}")
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "shape", shape)

    @property
    def dim(self) -> int:
        return len(self.shape)

    @property
    def spacing(self) -> np.ndarray:
        """Grid spacings h_a = L_a / N_a, shape (n,)."""
        return np.asarray(self.lengths) / np.asarray(self.shape)

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.spacing))

    def axes(self) -> list[np.ndarray]:
        return [np.arange(N) * L / N for N, L in zip(self.shape, self.lengths)]

    def coordinates(self) -> np.ndarray:
        """Grid coordinates, shape (N_1, ..., N_n, n)."""
        return np.stack(np.meshgrid(*self.axes(), indexing="ij"), axis=-1)

    def points(self) -> np.ndarray:
        """Grid coordinates flattened in C order, shape (P, n) with P = N_1···N_n."""
        return self.coordinates().reshape(-1, self.dim)

    def wavenumbers(self, axis: int) -> np.ndarray:
        """Angular wavenumbers of ``rfft`` along ``axis`` (Nyquist set to 0), shape (N//2+1,)."""
        N, L = self.shape[axis], self.lengths[axis]
        k = 2 * np.pi / L * np.arange(N // 2 + 1)
        if N % 2 == 0:
            k[-1] = 0.0  # the Nyquist mode has no well-defined real derivative
        return k

    def k_squared(self) -> np.ndarray:
        """|k|² of every full-FFT mode, shape (N_1, ..., N_n); the symbol of −Δ_flat."""
        ks = [2 * np.pi / L * np.fft.fftfreq(N, 1.0 / N) for N, L in zip(self.shape, self.lengths)]
        grids = np.meshgrid(*ks, indexing="ij")
        return sum(k**2 for k in grids)

    def k_max_squared(self) -> float:
        """Largest |k|² of the grid: the stiffest mode of −Δ_flat."""
        return float(sum((2 * np.pi / L * (N // 2)) ** 2 for N, L in zip(self.shape, self.lengths)))

    def sample(self, metric) -> np.ndarray:
        """Evaluate a metric callable (P, n) -> (P, n, n) on the grid, shape (N..., n, n)."""
        g = np.asarray(metric(self.points()), dtype=float)
        n = self.dim
        if g.shape != (int(np.prod(self.shape)), n, n):
            raise ManifoldSpecError(f"metric: returned shape {g.shape} for {np.prod(self.shape)} grid points, "
                                    f"expected ({np.prod(self.shape)}, {n}, {n})")
        return g.reshape(self.shape + (n, n))


def check_grid_metric(g, grid: PeriodicGrid, name: str = "g") -> np.ndarray:
    """Validate a sampled metric: finite, shape (N..., n, n), symmetric positive definite."""
    n = grid.dim
    g = as_finite_array(g, name, shape=grid.shape + (n, n))
    check_spd(g, name=name)
    return g


def derivative(f: np.ndarray, grid: PeriodicGrid, axis: int) -> np.ndarray:
    """Spectral ∂f/∂x_axis of a periodic field f of shape (N_1, ..., N_n, ...)."""
    N = grid.shape[axis]
    fh = np.fft.rfft(f, axis=axis)
    ik = 1j * grid.wavenumbers(axis)
    ik = ik.reshape((-1,) + (1,) * (f.ndim - axis - 1))
    return np.fft.irfft(fh * ik, n=N, axis=axis)


def gradient(f: np.ndarray, grid: PeriodicGrid) -> np.ndarray:
    """All first derivatives of f (N..., *rest): ``out[N..., a, *rest]`` = ∂_a f[N..., *rest]."""
    n = grid.dim
    return np.stack([derivative(f, grid, a) for a in range(n)], axis=n)


def metric_inverse(g: np.ndarray) -> np.ndarray:
    return np.linalg.inv(g)


def christoffel(g: np.ndarray, grid: PeriodicGrid, ginv: np.ndarray | None = None) -> np.ndarray:
    """Christoffel symbols of the second kind, ``gamma[..., k, i, j]`` = Γ^k_ij, shape (N..., n, n, n).

    Units: 1/length (chart coordinates).
    """
    ginv = metric_inverse(g) if ginv is None else ginv
    dg = gradient(g, grid)  # (N..., l, i, j) = ∂_l g_ij
    # first kind Γ_{l,ij} = ½(∂_i g_jl + ∂_j g_il − ∂_l g_ij)
    first = 0.5 * (np.moveaxis(dg, -1, -3)  # [l, i, j] = ∂_i g_jl
                   + np.swapaxes(dg, -3, -1)  # [l, i, j] = ∂_j g_il
                   - dg)
    return np.einsum("...kl,...lij->...kij", ginv, first)


def ricci_tensor(g, grid: PeriodicGrid, *, gamma: np.ndarray | None = None) -> np.ndarray:
    """Ricci tensor R_ij of a sampled metric, shape (N..., n, n), units 1/length².

    R_ij = ∂_k Γ^k_ij − ∂_j Γ^k_ki + Γ^k_kl Γ^l_ij − Γ^k_jl Γ^l_ki, symmetrized
    (it is symmetric analytically; spectral products break that only at rounding level).
    """
    n = grid.dim
    gamma = christoffel(g, grid) if gamma is None else gamma
    div = sum(derivative(gamma[..., k, :, :], grid, k) for k in range(n))  # ∂_k Γ^k_ij
    trace = np.einsum("...kki->...i", gamma)  # Γ^k_ki = ∂_i log √det g
    dtrace = gradient(trace, grid)  # (N..., j, i) = ∂_j Γ^k_ki
    ric = (div - np.swapaxes(dtrace, -1, -2)
           + np.einsum("...l,...lij->...ij", trace, gamma)
           - np.einsum("...kjl,...lki->...ij", gamma, gamma))
    return 0.5 * (ric + np.swapaxes(ric, -1, -2))


def riemann_tensor(g, grid: PeriodicGrid, *, gamma: np.ndarray | None = None) -> np.ndarray:
    """Riemann tensor ``riem[..., l, i, j, k]`` = R^l_ijk, shape (N..., n, n, n, n).

    The plain reference for :func:`ricci_tensor` (Ric_ik = R^j_ijk); costs n⁴ fields.
    """
    gamma = christoffel(g, grid) if gamma is None else gamma
    dgam = gradient(gamma, grid)  # (N..., j, l, i, k) = ∂_j Γ^l_ik
    d_j = np.moveaxis(dgam, -4, -2)  # (l, i, j, k): ∂_j Γ^l_ik
    d_k = np.swapaxes(d_j, -1, -2)  # (l, i, j, k): ∂_k Γ^l_ij
    quad = np.einsum("...ljm,...mik->...lijk", gamma, gamma)
    return d_j - d_k + quad - np.swapaxes(quad, -1, -2)


def ricci_from_riemann(riem: np.ndarray) -> np.ndarray:
    """Contract R^j_ijk -> R_ik."""
    return np.einsum("...jijk->...ik", riem)


def scalar_curvature(g, grid: PeriodicGrid, *, ric: np.ndarray | None = None) -> np.ndarray:
    """Scalar curvature R = g^{ij} R_ij, shape (N...), units 1/length²."""
    ric = ricci_tensor(g, grid) if ric is None else ric
    return np.einsum("...ij,...ij->...", metric_inverse(g), ric)


def gaussian_curvature(g, grid: PeriodicGrid) -> np.ndarray:
    """Gaussian curvature K = R/2 of a 2D metric, shape (N_1, N_2)."""
    if grid.dim != 2:
        raise ManifoldSpecError(f"grid: Gaussian curvature needs a 2D grid, got dimension {grid.dim}")
    return 0.5 * scalar_curvature(g, grid)


def volume_density(g: np.ndarray) -> np.ndarray:
    """√det g at every grid point, shape (N...)."""
    return np.sqrt(np.linalg.det(g))


def integrate(f: np.ndarray, g: np.ndarray, grid: PeriodicGrid) -> float:
    """∫ f dV_g by the periodic trapezoid rule (spectrally accurate), f of shape (N...)."""
    return float(np.sum(f * volume_density(g)) * grid.cell_volume)


def curvature_l2(g, grid: PeriodicGrid) -> float:
    """‖R‖_{L²(g)} = (∫ R² dV_g)^{1/2}: zero exactly on flat metrics."""
    R = scalar_curvature(g, grid)
    return float(np.sqrt(max(integrate(R**2, g, grid), 0.0)))
