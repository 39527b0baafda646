package gridkv

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/ring"
	"github.com/gridkv/gridkv/storage"
	"github.com/gridkv/gridkv/swim"
	"github.com/gridkv/gridkv/transport"
)

// Message types gridkv registers on its transport.
const (
	msgPut    transport.MsgType = 1
	msgGet    transport.MsgType = 2
	msgDigest transport.MsgType = 3
	msgKeys   transport.MsgType = 4
	msgFetch  transport.MsgType = 5
	msgStream transport.MsgType = 6 // swim streams tunnelled over the transport
)

// vnodesPerWeight is the ring granularity gridkv uses. Coarser than the ring
// package's default (which optimises balance to within 5%): every range
// costs a digest in anti-entropy and a scan in rebalancing, and 256 virtual
// nodes per member keeps max/mean load within about 1.1.
const vnodesPerWeight = 256

// Node is one member of a GridKV cluster: it stores its share of the keys
// and coordinates any operation sent to it. It is safe for concurrent use.
type Node struct {
	opts     Options
	id       string
	tiebreak uint32
	log      *zap.Logger

	clock *hlc.Clock
	store storage.Engine
	tr    transport.Transport
	swim  *swim.Node
	view  *view
	hints *hintStore
	met   *metrics

	inflight chan struct{} // semaphore of outstanding replica requests

	ctx    context.Context // cancelled by Close: background work stops
	cancel context.CancelFunc

	callBucket   atomic.Pointer[callBucket] // the current shared call context (callCtx)
	callBucketMu sync.Mutex
	wg           sync.WaitGroup
	lifeMu       sync.RWMutex // orders wg.Add after stopping against wg.Wait
	stopping     bool
	closed       atomic.Bool
	ready        chan struct{}
	once         sync.Once
	aeNext       atomic.Uint64 // round-robin cursor over anti-entropy peers
	rebal        *rebalancer
	// recovering is set while a node that joined an existing cluster has
	// not yet synchronised its ranges with every peer: until then it takes
	// no part in LINEARIZABLE quorums (it may have lost acknowledged writes
	// in a restart).
	recovering atomic.Bool
}

