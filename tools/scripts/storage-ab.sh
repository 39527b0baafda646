#!/usr/bin/env bash
# storage-ab.sh: compare two versions of the storage package in one process.
#
#   tools/scripts/storage-ab.sh A B [flags for the harness]
#
# A and B are git revisions, or directories holding a storage package (such
# as the working tree's storage/). Both are copied into a scratch module
# next to main.go.in, filled with the same 1M keys and measured in
# alternating 300 ms slices (-rounds, -slice, -write-every, -dist, -only,
# -cpuprofile); the output gives per-version medians and the median of the
# per-round ratios b/a. Use it for changes worth a few percent, which
# separate benchmark runs minutes apart cannot resolve on a shared machine.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,12p "$0"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

copy() { # copy REV-or-DIR DEST: the package's non-test sources
	local src=$1
	if [ ! -d "$src" ]; then
		mkdir -p "$work/rev"
		git -C "$root" archive "$1" storage | tar -x -C "$work/rev"
		src=$work/rev/storage
	fi
	mkdir -p "$2"
	for f in "$src"/*.go "$src"/*.s; do
		case $f in *_test.go) ;; *) cp "$f" "$2/" ;; esac
	done
	rm -rf "$work/rev"
}
copy "$1" "$work/a"
copy "$2" "$work/b"
shift 2
cp "$here/storage-ab/main.go.in" "$work/main.go"
xx=$(grep 'cespare/xxhash/v2 ' "$root/storage/go.mod" | awk '{print $2}')
printf 'module storageab\n\ngo 1.25.0\n\nrequire github.com/cespare/xxhash/v2 %s\n' "$xx" > "$work/go.mod"
cp "$root/storage/go.sum" "$work/go.sum"
(cd "$work" && GOWORK=off GOFLAGS=-mod=mod go build -o storage-ab . )
"$work/storage-ab" "$@"
