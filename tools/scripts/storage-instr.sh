#!/usr/bin/env bash
# storage-instr.sh: count the instructions per write of a storage version.
#
#   tools/scripts/storage-instr.sh [REV-or-DIR]    (default: the working tree)
#
# Builds main.go.in against the storage package at REV (a git revision) or
# DIR (a directory holding the package), fills 64k keys and runs 100k
# overwrites under callgrind, then prints the instructions per write of
# gridkv (the caller's loop included) and of the bare table that
# tools/bench/storage calls floor, and the functions they were spent in.
# Instruction counts do not depend on the machine's load, so they compare
# versions that time cannot tell apart; on the 2-core machines here the time
# per write at 1M keys has followed them. Needs valgrind (apt-get install
# valgrind).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v valgrind >/dev/null || { echo "storage-instr: valgrind is not installed" >&2; exit 1; }
src=${1:-$root/storage}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/storage"
if [ ! -d "$src" ]; then
	git -C "$root" archive "$src" storage | tar -x -C "$work"
else
	cp "$src"/*.go "$src"/*.s "$src/go.mod" "$src/go.sum" "$work/storage/" 2>/dev/null || true
fi
rm -f "$work"/storage/*_test.go
cp "$here/storage-instr/main.go.in" "$work/main.go"
xx=$(grep 'cespare/xxhash/v2 ' "$root/storage/go.mod" | awk '{print $2}')
printf 'module storageinstr\n\ngo 1.25.0\n\nrequire (\n\tgithub.com/cespare/xxhash/v2 %s\n\tgithub.com/gridkv/gridkv/storage v0.0.0\n)\n\nreplace github.com/gridkv/gridkv/storage => ./storage\n' "$xx" > "$work/go.mod"
cp "$root/storage/go.sum" "$work/go.sum"
(cd "$work" && GOWORK=off GOFLAGS=-mod=mod go build -o storage-instr .)
for impl in gridkv floor; do
	# Go's asynchronous preemption signals upset callgrind; a run that
	# dies anyway is retried.
	for try in 1 2 3 4 5; do
		if GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --collect-atstart=no \
			--toggle-collect='main.measure*' --callgrind-out-file="$work/cg.$impl" \
			"$work/storage-instr" "$impl" >"$work/log.$impl" 2>&1 &&
			grep -q Collected "$work/log.$impl"; then
			break
		fi
	done
	awk -v impl="$impl" '/Collected/ {printf "%-6s %6.1f instructions per write\n", impl, $4/100000}' "$work/log.$impl"
done
echo
echo "gridkv, by source file and function (inlined code counts in the caller):"
callgrind_annotate --threshold=99 "$work/cg.gridkv" 2>/dev/null |
	awk '/file:function/ {on=1; getline; next} on && /^---/ {exit}
		on && /^ *[0-9,]+ / {n=$1; gsub(",", "", n); l=$0
			sub(/^[^)]*%\) +/, "", l); sub(/ \[.*$/, "", l)
			file=l; sub(/:.*$/, "", file); sub(/^.*\//, "", file); fn=l; sub(/^[^:]*:/, "", fn)
			if (n/100000 >= 1) printf "%8.1f  %-16s %s\n", n/100000, file, fn}'
