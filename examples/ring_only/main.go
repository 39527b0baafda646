// Command ring_only uses the ring module on its own, as a sharding library
// for an application that is not GridKV: it places keys on five weighted
// servers in three zones, shows that replicas land in distinct zones, that
// adding a server moves only about 1/7 of the keys (exactly the ranges
// ring.Diff reports), and how a server finds the hash ranges it owns. It
// imports nothing from this repository but the ring module, and exits
// non-zero if any of what it prints does not hold.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/gridkv/gridkv/ring"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

const keys = 100000

func run() error {
	servers := []ring.Member{
		{ID: "cache-a", Weight: 1, Zone: "zone-1"},
		{ID: "cache-b", Weight: 1, Zone: "zone-1"},
		{ID: "cache-c", Weight: 1, Zone: "zone-2"},
		{ID: "cache-d", Weight: 1, Zone: "zone-2"},
		{ID: "cache-e", Weight: 2, Zone: "zone-3"}, // a bigger machine: twice the keys
	}
	r, err := ring.New(servers, ring.DefaultConfig())
	if err != nil {
		return err
	}
	fmt.Printf("ring of %d servers in %d zones, %d virtual nodes\n", r.Len(), r.Zones(), r.VNodes())

	// Placement: the owner of each key, and 3 replicas in distinct zones.
	owned := map[string]int{}
	var buf []string
	zoneOf := map[string]string{}
	for _, s := range servers {
		zoneOf[s.ID] = s.Zone
	}
	for i := range keys {
		k := fmt.Sprintf("object-%d", i)
		owned[r.Locate(k)]++
		buf, err = r.Replicas(k, 3, buf[:0])
		if err != nil {
			return err
		}
		if buf[0] != r.Locate(k) {
			return fmt.Errorf("first replica of %s is %s, its owner is %s", k, buf[0], r.Locate(k))
		}
		zones := map[string]bool{}
		for _, id := range buf {
			zones[zoneOf[id]] = true
		}
		if len(zones) != 3 {
			return fmt.Errorf("replicas of %s %v span %d zones, want 3", k, buf, len(zones))
		}
	}
	buf, _ = r.Replicas("object-7", 3, buf[:0])
	fmt.Printf("object-7 -> owner %s, replicas %v (one per zone; checked for all %d keys)\n", r.Locate("object-7"), buf, keys)
	weightSum := 6.0
	for _, s := range servers {
		share := float64(owned[s.ID]) / keys
		fair := float64(s.Weight) / weightSum
		fmt.Printf("  %s (weight %d): %5.1f%% of keys, fair share %4.1f%%\n", s.ID, s.Weight, 100*share, 100*fair)
		if share < 0.85*fair || share > 1.15*fair {
			return fmt.Errorf("%s holds %.1f%% of keys, more than 15%% off its fair %.1f%%", s.ID, 100*share, 100*fair)
		}
	}

	// Growth: add a server. Only keys whose owner is the new server move,
	// and ring.Diff names exactly their ranges.
	grown, err := r.With(ring.Member{ID: "cache-f", Weight: 1, Zone: "zone-3"})
	if err != nil {
		return err
	}
	changes, err := ring.Diff(r, grown, 1)
	if err != nil {
		return err
	}
	var ranges []ring.Range
	fraction := 0.0
	for _, c := range changes {
		ranges = append(ranges, c.Range)
		fraction += c.Range.Fraction()
	}
	moved := 0
	for i := range keys {
		k := fmt.Sprintf("object-%d", i)
		before, after := r.Locate(k), grown.Locate(k)
		inDiff := ring.RangesContain(ranges, grown.KeyHash(k))
		if (before != after) != inDiff {
			return fmt.Errorf("%s moved %s->%s but Diff says moved=%v", k, before, after, inDiff)
		}
		if before != after {
			moved++
			if after != "cache-f" {
				return fmt.Errorf("%s moved from %s to %s; only the new server should gain keys", k, before, after)
			}
		}
	}
	fmt.Printf("adding cache-f (weight 1 of 7) moves %.1f%% of keys, all to cache-f; ideal 1/7 = %.1f%%\n", 100*float64(moved)/keys, 100.0/7)
	fmt.Printf("ring.Diff lists %d ranges covering %.1f%% of the hash space: a key moved iff its hash is in one of them (checked for all %d keys)\n", len(changes), 100*fraction, keys)
	if f := float64(moved) / keys; f < 0.10 || f > 0.19 {
		return fmt.Errorf("%.1f%% of keys moved, want about 14%%", 100*f)
	}

	// A server's own ranges: what it must hold (for a scan or a handover).
	own, err := grown.OwnedRanges("cache-f", 3)
	if err != nil {
		return err
	}
	share := 0.0
	for _, g := range own {
		share += g.Fraction()
	}
	fmt.Printf("cache-f replicates %d ranges, %.1f%% of the hash space at N=3\n", len(own), 100*share)

	// Mistakes come back as typed errors.
	_, err = ring.New([]ring.Member{{ID: "x", Weight: 1}, {ID: "x", Weight: 1}}, ring.DefaultConfig())
	if !errors.Is(err, ring.ErrDuplicateID) {
		return fmt.Errorf("duplicate IDs: got %v, want ring.ErrDuplicateID", err)
	}
	if _, err := r.Replicas("k", 9, nil); !errors.Is(err, ring.ErrTooFewMembers) {
		return fmt.Errorf("9 replicas of 5 servers: got %v, want ring.ErrTooFewMembers", err)
	}
	fmt.Println("duplicate IDs -> ring.ErrDuplicateID; 9 replicas of 5 servers -> ring.ErrTooFewMembers")
	fmt.Println("OK: ring_only")
	return nil
}
