package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/redcon"
	"go.uber.org/zap"

	"github.com/gridkv/gridkv/gridkv"
)

// ErrServerClosed is returned by Start on a server that was shut down.
var ErrServerClosed = errors.New("server: closed")

// errQueryTooLarge ends a connection that sent more than MaxQueryBytes
// without completing a command.
var errQueryTooLarge = errors.New("query buffer limit reached")

// Server serves the Redis protocol (and the admin HTTP endpoints) for one
// gridkv Node. It does not own the node: the caller closes the node after
// Shutdown, which is what makes a graceful leave come after the last reply.
type Server struct {
	cfg  Config
	node *gridkv.Node
	log  *zap.Logger
	now  func() time.Time
	cmds map[string]*command
	list []*command // by index, for COMMAND and per-command counters

	ctx    context.Context // ends when the server is closed: gridkv calls stop
	cancel context.CancelFunc
	// stopWatch ends the readiness watcher as soon as Shutdown starts (a
	// node that never joins must not hold up the drain).
	watchCtx  context.Context
	stopWatch context.CancelFunc

	mu       sync.Mutex
	ln       net.Listener
	adminLn  net.Listener
	admin    *http.Server
	clients  map[*client]struct{}
	started  bool
	draining bool
	closed   bool
	wg       sync.WaitGroup // accept loop, connections, readiness watcher, admin

	ready     atomic.Bool // the node joined its cluster
	startTime time.Time
	reg       *prometheus.Registry

	clientIDs       atomic.Int64
	connsTotal      atomic.Uint64
	connsRejected   atomic.Uint64
	commandsTotal   atomic.Uint64
	keyspaceHits    atomic.Uint64
	keyspaceMisses  atomic.Uint64
	unknownCommands atomic.Uint64
	errorReplies    atomic.Uint64
}

// New returns a server for node; Start makes it listen.
func New(node *gridkv.Node, cfg Config) (*Server, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: nil node", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, node: node, log: cfg.Logger, now: cfg.Now, clients: map[*client]struct{}{}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.cmds, s.list = commandTable()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.watchCtx, s.stopWatch = context.WithCancel(s.ctx)
	s.reg = newRegistry(s)
	return s, nil
}

// Start binds the Redis and admin listeners and serves them in the
// background. It returns once both listen.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.draining {
		return ErrServerClosed
	}
	if s.started {
		return fmt.Errorf("%w: already started", ErrInvalidConfig)
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.AdminAddr != "" {
		aln, err := net.Listen("tcp", s.cfg.AdminAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server: admin listen %s: %w", s.cfg.AdminAddr, err)
		}
		s.adminLn = aln
		s.admin = &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.admin.Serve(aln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("admin server stopped", zap.Error(err))
			}
		}()
	}
	s.ln = ln
	s.started = true
	s.startTime = s.now()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.acceptLoop(ln)
	}()
	go func() {
		defer s.wg.Done()
		if s.node.WaitReady(s.watchCtx) == nil {
			s.ready.Store(true)
		}
	}()
	return nil
}

// Addr returns the Redis listener's address (useful with port 0).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// AdminAddr returns the admin HTTP listener's address, or "".
func (s *Server) AdminAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Ready reports whether the node joined its cluster and the server is not
// draining (what /readyz answers).
func (s *Server) Ready() bool {
	s.mu.Lock()
	draining := s.draining || !s.started
	s.mu.Unlock()
	return !draining && s.ready.Load()
}

func (s *Server) acceptLoop(ln net.Listener) {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure (EMFILE and the like): back off a little.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", zap.Error(err), zap.Duration("backoff", backoff))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		s.connsTotal.Add(1)
		c := s.newClient(nc)
		s.mu.Lock()
		if s.draining || len(s.clients) >= s.cfg.MaxClients {
			s.mu.Unlock()
			s.connsRejected.Add(1)
			c.wr.WriteError("ERR max number of clients reached")
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = c.wr.Flush()
			nc.Close()
			continue
		}
		s.clients[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveClient(c)
		}()
	}
}

func (s *Server) newClient(nc net.Conn) *client {
	return &client{
		id:     s.clientIDs.Add(1),
		conn:   nc,
		rd:     newCmdReader(nc, s.cfg.MaxQueryBytes),
		wr:     redcon.NewWriter(nc),
		authed: s.cfg.Password == "",
		addr:   nc.RemoteAddr().String(),
	}
}

// serveClient reads pipelines of commands, runs them in order and writes
// the replies of each pipeline in one flush.
func (s *Server) serveClient(c *client) {
	defer func() {
		c.conn.Close()
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
	}()
	for {
		// Run every complete command read so far, then write their
		// replies in one flush.
		cmds, perr := c.rd.commands()
		if len(cmds) > 1 && c.authed {
			s.prefetch(c, cmds)
		}
		for _, args := range cmds {
			s.exec(c, args)
			if c.quit {
				break
			}
		}
		if perr != nil && !c.quit {
			// Malformed input: answer like Redis, then drop the
			// connection (the stream cannot be resynchronised).
			c.wr.WriteError("ERR " + perr.Error())
			_ = c.wr.Flush()
			return
		}
		if err := c.wr.Flush(); err != nil || c.quit {
			return
		}
		if err := c.rd.fill(); err != nil {
			if errors.Is(err, errQueryTooLarge) {
				c.wr.WriteError("ERR Protocol error: query buffer limit reached (" + fmt.Sprint(s.cfg.MaxQueryBytes) + " bytes)")
				_ = c.wr.Flush()
			}
			return
		}
	}
}

// prefetch hands the keys of a pipeline to the node before the commands
// run, so that their storage lookups overlap instead of each waiting for
// memory in turn (see gridkv.Node.Prefetch). The key of almost every
// command is its first argument; for the few others the hint is wasted,
// not wrong.
func (s *Server) prefetch(c *client, cmds [][][]byte) {
	c.prefetchKeys = c.prefetchKeys[:0]
	for _, args := range cmds {
		if len(args) > 1 {
			c.prefetchKeys = append(c.prefetchKeys, str(args[1])) // Prefetch keeps no reference
		}
	}
	s.node.Prefetch(c.prefetchKeys...)
	clear(c.prefetchKeys) // they alias the read buffer, which the next read overwrites
}

// Shutdown stops accepting connections, lets every connection finish the
// pipeline it already read (its replies are flushed), then closes them and
// the admin server. It waits at most ctx or Config.DrainTimeout, whichever
// ends first; the node is left running for the caller to Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return s.wait(ctx)
	}
	s.draining = true
	s.stopWatch()
	if s.ln != nil {
		s.ln.Close()
	}
	// A past read deadline makes each connection's next read fail: the
	// pipeline it is running completes and its replies are flushed first.
	for c := range s.clients {
		_ = c.conn.SetReadDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()
	if s.admin != nil {
		actx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
		_ = s.admin.Shutdown(actx)
		cancel()
	}
	return s.wait(ctx)
}

func (s *Server) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(s.cfg.DrainTimeout)
	defer timer.Stop()
	var err error
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = context.DeadlineExceeded
	}
	// Out of time: cut the remaining connections and in-flight calls.
	s.cancel()
	s.mu.Lock()
	for c := range s.clients {
		c.conn.Close()
	}
	if s.admin != nil {
		s.admin.Close()
	}
	s.mu.Unlock()
	<-done
	return fmt.Errorf("server: drain: %w", err)
}

// Close shuts the server down at once (no drain).
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
