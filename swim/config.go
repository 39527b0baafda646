package swim

import (
	"fmt"
	"time"
)

// Config holds every tunable of a node. Start from DefaultLANConfig,
// DefaultWANConfig or DefaultLocalConfig, set Name and Transport, then pass
// it to Create (which calls Validate).
type Config struct {
	// Name identifies the node; unique in the cluster, at most 255 bytes.
	Name string
	// Transport carries packets and streams. Required.
	Transport Transport
	// Clock supplies time; nil means the wall clock.
	Clock Clock
	// RandSeed seeds the protocol's randomness (probe order, gossip targets).
	// Zero picks a random seed. Encryption nonces never come from it.
	RandSeed uint64
	// Keyring, when non-nil, encrypts and authenticates every packet and
	// stream frame (AEAD). Nil sends plain text: use only on trusted networks.
	Keyring *Keyring
	// Label is bound to every packet and frame (as AEAD additional data when
	// encrypting, as a plain-text prefix otherwise). Nodes with different
	// labels never accept each other's traffic. At most 255 bytes.
	Label string
	// Meta is the node's initial metadata, at most MetaMaxSize bytes.
	Meta []byte

	// ProbeInterval is the time between two failure-detection probes of the
	// local node. Local health multiplies it (up to AwarenessMaxMultiplier).
	ProbeInterval time.Duration
	// ProbeTimeout is how long to wait for a direct ack before asking
	// IndirectChecks other members to probe; it should exceed the network
	// round trip by a wide margin, and be below ProbeInterval.
	ProbeTimeout time.Duration
	// IndirectChecks is the number of members asked to probe a target that
	// did not answer directly (k in the SWIM paper).
	IndirectChecks int
	// SuspicionMult scales the minimum suspicion timeout:
	// SuspicionMult * max(1, log10(n)) * ProbeInterval. It also sets the
	// number of independent confirmations expected, SuspicionMult-2.
	SuspicionMult int
	// SuspicionMaxTimeoutMult is the ratio of the initial (maximum) suspicion
	// timeout to the minimum one; confirmations shrink it from max to min
	// (Lifeguard).
	SuspicionMaxTimeoutMult int
	// UnreachableSuspicionTimeout applies once SuspicionMult-1 distinct
	// members report that the suspect is unreachable even by stream (the
	// connection itself failed, not just the answer): the node is very likely
	// gone, so the suspicion ends after this shorter timeout. A node that is
	// merely paused still accepts connections and keeps the Lifeguard
	// timeout. Zero disables this fast path.
	UnreachableSuspicionTimeout time.Duration
	// AwarenessMaxMultiplier caps local health: a node that misses acks and
	// nacks multiplies its probe interval, probe timeout and suspicion
	// timeouts by up to this factor (Lifeguard local health awareness).
	AwarenessMaxMultiplier int
	// DisableStreamProbe turns off the fallback probe over a stream that runs
	// alongside indirect probes.
	DisableStreamProbe bool

	// GossipInterval is the time between gossip rounds. A round only sends
	// when updates are queued; a new update schedules a round at once.
	GossipInterval time.Duration
	// GossipNodes is the number of random members each gossip round sends to.
	GossipNodes int
	// GossipToTheDeadTime is how long dead members still receive gossip (so
	// that a wrongly declared node learns it must refute).
	GossipToTheDeadTime time.Duration
	// RetransmitMult: each update is sent RetransmitMult*ceil(log10(n+1))
	// times before it is dropped from the queue.
	RetransmitMult int
	// MaxQueuedUpdates bounds the gossip queue; past it the most-sent updates
	// are dropped first (push-pull repairs what gossip missed).
	MaxQueuedUpdates int
	// MTU is the largest datagram sent, sealing included.
	MTU int

	// PushPullInterval is the time between full-state exchanges with a random
	// member; it grows with the cluster past 32 members. Zero disables them.
	// An exchange first compares table checksums and sends full state only
	// when they differ.
	PushPullInterval time.Duration
	// StreamTimeout bounds one push-pull exchange (dial, write and read).
	StreamTimeout time.Duration
	// MaxStreamFrame bounds a stream frame in bytes.
	MaxStreamFrame int
	// MaxConcurrentStreams bounds the streams served or opened at once.
	MaxConcurrentStreams int

	// MetaMaxSize bounds Meta in bytes.
	MetaMaxSize int
	// DeadRetention is how long dead and left members are remembered before
	// being forgotten; it bounds memory under churn.
	DeadRetention time.Duration
	// ReconnectInterval: while some members are dead, the node attempts a
	// push-pull with one of them and one seed at this interval, so that the
	// two halves of a healed partition merge. Zero disables it.
	ReconnectInterval time.Duration

	// EventDelegate receives membership events. Takes precedence over Events.
	EventDelegate EventDelegate
	// Events, if EventDelegate is nil, receives membership events; the node
	// blocks its event goroutine (never the protocol) when it is full.
	Events chan<- Event
	// EventQueueSize bounds events waiting for a slow consumer; past it new
	// events are dropped and counted in Stats.EventsDropped.
	EventQueueSize int
}

