package swim

import "errors"

// Sentinel errors. Functions wrap them with %w; test with errors.Is.
var (
	// ErrShutdown is returned by operations on a node that was shut down.
	ErrShutdown = errors.New("swim: node is shut down")
	// ErrLeft is returned by operations that need a member that has not left.
	ErrLeft = errors.New("swim: node has left the cluster")
	// ErrNoSeeds is returned by Join when it is given no seed address.
	ErrNoSeeds = errors.New("swim: no seed addresses")
	// ErrJoinFailed is returned by Join when no seed could be contacted.
	ErrJoinFailed = errors.New("swim: join failed: no seed answered")
	// ErrMetaTooLarge is returned when node metadata exceeds Config.MetaMaxSize.
	ErrMetaTooLarge = errors.New("swim: metadata too large")
	// ErrMessageTooLarge is returned by Broadcast when a message cannot fit
	// one packet, and when a stream frame exceeds Config.MaxStreamFrame.
	ErrMessageTooLarge = errors.New("swim: message too large")
	// ErrBadPacket marks a packet or stream frame that could not be decoded.
	ErrBadPacket = errors.New("swim: malformed packet")
	// ErrAuth marks a packet or frame that failed authentication under every
	// installed key, or that carries another cluster label.
	ErrAuth = errors.New("swim: authentication failed")
	// ErrInvalidConfig is wrapped by Config.Validate.
	ErrInvalidConfig = errors.New("swim: invalid config")
	// ErrKey is returned by keyring operations given a bad key, or asked to
	// remove the primary key.
	ErrKey = errors.New("swim: invalid key operation")
	// ErrUnreachable is returned when a stream to a member cannot be opened.
	ErrUnreachable = errors.New("swim: member unreachable")
)
