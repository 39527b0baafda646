package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/gridkv/gridkv/tools/bench/ring
BenchmarkRingLocate/gridkv-2         	 1000000	        20.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkRingLocate/groupcache-2     	 1000000	        60.0 ns/op	       8 B/op	       1 allocs/op
BenchmarkRingLocate/gridkv-2         	 1000000	        30.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkRingLocate/groupcache-2     	 1000000	        50.0 ns/op	       8 B/op	       1 allocs/op
BenchmarkRingLocate/gridkv-2         	 1000000	        10.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkRingLocate/groupcache-2     	 1000000	        40.0 ns/op	       8 B/op	       1 allocs/op
BenchmarkStorageRead/otter/zipf-2    	 5000000	        30.0 ns/op	      0.5 misses/op
BenchmarkStorageRead/gridkv/zipf-2   	 5000000	        25.0 ns/op	      0 misses/op
BenchmarkTransportConns/net/conns=1-2	  100	     100 ns/op
PASS
ok  	github.com/gridkv/gridkv/tools/bench/ring	3.0s
`

func TestSummarizeAndRender(t *testing.T) {
	rows := summarize(parseBench(strings.NewReader(sample)))
	if len(rows) != 5 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	if rows[0].impl != "gridkv" || rows[0].metrics["ns/op"] != 20 || rows[0].runs != 3 {
		t.Fatalf("gridkv row: %+v", rows[0])
	}
	if rows[1].metrics["ns/op"] != 50 {
		t.Fatalf("groupcache median: %+v", rows[1])
	}
	if rows[2].group != "BenchmarkStorageRead/zipf" || rows[2].impl != "otter" {
		t.Fatalf("storage row: %+v", rows[2])
	}
	var b strings.Builder
	writeBenchTables(&b, rows)
	out := b.String()
	for _, want := range []string{
		"**BenchmarkRingLocate** (anchor: gridkv)",
		// Per-run ratios 60/20, 50/30, 40/10: their median is 3, not the
		// ratio of the medians (50/20).
		"| groupcache | 50 | 20 | 3.00 | 8 | 1 |  | 3 |",
		"**BenchmarkStorageRead/zipf** (anchor: gridkv)",
		"| otter | 30 | 25 | 1.20 | — | — | 0.5 misses/op | 1 |",
		"**BenchmarkTransportConns/conns=1** (anchor: net)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