// New starts a node: it opens local storage, listens (or uses
// Options.Transport), starts the membership protocol and, when seeds are
// given, joins them in the background (see WaitReady).
func New(opts Options) (*Node, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.quorumDefaults()
	opts.Seeds = append([]string(nil), opts.Seeds...)
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	wall := opts.WallClock
	if wall == nil {
		// One clock read per version or expiry check instead of time.Now's
		// two; it follows steps of the system clock within
		// hlc.DefaultResync.
		wall = hlc.SyncedUnixNano(0)
	}
	clock, err := hlc.NewClock(hlc.Config{WallClock: wall, MaxOffset: opts.MaxClockOffset})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}

	scfg := storage.DefaultConfig()
	scfg.MaxKeySize = opts.MaxKeySize
	scfg.MaxValueSize = opts.MaxValueSize
	scfg.MemoryLimit = opts.MemoryLimit
	if opts.MemoryLimit > 0 {
		// Each shard gets an equal slice of the limit and must hold the
		// largest entry twice over; use fewer shards for small limits.
		largest := int64(opts.MaxKeySize+opts.MaxValueSize) + storage.EntryOverhead
		for scfg.Shards > 1 && opts.MemoryLimit/int64(scfg.Shards) < 2*largest {
			scfg.Shards /= 2
		}
		scfg.DigestBits = max(scfg.DigestBits, bits.Len(uint(scfg.Shards))-1)
	}
	scfg.TombstoneGrace = opts.TombstoneGrace
	scfg.Clock = wallClock(wall) // the same time for versions, TTLs and expiry
	store, err := storage.NewRegistry().Open(opts.StorageBackend, scfg)
	if err != nil {
		return nil, fmt.Errorf("%w: storage: %v", ErrInvalidOptions, err)
	}

	tr := opts.Transport
	if tr == nil {
		tcfg := transport.DefaultConfig()
		tcfg.ConnsPerPeer = defaultConnsPerPeer
		if opts.TransportConfig != nil {
			tcfg = *opts.TransportConfig
		}
		tcfg.ListenAddr = opts.BindAddr
		tcfg.AdvertiseAddr = opts.AdvertiseAddr
		tcfg.Engine = opts.Engine
		tcfg.Packets = true
		if len(opts.ClusterKey) > 0 {
			tcfg.Key = opts.ClusterKey
		}
		ep, err := transport.Listen(tcfg)
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("gridkv: listen on %s: %w", opts.BindAddr, err)
		}
		tr = ep
	}
	id := opts.NodeID
	if id == "" {
		id = tr.Addr()
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		opts:     opts,
		id:       id,
		tiebreak: tiebreakOf(id),
		log:      log.With(zap.String("node", id)),
		clock:    clock,
		store:    store,
		tr:       tr,
		met:      newMetrics(),
		inflight: make(chan struct{}, opts.MaxInFlight),
		ctx:      ctx,
		cancel:   cancel,
		ready:    make(chan struct{}),
	}
	n.hints = newHintStore(opts.MaxHints, opts.HintWindow, wall)
	n.view = newView(n, id, tr.Addr(), opts.Zone)
	n.rebal = newRebalancer(n)

	// Single-key reads and writes only touch local memory: they run inline
	// on the connection's reader, without a pool hand-off. Scans go to the
	// bounded handler pool.
	for t, h := range map[transport.MsgType]transport.Handler{msgPut: n.handlePut, msgGet: n.handleGet} {
		if err := tr.HandleInline(t, h); err != nil {
			n.abort()
			return nil, fmt.Errorf("gridkv: register handler: %w", err)
		}
	}
	for t, h := range map[transport.MsgType]transport.Handler{msgDigest: n.handleDigest, msgKeys: n.handleKeys, msgFetch: n.handleFetch} {
		if err := tr.Handle(t, h); err != nil {
			n.abort()
			return nil, fmt.Errorf("gridkv: register handler: %w", err)
		}
	}
	if err := n.startMembership(); err != nil {
		n.abort()
		return nil, err
	}
	n.start(func() { n.hintLoop() })
	if opts.AntiEntropyInterval > 0 {
		n.start(func() { n.antiEntropyLoop() })
	}
	n.start(func() { n.rebal.run() })
	if len(opts.Seeds) == 0 {
		close(n.ready)
	} else {
		n.recovering.Store(true)
		n.start(func() { n.joinLoop() })
	}
	return n, nil
}

// abort releases what New opened before failing.
func (n *Node) abort() {
	n.cancel()
	if n.swim != nil {
		n.swim.Shutdown()
	}
	n.tr.Close()
	n.wg.Wait()
	n.store.Close()
}

