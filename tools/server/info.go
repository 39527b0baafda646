package server

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/match"
)

// redisCompatVersion is what INFO's redis_version and HELLO report: the
// Redis release whose string-command behaviour the server follows. Clients
// such as redis-benchmark read it; gridkv_version says what this really is.
const redisCompatVersion = "7.0.0"

// Version is the gridkv-server version reported by INFO and HELLO.
const Version = "0.1.0"

func cmdInfo(s *Server, c *client, args [][]byte) {
	sections := map[string]bool{}
	for _, a := range args[1:] {
		sections[strings.ToLower(str(a))] = true
	}
	all := len(sections) == 0 || sections["all"] || sections["everything"] || sections["default"]
	want := func(name string) bool { return all || sections[name] }
	var b strings.Builder
	section := func(name string) {
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
	}
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	m := s.node.Metrics()
	if want("server") {
		section("Server")
		kv("redis_version", redisCompatVersion)
		kv("gridkv_version", Version)
		kv("redis_mode", "standalone")
		kv("os", runtime.GOOS+" "+runtime.GOARCH)
		kv("arch_bits", strconv.IntSize)
		kv("go_version", runtime.Version())
		kv("process_id", os.Getpid())
		kv("tcp_port", portOf(s.Addr()))
		uptime := s.now().Sub(s.startTime)
		kv("uptime_in_seconds", int64(uptime.Seconds()))
		kv("uptime_in_days", int64(uptime.Hours()/24))
		kv("node_id", s.node.ID())
		kv("node_addr", s.node.Addr())
	}
	if want("clients") {
		section("Clients")
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		kv("connected_clients", n)
		kv("maxclients", s.cfg.MaxClients)
	}
	if want("stats") {
		section("Stats")
		kv("total_connections_received", s.connsTotal.Load())
		kv("total_commands_processed", s.commandsTotal.Load())
		kv("rejected_connections", s.connsRejected.Load())
		kv("keyspace_hits", s.keyspaceHits.Load())
		kv("keyspace_misses", s.keyspaceMisses.Load())
		kv("unknown_commands", s.unknownCommands.Load())
		kv("total_error_replies", s.errorReplies.Load())
		kv("gridkv_quorum_failures", m.QuorumFailures)
		kv("gridkv_read_repairs", m.ReadRepairs)
		kv("gridkv_read_hedges", m.ReadHedges)
		kv("gridkv_local_reads", m.LocalReads)
		kv("gridkv_overloads", m.Overloads)
		kv("gridkv_storage_bytes", m.StorageBytes)
	}
	if want("keyspace") {
		section("Keyspace")
		// Entries in this node's local store (replicas it holds, including
		// tombstones not yet purged); expiry counts are not tracked.
		if m.StorageEntries > 0 {
			kv("db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", m.StorageEntries))
		}
	}
	if want("cluster") {
		section("Cluster")
		// Not Redis Cluster: clients talk to any node like a single server.
		kv("cluster_enabled", 0)
		kv("gridkv_node_id", s.node.ID())
		kv("gridkv_members", m.Members)
		alive := 0
		for _, mi := range s.node.Members() {
			if mi.State == "alive" {
				alive++
			}
		}
		kv("gridkv_members_alive", alive)
		kv("gridkv_replication_factor", s.cfg.replicationFactor())
		kv("gridkv_ready", boolInt(s.ready.Load()))
		kv("gridkv_hints_pending", m.HintsPending)
		kv("gridkv_rebalance_ranges_pending", m.RebalanceRangesPending)
		kv("gridkv_anti_entropy_rounds", m.AntiEntropyRounds)
	}
	c.wr.WriteBulkString(b.String())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// configParams answers CONFIG GET with what clients (redis-benchmark,
// redis-cli) look for. Values reflect this server; "save" and "appendonly"
// say there is no persistence.
func (s *Server) configParams() map[string]string {
	return map[string]string{
		"save":                      "",
		"appendonly":                "no",
		"databases":                 "1",
		"bind":                      hostOf(s.Addr()),
		"port":                      portOf(s.Addr()),
		"maxclients":                strconv.Itoa(s.cfg.MaxClients),
		"proto-max-bulk-len":        strconv.Itoa(s.cfg.MaxValueSize),
		"client-query-buffer-limit": strconv.Itoa(s.cfg.MaxQueryBytes),
		"cluster-enabled":           "no",
	}
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

func cmdConfig(s *Server, c *client, args [][]byte) {
	switch {
	case eq(args[1], "get") && len(args) >= 3:
		params := s.configParams()
		var keys []string
		for k := range params {
			for _, p := range args[2:] {
				if match.Match(k, strings.ToLower(str(p))) {
					keys = append(keys, k)
					break
				}
			}
		}
		sort.Strings(keys)
		c.wr.WriteArray(2 * len(keys))
		for _, k := range keys {
			c.wr.WriteBulkString(k)
			c.wr.WriteBulkString(params[k])
		}
	case eq(args[1], "get"):
		s.replyError(c, "ERR wrong number of arguments for 'config|get' command")
	case eq(args[1], "set"), eq(args[1], "resetstat"), eq(args[1], "rewrite"):
		s.replyError(c, "ERR CONFIG "+strings.ToUpper(str(args[1]))+" is not supported by gridkv-server; restart with flags or GRIDKV_* variables")
	default:
		s.replyError(c, "ERR unknown subcommand '"+clip(args[1])+"'. Try CONFIG HELP.")
	}
}

// cmdCommand answers COMMAND, COMMAND COUNT, COMMAND INFO name... and
// COMMAND DOCS (empty: redis-cli then falls back to its built-in help).
func cmdCommand(s *Server, c *client, args [][]byte) {
	if len(args) == 1 {
		c.wr.WriteArray(len(s.list))
		for _, cmd := range s.list {
			writeCommandInfo(c, cmd)
		}
		return
	}
	switch sub := args[1]; {
	case eq(sub, "count") && len(args) == 2:
		c.wr.WriteInt(len(s.list))
	case eq(sub, "info"):
		c.wr.WriteArray(len(args) - 2)
		for _, a := range args[2:] {
			if cmd := s.cmds[strings.ToLower(str(a))]; cmd != nil {
				writeCommandInfo(c, cmd)
			} else {
				c.wr.WriteNull()
			}
		}
	case eq(sub, "docs"):
		c.wr.WriteArray(0)
	default:
		s.replyError(c, "ERR unknown subcommand '"+clip(sub)+"'. Try COMMAND HELP.")
	}
}

func writeCommandInfo(c *client, cmd *command) {
	c.wr.WriteArray(6)
	c.wr.WriteBulkString(cmd.name)
	c.wr.WriteInt(cmd.arity)
	c.wr.WriteArray(len(cmd.flags))
	for _, f := range cmd.flags {
		c.wr.WriteString(f)
	}
	c.wr.WriteInt(cmd.firstKey)
	c.wr.WriteInt(cmd.lastKey)
	c.wr.WriteInt(cmd.step)
}
