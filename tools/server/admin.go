package server

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/pprof"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/gridkv/gridkv/gridkv"
)

// adminHandler serves /metrics, /healthz, /readyz, /debug/pprof/ and
// /cluster.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(s.log)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/cluster", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.ClusterStatus())
	})
	return mux
}

// Ownership is a member's share of the ring.
type Ownership struct {
	ID   string `json:"id"`
	Zone string `json:"zone"`
	// Primary is the fraction of key space whose first replica is the
	// member; Replica the fraction it holds a copy of (with N replicas the
	// Replica fractions sum to N).
	Primary float64 `json:"primary"`
	Replica float64 `json:"replica"`
}

// ClusterMember is a member in ClusterStatus.
type ClusterMember struct {
	ID     string `json:"id"`
	Addr   string `json:"addr"`
	Zone   string `json:"zone"`
	State  string `json:"state"`
	InRing bool   `json:"in_ring"`
}

// PeerStatus is one transport peer in ClusterStatus.
type PeerStatus struct {
	Addr         string  `json:"addr"`
	MsgsIn       uint64  `json:"msgs_in"`
	MsgsOut      uint64  `json:"msgs_out"`
	BytesIn      uint64  `json:"bytes_in"`
	BytesOut     uint64  `json:"bytes_out"`
	InFlight     int64   `json:"in_flight"`
	Conns        int     `json:"conns"`
	Reconnects   uint64  `json:"reconnects"`
	Errors       uint64  `json:"errors"`
	Calls        uint64  `json:"calls"`
	RTTP50Micros float64 `json:"rtt_p50_us"`
	RTTP99Micros float64 `json:"rtt_p99_us"`
}

// ClusterStatus is what /cluster returns.
type ClusterStatus struct {
	Node              string          `json:"node"`
	Addr              string          `json:"addr"`
	RedisAddr         string          `json:"redis_addr"`
	Ready             bool            `json:"ready"`
	ReplicationFactor int             `json:"replication_factor,omitempty"`
	Members           []ClusterMember `json:"members"`
	Ring              []Ownership     `json:"ring"`
	VNodes            int             `json:"vnodes"`
	Peers             []PeerStatus    `json:"peers"`
	Time              time.Time       `json:"time"`
}

// ClusterStatus returns the node's view of the cluster.
func (s *Server) ClusterStatus() ClusterStatus {
	st := ClusterStatus{
		Node:              s.node.ID(),
		Addr:              s.node.Addr(),
		RedisAddr:         s.Addr(),
		Ready:             s.Ready(),
		ReplicationFactor: s.cfg.ReplicationFactor,
		Ring:              s.ownership(),
		VNodes:            s.node.Ring().VNodes(),
		Time:              s.now().UTC(),
	}
	for _, m := range s.node.Members() {
		st.Members = append(st.Members, ClusterMember{m.ID, m.Addr, m.Zone, m.State, m.InRing})
	}
	for _, p := range s.node.TransportStats().Peers {
		st.Peers = append(st.Peers, PeerStatus{
			Addr: p.Addr, MsgsIn: p.MsgsIn, MsgsOut: p.MsgsOut, BytesIn: p.BytesIn, BytesOut: p.BytesOut,
			InFlight: p.InFlight, Conns: p.Conns, Reconnects: p.Reconnects, Errors: p.Errors.Total(),
			Calls:        p.Latency.Count(),
			RTTP50Micros: micros(p.Latency.Quantile(0.5)), RTTP99Micros: micros(p.Latency.Quantile(0.99)),
		})
	}
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].Addr < st.Peers[j].Addr })
	return st
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// ownership computes every ring member's share of the key space.
func (s *Server) ownership() []Ownership {
	r := s.node.Ring()
	n := s.cfg.ReplicationFactor
	if n < 1 || n > r.Len() {
		n = r.Len()
	}
	var out []Ownership
	for _, m := range r.Members() {
		o := Ownership{ID: m.ID, Zone: m.Zone}
		if rs, err := r.OwnedRanges(m.ID, 1); err == nil {
			for _, g := range rs {
				o.Primary += g.Fraction()
			}
		}
		if rs, err := r.OwnedRanges(m.ID, n); err == nil {
			for _, g := range rs {
				o.Replica += g.Fraction()
			}
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// newRegistry returns a Prometheus registry (a value, not the global one)
// with the process and Go collectors and the node's metrics.
func newRegistry(s *Server) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&nodeCollector{s: s})
	return reg
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("gridkv_"+name, help, labels, nil)
}

var (
	descOps         = desc("ops_total", "Operations coordinated by this node.", "op")
	descOpErrors    = desc("op_errors_total", "Operations that failed (not counting not-found).", "op")
	descOpLatency   = desc("op_duration_seconds", "Latency of coordinated operations (operations served by the node alone are sampled 1 in 8).", "op")
	descQuorumFails = desc("quorum_failures_total", "Operations that did not reach their quorum.")
	descReadRepairs = desc("read_repairs_total", "Stale replicas rewritten by read repair.")
	descReadHedges  = desc("read_hedges_total", "Reads that asked more replicas after the hedge delay.")
	descLocalReads  = desc("local_reads_total", "Reads answered from the local store without the network.")
	descHints       = desc("hints_total", "Hinted-handoff events by kind (stored, delivered, dropped).", "kind")
	descHintsPend   = desc("hints_pending", "Hints held now.")
	descAERounds    = desc("anti_entropy_rounds_total", "Anti-entropy comparisons completed.")
	descAEKeys      = desc("anti_entropy_keys_repaired_total", "Entries exchanged by anti-entropy.")
	descRebPending  = desc("rebalance_ranges_pending", "Range moves waiting or running.")
	descRebDone     = desc("rebalance_ranges_done_total", "Range moves completed.")
	descRebKeys     = desc("rebalance_keys_sent_total", "Entries streamed to new owners.")
	descClockRej    = desc("clock_rejections_total", "Messages refused for clock offset.")
	descOverloads   = desc("overloads_total", "Calls refused by the in-flight bound.")
	descMembers     = desc("ring_members", "Members in the ring.")
	descBytes       = desc("transport_bytes_total", "Transport payload bytes, all peers.", "direction")
	descStoreBytes  = desc("storage_bytes", "Bytes accounted by the local store.")
	descStoreEnts   = desc("storage_entries", "Entries in the local store (tombstones included).")
	descPeerInFl    = desc("transport_peer_in_flight", "Calls waiting for a response, per peer.", "peer")
	descPeerErrs    = desc("transport_peer_errors_total", "Transport errors, per peer.", "peer")
	descPeerMsgs    = desc("transport_peer_messages_total", "Frames exchanged with a peer.", "peer", "direction")
	descCommands    = desc("server_commands_total", "Redis commands executed, by command.", "command")
	descConns       = desc("server_connected_clients", "Open client connections.")
	descConnsTotal  = desc("server_connections_total", "Client connections accepted.")
	descKeyspace    = desc("server_keyspace_lookups_total", "GET/MGET lookups by result (hit, miss).", "result")
	descErrReplies  = desc("server_error_replies_total", "Error replies sent to clients.")
	descReady       = desc("server_ready", "1 when the node joined its cluster and the server is not draining.")
)

// nodeCollector exports a gridkv Metrics snapshot (taken once per scrape)
// and the server's own counters as Prometheus metrics.
type nodeCollector struct{ s *Server }

func (nc *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOps, descOpErrors, descOpLatency, descQuorumFails, descReadRepairs, descReadHedges,
		descLocalReads, descHints, descHintsPend, descAERounds, descAEKeys, descRebPending, descRebDone, descRebKeys,
		descClockRej, descOverloads, descMembers, descBytes, descStoreBytes, descStoreEnts, descPeerInFl, descPeerErrs,
		descPeerMsgs, descCommands, descConns, descConnsTotal, descKeyspace, descErrReplies, descReady} {
		ch <- d
	}
}

