"""Each check computes the right verdict where the answer is known independently.

A true statement must come out HOLDS (or HOLDS UNDER its condition); a deliberately
false bound must come out FAILS AS STATED.
"""
import numpy as np
import pytest

from manifoldspec import ManifoldSpecError
from manifoldspec.verify.result import FAILS, HOLDS, CheckResult, inequality_verdict


def test_result_rejects_unknown_verdict():
    with pytest.raises(ManifoldSpecError, match="verdict"):
        CheckResult("x", "c", "e", "c", "m", "b", "PROBABLY")


def test_inequality_verdict():
    assert inequality_verdict([1.0, 2.0], 1.0) == (True, 0.0)
    ok, worst = inequality_verdict([0.9, 2.0], 1.0)
    assert not ok and worst == pytest.approx(-0.1)
    with pytest.raises(ManifoldSpecError):
        inequality_verdict([np.nan], 1.0)


def test_uncertainty_naive_fails_and_trivial_constant_holds():
    from manifoldspec.verify.uncertainty_naive import check_uncertainty_naive

    r = check_uncertainty_naive(quick=True)
    assert r.verdict == FAILS
    assert np.max(r.data["products"]) < 1e-10  # eigenfunctions: point-mass spectral measure
    assert check_uncertainty_naive(quick=True, constant=0.0).verdict == HOLDS


def test_breitenberger_true_and_false_constants():
    from manifoldspec.verify.uncertainty import breitenberger_von_mises, check_uncertainty_circle

    r = check_uncertainty_circle(quick=True)
    assert r.verdict == HOLDS
    # independent oracle: Bessel closed form (THEOREMS.md §4.3 table)
    assert breitenberger_von_mises([0.5, 2, 10, 50]) == pytest.approx(
        [0.485152289462, 0.367676384379, 0.263963705922, 0.252551427464], rel=1e-11)
    assert r.data["oracle_err"] < 1e-10
    assert check_uncertainty_circle(quick=True, constant=0.3).verdict == FAILS  # U(κ) → 1/4 < 0.3


def test_breitenberger_user_functions():
    from manifoldspec.verify.uncertainty import check_uncertainty_circle, circle_spreads

    theta = 2 * np.pi * np.arange(64) / 64
    va, vf = circle_spreads(np.cos(3 * theta))
    assert va == np.inf and vf == pytest.approx(9.0)  # eigenfunction: τ = 0
    r = check_uncertainty_circle(functions=[np.exp(2 * np.cos(theta))])
    assert r.verdict == HOLDS


def test_narcowich_ward_true_and_false_constants():
    from manifoldspec.verify.uncertainty import check_uncertainty_sphere, narcowich_ward_von_mises

    assert narcowich_ward_von_mises([0.5, 2, 10, 50]) == pytest.approx(
        [1.483835035717, 1.323791929479, 1.055555509498, 1.010204081633], rel=1e-11)
    assert check_uncertainty_sphere(quick=True).verdict == HOLDS
    assert check_uncertainty_sphere(quick=True, constant=1.05).verdict == FAILS


def test_truncation_bound_true_and_false():
    from manifoldspec.verify.truncation import check_truncation

    r = check_truncation(quick=True)
    assert r.verdict == HOLDS
    assert np.all(r.data["ratios"] <= 1 + 1e-9)
    assert r.data["equality"] == pytest.approx(1.0, abs=1e-8)  # equality for φ_{K+1}
    assert check_truncation(quick=True, bound_scale=0.9).verdict == FAILS


def test_truncation_n_noise_fails_smooth_holds():
    from manifoldspec.verify.truncation import check_truncation_n

    r = check_truncation_n(quick=True, families=("noise",))
    assert r.fails
    N, K = r.data["N"], r.data["K"]
    assert r.data["tail_noise"] == pytest.approx((N - K) / N, abs=0.02)  # THEOREMS.md §5.2
    s = check_truncation_n(quick=True, families=("smooth",))
    assert s.verdict.startswith("HOLDS UNDER")
    with pytest.raises(ManifoldSpecError, match="K"):
        check_truncation_n(K=16)


def test_retrieval_capacity_is_K():
    from manifoldspec.verify.retrieval import check_retrieval_capacity

    K = 13
    r = check_retrieval_capacity(K=K, n_values=[5, 9, 13], d_v=3)
    assert r.verdict.startswith("HOLDS UNDER") and np.all(r.data["err_best"] < 1e-9)
    r = check_retrieval_capacity(K=K, n_values=[13, 39, 130], d_v=64)
    assert r.fails
    # rank argument: the best linear decoder loses (N − K)/N of i.i.d. value energy
    assert r.data["err_best"][1:] == pytest.approx(1 - K / np.array([39, 130]), abs=0.05)


