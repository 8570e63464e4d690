#!/usr/bin/env bash
# Issue 6's device work in one call: the GPU kernel tests, then the kernel benchmark, logs under $OUT.
#
#   here, once:     bash benchmarks/gpu_session.sh --fetch-wheels
#                   (scikit-fem and meshio as wheels into .whl/, which .git/info/exclude keeps out of git;
#                   the device image has torch, cupy, numpy, scipy, matplotlib, tqdm and pytest, not these)
#   on the device:  bash benchmarks/gpu_session.sh          (device tool: carry [".whl"], timeout_s 560)
#
# Each step has its own time limit so that the whole run ends inside one 10-minute call, and each step's
# exit status goes to $OUT/summary.txt whatever the others do. The files that come back: env.txt,
# pytest_gpu.txt, bench_quick.txt, bench_gpu.txt, summary.txt. Record the tables, the device name, the
# date and the command in benchmarks/results/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch-wheels" ]; then
    mkdir -p .git/info
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    exec python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux2014_x86_64 -d .whl scikit-fem==12.0.2 meshio==5.3.5
fi
if [ -n "${1:-}" ]; then
    echo "gpu_session.sh: unknown argument '$1' (expected nothing or --fetch-wheels)" >&2
    exit 2
fi

OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
: > "$OUT/summary.txt"
step() {  # step NAME SECONDS COMMAND...: run it with a limit, log to $OUT/NAME.txt, note its status
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
    local rc=$?
    echo "$name: exit $rc after $((SECONDS - t0)) s (limit $limit s)" | tee -a "$OUT/summary.txt"
    tail -n 25 "$OUT/$name.txt"
}

if ls .whl/*.whl > /dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed" | tee -a "$OUT/summary.txt"; exit 1; }
    export PYTHONPATH="/tmp/site:$PWD"
else
    echo "no .whl/ wheels: relying on scikit-fem and meshio being installed" | tee -a "$OUT/summary.txt"
    export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1

step env 60 bash -c 'date -u; nvidia-smi -L; python3 -c "import torch, cupy, numpy, skfem; print(\"torch\", torch.__version__, torch.cuda.get_device_name()); print(\"cupy\", cupy.__version__, \"numpy\", numpy.__version__, \"scikit-fem\", skfem.__version__)"'
# every GPU-related test, the GPU-marked ones included (pyproject deselects them by default)
step pytest_gpu 180 python3 -m pytest -q -m "gpu or not slow" -p no:cacheprovider tests/test_gpu_kernels.py \
    tests/test_gpu_dispatch.py tests/test_gpu_launch_contract.py tests/test_gpu_loader.py tests/test_gpu_cases.py
step bench_quick 60 python3 benchmarks/bench_gpu.py --quick
step bench_gpu 240 python3 benchmarks/bench_gpu.py
echo "logs in $OUT"
