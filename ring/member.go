package ring

import "fmt"

// Member is one participant of a ring.
type Member struct {
	// ID names the member uniquely (for GridKV: the node name). It is also
	// what virtual node positions are derived from, so renaming a member
	// moves its keys. 1 to MaxIDLen bytes.
	ID string
	// Weight scales the member's share of keys: it gets
	// Weight * Config.VNodesPerWeight virtual nodes. Must be at least 1.
	Weight uint32
	// Zone is a failure domain (rack, availability zone). Replicas prefers
	// members of distinct zones. Members with an empty Zone share the zone "".
	Zone string
}

func (m Member) validate() error {
	if m.ID == "" {
		return ErrEmptyID
	}
	if len(m.ID) > MaxIDLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrIDTooLong, len(m.ID), MaxIDLen)
	}
	if m.Weight == 0 {
		return fmt.Errorf("%w: member %q", ErrZeroWeight, m.ID)
	}
	return nil
}
