"""Claim 5, eq. (9) as stated: Δs·Δλ ≥ C_M/2 with ordinary (co)variances fails on any compact manifold.

The spectral measure of an eigenfunction is a point mass, so std(λ) = 0 while its
spatial spread Δs is finite: the product is 0 < C_M/2 for every C_M > 0
(THEOREMS.md §4.1). We exhibit this three ways:

* S¹: cos mθ, Δs = √(∫θ²|f|²/∫|f|²) on θ ∈ (−π, π], std(λ) from the FFT (λ = k²);
* S²: zonal harmonics P_l(z), Δs = geodesic std about the north pole, std(λ) from the
  exact Legendre projection (λ = l(l+1)); Gauss–Legendre quadrature, exact;
* any discretized manifold (default: a token-warped torus): finite-element
  eigenvectors φ_k, whose discrete spectral measure (coefficients ΦᵀMφ_k) is a point
  mass, with Δs the spread of the ambient coordinates under |φ_k|² dVol_g.

The other reading, Δλ := √⟨λ⟩, fails on the constant function (⟨λ⟩ = 0).
"""
from __future__ import annotations

import numpy as np

from .result import FAILS, HOLDS, CheckResult, fmt

_ZERO = 1e-10  # a product below this is zero to round-off: no C_M > 0 can hold


def _circle(ms, P=512):
    theta = 2 * np.pi * np.arange(P) / P
    ang = np.angle(np.exp(1j * theta))  # (−π, π]
    k = np.fft.fftfreq(P, 1.0 / P)
    out = []
    for m in ms:
        f = np.cos(m * theta)
        ds = np.sqrt(np.sum(ang**2 * f**2) / np.sum(f**2))
        p = np.abs(np.fft.fft(f)) ** 2
        p /= p.sum()
        lam = k**2
        mean = np.sum(lam * p)
        out.append((ds, np.sqrt(max(np.sum(lam**2 * p) - mean**2, 0.0))))
    return np.array(out)


def _sphere(ls, nz=200):
    z, wz = np.polynomial.legendre.leggauss(nz)
    theta = np.arccos(z)
    lmax = max(ls) + 4
    P = np.array([np.polynomial.legendre.Legendre.basis(j)(z) for j in range(lmax + 1)])  # (lmax+1, nz)
    lam = np.arange(lmax + 1) * (np.arange(lmax + 1) + 1.0)
    out = []
    for l in ls:
        F = P[l]
        ds = np.sqrt(np.sum(wz * theta**2 * F**2) / np.sum(wz * F**2))
        c = (P * wz) @ F * (2 * np.arange(lmax + 1) + 1) / 2  # Legendre coefficients
        p = c**2 * 2 / (2 * np.arange(lmax + 1) + 1)
        p /= p.sum()
        mean = np.sum(lam * p)
        out.append((ds, np.sqrt(max(np.sum(lam**2 * p) - mean**2, 0.0))))
    # the constant: Δs finite, ⟨λ⟩ = 0
    const_ds = np.sqrt(np.sum(wz * theta**2) / np.sum(wz))
    return np.array(out), float(const_ds)


def _fem(manifold, quick):
    from ..geometry.manifolds import FlatTorus
    from ..geometry.warp import random_warp
    from ..spectral import discretize, solve

    if manifold is None:
        manifold = FlatTorus()
        metric = random_warp(7, 2, sigma=0.6, amplitude=0.5, period=manifold.period, seed=3)
    else:
        metric = None
    res = 10 if quick else 16
    if type(manifold).__name__ == "Sphere":
        res = 2 if quick else 3
    disc = discretize(manifold, res, 1)
    k = 12
    spec = solve(disc, k, metric)
    Phi, M, X = spec.eigenvectors, spec.M, disc.dof_points
    out = []
    for j in range(1, k):
        f = Phi[:, j]
        c = Phi.T @ (M @ f)  # coefficients in the discrete eigenbasis
        p = c**2 / np.sum(c**2)
        mean = np.sum(spec.eigenvalues * p)
        std = np.sqrt(max(np.sum(spec.eigenvalues**2 * p) - mean**2, 0.0))
        # spatial spread of the ambient coordinates under |f|² dVol (lumped by the mass matrix)
        w = f * (M @ f)
        w = np.maximum(w, 0) / np.maximum(w, 0).sum()
        xm = w @ X
        ds = np.sqrt(np.sum(w * np.sum((X - xm) ** 2, axis=1)))
        out.append((ds, std))
    return np.array(out), disc.describe()


