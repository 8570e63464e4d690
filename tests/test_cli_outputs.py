"""Output paths are checked before a subcommand computes anything, and JSON is written atomically."""
import os
import stat

import pytest

from manifoldspec import ManifoldSpecError
from manifoldspec.cli import main
from manifoldspec.cli.outputs import check_output_dir, check_output_file, write_text_atomic

SPHERE = ["spectrum", "--manifold", "sphere", "--resolution", "1", "--k", "4"]


@pytest.mark.parametrize("argv, needle", [
    (SPHERE + ["--plot", "{d}/missing/a.png"], "--plot: the directory"),
    (SPHERE + ["--plot", "{d}/a.notanimage"], "--plot: expected a file name ending in"),
    (SPHERE + ["--eigenfunctions", "{d}"], "--eigenfunctions: '{d}' is a directory"),
    (SPHERE + ["--out", "{d}/s.txt"], "--out: expected a file name ending in .json, .npz"),
    (["perturb", "--plot", "{d}/missing/p.png"], "--plot: the directory"),
    (["flow", "--plot", "{d}/missing/f.png"], "--plot: the directory"),
    (["flow", "--frames", "{d}/file.txt"], "--frames: '{d}/file.txt' exists and is not a directory"),
    (["train-recall", "--out", "{d}/r.csv"], "--out: expected a file name ending in .json"),
    (["train-recall", "--out", "{d}/missing/r.json"], "--out: the directory"),
    (["verify", "--report", "{d}/file.txt"], "--report: '{d}/file.txt' exists and is not a directory"),
])
def test_bad_output_paths_stop_before_any_work(tmp_path, capsys, monkeypatch, argv, needle):
    (tmp_path / "file.txt").write_text("keep me")

    def never(*a, **k):  # the check must come first: no command body may run
        raise AssertionError("the command ran before its output paths were checked")

    for mod in ("spectrum", "perturb", "flow", "train_recall", "verify"):  # main() binds run when it builds the parser
        monkeypatch.setattr(f"manifoldspec.cli.{mod}.run", never)
    assert main([a.format(d=tmp_path) for a in argv]) == 2
    assert needle.format(d=tmp_path) in capsys.readouterr().err
    assert (tmp_path / "file.txt").read_text() == "keep me"


def test_good_output_paths_pass(tmp_path):
    assert check_output_file(str(tmp_path / "a.png"), "--plot", (".png",)).name == "a.png"
    assert check_output_file("relative.json", "--out", (".json",)).name == "relative.json"  # the working directory
    assert check_output_dir(str(tmp_path / "new" / "deeper"), "--frames").name == "deeper"  # created later
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ManifoldSpecError, match="--frames: cannot create .* is not a writable directory"):
        check_output_dir(str(tmp_path / "file.txt" / "sub"), "--frames")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only directories")
def test_read_only_directory_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ManifoldSpecError, match="is not writable"):
            check_output_file(str(ro / "a.json"), "--out")
    finally:
        ro.chmod(stat.S_IRWXU)


def test_atomic_write_replaces_whole_or_keeps_the_old_file(tmp_path, monkeypatch):
    f = tmp_path / "r.json"
    f.write_text("old")
    f.chmod(0o640)
    write_text_atomic(f, "new")
    assert f.read_text() == "new" and stat.S_IMODE(f.stat().st_mode) == 0o640  # the file's mode is kept

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(f, "newer")
    assert f.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary file left behind
    monkeypatch.undo()
    g = tmp_path / "fresh.json"
    write_text_atomic(g, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(g.stat().st_mode) == 0o666 & ~umask  # as open(path, "w") would create it


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_spectrum_save_is_atomic(tmp_path, monkeypatch, suffix):
    import numpy as np

    import manifoldspec as ms
    spec = ms.solve(ms.discretize(ms.Sphere(), 1, 1), 4)
    path = tmp_path / f"s{suffix}"
    assert spec.save(path) == path
    first = path.read_bytes()
    if suffix == ".npz":
        assert np.allclose(np.load(path)["eigenvalues"], spec.eigenvalues)
    monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        spec.save(path)
    assert path.read_bytes() == first and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
