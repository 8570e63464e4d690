#!/usr/bin/env bash
# Rebuild docs/benchmarks.md from the per-topic result files in benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat <<'HEAD'
# Benchmarks

Each section comes from one script in `benchmarks/` (command, machine and date in the section) and is
kept as a file in `benchmarks/results/`; `bash benchmarks/collect_results.sh` rebuilds this page.
Speed is compared only within one run (ratios against the baseline measured in the same run). All
figures come from a 2-core x86_64 VM without a GPU. The spectrum, perturbation, Ricci-flow and verify
sections were re-measured with the machine to itself, and so were the nn sections 1b–1d and 3b
(each says so). The nn sections 1–3 were measured while it was shared with other jobs, so their
absolute times are noisy. GPU measurements are open
(no GPU has been available to any session so far).

Contents: spectra vs LaPy (issue 2) · perturbation and streaming (issue 3) · Ricci flow (issue 4) ·
nn layer and MQAR (issue 5) · GPU kernels (issue 6) · verify runtime (issue 7).

HEAD
  for topic in spectrum perturb flow nn gpu verify; do
    f="benchmarks/results/$topic.md"
    [ -f "$f" ] || continue
    echo
    # demote headings by one level so the page keeps a single H1
    # and point image links, written relative to benchmarks/results/, at docs/img/
    sed -e 's/^#/##/' -e 's#](../../docs/img/#](img/#g' "$f"
  done
} > docs/benchmarks.md
