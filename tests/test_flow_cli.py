"""`manifoldspec flow` end to end (small sizes), and the tracked grid spectrum on a flat torus."""
import numpy as np
import pytest

from manifoldspec.cli import main
from manifoldspec.flow.grid_curvature import PeriodicGrid
from manifoldspec.flow.grid_flow import grid_flow
from manifoldspec.flow.track import track_grid_spectrum


def test_cli_sphere_and_torus(tmp_path, capsys):
    png = tmp_path / "s.png"
    assert main(["flow", "--manifold", "sphere", "--resolution", "1", "--steps", "4", "-k", "5",
                 "--normalized", "--plot", str(png), "--frames", str(tmp_path / "f")]) == 0
    assert png.stat().st_size > 0 and len(list((tmp_path / "f").glob("frame_*.png"))) == 5
    assert main(["flow", "--manifold", "torus", "--resolution", "12", "--steps", "3", "-k", "4",
                 "--method", "explicit", "--plot", str(tmp_path / "t.png")]) == 0
    out = capsys.readouterr().out
    assert "Gauss–Bonnet" in out and "torus grid 12x12" in out


def test_cli_tokens_and_errors(tmp_path, capsys):
    f = tmp_path / "tok.npz"
    np.savez(f, alpha=[0.3, 0.2], mu=[[1.0, 2.0], [3.0, 4.0]], v=[[1.0, 0.0], [0.0, 1.0]], sigma=0.6)
    assert main(["flow", "--manifold", "torus", "--resolution", "10", "--steps", "2", "-k", "3",
                 "--tokens", str(f)]) == 0
    assert main(["flow", "--manifold", "sphere", "--resolution", "1", "--steps", "2", "--tokens", str(f)]) == 2
    assert "token dimension" in capsys.readouterr().err
    assert main(["flow", "--manifold", "sphere", "--resolution", "9", "--steps", "2"]) == 2
    with pytest.raises(SystemExit):
        main(["flow", "--manifold", "klein"])


def test_cli_error_controlled_steps(tmp_path, capsys):
    assert main(["flow", "--manifold", "sphere", "--resolution", "1", "--tol", "1e-3", "--t-end", "0.05",
                 "-k", "4"]) == 0
    assert main(["flow", "--manifold", "torus", "--resolution", "10", "--tol", "1e-3", "--t-end", "0.05",
                 "-k", "3", "--method", "explicit"]) == 0
    out = capsys.readouterr().out
    assert out.count("accepted") == 2 and "tol = 0.001" in out
    times = [float(line.split()[0]) for line in out.splitlines() if line.strip() and line.split()[0][0].isdigit()]
    assert max(times) == pytest.approx(0.05)  # both runs end exactly at --t-end
    f = tmp_path / "tok.npz"
    np.savez(f, alpha=[0.3], mu=[[1.0, 2.0]], v=[[1.0, 0.0]], sigma=0.6)
    assert main(["flow", "--manifold", "torus", "--tol", "1e-3", "--tokens", str(f)]) == 2
    assert "--tol" in capsys.readouterr().err
    assert main(["flow", "--tol", "-1"]) == 2


def test_tracked_spectrum_of_flat_torus_is_exact():
    grid = PeriodicGrid((2 * np.pi, 2 * np.pi), (11, 12))
    g = np.broadcast_to(np.eye(2), grid.shape + (2, 2)).copy()
    res = grid_flow(g, grid, dt=0.01, steps=2)
    lam = track_grid_spectrum(res, 5, resolution=16)
    assert np.abs(lam[:, 1:5] - 1).max() < 1e-3  # P2 on 16x16: O(h⁴)
