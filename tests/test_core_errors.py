"""Bad input raises ManifoldSpecError naming the problem; the CLI exits non-zero with one line."""
import subprocess
import sys

import numpy as np
import pytest

import manifoldspec as ms
from manifoldspec import ManifoldSpecError
from manifoldspec.cli import main


def test_non_spd_metric_chart():
    disc = ms.discretize(ms.FlatTorus(), 6, 1)
    bad = ms.CallableMetric(lambda x: np.broadcast_to(np.diag([1.0, -1.0]), (len(x), 2, 2)).copy())
    with pytest.raises(ManifoldSpecError, match="not positive definite"):
        ms.assemble(disc, bad)


def test_non_spd_metric_surface():
    disc = ms.discretize(ms.Sphere(), 1, 1)
    with pytest.raises(ManifoldSpecError, match="positive definite"):
        ms.assemble(disc, lambda x: -np.broadcast_to(np.eye(3), (len(x), 3, 3)))


def test_nonsymmetric_and_wrong_shape_metric():
    disc = ms.discretize(ms.FlatTorus(), 4, 1)
    with pytest.raises(ManifoldSpecError, match="symmetric"):
        ms.assemble(disc, lambda x: np.broadcast_to(np.array([[1.0, 0.5], [0.0, 1.0]]), (len(x), 2, 2)))
    with pytest.raises(ManifoldSpecError, match="shape"):
        ms.assemble(disc, lambda x: np.ones((len(x), 3)))


def test_nan_tokens():
    with pytest.raises(ManifoldSpecError, match="alpha.*NaN"):
        ms.TokenWarp([np.nan, 1.0], np.zeros((2, 2)), np.ones((2, 2)), 0.5)
    with pytest.raises(ManifoldSpecError, match="mu.*NaN"):
        ms.TokenWarp([1.0], [[np.nan, 0.0]], [[1.0, 0.0]], 0.5)


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.nan])
def test_sigma_must_be_positive(sigma):
    with pytest.raises(ManifoldSpecError, match="sigma"):
        ms.TokenWarp([1.0], [[0.0, 0.0]], [[1.0, 0.0]], sigma)


def test_shape_mismatch_tokens():
    with pytest.raises(ManifoldSpecError, match="v .*shape"):
        ms.TokenWarp([1.0, 2.0], np.zeros((2, 2)), np.ones((2, 3)), 0.5)


def test_k_too_large():
    disc = ms.discretize(ms.FlatTorus(), 4, 1)  # 16 DOFs
    with pytest.raises(ManifoldSpecError, match="k: .*16 degrees of freedom; k must be ≤ 16"):
        ms.solve(disc, 17)


def test_unreadable_mesh(tmp_path):
    bad = tmp_path / "broken.obj"
    bad.write_text("this is not a mesh\x00\x01")
    with pytest.raises(ManifoldSpecError, match="mesh file"):
        ms.TriangleSurface.from_file(bad)
    with pytest.raises(ManifoldSpecError, match="does not exist"):
        ms.TriangleSurface.from_file(tmp_path / "missing.off")


def test_bad_order_and_manifold_args():
    with pytest.raises(ManifoldSpecError, match="order"):
        ms.discretize(ms.FlatTorus(), 4, 3)
    with pytest.raises(ManifoldSpecError, match="lengths"):
        ms.FlatTorus((1.0, -2.0))
    with pytest.raises(ManifoldSpecError, match="bc"):
        ms.Box((1, 1), "robin")


@pytest.mark.parametrize("argv,needle", [
    (["spectrum", "--random-tokens", "3", "--sigma", "-1"], "--sigma"),
    (["spectrum", "--manifold", "torus", "--resolution", "3", "--order", "1", "--k", "50"], "k:"),
    (["spectrum", "--manifold", "mesh", "--mesh", "/nonexistent/x.obj"], "mesh file"),
    (["spectrum", "--tokens", "/nonexistent/t.npz"], "tokens"),
])
def test_cli_errors_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_cli_subprocess_exit_code():
    r = subprocess.run([sys.executable, "-m", "manifoldspec", "spectrum", "--k", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "k:" in r.stderr and "Traceback" not in r.stderr


def test_load_tokens_rejects_non_numeric_and_non_scalar_sigma(tmp_path):
    from manifoldspec.tokens import load_tokens

    np.save(tmp_path / "s.npy", np.array([["a"] * 5]))
    with pytest.raises(ManifoldSpecError, match="must be numeric"):
        load_tokens(tmp_path / "s.npy", 2)
    np.savez(tmp_path / "t.npz", alpha=[0.5], mu=[[1.0, 2.0]], v=[[1.0, 0.0]], sigma=[0.3, 0.4])
    with pytest.raises(ManifoldSpecError, match="sigma .* must be one number"):
        load_tokens(tmp_path / "t.npz", 2)
