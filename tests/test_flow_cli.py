"""`manifoldspec flow` end to end (small sizes), and the tracked grid spectrum on a flat torus."""
import sys

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
    err = capsys.readouterr().err
    assert "--tokens" in err and "(N, 3)" in err  # 2D chart tokens on the sphere (3D ambient)
    assert main(["flow", "--manifold", "sphere", "--resolution", "9", "--steps", "2"]) == 2
    with pytest.raises(SystemExit):
        main(["flow", "--manifold", "klein"])


TORUS = ["flow", "--manifold", "torus", "--resolution", "10", "--steps", "2", "-k", "3", "--coupling", "5",
         "--no-progress"]
ALPHA, MU, V = [0.3, 0.2], [[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]


def _flow_out(argv, capsys):
    assert main(argv) == 0
    return capsys.readouterr().out


def test_cli_npy_tokens_and_sigma_override(tmp_path, capsys):
    # the shared token loader: .npy rows [alpha, mu_1, mu_2, v_1, v_2] equal the .npz arrays; σ defaults to 0.5
    npy, npz = tmp_path / "tok.npy", tmp_path / "tok.npz"
    np.save(npy, np.column_stack([ALPHA, MU, V]))
    np.savez(npz, alpha=ALPHA, mu=MU, v=V)
    out_npy = _flow_out(TORUS + ["--tokens", str(npy)], capsys)
    assert out_npy == _flow_out(TORUS + ["--tokens", str(npz)], capsys)
    np.savez(tmp_path / "s05.npz", alpha=ALPHA, mu=MU, v=V, sigma=0.5)
    assert out_npy == _flow_out(TORUS + ["--tokens", str(tmp_path / "s05.npz")], capsys)
    # --sigma overrides the file's σ (and the .npy default)
    np.savez(tmp_path / "s06.npz", alpha=ALPHA, mu=MU, v=V, sigma=0.6)
    np.savez(tmp_path / "s03.npz", alpha=ALPHA, mu=MU, v=V, sigma=0.3)
    out_03 = _flow_out(TORUS + ["--tokens", str(tmp_path / "s03.npz")], capsys)
    assert out_03 != _flow_out(TORUS + ["--tokens", str(tmp_path / "s06.npz")], capsys)
    assert out_03 == _flow_out(TORUS + ["--tokens", str(tmp_path / "s06.npz"), "--sigma", "0.3"], capsys)
    assert out_03 == _flow_out(TORUS + ["--tokens", str(npy), "--sigma", "0.3"], capsys)
    # sphere tokens live in 3D ambient space: .npy rows of 7 columns
    np.save(tmp_path / "s.npy", [[0.3, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    assert main(["flow", "--manifold", "sphere", "--resolution", "1", "--steps", "2", "-k", "3", "--normalized",
                 "--no-progress", "--tokens", str(tmp_path / "s.npy")]) == 0


@pytest.mark.parametrize("make,argv,needle", [
    (None, ["--tokens", "{d}/missing.npz"], "does not exist"),
    (lambda d: (d / "bad.npz").write_bytes(b"not a numpy file"), ["--tokens", "{d}/bad.npz"], "cannot read"),
    (lambda d: np.savez(d / "nov.npz", alpha=ALPHA, mu=MU), ["--tokens", "{d}/nov.npz"], "'v'"),
    (lambda d: np.save(d / "cols.npy", np.zeros((2, 4))), ["--tokens", "{d}/cols.npy"], "(N, 5)"),
    (lambda d: np.save(d / "str.npy", np.array([["a"] * 5])), ["--tokens", "{d}/str.npy"], "must be numeric"),
    (lambda d: np.save(d / "none.npy", np.zeros((0, 5))), ["--tokens", "{d}/none.npy"], "no tokens"),
    (lambda d: np.savez(d / "sig.npz", alpha=ALPHA, mu=MU, v=V, sigma=-1.0), ["--tokens", "{d}/sig.npz"], "sigma"),
    (lambda d: np.savez(d / "t.npz", alpha=ALPHA, mu=MU, v=V), ["--tokens", "{d}/t.npz", "--sigma", "0"], "--sigma"),
    (None, ["--sigma", "-1"], "--sigma"),
])
def test_cli_bad_token_input_names_the_argument(tmp_path, capsys, make, argv, needle):
    if make:
        make(tmp_path)
    assert main(TORUS + [a.format(d=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    flag = "--sigma" if needle == "--sigma" else "--tokens"
    assert len(err.splitlines()) == 1 and f"error: {flag}:" in err and needle in err, err


def test_cli_no_progress(monkeypatch, capsys):
    # as in spectrum/perturb/verify: bars only on an interactive stderr, and never with --no-progress
    sphere = ["flow", "--manifold", "sphere", "--resolution", "1", "--steps", "2", "-k", "3", "--normalized"]
    torus = ["flow", "--manifold", "torus", "--resolution", "10", "--steps", "2", "-k", "3"]
    adaptive = ["--tol", "1e-3", "--t-end", "0.05"]
    assert main(sphere) == 0
    assert capsys.readouterr().err == ""  # captured stderr is not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    for argv, bar in ((sphere, "mesh Ricci flow"), (torus, "Ricci flow (semi-implicit)"),
                      (torus + adaptive, "adaptive Ricci flow")):
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert bar in err and "spectra" in err
        assert main(argv + ["--no-progress"]) == 0
        captured = capsys.readouterr()
        assert captured.err == "" and "λ_1" in captured.out


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


def test_cli_unnormalized_sphere_stops_before_extinction(capsys):
    # Gauss–Bonnet makes the unnormalized area fall at exactly 4πχ = 8π, so the surface ends at T = A₀/8π;
    # the default dt is shortened to stop at 0.9 T, and a run past T is refused before it starts
    assert main(["flow", "--manifold", "sphere", "--resolution", "2", "--steps", "10", "-k", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line[:9].strip().replace(".", "").isdigit()]
    t, area = np.array([[float(r[0]), float(r[1])] for r in rows]).T
    assert "dt shortened" in out and t[-1] / (area[0] / (8 * np.pi)) == pytest.approx(0.9, rel=1e-3)
    assert area == pytest.approx(area[0] - 8 * np.pi * t, rel=2e-3)  # printed to 6 digits
    assert main(["flow", "--manifold", "sphere", "--resolution", "2", "--steps", "10", "--dt", "0.06",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "becomes extinct at t = 0.5" in err and "would go to t = 0.6" in err and "--normalized" in err
    # the normalized flow keeps the area, so nothing is shortened
    assert main(["flow", "--manifold", "sphere", "--resolution", "2", "--steps", "3", "-k", "3", "--normalized",
                 "--no-progress"]) == 0
    assert "dt shortened" not in capsys.readouterr().out
