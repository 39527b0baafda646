// Command server_cluster builds the gridkv-server binary, starts three
// server processes on loopback (ephemeral ports) that form one cluster, and
// uses them from an ordinary Redis client (github.com/redis/go-redis/v9):
// values written through one server are read through the others, TTLs and
// deletes work across servers, a pipeline of writes lands on all of them, a
// crashed server does not stop the other two, and the rest stop cleanly on
// SIGTERM. It exits non-zero if any of that does not hold.
//
// Run it from the repository root (go run ./examples/server_cluster): it
// builds the server with `go build`, which resolves the tools module
// through go.work.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	bin, cleanup, err := build(ctx)
	if err != nil {
		return err
	}
	defer cleanup()

	// Start three servers: s0 starts the cluster, s1 and s2 join it.
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.kill()
		}
	}()
	for i := range 3 {
		args := []string{"--node-id", fmt.Sprintf("s%d", i),
			"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--cluster-addr", "127.0.0.1:0",
			"--cluster", "--gossip", "local", "--log-format", "json"}
		if i > 0 {
			args = append(args, "--seeds", servers[0].cluster)
		}
		s, err := start(ctx, bin, args)
		if err != nil {
			return err
		}
		servers = append(servers, s)
		fmt.Printf("started gridkv-server %s (pid %d): redis %s, admin %s, cluster %s\n", s.node, s.cmd.Process.Pid, s.redis, s.admin, s.cluster)
	}
	t0 := time.Now()
	for _, s := range servers {
		if err := s.waitMembers(ctx, 3); err != nil {
			return err
		}
	}
	fmt.Printf("all three report 3 alive members and ready (/cluster) after %v\n", time.Since(t0).Round(time.Millisecond))

	clients := make([]*redis.Client, len(servers))
	for i, s := range servers {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.redis})
		defer clients[i].Close()
	}

	// SET through s0, GET through s1 and s2.
	if err := clients[0].Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		return fmt.Errorf("SET via s0: %w", err)
	}
	for i := 1; i < 3; i++ {
		v, err := clients[i].Get(ctx, "greeting").Result()
		if err != nil || v != "hello" {
			return fmt.Errorf("GET via s%d = %q, %v; want hello", i, v, err)
		}
	}
	fmt.Println("SET greeting hello via s0; GET via s1 and s2: \"hello\"")

	// TTL set through one server is visible through another.
	if err := clients[1].Set(ctx, "session", "token", time.Minute).Err(); err != nil {
		return err
	}
	ttl, err := clients[2].TTL(ctx, "session").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		return fmt.Errorf("TTL via s2 = %v, %v; want within (0, 1m]", ttl, err)
	}
	fmt.Printf("SET session EX 60 via s1; TTL via s2: %v\n", ttl)

	// A pipeline of writes through s2, read back with MGET through s0.
	const n = 200
	pipe := clients[2].Pipeline()
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("item:%d", i)
		pipe.Set(ctx, keys[i], fmt.Sprintf("value-%d", i), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("pipeline via s2: %w", err)
	}
	vals, err := clients[0].MGet(ctx, keys...).Result()
	if err != nil {
		return err
	}
	for i, v := range vals {
		if v != fmt.Sprintf("value-%d", i) {
			return fmt.Errorf("MGET via s0: %s = %v", keys[i], v)
		}
	}
	fmt.Printf("pipelined %d SETs via s2; MGET of all %d via s0 returns every value\n", n, n)

	// DEL through s2; GET through s0 says nil.
	if err := clients[2].Del(ctx, "greeting").Err(); err != nil {
		return err
	}
	if _, err := clients[0].Get(ctx, "greeting").Result(); !errors.Is(err, redis.Nil) {
		return fmt.Errorf("GET after DEL = %v; want redis.Nil", err)
	}
	fmt.Println("DEL greeting via s2; GET via s0: (nil)")

	// Per-connection consistency: GRIDKV CONSISTENCY applies to one
	// connection, so take one out of the pool.
	conn := clients[1].Conn()
	defer conn.Close()
	if err := conn.Do(ctx, "GRIDKV", "CONSISTENCY", "ALL").Err(); err != nil {
		return fmt.Errorf("GRIDKV CONSISTENCY ALL: %w", err)
	}
	if err := conn.Set(ctx, "config", "v1", 0).Err(); err != nil {
		return fmt.Errorf("SET at ALL: %w", err)
	}
	fmt.Println("GRIDKV CONSISTENCY ALL on one connection of s1; SET config v1 acknowledged by all 3 replicas")

	// Crash s2: the other two keep serving at QUORUM (2 of 3); ALL cannot.
	servers[2].kill()
	fmt.Println("s2 killed with SIGKILL (a crash)")
	if err := clients[0].Set(ctx, "config", "v2", 0).Err(); err != nil {
		return fmt.Errorf("SET via s0 with s2 down: %w", err)
	}
	if v, err := clients[1].Get(ctx, "config").Result(); err != nil || v != "v2" {
		return fmt.Errorf("GET via s1 with s2 down = %q, %v", v, err)
	}
	fmt.Println("  SET config v2 via s0 and GET via s1 still work (QUORUM)")
	err = conn.Set(ctx, "config", "v3", 0).Err()
	if err == nil {
		return errors.New("SET at ALL succeeded with a replica down")
	}
	// Redis errors are typed by their first word; gridkv-server answers a
	// missed quorum with -QUORUM.
	if !strings.HasPrefix(err.Error(), "QUORUM ") {
		return fmt.Errorf("SET at ALL with a replica down: %v; want a -QUORUM error", err)
	}
	fmt.Printf("  SET at ALL on s1's connection fails: %v\n", err)

	// Graceful stop: SIGTERM drains clients, leaves the cluster, exits 0.
	for _, c := range clients {
		c.Close()
	}
	for _, s := range servers[:2] {
		if err := s.stop(15 * time.Second); err != nil {
			return err
		}
	}
	fmt.Println("s0 and s1 stopped on SIGTERM: exit status 0 and a \"stopped\" log line each")
	fmt.Println("OK: server_cluster")
	return nil
}

