package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gridkv/gridkv/swim"
)

// impl is one membership implementation under test.
type impl interface {
	start(i int) (addr string, err error)
	join(i int, seed string) error
	// live lists the names node i holds alive or suspect.
	live(i int) []string
	shutdown(i int)
}

func nodeName(i int) string { return fmt.Sprintf("n%03d", i) }

// failLog counts failure events: observer -> subject -> count.
type failLog struct {
	mu    sync.Mutex
	fails map[string]map[string]int
}

func newFailLog() *failLog { return &failLog{fails: map[string]map[string]int{}} }

func (l *failLog) record(observer, subject string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fails[observer] == nil {
		l.fails[observer] = map[string]int{}
	}
	l.fails[observer][subject]++
}

// tally counts distinct subjects accepted by about and their events, as
// seen by observers accepted by by.
func (l *failLog) tally(by, about func(string) bool) fp {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out fp
	victims := map[string]bool{}
	for o, m := range l.fails {
		if !by(o) {
			continue
		}
		for s, c := range m {
			if about(s) {
				out.events += c
				victims[s] = true
			}
		}
	}
	out.victims = len(victims)
	return out
}

func (l *failLog) snapshot() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.fails)
}

func (l *failLog) reset() { l.mu.Lock(); l.fails = map[string]map[string]int{}; l.mu.Unlock() }

// ---- swim ----

type swimTransport struct {
	swim.Transport
	f *faults
}

func (t *swimTransport) WritePacket(b []byte, addr string) error {
	cp := append([]byte(nil), b...)
	t.f.packet(t.Addr(), addr, len(b), func() { t.Transport.WritePacket(cp, addr) })
	return nil
}

func (t *swimTransport) DialStream(ctx context.Context, addr string) (net.Conn, error) {
	if t.f.blackHoled(t.Addr(), addr) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c, err := t.Transport.DialStream(ctx, addr)
	if err != nil {
		return nil, err
	}
	return t.f.wrapConn(c, t.Addr(), addr), nil
}

type swimImpl struct {
	f     *faults
	fails *failLog
	tune  func(*swim.Config)
	mu    sync.Mutex
	nodes map[int]*swim.Node
}

func newSwimImpl(f *faults, fails *failLog, tune func(*swim.Config)) *swimImpl {
	return &swimImpl{f: f, fails: fails, tune: tune, nodes: map[int]*swim.Node{}}
}

func (s *swimImpl) start(i int) (string, error) {
	tr, err := swim.NewNetTransport(swim.DefaultNetTransportConfig())
	if err != nil {
		return "", err
	}
	cfg := swim.DefaultLANConfig()
	cfg.Name = nodeName(i)
	cfg.Transport = &swimTransport{Transport: tr, f: s.f}
	cfg.RandSeed = uint64(i + 1)
	me := cfg.Name
	cfg.EventDelegate = swim.EventDelegateFunc(func(e swim.Event) {
		if e.Kind == swim.EventFail {
			s.fails.record(me, e.Member.Name)
		}
	})
	s.tune(&cfg)
	n, err := swim.Create(cfg)
	if err != nil {
		tr.Close()
		return "", err
	}
	s.mu.Lock()
	s.nodes[i] = n
	s.mu.Unlock()
	return tr.Addr(), nil
}

func (s *swimImpl) node(i int) *swim.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes[i]
}

func (s *swimImpl) join(i int, seed string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.node(i).Join(ctx, []string{seed})
	return err
}

func (s *swimImpl) live(i int) []string {
	var out []string
	for _, m := range s.node(i).Members() {
		out = append(out, m.Name)
	}
	return out
}

func (s *swimImpl) shutdown(i int) {
	if n := s.node(i); n != nil {
		n.Shutdown()
	}
	s.mu.Lock()
	delete(s.nodes, i)
	s.mu.Unlock()
}

// ---- memberlist ----

type mlTransport struct {
	*memberlist.NetTransport
	f    *faults
	self string
}

var _ memberlist.NodeAwareTransport = (*mlTransport)(nil)

func (t *mlTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	cp := append([]byte(nil), b...)
	t.f.packet(t.self, addr, len(b), func() { t.NetTransport.WriteTo(cp, addr) })
	return time.Now(), nil
}

func (t *mlTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *mlTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.f.blackHoled(t.self, addr) {
		timer := time.NewTimer(timeout) // a black hole: the dial times out
		<-timer.C
		return nil, errors.New("dial timeout (black hole)")
	}
	c, err := t.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return t.f.wrapConn(c, t.self, addr), nil
}

func (t *mlTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

type mlEvents struct {
	me    string
	fails *failLog
}

func (e *mlEvents) NotifyJoin(*memberlist.Node)   {}
func (e *mlEvents) NotifyUpdate(*memberlist.Node) {}
func (e *mlEvents) NotifyLeave(n *memberlist.Node) {
	// Nobody leaves gracefully in the benchmark: every leave is a failure.
	e.fails.record(e.me, n.Name)
}

type mlImpl struct {
	f     *faults
	fails *failLog
	tune  func(*memberlist.Config)
	mu    sync.Mutex
	nodes map[int]*memberlist.Memberlist
}

func newMLImpl(f *faults, fails *failLog, tune func(*memberlist.Config)) *mlImpl {
	return &mlImpl{f: f, fails: fails, tune: tune, nodes: map[int]*memberlist.Memberlist{}}
}

func (m *mlImpl) start(i int) (string, error) {
	logger := log.New(io.Discard, "", 0)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0, Logger: logger})
	if err != nil {
		return "", err
	}
	port := nt.GetAutoBindPort()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := memberlist.DefaultLANConfig()
	m.tune(cfg)
	cfg.Name = nodeName(i)
	cfg.BindAddr, cfg.BindPort = "127.0.0.1", port
	cfg.AdvertiseAddr, cfg.AdvertisePort = "127.0.0.1", port
	cfg.Transport = &mlTransport{NetTransport: nt, f: m.f, self: addr}
	cfg.Logger = logger
	cfg.Events = &mlEvents{me: cfg.Name, fails: m.fails}
	ml, err := memberlist.Create(cfg)
	if err != nil {
		nt.Shutdown()
		return "", err
	}
	m.mu.Lock()
	m.nodes[i] = ml
	m.mu.Unlock()
	return addr, nil
}

func (m *mlImpl) node(i int) *memberlist.Memberlist {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nodes[i]
}

func (m *mlImpl) join(i int, seed string) error {
	_, err := m.node(i).Join([]string{seed})
	return err
}

func (m *mlImpl) live(i int) []string {
	var out []string
	for _, n := range m.node(i).Members() {
		out = append(out, n.Name)
	}
	return out
}

func (m *mlImpl) shutdown(i int) {
	if n := m.node(i); n != nil {
		n.Shutdown()
	}
	m.mu.Lock()
	delete(m.nodes, i)
	m.mu.Unlock()
}
