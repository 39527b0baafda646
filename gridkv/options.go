package gridkv

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/storage"
	"github.com/gridkv/gridkv/swim"
	"github.com/gridkv/gridkv/transport"
)

// GossipProfile selects the timing of the membership protocol.
type GossipProfile uint8

const (
	// GossipLAN suits a data-centre network (1s probes, 30s push-pull).
	GossipLAN GossipProfile = iota
	// GossipLocal suits one host or tests (fast probes, quick detection).
	GossipLocal
	// GossipWAN suits links with high latency.
	GossipWAN
)

// Options configures a Node. Start from DefaultOptions and change what you
// need; New calls Validate.
type Options struct {
	// NodeID names the node; unique in the cluster. Empty means the
	// advertised address.
	NodeID string
	// BindAddr is the "host:port" the node listens on, for both data traffic
	// and gossip. Port 0 picks a free port. Ignored when Transport is set.
	BindAddr string
	// AdvertiseAddr is the address other nodes use to reach this one; empty
	// means the bound address. Ignored when Transport is set.
	AdvertiseAddr string
	// Seeds are addresses of existing members to join ("host:port"; host
	// names are re-resolved on every attempt). Empty starts a new cluster.
	Seeds []string
	// Zone is this node's failure domain (rack, availability zone). Replicas
	// of a key are spread over distinct zones first.
	Zone string

	// ReplicationFactor is N, the number of replicas of every key.
	ReplicationFactor int
	// WriteQuorum is W, the acknowledgements a QUORUM write waits for.
	// Zero means N/2+1.
	WriteQuorum int
	// ReadQuorum is R, the answers a QUORUM read waits for. Zero means N/2+1.
	ReadQuorum int
	// Consistency is the level of calls that do not choose one (Quorum by
	// default).
	Consistency Consistency

	// RequestTimeout bounds one replica request (a call's context may end
	// it sooner). Requests share deadlines in steps of RequestTimeout/16,
	// so one may run up to RequestTimeout*17/16.
	RequestTimeout time.Duration
	// ReadHedge is how long a read waits for the R replicas it asks first
	// (this node first when it is one of the key's replicas) before it also
	// asks the key's other healthy replicas. A replica that fails is
	// replaced at once. Asking R rather than N halves a QUORUM read's
	// network requests when N=3; a replica that is slow or down and not yet
	// detected costs the reads that picked it ReadHedge more. Zero asks all
	// N replicas at once. Default 5ms.
	ReadHedge time.Duration
	// MaxInFlight bounds the replica requests this node has outstanding,
	// foreground and background together; past it calls fail with
	// ErrOverloaded instead of queueing without bound.
	MaxInFlight int

	// Engine selects the socket engine (transport.EngineNet or EngineGnet).
	Engine transport.Engine
	// Transport, when set, is used instead of listening on BindAddr: pass a
	// memnet node for in-memory clusters. The Node closes it on Close.
	Transport transport.Transport
	// TransportConfig tunes the socket transport. Nil means
	// transport.DefaultConfig with one connection per peer
	// (defaultConnsPerPeer); ListenAddr, AdvertiseAddr, Engine and Key are
	// filled in from the fields above either way.
	TransportConfig *transport.Config

	// StorageBackend names the storage backend ("sharded" or "map").
	StorageBackend string
	// MemoryLimit bounds the bytes the local store accounts for; 0 means no
	// limit. Past it the store evicts by sampled LRU (never young
	// tombstones).
	MemoryLimit int64
	// MaxKeySize and MaxValueSize bound keys and values in bytes.
	MaxKeySize   int
	MaxValueSize int

	// ClusterKey, when set, protects both gossip and data traffic: 16, 24 or
	// 32 bytes, the same on every node. Traffic from nodes without it is
	// dropped.
	ClusterKey []byte
	// ClusterLabel keeps clusters apart: nodes with different labels never
	// accept each other's gossip.
	ClusterLabel string
	// Gossip selects the membership protocol's timing.
	Gossip GossipProfile
	// Membership, when set, replaces the Gossip profile's configuration of
	// the membership protocol (start from swim.DefaultLANConfig and tune).
	// The node fills in Name, Transport, Meta, Label, Keyring and
	// EventDelegate itself.
	Membership *swim.Config

	// HintWindow is how long a stand-in keeps writes for a replica that is
	// down (hinted handoff), and how long a failed member keeps its place in
	// the ring before its ranges are moved to other nodes.
	HintWindow time.Duration
	// MaxHints bounds the hints a node holds; past it new hints are dropped
	// (anti-entropy repairs what they would have).
	MaxHints int
	// HintInterval is how often held hints are offered to their replicas.
	HintInterval time.Duration
	// AntiEntropyInterval is how often the node compares its ranges with one
	// peer (round robin). Zero disables anti-entropy.
	AntiEntropyInterval time.Duration
	// AntiEntropyMaxKeys bounds the keys repaired in one round.
	AntiEntropyMaxKeys int
	// RebalanceBytesPerSec bounds the bandwidth used to move ranges to new
	// owners.
	RebalanceBytesPerSec int64
	// TombstoneGrace is how long deletes are remembered. It must exceed
	// HintWindow plus a full anti-entropy cycle, so that no replica still
	// holding the deleted value can hand it back after the tombstone is gone.
	TombstoneGrace time.Duration

	// MaxClockOffset is the largest clock difference tolerated between
	// nodes; messages from a node further ahead are refused.
	MaxClockOffset time.Duration
	// WallClock, when set, replaces the system clock for versions, TTLs and
	// expiry (tests use hlc.ManualClock.Now). Nil means
	// hlc.SyncedUnixNano(0): the system clock read through the monotonic
	// clock, re-read every hlc.DefaultResync.
	WallClock hlc.WallClock

	// Logger receives structured logs; nil means no logging.
	Logger *zap.Logger
}