// DefaultLANConfig suits a data-centre network: the same timing as the
// widely deployed memberlist LAN profile (1 s probes, 500 ms probe timeout,
// 200 ms gossip to 3 members, 30 s push-pull).
func DefaultLANConfig() Config {
	return Config{
		ProbeInterval:               time.Second,
		ProbeTimeout:                500 * time.Millisecond,
		IndirectChecks:              3,
		SuspicionMult:               4,
		SuspicionMaxTimeoutMult:     6,
		UnreachableSuspicionTimeout: 1500 * time.Millisecond,
		AwarenessMaxMultiplier:      8,
		GossipInterval:              200 * time.Millisecond,
		GossipNodes:                 3,
		GossipToTheDeadTime:         30 * time.Second,
		RetransmitMult:              4,
		MaxQueuedUpdates:            4096,
		MTU:                         1400,
		PushPullInterval:            30 * time.Second,
		StreamTimeout:               10 * time.Second,
		MaxStreamFrame:              8 << 20,
		MaxConcurrentStreams:        64,
		MetaMaxSize:                 512,
		DeadRetention:               2 * time.Minute,
		ReconnectInterval:           10 * time.Second,
		EventQueueSize:              1 << 16,
	}
}

// DefaultWANConfig suits members spread over wide-area links: slower probes,
// longer timeouts, more gossip fan-out.
func DefaultWANConfig() Config {
	c := DefaultLANConfig()
	c.ProbeInterval = 5 * time.Second
	c.ProbeTimeout = 3 * time.Second
	c.SuspicionMult = 6
	c.UnreachableSuspicionTimeout = 7500 * time.Millisecond
	c.GossipInterval = 500 * time.Millisecond
	c.GossipNodes = 4
	c.GossipToTheDeadTime = 60 * time.Second
	c.PushPullInterval = 60 * time.Second
	c.StreamTimeout = 30 * time.Second
	c.DeadRetention = 5 * time.Minute
	c.ReconnectInterval = 30 * time.Second
	return c
}

// DefaultLocalConfig suits a single host or a test: fast probes and short
// timeouts.
func DefaultLocalConfig() Config {
	c := DefaultLANConfig()
	c.ProbeInterval = time.Second
	c.ProbeTimeout = 200 * time.Millisecond
	c.SuspicionMult = 3
	c.UnreachableSuspicionTimeout = time.Second
	c.GossipInterval = 100 * time.Millisecond
	c.GossipToTheDeadTime = 15 * time.Second
	c.PushPullInterval = 15 * time.Second
	c.StreamTimeout = time.Second
	c.DeadRetention = time.Minute
	c.ReconnectInterval = 5 * time.Second
	return c
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Name == "" || len(c.Name) > 255:
		return bad("Name must have 1 to 255 bytes")
	case c.Transport == nil:
		return bad("Transport is required")
	case len(c.Label) > 255:
		return bad("Label longer than 255 bytes")
	case c.ProbeInterval <= 0:
		return bad("ProbeInterval must be positive")
	case c.ProbeTimeout <= 0 || c.ProbeTimeout >= c.ProbeInterval:
		return bad("ProbeTimeout must be positive and below ProbeInterval")
	case c.IndirectChecks < 0 || c.IndirectChecks > 32:
		return bad("IndirectChecks must be in [0, 32]")
	case c.SuspicionMult < 1:
		return bad("SuspicionMult must be at least 1")
	case c.SuspicionMaxTimeoutMult < 1:
		return bad("SuspicionMaxTimeoutMult must be at least 1")
	case c.UnreachableSuspicionTimeout < 0:
		return bad("UnreachableSuspicionTimeout must not be negative")
	case c.AwarenessMaxMultiplier < 1:
		return bad("AwarenessMaxMultiplier must be at least 1")
	case c.GossipInterval <= 0:
		return bad("GossipInterval must be positive")
	case c.GossipNodes < 1:
		return bad("GossipNodes must be at least 1")
	case c.GossipToTheDeadTime < 0:
		return bad("GossipToTheDeadTime must not be negative")
	case c.RetransmitMult < 1:
		return bad("RetransmitMult must be at least 1")
	case c.MaxQueuedUpdates < 16:
		return bad("MaxQueuedUpdates must be at least 16")
	case c.MTU < 512 || c.MTU > 65000:
		return bad("MTU must be in [512, 65000]")
	case c.PushPullInterval < 0:
		return bad("PushPullInterval must not be negative")
	case c.StreamTimeout <= 0:
		return bad("StreamTimeout must be positive")
	case c.MaxStreamFrame < 4096:
		return bad("MaxStreamFrame must be at least 4096")
	case c.MaxConcurrentStreams < 1:
		return bad("MaxConcurrentStreams must be at least 1")
	case c.MetaMaxSize < 0 || c.MetaMaxSize > c.MTU/2:
		return bad("MetaMaxSize must be in [0, MTU/2]")
	case len(c.Meta) > c.MetaMaxSize:
		return fmt.Errorf("%w: %w", ErrInvalidConfig, ErrMetaTooLarge)
	case c.DeadRetention < c.GossipToTheDeadTime:
		return bad("DeadRetention must be at least GossipToTheDeadTime")
	case c.ReconnectInterval < 0:
		return bad("ReconnectInterval must not be negative")
	case c.EventQueueSize < 1:
		return bad("EventQueueSize must be at least 1")
	}
	return nil
}
