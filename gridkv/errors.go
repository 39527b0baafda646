package gridkv

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound is returned by Get when no replica holds a live value
	// for the key (never written, deleted, or expired).
	ErrNotFound = errors.New("gridkv: not found")
	// ErrQuorum is matched (errors.Is) by every *QuorumError.
	ErrQuorum = errors.New("gridkv: quorum not reached")
	// ErrClosed is returned by operations on a closed Node.
	ErrClosed = errors.New("gridkv: node closed")
	// ErrEmptyKey is returned for a zero-length key.
	ErrEmptyKey = errors.New("gridkv: empty key")
	// ErrKeyTooLarge is returned for a key longer than Options.MaxKeySize.
	ErrKeyTooLarge = errors.New("gridkv: key too large")
	// ErrValueTooLarge is returned for a value longer than
	// Options.MaxValueSize.
	ErrValueTooLarge = errors.New("gridkv: value too large")
	// ErrInvalidOptions is returned (wrapped) by Options.Validate, by New,
	// and for invalid per-call options.
	ErrInvalidOptions = errors.New("gridkv: invalid options")
	// ErrOverloaded is returned when the node's bound on in-flight requests
	// is reached.
	ErrOverloaded = errors.New("gridkv: too many requests in flight")
	// ErrNoMembers is returned when the ring has no member to place a key
	// on (a node always counts itself, so this only happens while closing).
	ErrNoMembers = errors.New("gridkv: no members")

	// errReplicaDown is a replica's failure in a QuorumError when it was
	// known to be down before the request.
	errReplicaDown = errors.New("gridkv: replica down")
)

// QuorumError reports an operation that did not get enough replica answers.
// errors.Is(err, ErrQuorum) is true for it.
//
// The coordinator gives up as soon as the quorum cannot be reached, so
// Acked counts the answers received by then: replicas still in flight may
// apply a write afterwards ("maybe written").
type QuorumError struct {
	Op       string  // "set", "get", "delete"
	Acked    int     // successful answers received before giving up
	Needed   int     // answers the consistency level required
	Replicas int     // replicas in the preference list
	Errs     []error // one error per failed replica, in no particular order
}

// Error implements error.
func (e *QuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gridkv: %s: quorum not reached: %d of %d needed answers received from %d replicas", e.Op, e.Acked, e.Needed, e.Replicas)
	if len(e.Errs) > 0 {
		b.WriteString(" (first error: ")
		b.WriteString(e.Errs[0].Error())
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is ErrQuorum.
func (e *QuorumError) Is(target error) bool { return target == ErrQuorum }

// Unwrap returns the replicas' errors, so errors.Is can also find, for
// example, context.DeadlineExceeded among them.
func (e *QuorumError) Unwrap() []error { return e.Errs }