def test_rope_static_holds_warped_fails():
    from manifoldspec.verify.rope import check_rope, cycle_residual

    r = check_rope(quick=True)
    assert r.verdict.startswith("HOLDS UNDER") and r.data["errors"].max() < 1e-12
    assert check_rope(quick=True, warp_alpha=0.3).fails
    # THEOREMS.md §7: cycle residual 2√2|sin(Nθ/2)|, e.g. 2.798 for N = 16, θ = 1
    assert cycle_residual(16, 1.0) == pytest.approx(2 * np.sqrt(2) * abs(np.sin(8.0)), rel=1e-12)
    assert cycle_residual(16, 2 * np.pi * 3 / 16) < 1e-12


def test_linear_attention_flat_holds_warped_fails():
    from manifoldspec.verify.linear_attention import check_linear_attention

    r = check_linear_attention(T=31, K=9, d_v=3)
    assert r.verdict.startswith("HOLDS UNDER") and r.data["err"] < 1e-12
    assert r.data["rank_lin"] <= r.data["d_phi"]
    warped = check_linear_attention(T=31, K=9, d_v=3, warp_alpha=0.3)
    assert warped.fails
    if r.data["err_nn"] is not None:  # torch installed: the nn layer's op is the same linear attention
        assert r.data["err_nn"] < 1e-12
        # and, warped, the same recurrence as the numpy loop (two independent implementations)
        assert warped.data["err_nn_ref"] < 1e-10


def test_linear_attention_fails_if_the_nn_layer_disagrees(monkeypatch):
    pytest.importorskip("torch")
    from manifoldspec.verify import linear_attention as la

    real = la.nn_retrieval
    monkeypatch.setattr(la, "nn_retrieval", lambda *a, **k: real(*a, **k) * (1 + 1e-6))
    r = la.check_linear_attention(T=31, K=9, d_v=3)
    assert r.fails and "DISAGREE" in r.details


def test_memory_constant_state_holds_kv_cache_fails():
    from manifoldspec.verify.memory import check_memory, kv_cache_bytes, scaling_exponent

    fast = lambda n: np.cumsum(np.ones(n))  # noqa: E731  (O(N) stand-in keeps the test short)
    r = check_memory(quick=True, forward_fn=fast, n_values=[5, 50, 200], nn=True)
    assert r.verdict.startswith("HOLDS UNDER")
    assert len(set(r.data["state_bytes"])) == 1
    if r.data["t_nn"] is not None:  # torch installed: the nn layer's state does not grow with N either
        assert len(set(r.data["nn_state_bytes"])) == 1 and r.data["nn_state_bytes"][0] > 0
    assert check_memory(quick=True, forward_fn=fast, state_fn=kv_cache_bytes, n_values=[5, 50]).fails
    n = np.array([100, 200, 400, 800])
    assert scaling_exponent(n, 3e-9 * n**2) == pytest.approx(2.0)
    assert scaling_exponent(n, 1e-6 * n) == pytest.approx(1.0)


def test_spectra_true_and_false_orders():
    from manifoldspec.geometry.manifolds import FlatTorus
    from manifoldspec.verify.spectra import check_spectra

    r = check_spectra(manifold=FlatTorus(), resolutions=[6, 12], order=1)
    assert r.verdict == HOLDS  # P1: O(h²)
    assert check_spectra(manifold=FlatTorus(), resolutions=[6, 12], order=1, expected_order=4).fails


def test_weyl_true_and_wrong_area():
    from manifoldspec.verify.spectra import check_weyl

    r = check_weyl(quick=True)
    assert r.verdict.startswith("HOLDS UNDER")
    assert check_weyl(quick=True, area=2 * r.data["area"]).fails


def test_perturbation_order_true_and_false():
    from manifoldspec.verify.perturbation import check_perturbation, quartet_slopes

    assert quartet_slopes() == pytest.approx([-0.06392182, -0.03978874, 0, 0.02413309], abs=1e-8)
    r = check_perturbation(quick=True)
    assert r.verdict.startswith("HOLDS UNDER")
    assert r.data["div0"] > 0  # eq. (7) as printed divides by zero inside multiplets
    assert check_perturbation(quick=True, expected_order=3).fails


def test_ricci_flow_true_and_wrong_area_rate():
    from manifoldspec.verify.ricci import check_ricci_flow

    r = check_ricci_flow(quick=True)
    assert r.verdict.startswith("HOLDS UNDER")
    assert np.abs(r.data["gb"]).max() < 1e-9
    assert check_ricci_flow(quick=True, area_rate=-4 * np.pi).fails
