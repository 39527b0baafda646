package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/tools/server"
	"github.com/gridkv/gridkv/transport"
)

// ErrConfigFile is wrapped by every error about the config file's content.
var ErrConfigFile = errors.New("gridkv-server: config file")

// settings is every knob of the command. Each is a flag, an environment
// variable GRIDKV_<NAME> (upper case, '-' as '_') and a config-file key.
type settings struct {
	configPath string

	addr, adminAddr, clusterAddr, advertiseAddr string
	nodeID, seeds, zone                         string
	clusterMode                                 bool
	replicationFactor, writeQuorum, readQuorum  int
	consistency                                 string
	requestTimeout, readHedge                   time.Duration
	maxInFlight                                 int
	engine, storageBackend                      string
	memoryLimit                                 int64
	maxKeySize, maxValueSize                    int
	clusterKey, clusterLabel, gossip            string
	hintWindow, antiEntropyInterval             time.Duration
	tombstoneGrace                              time.Duration
	password                                    string
	maxClients, maxQueryBytes                   int
	drainTimeout                                time.Duration
	logFormat, logLevel                         string
	localCluster                                int

	explicit map[string]bool // settings given by flag, environment or file
}

// newFlagSet registers every setting with its default and help text.
func newFlagSet(s *settings, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gridkv-server", flag.ContinueOnError)
	fs.SetOutput(out)
	nd := gridkv.DefaultOptions()
	sd := server.DefaultConfig()
	fs.StringVar(&s.configPath, "config", "", "config file: one `name = value` per line, names as the flags below (# comments)")
	fs.StringVar(&s.addr, "addr", sd.Addr, "Redis protocol listen address")
	fs.StringVar(&s.adminAddr, "admin-addr", sd.AdminAddr, "admin HTTP listen address (/metrics, /healthz, /readyz, /debug/pprof/, /cluster); empty disables")
	fs.StringVar(&s.clusterAddr, "cluster-addr", nd.BindAddr, "node-to-node (data and gossip) listen address")
	fs.StringVar(&s.advertiseAddr, "advertise-addr", "", "cluster address other nodes use to reach this one (default: the bound cluster address)")
	fs.StringVar(&s.nodeID, "node-id", "", "unique node name (default: the advertised cluster address)")
	fs.StringVar(&s.seeds, "seeds", "", "comma-separated cluster addresses of existing members to join; empty starts a new cluster")
	fs.StringVar(&s.zone, "zone", "", "failure domain (rack or availability zone); replicas spread over zones first")
	fs.BoolVar(&s.clusterMode, "cluster", false, "this node is part of a multi-node cluster: replication factor defaults to 3 (implied by --seeds)")
	fs.IntVar(&s.replicationFactor, "replication-factor", 0, "replicas per key, N (0: 1 for a single node, 3 with --seeds or --cluster)")
	fs.IntVar(&s.writeQuorum, "write-quorum", 0, "acknowledgements a QUORUM write waits for, W (0: N/2+1)")
	fs.IntVar(&s.readQuorum, "read-quorum", 0, "answers a QUORUM read waits for, R (0: N/2+1)")
	fs.StringVar(&s.consistency, "consistency", "quorum", "default consistency level: one, quorum, all or linearizable (clients can override per connection with GRIDKV CONSISTENCY)")
	fs.DurationVar(&s.requestTimeout, "request-timeout", nd.RequestTimeout, "timeout of one replica request")
	fs.DurationVar(&s.readHedge, "read-hedge", nd.ReadHedge, "how long a read waits for the R replicas it asked before asking the others (0: ask all N at once)")
	fs.IntVar(&s.maxInFlight, "max-in-flight", nd.MaxInFlight, "bound on outstanding replica requests (past it: -OVERLOADED)")
	fs.StringVar(&s.engine, "engine", "net", "socket engine for node-to-node traffic: net or gnet")
	fs.StringVar(&s.storageBackend, "storage-backend", nd.StorageBackend, "storage backend: sharded or map")
	fs.Int64Var(&s.memoryLimit, "memory-limit", 0, "bytes the local store may hold before evicting (0: no limit)")
	fs.IntVar(&s.maxKeySize, "max-key-size", nd.MaxKeySize, "largest key in bytes")
	fs.IntVar(&s.maxValueSize, "max-value-size", sd.MaxValueSize, "largest value in bytes")
	fs.StringVar(&s.clusterKey, "cluster-key", "", "hex-encoded 16, 24 or 32-byte key that encrypts and authenticates node-to-node traffic (same on every node)")
	fs.StringVar(&s.clusterLabel, "cluster-label", "", "cluster name; nodes with another label are ignored")
	fs.StringVar(&s.gossip, "gossip", "lan", "membership timing profile: lan, local or wan (--local-cluster defaults to local)")
	fs.DurationVar(&s.hintWindow, "hint-window", nd.HintWindow, "how long writes for a down replica are kept as hints")
	fs.DurationVar(&s.antiEntropyInterval, "anti-entropy-interval", nd.AntiEntropyInterval, "how often to compare ranges with one peer (0 disables)")
	fs.DurationVar(&s.tombstoneGrace, "tombstone-grace", nd.TombstoneGrace, "how long deletes are remembered (must be >= hint-window + 2*anti-entropy-interval)")
	fs.StringVar(&s.password, "requirepass", "", "password clients must send with AUTH (empty: no authentication)")
	fs.IntVar(&s.maxClients, "max-clients", sd.MaxClients, "largest number of client connections")
	fs.IntVar(&s.maxQueryBytes, "max-query-bytes", sd.MaxQueryBytes, "bytes a client may send before completing a command")
	fs.DurationVar(&s.drainTimeout, "drain-timeout", sd.DrainTimeout, "on SIGTERM/SIGINT, how long to wait for clients' in-flight commands")
	fs.StringVar(&s.logFormat, "log-format", "console", "log format: console or json")
	fs.StringVar(&s.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.IntVar(&s.localCluster, "local-cluster", 0, "start this many nodes in one process for trying things out; node i uses port+i of --addr, --admin-addr and --cluster-addr (0 ports stay 0)")
	fs.Usage = func() {
		fmt.Fprintf(out, "gridkv-server: one GridKV node speaking the Redis protocol.\n\n")
		fmt.Fprintf(out, "Usage: gridkv-server [flags]\n\n")
		fmt.Fprintf(out, "Every flag can also be set with the environment variable GRIDKV_<FLAG> (upper case, - as _,\n")
		fmt.Fprintf(out, "for example GRIDKV_ADMIN_ADDR) or in the --config file (GRIDKV_CONFIG). Precedence:\n")
		fmt.Fprintf(out, "flag > environment > config file > default.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// envName returns the environment variable of a flag.
func envName(flagName string) string {
	return "GRIDKV_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// load parses args, then fills what they left unset from the environment
// (getenv) and then from the config file.
func load(args []string, getenv func(string) string, out io.Writer) (*settings, error) {
	s := &settings{}
	fs := newFlagSet(s, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("gridkv-server: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("gridkv-server: %s: %w", envName(f.Name), err)
			}
			set[f.Name] = true
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if s.configPath != "" {
		f, err := os.Open(s.configPath)
		if err != nil {
			return nil, fmt.Errorf("gridkv-server: %w", err)
		}
		defer f.Close()
		if err := applyConfigFile(fs, f, set); err != nil {
			return nil, err
		}
	}
	s.explicit = set
	return s, nil
}

// maxConfigLine bounds one line of the config file.
const maxConfigLine = 64 << 10

// applyConfigFile sets flags from "name = value" lines, skipping names in
// skip (already set by a flag or the environment).
func applyConfigFile(fs *flag.FlagSet, r io.Reader, skip map[string]bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxConfigLine)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		if !ok {
			return fmt.Errorf("%w: line %d: want name = value", ErrConfigFile, line)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if uq, err := strconv.Unquote(value); err == nil {
			value = uq
		}
		if name == "config" || fs.Lookup(name) == nil {
			return fmt.Errorf("%w: line %d: unknown setting %q", ErrConfigFile, line, name)
		}
		if skip[name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%w: line %d: %s: %w", ErrConfigFile, line, name, err)
		}
		skip[name] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfigFile, err)
	}
	return nil
}

// nodeOptions builds the gridkv options for node i of the process.
func (s *settings) nodeOptions(i int) (gridkv.Options, error) {
	o := gridkv.DefaultOptions()
	var err error
	if o.BindAddr, err = offsetPort(s.clusterAddr, i); err != nil {
		return o, err
	}
	o.AdvertiseAddr = s.advertiseAddr
	o.NodeID = s.nodeID
	if s.localCluster > 0 {
		o.AdvertiseAddr = ""
		if s.nodeID != "" {
			o.NodeID = fmt.Sprintf("%s-%d", s.nodeID, i)
		}
	}
	for _, seed := range strings.Split(s.seeds, ",") {
		if seed = strings.TrimSpace(seed); seed != "" {
			o.Seeds = append(o.Seeds, seed)
		}
	}
	o.Zone = s.zone
	o.ReplicationFactor = s.replicationFactor
	if o.ReplicationFactor == 0 {
		switch {
		case s.localCluster > 0:
			o.ReplicationFactor = min(3, s.localCluster)
		case s.clusterMode || len(o.Seeds) > 0:
			o.ReplicationFactor = 3
		default:
			o.ReplicationFactor = 1
		}
	}
	o.WriteQuorum, o.ReadQuorum = s.writeQuorum, s.readQuorum
	if o.Consistency, err = gridkv.ParseConsistency(strings.ToUpper(s.consistency)); err != nil {
		return o, err
	}
	o.RequestTimeout = s.requestTimeout
	o.ReadHedge = s.readHedge
	o.MaxInFlight = s.maxInFlight
	switch strings.ToLower(s.engine) {
	case "net":
		o.Engine = transport.EngineNet
	case "gnet":
		o.Engine = transport.EngineGnet
	default:
		return o, fmt.Errorf("%w: engine %q (want net or gnet)", gridkv.ErrInvalidOptions, s.engine)
	}
	o.StorageBackend = s.storageBackend
	o.MemoryLimit = s.memoryLimit
	o.MaxKeySize = s.maxKeySize
	if s.clusterKey != "" {
		if o.ClusterKey, err = hex.DecodeString(s.clusterKey); err != nil {
			return o, fmt.Errorf("%w: cluster-key is not hex: %v", gridkv.ErrInvalidOptions, err)
		}
	}
	o.ClusterLabel = s.clusterLabel
	gossip := strings.ToLower(s.gossip)
	if s.localCluster > 0 && !s.explicit["gossip"] {
		gossip = "local"
	}
	switch gossip {
	case "lan":
		o.Gossip = gridkv.GossipLAN
	case "local":
		o.Gossip = gridkv.GossipLocal
	case "wan":
		o.Gossip = gridkv.GossipWAN
	default:
		return o, fmt.Errorf("%w: gossip %q (want lan, local or wan)", gridkv.ErrInvalidOptions, s.gossip)
	}
	o.HintWindow = s.hintWindow
	o.AntiEntropyInterval = s.antiEntropyInterval
	o.TombstoneGrace = s.tombstoneGrace
	return o, nil
}

// serverConfig builds the server configuration for node i of the process.
func (s *settings) serverConfig(i int) (server.Config, error) {
	c := server.DefaultConfig()
	var err error
	if c.Addr, err = offsetPort(s.addr, i); err != nil {
		return c, err
	}
	if s.adminAddr != "" {
		if c.AdminAddr, err = offsetPort(s.adminAddr, i); err != nil {
			return c, err
		}
	} else {
		c.AdminAddr = ""
	}
	c.Password = s.password
	c.MaxClients = s.maxClients
	c.MaxQueryBytes = s.maxQueryBytes
	c.MaxValueSize = s.maxValueSize
	c.DrainTimeout = s.drainTimeout
	return c, c.Validate()
}

// offsetPort adds i to addr's port (a 0 port stays 0).
// checkPorts rejects settings whose listen addresses would collide: with
// --local-cluster n, node i listens on port+i of each of --addr,
// --admin-addr and --cluster-addr, so their ranges of n ports on one host
// must not overlap (port 0, "any free port", never collides).
func (s *settings) checkPorts() error {
	n := max(s.localCluster, 1)
	type span struct {
		flag, host string
		lo         int
	}
	var spans []span
	for _, a := range []struct{ flag, addr string }{
		{"addr", s.addr}, {"admin-addr", s.adminAddr}, {"cluster-addr", s.clusterAddr},
	} {
		if a.addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			return fmt.Errorf("%w: --%s %q: %v", gridkv.ErrInvalidOptions, a.flag, a.addr, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%w: --%s %q: bad port", gridkv.ErrInvalidOptions, a.flag, a.addr)
		}
		if p == 0 {
			continue
		}
		for _, o := range spans {
			sameHost := o.host == host || anyHost(o.host) || anyHost(host)
			if sameHost && p < o.lo+n && o.lo < p+n {
				return fmt.Errorf("%w: --%s %s and --%s %s need ports %d-%d and %d-%d, which overlap",
					gridkv.ErrInvalidOptions, a.flag, a.addr, o.flag, net.JoinHostPort(o.host, strconv.Itoa(o.lo)),
					p, p+n-1, o.lo, o.lo+n-1)
			}
		}
		spans = append(spans, span{a.flag, host, p})
	}
	return nil
}

// anyHost reports whether host means every interface ("", 0.0.0.0, ::).
func anyHost(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

func offsetPort(addr string, i int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%w: address %q: %v", gridkv.ErrInvalidOptions, addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p != 0 && p+i > 65535) {
		return "", fmt.Errorf("%w: address %q: bad port", gridkv.ErrInvalidOptions, addr)
	}
	if p != 0 {
		p += i
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}