// DefaultOptions returns options for a node listening on 127.0.0.1:7480
// with N=3, W=R=2 and quorum consistency.
func DefaultOptions() Options {
	return Options{
		BindAddr:             "127.0.0.1:7480",
		ReplicationFactor:    3,
		Consistency:          Quorum,
		RequestTimeout:       2 * time.Second,
		ReadHedge:            5 * time.Millisecond,
		MaxInFlight:          16384,
		Engine:               transport.EngineNet,
		StorageBackend:       "sharded",
		MaxKeySize:           1024,
		MaxValueSize:         1 << 20,
		Gossip:               GossipLAN,
		HintWindow:           10 * time.Minute,
		MaxHints:             1 << 20,
		HintInterval:         time.Second,
		AntiEntropyInterval:  10 * time.Second,
		AntiEntropyMaxKeys:   10000,
		RebalanceBytesPerSec: 64 << 20,
		TombstoneGrace:       time.Hour,
		MaxClockOffset:       500 * time.Millisecond,
	}
}

// Validate reports the first problem with o, wrapping ErrInvalidOptions.
func (o *Options) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	N := o.ReplicationFactor
	switch {
	case N < 1:
		return bad("ReplicationFactor must be at least 1, got %d", N)
	case o.WriteQuorum < 0 || o.WriteQuorum > N:
		return bad("WriteQuorum %d outside 1..N=%d", o.WriteQuorum, N)
	case o.ReadQuorum < 0 || o.ReadQuorum > N:
		return bad("ReadQuorum %d outside 1..N=%d", o.ReadQuorum, N)
	case o.Consistency > Linearizable:
		return bad("unknown Consistency %d", o.Consistency)
	case o.RequestTimeout <= 0:
		return bad("RequestTimeout must be positive")
	case o.ReadHedge < 0:
		return bad("ReadHedge must not be negative")
	case o.MaxInFlight < 1:
		return bad("MaxInFlight must be at least 1")
	case o.MaxKeySize < 1 || o.MaxKeySize > storage.MaxKeySizeLimit:
		return bad("MaxKeySize %d outside 1..%d", o.MaxKeySize, storage.MaxKeySizeLimit)
	case o.MaxValueSize < 0 || o.MaxValueSize > storage.MaxValueSizeLimit:
		return bad("MaxValueSize %d outside 0..%d", o.MaxValueSize, storage.MaxValueSizeLimit)
	case o.MemoryLimit < 0:
		return bad("MemoryLimit must not be negative")
	case o.HintWindow <= 0 || o.HintInterval <= 0:
		return bad("HintWindow and HintInterval must be positive")
	case o.MaxHints < 0:
		return bad("MaxHints must not be negative")
	case o.AntiEntropyInterval < 0:
		return bad("AntiEntropyInterval must not be negative")
	case o.AntiEntropyMaxKeys < 1:
		return bad("AntiEntropyMaxKeys must be at least 1")
	case o.RebalanceBytesPerSec < 1:
		return bad("RebalanceBytesPerSec must be positive")
	case o.TombstoneGrace < o.HintWindow+2*o.AntiEntropyInterval:
		return bad("TombstoneGrace %v must be at least HintWindow + 2*AntiEntropyInterval (%v), or repair could resurrect deleted keys",
			o.TombstoneGrace, o.HintWindow+2*o.AntiEntropyInterval)
	case o.MaxClockOffset <= 0:
		return bad("MaxClockOffset must be positive")
	case o.Gossip > GossipWAN:
		return bad("unknown Gossip profile %d", o.Gossip)
	case o.StorageBackend == "":
		return bad("StorageBackend is empty")
	}
	if n := len(o.ClusterKey); n != 0 && n != 16 && n != 24 && n != 32 {
		return bad("ClusterKey must be 16, 24 or 32 bytes, got %d", n)
	}
	if o.Transport == nil {
		if err := checkHostPort(o.BindAddr, true); err != nil {
			return bad("BindAddr: %v", err)
		}
		if o.AdvertiseAddr != "" {
			if err := checkHostPort(o.AdvertiseAddr, false); err != nil {
				return bad("AdvertiseAddr: %v", err)
			}
		}
		if o.Engine != transport.EngineNet && o.Engine != transport.EngineGnet {
			return bad("unknown Engine %v", o.Engine)
		}
	}
	for _, s := range o.Seeds {
		if err := checkHostPort(s, false); err != nil {
			return bad("seed %q: %v", s, err)
		}
	}
	return nil
}