// start runs f on a goroutine owned by the node; Close waits for it.
func (n *Node) start(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// own adds a goroutine about to start to the node's WaitGroup, unless the
// node is stopping; the goroutine calls n.wg.Done when it ends.
func (n *Node) own() bool {
	n.lifeMu.RLock()
	defer n.lifeMu.RUnlock()
	if n.stopping {
		return false
	}
	n.wg.Add(1)
	return true
}

// ID returns the node's ID.
func (n *Node) ID() string { return n.id }

// Addr returns the address other nodes reach this one at (data and gossip).
func (n *Node) Addr() string { return n.tr.Addr() }

// WaitReady blocks until the node has joined its seeds (immediately for a
// node without seeds), or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.ready:
		return nil
	case <-n.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// joinLoop joins the seeds, retrying with backoff until it succeeds or the
// node closes.
func (n *Node) joinLoop() {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		joined, err := n.swim.Join(ctx, n.opts.Seeds)
		cancel()
		if err == nil && joined > 0 {
			n.log.Info("joined cluster", zap.Int("contacted", joined))
			close(n.ready)
			n.recover()
			return
		}
		n.log.Debug("join failed, retrying", zap.Error(err), zap.Duration("backoff", backoff))
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Close leaves the cluster gracefully, stops every background task, waits
// for in-flight work and releases the node's resources. It is idempotent.
func (n *Node) Close() error {
	if n.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = n.swim.Leave(ctx)
	cancel()
	return n.shutdown()
}

// Kill stops the node abruptly, without telling the cluster, as a crash
// would (for tests and failure drills). It is idempotent with Close.
func (n *Node) Kill() error {
	if n.closed.Swap(true) {
		return nil
	}
	return n.shutdown()
}

func (n *Node) shutdown() error {
	n.lifeMu.Lock()
	n.stopping = true
	n.lifeMu.Unlock()
	n.cancel()
	err := n.swim.Shutdown()
	if e := n.tr.Close(); err == nil {
		err = e
	}
	n.wg.Wait()
	if e := n.store.Close(); err == nil {
		err = e
	}
	return err
}

// acquire takes an in-flight slot without waiting.
func (n *Node) acquire() error {
	select {
	case n.inflight <- struct{}{}:
		return nil
	default:
		n.met.overloads.Add(1)
		return ErrOverloaded
	}
}

func (n *Node) release() { <-n.inflight }

// Members returns the cluster members this node knows, itself included.
func (n *Node) Members() []MemberInfo { return n.view.list() }

// Metrics returns a snapshot of the node's counters.
func (n *Node) Metrics() Metrics {
	m := Metrics{
		Ops:                     make(map[string]OpMetrics, len(n.met.ops)),
		QuorumFailures:          n.met.quorumFailures.Load(),
		ReadRepairs:             n.met.readRepairs.Load(),
		ReadHedges:              n.met.readHedges.Load(),
		LocalReads:              n.met.localReads.Load(),
		HintsStored:             n.met.hintsStored.Load(),
		HintsDelivered:          n.met.hintsDelivered.Load(),
		HintsDropped:            n.met.hintsDropped.Load(),
		HintsPending:            n.hints.len(),
		AntiEntropyRounds:       n.met.antiEntropyRounds.Load(),
		AntiEntropyKeysRepaired: n.met.antiEntropyKeysRepaired.Load(),
		RebalanceRangesPending:  n.met.rebalanceRangesPending.Load(),
		RebalanceRangesDone:     n.met.rebalanceRangesDone.Load(),
		RebalanceKeysSent:       n.met.rebalanceKeysSent.Load(),
		ClockRejections:         n.met.clockRejections.Load(),
		Overloads:               n.met.overloads.Load(),
		Members:                 n.view.current().ring.Len(),
		StorageBytes:            n.store.Bytes(),
		StorageEntries:          n.store.Len(),
	}
	for i := range n.met.ops {
		om := &n.met.ops[i]
		m.Ops[opNames[i]] = OpMetrics{Count: om.count.Load(), Errors: om.errors.Load(), Latency: om.latency.snapshot()}
	}
	for _, p := range n.tr.Stats().Peers {
		m.BytesIn += p.BytesIn
		m.BytesOut += p.BytesOut
	}
	return m
}

// TransportStats returns the transport's per-peer counters.
func (n *Node) TransportStats() transport.Stats { return n.tr.Stats() }

// record accounts one finished operation.
func (n *Node) record(op opIndex, start time.Duration, err error) {
	n.met.ops[op].latency.observe(monoNow() - start)
	n.recordCount(op, err)
}

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow reads the monotonic clock only: one clock read where time.Now
// makes two (wall and monotonic), which on these VMs is a measurable share
// of a local operation. Operation latencies are measured with it.
func monoNow() time.Duration { return time.Since(monoEpoch) }

// recordCount counts one finished operation without timing it.
func (n *Node) recordCount(op opIndex, err error) {
	om := &n.met.ops[op]
	om.count.Add(1)
	if err != nil && err != ErrNotFound && !errors.Is(err, ErrNotFound) {
		om.errors.Add(1)
		if errors.Is(err, ErrQuorum) {
			n.met.quorumFailures.Add(1)
		}
	}
}

// Ring returns the ring this node currently places keys with.
func (n *Node) Ring() *ring.Ring { return n.view.current().ring }
