"""Claim 5, eq. (9): the "spectral uncertainty principle" Δs·Δλ ≥ C_M/2.

Three checks (THEOREMS.md §4):

* :func:`check_uncertainty_naive` — with ordinary variances on a compact manifold an
  eigenfunction has spectral spread std(λ) = 0 while its spatial spread is finite, so
  the product is 0 and eq. (9) fails for every C_M > 0.
* :func:`check_uncertainty_circle` — Breitenberger's principle on S¹,
  var_A·var_F ≥ 1/4, with var_A = (1 − |τ|²)/|τ|², τ = ∫e^{iθ}|f|², and the Fourier
  variance var_F; computed by spectral (FFT) quadrature, which is exact for
  trigonometric polynomials.
* :func:`check_uncertainty_sphere` — Narcowich–Ward on S², var_S·var_M ≥ 1 (= n²/4),
  var_S = (1 − |ξ₀|²)/|ξ₀|², ξ₀ = ∫x|F|², var_M = ⟨−ΔF, F⟩/‖F‖² (the *mean* eigenvalue).

The form of eq. (9) that holds on round S¹/Sⁿ is therefore Δs·Δλ ≥ n/2 with
Δs := √var_S (a spread that blows up for delocalized functions) and Δλ := √⟨λ⟩.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ive

from .._checks import ManifoldSpecError, as_finite_array
from .result import FAILS, HOLDS, CheckResult, fmt, inequality_verdict

BREITENBERGER = 0.25
NARCOWICH_WARD_S2 = 1.0


# ----------------------------------------------------------------------------- circle
def circle_spreads(f) -> tuple[float, float]:
    """Breitenberger spreads of samples f (P,) at θ_j = 2πj/P (complex allowed).

    Exact (to round-off) when f is a trigonometric polynomial of degree < P/4, since
    |f|² then has degree < P/2.

    Returns
    -------
    var_A : float
        Angular variance (1 − |τ|²)/|τ|², τ = ∫e^{iθ}|f|² dθ / ∫|f|² (∞ when τ = 0).
    var_F : float
        Frequency variance Σk²p_k − (Σk p_k)², p_k = |c_k|²/Σ|c_k|².
    """
    f = as_finite_array(f, "f", ndim=1, dtype=complex)
    P = len(f)
    theta = 2 * np.pi * np.arange(P) / P
    w = np.abs(f) ** 2
    if w.sum() == 0:
        raise ManifoldSpecError("f: the zero function has no spreads")
    tau = np.sum(np.exp(1j * theta) * w) / w.sum()
    # τ = 0 to round-off (e.g. cos mθ): the angular variance is infinite
    var_a = np.inf if abs(tau) < 1e-12 else (1 - abs(tau) ** 2) / abs(tau) ** 2
    c = np.fft.fft(f) / P
    k = np.fft.fftfreq(P, 1.0 / P)
    p = np.abs(c) ** 2 / np.sum(np.abs(c) ** 2)
    var_f = float(np.sum(k**2 * p) - np.sum(k * p) ** 2)
    return float(var_a), max(var_f, 0.0)


def breitenberger_von_mises(kappa) -> np.ndarray:
    """Closed form U(κ) = var_A·var_F = κ(I₀² − I₁²)/(4 I₀ I₁) for f = e^{κ cos θ / 2}."""
    kappa = np.asarray(kappa, dtype=float)
    i0, i1 = ive(0, kappa), ive(1, kappa)  # the exponential scaling cancels in the ratio
    return kappa * (i0**2 - i1**2) / (4 * i0 * i1)


def _circle_families(quick: bool, seed: int):
    P = 1024 if quick else 4096
    theta = 2 * np.pi * np.arange(P) / P
    kappas = np.logspace(-1, 2 if quick else 2.5, 12 if quick else 30)
    vm = [np.exp(kappa * (np.cos(theta) - 1) / 2) for kappa in kappas]
    widths = np.linspace(0.15, 1.5, 8 if quick else 20)
    wrapped = [np.exp(-(np.angle(np.exp(1j * (theta - 1.0)))) ** 2 / (2 * w**2)) for w in widths]
    rng = np.random.default_rng(seed)
    deg = 8
    n_poly = 100 if quick else 1000
    ks = np.arange(-deg, deg + 1)
    c = rng.normal(size=(n_poly, 2 * deg + 1)) + 1j * rng.normal(size=(n_poly, 2 * deg + 1))
    c *= np.exp(-rng.uniform(0, 1.5, (n_poly, 1)) * np.abs(ks))  # vary localization
    Pp = 4 * (2 * deg + 1)  # exact FFT quadrature for degree-8 polynomials
    tp = 2 * np.pi * np.arange(Pp) / Pp
    polys = list(c @ np.exp(1j * np.outer(ks, tp)))
    return P, kappas, vm, widths, wrapped, polys


def check_uncertainty_circle(*, quick: bool = False, constant: float = BREITENBERGER, seed: int = 0,
                             functions=None) -> CheckResult:
    """Breitenberger's uncertainty principle on S¹: var_A·var_F ≥ ``constant`` (true value 1/4).

    Parameters
    ----------
    quick : bool
        Smaller families.
    constant : float
        The claimed lower bound; 1/4 is the sharp (unattained) constant. A larger value
        must come out FAILS (von Mises functions approach 1/4).
    functions : list of arrays (P,), optional
        Your own samples on θ_j = 2πj/P, tested instead of the built-in families.
    """
    if functions is not None:
        prods = np.array([np.prod(circle_spreads(f)) for f in functions])
        ok, worst = inequality_verdict(prods, constant, rtol=1e-9)
        return CheckResult("uncertainty_circle", f"Breitenberger: var_A·var_F ≥ {constant:g} on S¹", "eq. (9), §8",
                           f"{len(prods)} user functions, FFT quadrature", f"min {fmt(prods.min(), 6)}",
                           f"≥ {constant:g}", HOLDS if ok else FAILS, data={"products": prods})
    P, kappas, vm, widths, wrapped, polys = _circle_families(quick, seed)
    u_vm = np.array([np.prod(circle_spreads(f)) for f in vm])
    u_exact = breitenberger_von_mises(kappas)
    oracle_err = float(np.max(np.abs(u_vm - u_exact) / u_exact))
    u_wr = np.array([np.prod(circle_spreads(f)) for f in wrapped])
    u_poly = np.array([np.prod(circle_spreads(f)) for f in polys])
    allp = np.concatenate([u_vm, u_wr, u_poly])
    ok, _ = inequality_verdict(allp, constant, rtol=1e-9)
    if oracle_err > 1e-8:
        raise ManifoldSpecError(f"internal: FFT spreads disagree with the Bessel closed form ({oracle_err:.1e})")
    # eigenfunctions cos(mθ): τ = 0, var_A = ∞ — the spatial spread is what blows up
    details = (f"von Mises e^(κcosθ/2), κ = {kappas[0]:.2g}…{kappas[-1]:.3g}: U(κ) matches the closed form "
               f"κ(I₀²−I₁²)/(4I₀I₁) to {oracle_err:.1e} and decreases to {fmt(u_vm.min(), 6)} (→ 1/4, not attained); "
               f"wrapped Gaussians min {fmt(u_wr.min(), 6)}; {len(u_poly)} random trigonometric polynomials "
               f"(degree 8) min {fmt(u_poly.min(), 6)}. Eigenfunctions cos mθ have τ = 0, var_A = ∞. "
               f"Corrected eq. (9) on S¹: √var_A·√var_F ≥ 1/2 (C = 1).")
    return CheckResult(
        name="uncertainty_circle", claim=f"eq. (9) corrected on S¹ (Breitenberger): var_A·var_F ≥ {constant:g}",
        equation="eq. (9), §8", computed=f"FFT quadrature (P = {P}) on {len(allp)} localized/random functions",
        measured=f"min {fmt(allp.min(), 6)}", bound=f"≥ {constant:g}", verdict=HOLDS if ok else FAILS,
        details=details,
        data={"kappa": kappas, "u_vm": u_vm, "u_exact": u_exact, "widths": widths, "u_wrapped": u_wr,
              "u_poly": u_poly, "constant": constant, "oracle_err": oracle_err})


def plot_uncertainty_circle(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a, b) = figure(2)
    if "kappa" in d:
        k = d["kappa"]
        kk = np.logspace(np.log10(k[0]), np.log10(k[-1]), 200)
        a.semilogx(kk, breitenberger_von_mises(kk), "-", label="closed form κ(I₀²−I₁²)/(4I₀I₁)")
        a.semilogx(k, d["u_vm"], "o", ms=4, label="measured (FFT)")
        a.axhline(d["constant"], color="r", ls="--", label=f"bound {d['constant']:g}")
        a.set_xlabel("κ"), a.set_ylabel("var_A · var_F"), a.legend(fontsize=7)
        b.hist(np.log10(d["u_poly"]), bins=40)
        b.axvline(np.log10(d["constant"]), color="r", ls="--")
        b.set_xlabel("log10(var_A·var_F), random trig. polynomials"), b.set_ylabel("count")
    else:
        a.plot(d["products"], "o")
    return save(fig, path, "Breitenberger uncertainty on S¹")


# ----------------------------------------------------------------------------- sphere
def sphere_quadrature(nz: int, nphi: int):
    """Product rule on S²: Gauss–Legendre in z × uniform in φ. Points (P, 3), weights (P,) summing to 4π.

    Exact for polynomials in (x, y, z) of degree ≤ min(2nz − 1, nphi − 1).
    """
    z, wz = np.polynomial.legendre.leggauss(nz)
    phi = 2 * np.pi * np.arange(nphi) / nphi
    Z, PHI = np.meshgrid(z, phi, indexing="ij")
    s = np.sqrt(1 - Z**2)
    pts = np.stack([s * np.cos(PHI), s * np.sin(PHI), Z], axis=-1).reshape(-1, 3)
    w = np.repeat(wz, nphi) * (2 * np.pi / nphi)
    return pts, w


def sphere_spreads(F, gradF, points, weights) -> tuple[float, float]:
    """Narcowich–Ward spreads of a real function on the unit sphere from quadrature values.

    Parameters
    ----------
    F : (P,) values; gradF : (P, 3) ambient gradient (its tangential part is used);
    points : (P, 3) unit vectors; weights : (P,) quadrature weights.

    Returns
    -------
    var_S : float
        (1 − |ξ₀|²)/|ξ₀|², ξ₀ = ∫x F² / ∫F².
    var_M : float
        ∫|∇_S F|² / ∫F², the mean eigenvalue ⟨λ⟩ of F.
    """
    g = gradF - np.sum(gradF * points, axis=1, keepdims=True) * points
    norm = np.sum(weights * F**2)
    xi = (weights * F**2) @ points / norm
    r2 = float(xi @ xi)
    var_s = np.inf if r2 < 1e-24 else (1 - r2) / r2
    var_m = float(np.sum(weights * np.sum(g**2, axis=1)) / norm)
    return float(var_s), var_m


def narcowich_ward_von_mises(kappa) -> np.ndarray:
    """Closed form U(κ) = κ(1 − L²)/(2L), L = coth κ − 1/κ, for F = e^{κz/2}."""
    kappa = np.asarray(kappa, dtype=float)
    L = 1 / np.tanh(kappa) - 1 / kappa
    return kappa * (1 - L**2) / (2 * L)


def _random_poly(rng, deg):
    """A real random polynomial in (x, y, z) of total degree ≤ deg, with its gradient."""
    exps = [(a, b, c) for a in range(deg + 1) for b in range(deg + 1 - a) for c in range(deg + 1 - a - b)]
    coef = rng.normal(size=len(exps)) * np.exp(-rng.uniform(0, 1.0) * np.array([sum(e) for e in exps]))

    def fn(x):
        F = np.zeros(len(x))
        G = np.zeros((len(x), 3))
        for cf, e in zip(coef, exps):
            mono = np.prod([x[:, j] ** e[j] for j in range(3)], axis=0)
            F += cf * mono
            for j in range(3):
                if e[j]:
                    ej = list(e)
                    ej[j] -= 1
                    G[:, j] += cf * e[j] * np.prod([x[:, i] ** ej[i] for i in range(3)], axis=0)
        return F, G

    return fn


def check_uncertainty_sphere(*, quick: bool = False, constant: float = NARCOWICH_WARD_S2, seed: int = 0) -> CheckResult:
    """Narcowich–Ward on the unit sphere: var_S·var_M ≥ ``constant`` (sharp value n²/4 = 1).

    Families: von Mises–Fisher e^{κz/2} (closed form), geodesic Gaussians
    exp(−θ²/2w²), C¹ caps (z − cos θ₀)₊², and random real polynomials of degree ≤ 5
    (band-limited, l ≤ 5); all by product quadrature (exact for the polynomials).
    """
    rng = np.random.default_rng(seed)
    nz = 400 if quick else 800
    pts, w = sphere_quadrature(nz, 8)  # zonal families: φ-resolution irrelevant
    z = pts[:, 2]
    grad_z = np.tile([0.0, 0.0, 1.0], (len(z), 1))
    kappas = np.logspace(-1, 2, 10 if quick else 30)
    u_vm = np.array([np.prod(sphere_spreads(np.exp(k * (z - 1) / 2), (k / 2) * np.exp(k * (z - 1) / 2)[:, None] * grad_z,
                                            pts, w)) for k in kappas])
    u_exact = narcowich_ward_von_mises(kappas)
    oracle_err = float(np.max(np.abs(u_vm - u_exact) / u_exact))
    if oracle_err > 1e-8:
        raise ManifoldSpecError(f"internal: quadrature spreads disagree with the closed form ({oracle_err:.1e})")
    theta = np.arccos(np.clip(z, -1, 1))
    s = np.sqrt(np.maximum(1 - z**2, 1e-300))
    widths = np.linspace(0.1, 1.0, 6 if quick else 15)
    u_gauss = []
    for wd in widths:
        F = np.exp(-theta**2 / (2 * wd**2))
        dF_dz = F * (-theta / wd**2) * (-1 / s)  # dθ/dz = −1/sinθ
        u_gauss.append(np.prod(sphere_spreads(F, dF_dz[:, None] * grad_z, pts, w)))
    caps = np.linspace(0.2, 2.0, 6 if quick else 15)
    u_cap = []
    for th0 in caps:
        F = np.maximum(z - np.cos(th0), 0) ** 2
        u_cap.append(np.prod(sphere_spreads(F, (2 * np.maximum(z - np.cos(th0), 0))[:, None] * grad_z, pts, w)))
    deg = 5
    pq, wq = sphere_quadrature(2 * deg + 4, 2 * deg + 4)
    u_poly = []
    for _ in range(40 if quick else 300):
        F, G = _random_poly(rng, deg)(pq)
        u_poly.append(np.prod(sphere_spreads(F, G, pq, wq)))
    u_gauss, u_cap, u_poly = map(np.array, (u_gauss, u_cap, u_poly))
    allp = np.concatenate([u_vm, u_gauss, u_cap, u_poly])
    ok, _ = inequality_verdict(allp, constant, rtol=1e-7)
    details = (f"von Mises–Fisher e^(κz/2): U(κ) matches κ(1−L²)/(2L) to {oracle_err:.1e}, min {fmt(u_vm.min(), 6)} "
               f"(→ 1 as κ → ∞, not attained); geodesic Gaussians min {fmt(u_gauss.min(), 6)}; C¹ caps min "
               f"{fmt(u_cap.min(), 6)}; {len(u_poly)} random real polynomials (l ≤ 5) min {fmt(u_poly.min(), 6)}. "
               f"Corrected eq. (9) on S²: √var_S·√⟨λ⟩ ≥ n/2 = 1 (C_M = n = 2).")
    return CheckResult(
        name="uncertainty_sphere", claim=f"eq. (9) corrected on S² (Narcowich–Ward): var_S·var_M ≥ {constant:g}",
        equation="eq. (9), §8", computed=f"product quadrature on {len(allp)} localized/random real functions",
        measured=f"min {fmt(allp.min(), 6)}", bound=f"≥ {constant:g}", verdict=HOLDS if ok else FAILS,
        details=details,
        data={"kappa": kappas, "u_vm": u_vm, "u_exact": u_exact, "widths": widths, "u_gauss": u_gauss, "caps": caps,
              "u_cap": u_cap, "u_poly": u_poly, "constant": constant, "oracle_err": oracle_err})


def plot_uncertainty_sphere(res: CheckResult, path) -> str:
    from ._plot import figure, save

    d = res.data
    fig, (a, b) = figure(2)
    k = d["kappa"]
    kk = np.logspace(np.log10(k[0]), np.log10(k[-1]), 200)
    a.semilogx(kk, narcowich_ward_von_mises(kk), "-", label="closed form κ(1−L²)/(2L)")
    a.semilogx(k, d["u_vm"], "o", ms=4, label="measured (quadrature)")
    a.axhline(d["constant"], color="r", ls="--", label=f"bound {d['constant']:g}")
    a.set_xlabel("κ"), a.set_ylabel("var_S · var_M"), a.legend(fontsize=7)
    b.plot(d["widths"], d["u_gauss"], "s-", label="geodesic Gaussian, width w")
    b.plot(d["caps"], d["u_cap"], "^-", label="C¹ cap, radius θ₀")
    b.axhline(d["constant"], color="r", ls="--")
    b.set_xlabel("w or θ₀"), b.set_ylabel("var_S · var_M"), b.legend(fontsize=7)
    return save(fig, path, "Narcowich–Ward uncertainty on S²")
