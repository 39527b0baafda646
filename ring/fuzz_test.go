package ring

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// FuzzNew feeds arbitrary member lists (IDs separated by 0 bytes, the first
// byte of each giving weight and zone) to New, as if they came from
// configuration or gossip. New must either fail with one of the package's
// sentinel errors or build a ring whose lookups agree with the reference
// walk. Round-trip property: adding a member and removing it again gives back
// exactly the same ring.
func FuzzNew(f *testing.F) {
	f.Add([]byte("a\x00b\x00c"), "key")
	f.Add([]byte("\x03node-1\x00\x01node-2\x00\x02node-3"), "user:42")
	f.Add([]byte("dup\x00dup"), "")
	f.Add([]byte("\x00\x00"), "x")
	f.Add([]byte(""), "x")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		var ms []Member
		for _, part := range bytes.Split(data, []byte{0}) {
			m := Member{ID: string(part), Weight: 1}
			if len(part) > 1 {
				m.Weight = uint32(part[0] % 4) // 0 is invalid on purpose
				m.Zone = string(rune('a' + part[0]%3))
			}
			ms = append(ms, m)
		}
		if len(ms) > 64 {
			ms = ms[:64]
		}
		cfg := DefaultConfig()
		cfg.VNodesPerWeight = 16
		r, err := New(ms, cfg)
		if err != nil {
			for _, known := range []error{ErrNoMembers, ErrEmptyID, ErrIDTooLong, ErrDuplicateID, ErrZeroWeight, ErrTooManyMembers, ErrTooManyVNodes} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("New: unexpected error %v", err)
		}
		h := r.KeyHash(key)
		if got, want := r.Locate(key), referenceOwner(r, h); got != want {
			t.Fatalf("Locate = %q, reference %q", got, want)
		}
		n := min(3, r.Len())
		got, err := r.Replicas(key, n, nil)
		if err != nil || !slices.Equal(got, referenceReplicas(r, h, n)) {
			t.Fatalf("Replicas = %v, %v; reference %v", got, err, referenceReplicas(r, h, n))
		}
		extra := Member{ID: "\xff-extra", Weight: 2, Zone: "z"}
		if _, dup := r.Member(extra.ID); dup {
			return
		}
		grown, err := r.With(extra)
		if err != nil {
			t.Fatal(err)
		}
		back, err := grown.Without(extra.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameRing(t, "With+Without", back, r)
	})
}
