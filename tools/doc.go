// Package tools holds GridKV's binaries (under cmd/) and the side-by-side
// comparison benchmarks (under bench/). It is never tagged or imported.
package tools
