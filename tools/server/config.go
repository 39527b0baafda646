package server

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/gridkv/gridkv/gridkv"
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("server: invalid config")

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Addr is the "host:port" the Redis protocol listener binds. Port 0
	// picks a free port (see Server.Addr).
	Addr string
	// AdminAddr is the "host:port" of the admin HTTP server (/metrics,
	// /healthz, /readyz, /debug/pprof/, /cluster). Empty disables it.
	AdminAddr string
	// Password, when set, is required through AUTH (Redis "requirepass")
	// before any command other than AUTH, HELLO, PING-less QUIT.
	Password string
	// MaxClients bounds concurrent client connections; past it new
	// connections get "-ERR max number of clients reached" and are closed.
	MaxClients int
	// MaxQueryBytes bounds the bytes a client may send before completing a
	// command (Redis client-query-buffer-limit); past it the connection is
	// answered with a protocol error and closed.
	MaxQueryBytes int
	// MaxValueSize is the largest value a client may store, in bytes. The
	// node's own limit is set a few bytes higher for the value envelope.
	MaxValueSize int
	// DrainTimeout bounds how long Shutdown waits for connections to finish
	// the commands they already read.
	DrainTimeout time.Duration
	// ReplicationFactor is the node's N, reported by INFO and /cluster (the
	// node does not expose its options). Zero reports nothing.
	ReplicationFactor int
	// Now returns the wall-clock time used for expiry arithmetic (TTL,
	// EXPIREAT). Nil means time.Now. Tests inject a manual clock.
	Now func() time.Time
	// Logger receives logs; nil means none.
	Logger *zap.Logger
}

// DefaultConfig returns the defaults of the gridkv-server command:
// Redis protocol on 127.0.0.1:6380, admin HTTP on 127.0.0.1:8380.
func DefaultConfig() Config {
	return Config{
		Addr:          "127.0.0.1:6380",
		AdminAddr:     "127.0.0.1:8380",
		MaxClients:    10000,
		MaxQueryBytes: 64 << 20,
		MaxValueSize:  1 << 20,
		DrainTimeout:  10 * time.Second,
	}
}

// Validate reports the first problem with c, wrapping ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return bad("Addr %q: %v", c.Addr, err)
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			return bad("AdminAddr %q: %v", c.AdminAddr, err)
		}
	}
	switch {
	case c.MaxClients < 1:
		return bad("MaxClients must be at least 1, got %d", c.MaxClients)
	case c.MaxQueryBytes < 1024:
		return bad("MaxQueryBytes must be at least 1024, got %d", c.MaxQueryBytes)
	case c.MaxValueSize < 0 || c.MaxValueSize > maxValueSizeLimit:
		return bad("MaxValueSize %d outside 0..%d", c.MaxValueSize, maxValueSizeLimit)
	case c.DrainTimeout <= 0:
		return bad("DrainTimeout must be positive")
	}
	return nil
}

// maxValueSizeLimit keeps room for the envelope under the storage limit.
const maxValueSizeLimit = 1<<28 - 1 - envelopeMaxOverhead

// NodeOptions adjusts node options for use behind a Server: the node's
// value limit must leave room for the envelope the server wraps values in.
func (c *Config) NodeOptions(o gridkv.Options) gridkv.Options {
	o.MaxValueSize = c.MaxValueSize + envelopeMaxOverhead
	return o
}

func (c *Config) replicationFactor() int { return c.ReplicationFactor }
