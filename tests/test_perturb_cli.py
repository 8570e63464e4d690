"""``manifoldspec perturb``: runs, prints the error table with the expected orders, and rejects bad input."""
import re

import numpy as np

from manifoldspec.cli import main


def test_cli_perturb_torus_table_and_orders(capsys, tmp_path):
    plot = tmp_path / "p.png"
    rc = main(["perturb", "--manifold", "torus", "--order", "1", "--resolution", "15", "--k", "9",
               "--eps", "0.04", "0.013", "0.004", "--n-tokens", "3", "--sigma", "0.8", "--no-progress",
               "--plot", str(plot)])
    out = capsys.readouterr().out
    assert rc == 0 and plot.stat().st_size > 0
    m = re.search(r"fitted orders: first ([-\d.]+).*Ritz ([-\d.]+)", out)
    assert 1.8 <= float(m.group(1)) <= 2.2 and 1.8 <= float(m.group(2)) <= 2.2
    assert "per eigenvalue" in out


def test_cli_perturb_sphere_with_token_file(capsys, tmp_path):
    f = tmp_path / "tok.npz"
    rng = np.random.default_rng(5)
    mu = rng.normal(size=(3, 3))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    np.savez(f, alpha=np.array([0.5, 0.7, 0.6]), mu=mu, v=rng.normal(size=(3, 3)), sigma=0.6)
    rc = main(["perturb", "--manifold", "sphere", "--resolution", "1", "--k", "4", "--eps", "0.05", "0.01",
               "--tokens", str(f), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "3 tokens" in out and "clusters [1, 3]" in out


def test_cli_perturb_bad_input(capsys):
    assert main(["perturb", "--eps", "0", "--no-progress"]) == 2
    assert "--eps" in capsys.readouterr().err
    assert main(["perturb", "--manifold", "torus", "--lengths", "1", "2", "3", "--no-progress"]) == 2
    assert "--lengths" in capsys.readouterr().err


def test_cli_perturb_box_shares_the_common_options(capsys):
    # the box and --bc come from the shared manifold options; first order is O(ε²) across a 2-fold cluster
    rc = main(["perturb", "--manifold", "box", "--bc", "dirichlet", "--lengths", "1", "1", "--order", "1",
               "--resolution", "14", "--k", "5", "--eps", "0.01", "0.003", "0.001", "--random-tokens", "3",
               "--sigma", "0.3", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "3 tokens" in out
    first = float(re.search(r"fitted orders: first ([-\d.]+)", out).group(1))
    assert 1.8 <= first <= 2.2
    assert main(["perturb", "--random-tokens", "0", "--no-progress"]) == 2
    assert "--random-tokens" in capsys.readouterr().err


def test_cli_perturb_on_a_mesh_file(capsys, tmp_path):
    import meshio

    from manifoldspec.geometry.icosphere import icosphere

    v, t = icosphere(2)
    path = tmp_path / "oblate.obj"
    meshio.write(path, meshio.Mesh(v * [1.0, 1.0, 0.7], [("triangle", t)]))
    rc = main(["perturb", "--manifold", "mesh", "--mesh", str(path), "--order", "1", "--k", "3",
               "--eps", "0.02", "0.006", "0.002", "--random-tokens", "4", "--no-progress"])
    out = capsys.readouterr().out
    # on a user mesh (an oblate spheroid, with near-degenerate pairs) first-order error still falls as ε²
    assert rc == 0 and "TriangleSurface P1" in out
    first = float(re.search(r"fitted orders: first ([-\d.]+)", out).group(1))
    assert 1.8 <= first <= 2.2
