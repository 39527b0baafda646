#!/usr/bin/env bash
# The repository's test command (the root README names it; .ci/run calls it).
# Checks formatting, vets, runs every module's tests with -race through
# go.work, runs each leaf module alone (GOWORK=off), smoke-runs benchmarks,
# checks go.mod tidiness and the dependency direction between modules.
# Exits non-zero if any step fails; prints a summary at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

modules=(hlc ring swim transport storage gridkv tools examples)
leaves=(hlc ring swim transport storage)
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
failed=()
step() { # step NAME CMD...: run a step, remember failures, keep going
	local name=$1; shift
	echo "==> $name"
	local t0=$SECONDS
	if "$@"; then
		echo "    ok ($((SECONDS - t0))s)"
	else
		echo "    FAILED ($((SECONDS - t0))s)"
		failed+=("$name")
	fi
}

# --- what a fresh machine needs --------------------------------------------
install() {
	command -v go >/dev/null || { echo "go is not installed"; return 1; }
	go version
	local need=()
	command -v redis-cli >/dev/null || need+=(redis-tools)
	command -v redis-server >/dev/null || need+=(redis-server)
	if ((${#need[@]})); then
		if [ "$(id -u)" = 0 ]; then
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null ||
				echo "warning: could not install ${need[*]}; tests that need them will fail"
		else
			echo "warning: not root, cannot install ${need[*]}"
		fi
	fi
	go mod download -x >/dev/null 2>&1 || true
	for m in "${modules[@]}"; do (cd "$m" && GOWORK=off go mod download) || return 1; done
}

fmt_check() {
	local bad
	bad=$(git ls-files -co --exclude-standard -- '*.go' | xargs -r gofmt -l)
	[ -z "$bad" ] || { echo "not gofmt-formatted:"; echo "$bad"; return 1; }
}

tidy_check() {
	local rc=0
	for m in "${modules[@]}"; do
		(cd "$m" && GOWORK=off go mod tidy -diff) || { echo "$m: go.mod/go.sum not tidy (run: cd $m && go mod tidy)"; rc=1; }
	done
	return $rc
}

# Dependency direction: hlc requires nothing; leaves require no sibling;
# only tools and examples may require gridkv.
deps_check() {
	local rc=0 m reqs
	for m in "${modules[@]}"; do
		reqs=$(cd "$m" && go mod edit -json | awk '/"Require": \[/{on=1; next} on && /^\t\]/{on=0} on && /"Path"/{gsub(/[",]/, "", $2); print $2}')
		if [ "$m" = hlc ] && [ -n "$reqs" ]; then
			echo "hlc must use only the standard library, but requires: $reqs"; rc=1
		fi
		if [[ " ${leaves[*]} " == *" $m "* ]] && grep -q '^github.com/gridkv/gridkv/' <<<"$reqs"; then
			echo "leaf module $m requires a sibling: $(grep '^github.com/gridkv/gridkv/' <<<"$reqs" | tr '\n' ' ')"; rc=1
		fi
		if [ "$m" != tools ] && [ "$m" != examples ] && grep -qx 'github.com/gridkv/gridkv/gridkv' <<<"$reqs"; then
			echo "$m requires github.com/gridkv/gridkv/gridkv; only tools and examples may"; rc=1
		fi
	done
	return $rc
}

race_tests() { go test -race -timeout 10m work 2>&1 | tee "$log/race.txt"; }

leaf_tests() {
	local rc=0
	for m in "${leaves[@]}"; do
		(cd "$m" && GOWORK=off go test -timeout 10m ./...) 2>&1 | tee -a "$log/leaf.txt" || rc=1
	done
	return $rc
}

# Every benchmark in the component modules runs once, so none rots.
bench_smoke() {
	local pkgs=()
	for m in hlc ring swim transport storage gridkv; do pkgs+=("./$m/..."); done
	go test -run '^$' -bench . -benchtime 1x -timeout 10m "${pkgs[@]}" 2>&1 | grep -Ev '^(Benchmark|goos|goarch|pkg|cpu)' 
}

examples_run() {
	if [ -x examples/run_all.sh ]; then examples/run_all.sh; else echo "(no examples/run_all.sh yet)"; fi
}

step "install" install
step "gofmt" fmt_check
step "go vet work" go vet work
step "go test -race work" race_tests
step "GOWORK=off go test (leaf modules)" leaf_tests
step "benchmark smoke run" bench_smoke
step "go mod tidy -diff" tidy_check
step "dependency direction" deps_check
step "examples" examples_run

pass=$(cat "$log"/race.txt "$log"/leaf.txt 2>/dev/null | grep -c '^ok ' || true)
fail=$(cat "$log"/race.txt "$log"/leaf.txt 2>/dev/null | grep -c '^FAIL' || true)
echo
echo "test packages: $pass passed, $fail failed"
if ((${#failed[@]})); then
	echo "failed steps: ${failed[*]}"
	exit 1
fi
echo "all steps passed"
