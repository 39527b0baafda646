package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridkv/gridkv/tools/server"
)

// buildBinary compiles gridkv-server into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gridkv-server")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type servingLine struct {
	Msg     string `json:"msg"`
	Node    string `json:"node"`
	Redis   string `json:"redis"`
	Admin   string `json:"admin"`
	Cluster string `json:"cluster"`
}

// TestBinaryLocalCluster runs the real binary with --local-cluster 3 on
// ephemeral loopback ports, drives it with redis-cli, checks the admin
// endpoints, then sends SIGTERM and expects a clean exit 0.
func TestBinaryLocalCluster(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("SKIPPED: redis-cli not found in PATH; install it with `apt-get install -y redis-tools` (CI does) to run the binary test")
	}
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--local-cluster", "3", "--addr", "127.0.0.1:0",
		"--admin-addr", "127.0.0.1:0", "--cluster-addr", "127.0.0.1:0", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// The log is the interface that reports the chosen ports.
	var logs bytes.Buffer
	sc := bufio.NewScanner(io.TeeReader(stderr, &logs))
	var nodes []servingLine
	for len(nodes) < 3 && sc.Scan() {
		var l servingLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
			nodes = append(nodes, l)
		}
	}
	if len(nodes) < 3 {
		t.Fatalf("saw %d serving lines:\n%s", len(nodes), logs.String())
	}
	restDone := make(chan struct{})
	go func() { // keep draining the log so the process never blocks on it
		defer close(restDone)
		for sc.Scan() {
		}
	}()

	// Wait for every node to report three alive members (gossip converges
	// in rounds; there is no external event to wait on).
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for {
			st, ok := clusterStatus(n.Admin)
			alive := 0
			for _, m := range st.Members {
				if m.State == "alive" && m.InRing {
					alive++
				}
			}
			if ok && st.Ready && alive == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s: %d alive members, ready=%v", n.Node, alive, st.Ready)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, path := range []string{"/healthz", "/readyz", "/debug/pprof/", "/metrics"} {
			resp, err := http.Get("http://" + n.Admin + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s%s: %d", n.Admin, path, resp.StatusCode)
			}
		}
	}

	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	run := func(addr, input string) string {
		c := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", port(addr))
		c.Stdin = strings.NewReader(input)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run(nodes[0].Redis, "SET greeting hello\n"); got != "OK" {
		t.Fatalf("SET: %q", got)
	}
	for _, n := range nodes[1:] {
		if got := run(n.Redis, "GRIDKV CONSISTENCY ALL\nGET greeting\n"); got != "OK\nhello" {
			t.Fatalf("GET via %s: %q", n.Node, got)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-restDone
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no stopped log line:\n%s", logs.String())
	}
}

func clusterStatus(admin string) (server.ClusterStatus, bool) {
	var st server.ClusterStatus
	resp, err := http.Get("http://" + admin + "/cluster")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st) == nil
}
