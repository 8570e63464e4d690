"""The verify CLI, the registry and the report (plots exist and are non-empty)."""
import pytest

from manifoldspec.cli import main
from manifoldspec.verify import NAMES, run_checks, text_table, write_report
from manifoldspec.verify.registry import CHECKS, select


def test_registry_covers_the_eight_claims():
    assert sorted({c.claim for c in CHECKS}) == list(range(1, 9))
    assert len(set(NAMES)) == len(NAMES)


def test_unknown_name_is_a_clear_error():
    from manifoldspec import ManifoldSpecError

    with pytest.raises(ManifoldSpecError, match="unknown check"):
        select(["nope"])


def test_cli_only_and_report(tmp_path, capsys):
    rc = main(["verify", "--quick", "--only", "rope", "--only", "uncertainty_naive", "--report", str(tmp_path),
               "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "rope" in out and "uncertainty_naive" in out and "FAILS AS STATED" in out
    report = (tmp_path / "report.md").read_text()
    assert "| check |" in report
    for name in ("rope", "uncertainty_naive"):
        png = tmp_path / f"{name}.png"
        assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
        assert f"({name}.png)" in report


def test_cli_list(capsys):
    assert main(["verify", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in NAMES)


def test_errors_become_error_rows(monkeypatch):
    def boom(**kw):
        raise RuntimeError("kaputt")

    mod = __import__("manifoldspec.verify.rope", fromlist=["x"])
    monkeypatch.setattr(mod, "check_rope", boom)
    (r,) = run_checks(["rope"], quick=True)
    assert r.verdict.startswith("ERROR") and "kaputt" in r.details
    assert "ERROR" in text_table([r])


def test_missing_module_is_not_available(monkeypatch):
    def missing(**kw):
        raise ModuleNotFoundError("No module named 'manifoldspec.nn.layer'", name="manifoldspec.nn.layer")

    mod = __import__("manifoldspec.verify.memory", fromlist=["x"])
    monkeypatch.setattr(mod, "check_memory", missing)
    (r,) = run_checks(["memory"], quick=True)
    assert r.verdict == "NOT AVAILABLE: needs manifoldspec.nn.layer"


def test_report_for_unavailable_check_has_a_png(tmp_path):
    from manifoldspec.verify.result import unavailable_result

    r = unavailable_result("memory", "c", "e", "manifoldspec.nn")
    path, plotted = write_report([r], tmp_path)
    assert (tmp_path / "memory.png").stat().st_size > 500
