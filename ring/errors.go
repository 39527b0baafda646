package ring

import "errors"

// Sentinel errors returned (wrapped with details) by this package. Test for
// them with errors.Is; the wrapping text is for humans only.
var (
	// ErrNoMembers is returned when a ring would have no members.
	ErrNoMembers = errors.New("ring: no members")
	// ErrEmptyID is returned for a member whose ID is the empty string.
	ErrEmptyID = errors.New("ring: empty member ID")
	// ErrIDTooLong is returned for a member ID longer than MaxIDLen bytes.
	ErrIDTooLong = errors.New("ring: member ID too long")
	// ErrDuplicateID is returned when two members share an ID.
	ErrDuplicateID = errors.New("ring: duplicate member ID")
	// ErrZeroWeight is returned for a member whose weight is zero.
	ErrZeroWeight = errors.New("ring: zero member weight")
	// ErrTooManyMembers is returned when a ring would exceed MaxMembers.
	ErrTooManyMembers = errors.New("ring: too many members")
	// ErrTooManyVNodes is returned when the total number of virtual nodes
	// (sum of weights times Config.VNodesPerWeight) would exceed MaxVNodes.
	ErrTooManyVNodes = errors.New("ring: too many virtual nodes")
	// ErrUnknownMember is returned when an operation names a member ID that
	// is not in the ring.
	ErrUnknownMember = errors.New("ring: unknown member")
	// ErrTooFewMembers is returned by Replicas when n exceeds the number of
	// members in the ring.
	ErrTooFewMembers = errors.New("ring: fewer members than requested replicas")
	// ErrInvalidReplicaCount is returned when a replica count n is < 1.
	ErrInvalidReplicaCount = errors.New("ring: replica count must be at least 1")
	// ErrInvalidConfig is returned by Config.Validate (and New) for a
	// configuration value out of range.
	ErrInvalidConfig = errors.New("ring: invalid config")
)
