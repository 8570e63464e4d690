"""Matrix elements from the touched elements only (spectral.local_elements) against re-assembling the mesh."""
import numpy as np
import pytest

import manifoldspec as ms
from manifoldspec import ManifoldSpecError
from manifoldspec.geometry.metric import SumMetric
from manifoldspec.spectral.local_elements import (base_element_matrices, local_fe_elements, local_warp, stack_local,
                                                 touched_elements)
from manifoldspec.spectral.matrix_elements import fe_elements


def _sphere_warp(rng, n, sigma, scale=1.0):
    mu = rng.normal(size=(n, 3))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    return ms.TokenWarp(alpha=rng.uniform(0.1, 0.5, n), mu=scale * mu, v=rng.normal(size=(n, 3)), sigma=sigma)


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("order", [1, 2])
def test_local_equals_full_reassembly_on_the_sphere(rng, order):
    base = ms.solve(ms.discretize(ms.Sphere(1.0), 3, order), 16)
    warp = _sphere_warp(rng, 3, 0.12)
    full, loc = fe_elements(base, warp), local_fe_elements(base, warp)
    # the skipped tails are below e^{-32} of the bump: agreement to rounding
    assert _rel(loc.dK.toarray(), full.dK.toarray()) < 1e-11
    assert _rel(loc.dM.toarray(), full.dM.toarray()) < 1e-11
    n_touched = len(touched_elements(base.discretization, warp))
    assert 0 < n_touched < base.discretization.elements.shape[0]  # the test exercises a real restriction
    # reusing the base element matrices gives the same numbers
    cached = local_fe_elements(base, warp, base_elements=base_element_matrices(base.discretization))
    assert _rel(cached.dK.toarray(), loc.dK.toarray()) < 1e-12  # same numbers, other summation order
    with pytest.raises(ManifoldSpecError, match="base_elements"):
        local_fe_elements(base, warp, base_elements=base_element_matrices(ms.discretize(ms.Sphere(1.0), 2, order)))
    # a cutoff inside the bump drops real contributions, and the comparison sees it
    rough = local_fe_elements(base, warp, cutoff=1.0)
    assert _rel(rough.dK.toarray(), full.dK.toarray()) > 1e-3


def test_local_equals_full_on_a_warped_base_and_a_mesh_surface(rng):
    # tokens on top of a non-induced base metric g0: local differences (g0 + bumps) − g0
    base_metric = ms.ConformalMetric(lambda x: 0.1 * x[:, 2])
    base = ms.solve(ms.discretize(ms.Sphere(1.0), 2, 2), 9, metric=base_metric)
    warp = _sphere_warp(rng, 2, 0.15)
    full = fe_elements(base, SumMetric(base_metric, warp.perturbation))
    loc = local_fe_elements(base, warp, base_metric=base_metric)
    assert _rel(loc.dK.toarray(), full.dK.toarray()) < 1e-11
    # a general triangle mesh (flat P1 elements): a bumpy closed surface
    from manifoldspec.geometry.icosphere import icosphere

    V, F = icosphere(3, 1.0)
    V = V * (1 + 0.1 * V[:, [2]] ** 2)
    surf = ms.discretize(ms.TriangleSurface(V, F), order=1)
    base = ms.solve(surf, 12)
    warp = ms.TokenWarp(alpha=[0.4], mu=[V[0]], v=[[0.0, 1.0, 1.0]], sigma=0.1)
    full, loc = fe_elements(base, warp), local_fe_elements(base, warp)
    assert _rel(loc.dK.toarray(), full.dK.toarray()) < 1e-11 and _rel(loc.dM.toarray(), full.dM.toarray()) < 1e-11


def test_gpu_kernel_inputs_reproduce_the_matrix_elements(rng):
    from manifoldspec.gpu import fe_matrix_elements
    from manifoldspec.gpu.reference import mode_pairs

    base = ms.solve(ms.discretize(ms.Sphere(1.0), 2, 2), 9)
    warps = [_sphere_warp(rng, 2, 0.15), _sphere_warp(rng, 1, 0.1), _sphere_warp(rng, 1, 0.1, scale=5.0)]
    locs = [local_warp(base.discretization, w) for w in warps]
    assert len(locs[2].elements) == 0  # a token far off the surface touches nothing
    K = base.k
    rows, cols = np.divmod(np.arange(K * K), K)
    pattern = mode_pairs(rows, cols, K)
    dK, dM = fe_matrix_elements(pattern, base.eigenvectors, *stack_local(locs))
    for b, w in enumerate(warps):
        ref = local_fe_elements(base, w, drop_tol=0.0)
        np.testing.assert_allclose(dK[b].reshape(K, K), ref.dK.toarray(), atol=1e-13 * max(1.0, np.abs(dK).max()))
        np.testing.assert_allclose(dM[b].reshape(K, K), ref.dM.toarray(), atol=1e-13 * max(1.0, np.abs(dM).max()))
    assert np.abs(dK[2]).max() == 0.0


def test_errors_name_the_argument():
    torus = ms.FlatTorus((2 * np.pi, 2 * np.pi))
    tw = ms.TokenWarp([0.5], [[1.0, 1.0]], [[1.0, 0.0]], 0.5, period=torus.lengths)
    with pytest.raises(ManifoldSpecError, match="disc"):
        touched_elements(ms.discretize(torus, 8, 1), tw)
    sph = ms.discretize(ms.Sphere(1.0), 1, 1)
    with pytest.raises(ManifoldSpecError, match="warp"):
        touched_elements(sph, tw)
    with pytest.raises(ManifoldSpecError, match="cutoff"):
        touched_elements(sph, ms.TokenWarp([0.5], [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]], 0.3), cutoff=0.0)
    with pytest.raises(ManifoldSpecError, match="warps"):
        stack_local([])
