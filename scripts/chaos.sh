#!/usr/bin/env bash
# Runs GridKV's fault-injection harness over many seeds and prints the summary
# table (seeds, operations, faults, violations, lost writes, convergence).
#   scripts/chaos.sh [seeds-per-mode-and-level] [modes]
# A failing seed prints the command that replays it exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-50}
modes=${2:-mem,tcp}
go test ./gridkv -count=1 -timeout 60m -run 'TestRobustness' \
	-robust.seeds="$seeds" -robust.modes="$modes" -robust.out="${TMPDIR:-/tmp}" -v 2>&1 |
	grep -vE '^(=== RUN|=== PAUSE|=== CONT)'
