"""Shared inputs and tolerances for the tests of the GPU H_mk kernels (random and adversarial).

No tests here: the other test_gpu_*.py files import these helpers.
"""
import numpy as np

from manifoldspec.gpu import ModePairs
from manifoldspec.spectral.torus_modes import torus_modes
from manifoldspec.spectral.torus_sparse import TorusPattern, torus_pattern

TOL = {np.float64: 1e-12, np.float32: 1e-5}


def assert_close(got, ref, rtol, what=""):
    """max |got − ref| ≤ rtol · max |ref| (norm-wise: tiny entries far from the diagonal carry no weight)."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    if ref.size == 0:
        return
    scale = max(np.abs(ref).max(), 1e-300)
    err = np.abs(got - ref).max() / scale
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:.0e}"


def torus_case(lengths, K, sigma, drop_tol=1e-8):
    lengths = np.asarray(lengths, float)
    modes = torus_modes(lengths, K)
    return modes, lengths, torus_pattern(modes, lengths, sigma, drop_tol)


def sub_pattern(pattern: TorusPattern, nnz: int, rng) -> TorusPattern:
    """A pattern with exactly ``nnz`` entries (row-major subset), to hit partial blocks."""
    keep = np.sort(rng.choice(pattern.nnz, size=nnz, replace=False))
    return TorusPattern(pattern.rows[keep], pattern.cols[keep], pattern.kappa, pattern.volume, pattern.sigma,
                        pattern.drop_tol)


def random_tokens(rng, B, T, lengths, dtype=np.float64):
    n = len(lengths)
    alpha = rng.uniform(0.0, 1.0, (B, T))
    mu = rng.uniform(0.0, 1.0, (B, T, n)) * lengths
    v = rng.normal(size=(B, T, n))
    return tuple(a.astype(dtype) for a in (alpha, mu, v))


def seam_tokens(rng, B, T, lengths, dtype=np.float64):
    """Tokens exactly on or next to the periodic seam (0, L, L − ulp, −ulp, 3L + x)."""
    alpha, mu, v = random_tokens(rng, B, T, lengths, dtype)
    L = np.asarray(lengths, dtype)
    choices = np.stack([np.zeros_like(L), L, np.nextafter(L, 0), -1e-9 * L, 3 * L + 0.25 * L], axis=0)
    idx = rng.integers(0, len(choices), size=(B, T, len(L)))
    mu = np.take_along_axis(choices[None, None], idx[..., None, :], axis=2)[..., 0, :].astype(dtype)
    return alpha, mu, v


def duplicate_tokens(rng, B, T, lengths, dtype=np.float64):
    """Every token repeated twice at the same position (T must be even)."""
    alpha, mu, v = random_tokens(rng, B, T // 2, lengths, dtype)
    rep = lambda a: np.repeat(a, 2, axis=1)  # noqa: E731
    return rep(alpha), rep(mu), rep(v)


def p1_local(rng, E):
    """P1 stiffness (cotan) and mass local matrices of random triangles in R^3, (E, 3, 3) each."""
    p = rng.normal(size=(E, 3, 3))
    e = np.stack([p[:, 2] - p[:, 1], p[:, 0] - p[:, 2], p[:, 1] - p[:, 0]], axis=1)  # edge opposite vertex i
    area = 0.5 * np.linalg.norm(np.cross(e[:, 0], e[:, 1]), axis=1)
    Ke = np.einsum("eic,ejc->eij", e, e) / (4 * area)[:, None, None]
    Me = area[:, None, None] / 12 * (np.ones((3, 3)) + np.eye(3))
    return Ke, Me


def fe_case(rng, ndof=41, K=13, E=37, nloc=3, B=3, nnz=None, with_empty=True):
    """Random Φ0, contributions and a CSR touched list with a duplicate and (optionally) an empty batch."""
    phi = np.linalg.qr(rng.normal(size=(ndof, K)))[0]
    if nloc == 3:
        Ke1, Me1 = p1_local(rng, E)
        Ke2, Me2 = p1_local(rng, E)
        local_K, local_M = Ke1 - Ke2, Me1 - Me2  # a perturbation δK_e, δM_e: symmetric, indefinite
    else:
        A = rng.normal(size=(E, nloc, nloc))
        local_K, local_M = A + A.transpose(0, 2, 1), rng.normal(size=(E, nloc, nloc))
    dofs = np.stack([rng.choice(ndof, size=nloc, replace=False) for _ in range(E)])
    counts = rng.integers(1, 2 * E // max(B, 1) + 2, size=B)
    if with_empty and B >= 2:
        counts[1] = 0
    touched = rng.integers(0, E, size=counts.sum())
    if len(touched) >= 2:
        touched[-1] = touched[-2]  # duplicate contribution
    ptr = np.concatenate([[0], np.cumsum(counts)])
    if nnz is None:
        r, c = np.divmod(np.arange(K * K), K)
    else:
        flat = np.sort(rng.choice(K * K, size=nnz, replace=False))
        r, c = np.divmod(flat, K)
    return ModePairs(r.astype(np.int64), c.astype(np.int64), K), phi, dofs, local_K, local_M, ptr, touched
