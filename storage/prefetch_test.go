package storage

import (
	"fmt"
	"testing"
)

// TestPrefetchChangesNothing: Prefetch of present, absent, colliding and
// empty keys, before and after Close, leaves the store as it was.
func TestPrefetchChangesNothing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Shards = 4
	cfg.Hash = func(b []byte) uint64 { return uint64(len(b)) * 0x9e3779b97f4a7c15 } // many collisions
	s, err := NewSharded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for i := range 100 {
		k := []byte(fmt.Sprintf("k%d", i))
		keys = append(keys, k)
		if i%2 == 0 {
			if _, err := s.Put(k, Entry{Value: k, Version: Version{15: 1}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := s.Stats()
	s.Prefetch(keys)
	s.Prefetch(nil)
	s.Prefetch([][]byte{{}})
	if after := s.Stats(); after != before {
		t.Fatalf("stats changed: %+v -> %+v", before, after)
	}
	for i, k := range keys {
		v, err := s.Get(k, nil)
		if i%2 == 0 && (err != nil || string(v) != string(k)) {
			t.Fatalf("%s: %q, %v", k, v, err)
		}
		if i%2 == 1 && err != ErrNotFound {
			t.Fatalf("%s: %q, %v; want ErrNotFound", k, v, err)
		}
	}
	s.Close()
	s.Prefetch(keys) // a closed store: nothing to do, no panic
}