// build compiles gridkv-server into a temporary directory, from the
// repository root (found through go.work).
func build(ctx context.Context) (string, func(), error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOWORK").Output()
	work := strings.TrimSpace(string(out))
	if err != nil || work == "" || work == "off" {
		return "", nil, fmt.Errorf("run from inside the repository with its go.work (go env GOWORK = %q, %v)", work, err)
	}
	dir, err := os.MkdirTemp("", "gridkv-server-example-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	bin := filepath.Join(dir, "gridkv-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/gridkv/gridkv/tools/cmd/gridkv-server")
	cmd.Dir = filepath.Dir(work)
	t := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build gridkv-server: %w\n%s", err, out)
	}
	fmt.Printf("built gridkv-server in %v\n", time.Since(t).Round(time.Millisecond))
	return bin, cleanup, nil
}

// server is one running gridkv-server process.
type server struct {
	cmd                         *exec.Cmd
	node, redis, admin, cluster string

	logMu sync.Mutex
	logs  bytes.Buffer
	done  chan struct{} // closed when the log is drained (the process exited)
	exit  error
	ended bool
}

// start runs the binary and waits for its "serving" log line, which names
// the ports it picked.
func start(ctx context.Context, bin string, args []string) (*server, error) {
	s := &server{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	serving := make(chan struct{})
	go func() { // owns stderr until the process exits
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			s.logMu.Lock()
			s.logs.Write(sc.Bytes())
			s.logs.WriteByte('\n')
			s.logMu.Unlock()
			var l struct{ Msg, Node, Redis, Admin, Cluster string }
			if !seen && json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
				s.node, s.redis, s.admin, s.cluster = l.Node, l.Redis, l.Admin, l.Cluster
				seen = true
				close(serving)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case <-serving:
		return s, nil
	case <-s.done:
		s.wait()
		return nil, fmt.Errorf("gridkv-server %v exited before serving: %v\n%s", args, s.exit, s.log())
	case <-ctx.Done():
		s.kill()
		return nil, fmt.Errorf("gridkv-server %v not serving: %w\n%s", args, ctx.Err(), s.log())
	}
}

func (s *server) log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.logs.String()
}

// wait reaps the process once its log is drained.
func (s *server) wait() {
	<-s.done
	if !s.ended {
		s.exit = s.cmd.Wait()
		s.ended = true
	}
}

// kill ends the process at once (a crash); idempotent.
func (s *server) kill() {
	if s.ended {
		return
	}
	_ = s.cmd.Process.Kill()
	s.wait()
}

// stop sends SIGTERM and expects a clean exit within timeout.
func (s *server) stop(timeout time.Duration) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM\n%s", s.node, timeout, s.log())
	}
	s.wait()
	if s.exit != nil {
		return fmt.Errorf("%s exited with %v after SIGTERM\n%s", s.node, s.exit, s.log())
	}
	if !strings.Contains(s.log(), `"msg":"stopped"`) {
		return fmt.Errorf("%s logged no \"stopped\" line\n%s", s.node, s.log())
	}
	return nil
}

// waitMembers polls the admin endpoint until the server is ready and sees
// want members alive in its ring.
func (s *server) waitMembers(ctx context.Context, want int) error {
	var last string
	for {
		var st struct {
			Ready   bool `json:"ready"`
			Members []struct {
				ID     string `json:"id"`
				State  string `json:"state"`
				InRing bool   `json:"in_ring"`
			} `json:"members"`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.admin+"/cluster", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			alive := 0
			for _, m := range st.Members {
				if m.State == "alive" && m.InRing {
					alive++
				}
			}
			if err == nil && st.Ready && alive == want {
				return nil
			}
			last = fmt.Sprintf("ready=%v, %d alive members", st.Ready, alive)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %d alive members: %w (last: %s)", s.node, want, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
