#!/usr/bin/env bash
# Rebuild docs/benchmarks.md from the per-topic result files in benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat <<'HEAD'
# Benchmarks

Each section comes from one script in `benchmarks/` (command, machine and date in the section) and is
kept as a file in `benchmarks/results/`; `bash benchmarks/collect_results.sh` rebuilds this page.
Speed is compared only within one run (ratios against the baseline measured in the same run); all
figures so far come from a 2-core x86_64 VM without a GPU that was shared with other jobs, so the
absolute times are noisy. GPU measurements are open (no GPU was available).

Contents: spectra vs LaPy (issue 2) · perturbation and streaming (issue 3) · Ricci flow (issue 4) ·
nn layer and MQAR (issue 5) · GPU kernels (issue 6) · verify runtime (issue 7).

HEAD
  for topic in spectrum perturb flow nn gpu verify; do
    f="benchmarks/results/$topic.md"
    [ -f "$f" ] || continue
    echo
    # demote headings by one level so the page keeps a single H1
    sed 's/^#/##/' "$f"
  done
} > docs/benchmarks.md
