#!/usr/bin/env bash
# Runs every example (each folder of examples/ with a main.go) and prints one
# line per example: PASS or FAIL, its name and how long it ran. Exits
# non-zero if any example fails. CI runs it from scripts/test.sh.
#
#   examples/run_all.sh            # all of them
#   examples/run_all.sh -v         # also print each example's output
#   examples/run_all.sh quickstart ring_only   # only these
#
# The examples are built once (go build, through the repository's go.work),
# then each binary runs from the repository root, exactly as
# `go run ./examples/<name>` would run it, under a per-example time limit.
set -uo pipefail
cd "$(dirname "$0")/.."

verbose=0
if [ "${1:-}" = "-v" ]; then verbose=1; shift; fi
limit=${EXAMPLE_TIMEOUT:-120} # seconds per example; each is meant to finish in ~20 s

names=("$@")
if ((${#names[@]} == 0)); then
	for d in examples/*/; do
		name=$(basename "$d")
		[ -f "$d/main.go" ] && [ "$name" != server_cluster ] && names+=("$name")
	done
	# Last: it builds and starts separate server processes.
	[ -f examples/server_cluster/main.go ] && names+=(server_cluster)
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
t0=$(date +%s%N)
pkgs=()
for name in "${names[@]}"; do pkgs+=("./examples/$name"); done
if ! go build -o "$bin/" "${pkgs[@]}"; then
	echo "FAIL  build of the examples"
	exit 1
fi
printf 'built %d examples in %.1fs\n' "${#names[@]}" "$(( $(date +%s%N) - t0 ))e-9"

failed=()
for name in "${names[@]}"; do
	out="$bin/$name.out"
	start=$(date +%s%N)
	timeout --kill-after=10 "$limit" "$bin/$name" >"$out" 2>&1
	rc=$?
	secs=$(( ($(date +%s%N) - start) / 1000000 ))
	took=$(printf '%d.%01ds' $((secs / 1000)) $(((secs % 1000) / 100)))
	if ((rc == 0)); then
		printf 'PASS  %-20s %8s\n' "$name" "$took"
		((verbose)) && sed 's/^/      /' "$out"
	else
		why="exit $rc"
		((rc == 124 || rc == 137)) && why="timed out after ${limit}s"
		printf 'FAIL  %-20s %8s  (%s)\n' "$name" "$took" "$why"
		sed 's/^/      /' "$out"
		failed+=("$name")
	fi
done
total=$(( ($(date +%s%N) - t0) / 1000000000 ))
if ((${#failed[@]})); then
	echo "${#failed[@]} of ${#names[@]} examples failed: ${failed[*]} (${total}s in all)"
	exit 1
fi
echo "all ${#names[@]} examples passed (${total}s in all)"
