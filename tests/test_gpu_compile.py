"""Every cuda/*.cu compiles to PTX with nvcc for sm_80 and sm_90, with every template
instantiation the loader requests (skipped without nvcc), and sources are found and
prefixed with #line so compiler messages point into the file."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from manifoldspec.gpu import loader

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc not found")
REPO_CUDA = Path(__file__).resolve().parent.parent / "cuda"


def _instantiating_wrapper(path: Path, exprs) -> str:
    # Taking the address of each specialization instantiates it, as NVRTC's name_expressions do.
    refs = ",\n  ".join(f"(void*)&{e}" for e in exprs)
    return f'#include "{path.as_posix()}"\nvoid* ms_instances[] = {{\n  {refs}\n}};\n'


def _entries(ptx: str):
    return re.findall(r"\.visible \.entry (\w+)\(", ptx)


def test_every_cu_file_belongs_to_a_family():
    files = {p.name for p in REPO_CUDA.glob("*.cu")}
    assert files == {f for f, _, _ in loader.FAMILIES.values()}


@needs_nvcc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("family", sorted(loader.FAMILIES))
def test_cu_compiles_to_ptx(tmp_path, family, arch):
    filename, options, exprs = loader.FAMILIES[family]
    src = tmp_path / f"{family}_all.cu"
    src.write_text(_instantiating_wrapper(loader.kernel_path(filename), exprs))
    out = tmp_path / f"{family}.ptx"
    cmd = [NVCC, "--ptx", f"-arch={arch}", "-std=c++14", "-Werror", "all-warnings", *options, str(src), "-o", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    entries = _entries(out.read_text())
    assert len(entries) == len(exprs), (entries, exprs)
    kernel = exprs[0].split("<")[0]
    assert all(kernel in e for e in entries)


def test_kernel_source_has_line_directive():
    for filename, _, _ in loader.FAMILIES.values():
        src = loader.kernel_source(filename)
        first = src.splitlines()[0]
        assert first.startswith('#line 1 "') and first.endswith(f'{filename}"')
        assert Path(first[len('#line 1 "'):-1]).is_file()


@needs_nvcc
def test_line_directive_points_errors_into_the_file(tmp_path):
    bad = tmp_path / "broken.cu"
    bad.write_text("// line 1\n__global__ void k(float* x) {\n  x[0] = undefined_name;\n}\n")
    wrapped = tmp_path / "wrapped.cu"
    # what the loader hands to NVRTC: the #line prefix, then the file
    wrapped.write_text(f'#line 1 "{bad.as_posix()}"\n' + bad.read_text())
    res = subprocess.run([NVCC, "--ptx", "-arch=sm_80", str(wrapped), "-o", str(tmp_path / "x.ptx")],
                         capture_output=True, text=True)
    assert res.returncode != 0
    assert f"{bad.as_posix()}(3)" in res.stderr, res.stderr


def test_kernel_path_reports_where_it_looked():
    with pytest.raises(FileNotFoundError, match="not found in"):
        loader.kernel_path("no_such_kernel.cu")