def check_uncertainty_naive(*, quick: bool = False, manifold=None, constant: float | None = None) -> CheckResult:
    """Eq. (9) read with ordinary variances: Δs·std(λ) ≥ C_M/2 — must FAIL on eigenfunctions.

    Parameters
    ----------
    quick : bool
        Smaller finite-element mesh.
    manifold : FlatTorus | Box | Sphere | TriangleSurface, optional
        Manifold for the finite-element part (default: a token-warped flat torus).
    constant : float, optional
        The C_M to test. ``None`` (default) asks whether *any* C_M > 0 can hold: it
        cannot when the smallest product is zero to round-off. ``constant=0`` is the
        trivially true statement and comes out HOLDS.
    """
    ms = np.arange(1, 9)
    circ = _circle(ms)
    sph, const_ds = _sphere(list(range(1, 9)))
    fem, desc = _fem(manifold, quick)
    prods = np.concatenate([circ[:, 0] * circ[:, 1], sph[:, 0] * sph[:, 1], fem[:, 0] * fem[:, 1]])
    pmin = float(prods.min())
    if constant is None:
        ok = pmin > _ZERO
        bound = "≥ C_M/2 for some C_M > 0"
    else:
        ok = pmin >= constant / 2 - 1e-12
        bound = f"≥ {constant:g}/2"
    i3 = 2  # l = 3
    details = (f"Counterexample: eigenfunctions. S¹ cos mθ (m = 1…8): Δs = {fmt(circ[0, 0])}…{fmt(circ[-1, 0])}, "
               f"std(λ) ≤ {circ[:, 1].max():.1e}. S² zonal Y_l⁰ (l = 1…8): e.g. Y₃⁰ has Δs = {sph[i3, 0]:.4f} about the "
               f"pole and std(λ) = {sph[i3, 1]:.1e}. FEM ({desc}): {len(fem)} eigenvectors, std(λ) ≤ "
               f"{fem[:, 1].max():.1e}, Δs ≥ {fmt(fem[:, 0].min())}. With Δλ := √⟨λ⟩ instead, the constant "
               f"function fails (⟨λ⟩ = 0, Δs = {const_ds:.4f} on S²). What holds: Breitenberger / Narcowich–Ward "
               f"(see uncertainty_circle, uncertainty_sphere).")
    return CheckResult(
        name="uncertainty_naive", claim="eq. (9) as stated: Δs·Δλ ≥ C_M/2 (ordinary std of position and of λ)",
        equation="eq. (9), §8",
        computed=f"Δs·std(λ) for {len(prods)} eigenfunctions (S¹, S², FEM)", measured=f"max {prods.max():.1e}",
        bound=bound, verdict=HOLDS if ok else FAILS, details=details,
        data={"circle": circ, "sphere": sph, "fem": fem, "products": prods, "const_ds": const_ds})


def plot_uncertainty_naive(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a,) = figure(1, 6.0)
    tiny = 1e-18  # a log axis cannot show 0: plot max(product, 1e-18)
    for key, lab, mk in (("circle", "S¹ cos mθ", "o"), ("sphere", "S² Y_l⁰", "s"), ("fem", "FEM eigenvectors", "^")):
        a.semilogy(np.arange(1, len(d[key]) + 1), np.maximum(d[key][:, 0] * d[key][:, 1], tiny), mk, label=lab)
    a.axhline(0.5, color="r", ls="--", label="C_M/2 for C_M = 1")
    a.set_xlabel("eigenfunction index"), a.set_ylabel("Δs · std(λ)  (0 shown as 1e-18)"), a.legend(fontsize=7)
    return save(fig, path, "Eq. (9) with ordinary variances: product is 0 on eigenfunctions")