func (nc *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := nc.s
	m := s.node.Metrics()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, op := range []string{gridkv.OpSet, gridkv.OpGet, gridkv.OpDelete} {
		om := m.Ops[op]
		counter(descOps, om.Count, op)
		counter(descOpErrors, om.Errors, op)
		ch <- latencyHistogram(om.Latency, op)
	}
	counter(descQuorumFails, m.QuorumFailures)
	counter(descReadRepairs, m.ReadRepairs)
	counter(descReadHedges, m.ReadHedges)
	counter(descLocalReads, m.LocalReads)
	counter(descHints, m.HintsStored, "stored")
	counter(descHints, m.HintsDelivered, "delivered")
	counter(descHints, m.HintsDropped, "dropped")
	gauge(descHintsPend, float64(m.HintsPending))
	counter(descAERounds, m.AntiEntropyRounds)
	counter(descAEKeys, m.AntiEntropyKeysRepaired)
	gauge(descRebPending, float64(m.RebalanceRangesPending))
	counter(descRebDone, m.RebalanceRangesDone)
	counter(descRebKeys, m.RebalanceKeysSent)
	counter(descClockRej, m.ClockRejections)
	counter(descOverloads, m.Overloads)
	gauge(descMembers, float64(m.Members))
	counter(descBytes, m.BytesIn, "in")
	counter(descBytes, m.BytesOut, "out")
	gauge(descStoreBytes, float64(m.StorageBytes))
	gauge(descStoreEnts, float64(m.StorageEntries))
	for _, p := range s.node.TransportStats().Peers {
		gauge(descPeerInFl, float64(p.InFlight), p.Addr)
		counter(descPeerErrs, p.Errors.Total(), p.Addr)
		counter(descPeerMsgs, p.MsgsIn, p.Addr, "in")
		counter(descPeerMsgs, p.MsgsOut, p.Addr, "out")
	}
	for _, cmd := range s.list {
		counter(descCommands, cmd.calls.Load(), cmd.name)
	}
	s.mu.Lock()
	conns := len(s.clients)
	s.mu.Unlock()
	gauge(descConns, float64(conns))
	counter(descConnsTotal, s.connsTotal.Load())
	counter(descKeyspace, s.keyspaceHits.Load(), "hit")
	counter(descKeyspace, s.keyspaceMisses.Load(), "miss")
	counter(descErrReplies, s.errorReplies.Load())
	gauge(descReady, float64(boolInt(s.Ready())))
}

// latencyHistogram converts gridkv's power-of-two buckets to a Prometheus
// histogram (cumulative counts, upper bounds in seconds; the open-ended
// last bucket becomes +Inf).
func latencyHistogram(h gridkv.Histogram, op string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		if b == math.MaxInt64 {
			continue
		}
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(descOpLatency, h.Count, h.Sum.Seconds(), buckets, op)
}