func checkHostPort(addr string, portZeroOK bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" && !portZeroOK {
		return errors.New("missing host")
	}
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p < 0 || p > 65535 || (p == 0 && !portZeroOK) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// quorumDefaults fills W and R.
func (o *Options) quorumDefaults() {
	if o.WriteQuorum == 0 {
		o.WriteQuorum = o.ReplicationFactor/2 + 1
	}
	if o.ReadQuorum == 0 {
		o.ReadQuorum = o.ReplicationFactor/2 + 1
	}
}

// swimConfig returns the membership configuration for the gossip profile.
func (o *Options) swimConfig() swim.Config {
	if o.Membership != nil {
		return *o.Membership
	}
	switch o.Gossip {
	case GossipLocal:
		return swim.DefaultLocalConfig()
	case GossipWAN:
		return swim.DefaultWANConfig()
	}
	return swim.DefaultLANConfig()
}

// defaultConnsPerPeer is the number of connections a node keeps to each
// peer unless Options.TransportConfig says otherwise. One, not the
// transport's default of two: a quorum operation is a handful of small
// frames, and on one connection more of them meet in one read (and, less
// often, one write) than when spread over two. On the 2-core benchmark
// machine (BenchmarkQuorum net/set, 50 callers, counted with strace) one
// connection made 0.69 reads and 2.42 writes per operation against 1.19
// and 2.67 with two, and ran at 20-22 µs/op with p99 3.1-3.6 ms against
// 24-28 µs/op and p99 3.9-4.4 ms.
const defaultConnsPerPeer = 1
