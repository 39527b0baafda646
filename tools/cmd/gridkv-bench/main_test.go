package main

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gridkv/gridkv/gridkv"
	"github.com/gridkv/gridkv/tools/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// ants (under gnet, used by transport) starts a package-level
		// default pool at init; it is not ours.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

func TestParseMix(t *testing.T) {
	m, err := parseMix("set=20,get=70,del=10")
	if err != nil || m != (mix{20, 70, 10}) {
		t.Fatalf("%v %v", m, err)
	}
	if m.pick(0) != opSet || m.pick(19) != opSet || m.pick(20) != opGet || m.pick(89) != opGet || m.pick(90) != opDel {
		t.Fatal("pick does not follow the shares")
	}
	for _, bad := range []string{"", "set=50", "set=50,get=60", "put=100", "set=x,get=100", "set"} {
		if _, err := parseMix(bad); !errors.Is(err, ErrBadMix) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// rowCount extracts the requests column of an op's row in the table.
func rowCount(t *testing.T, out, op string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + op + `\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s row in:\n%s", op, out)
	}
	if m[2] != "0" {
		t.Fatalf("%s errors: %s\n%s", op, m[2], out)
	}
	return m[1]
}

func TestEmbeddedRun(t *testing.T) {
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"--nodes", "1", "--requests", "3000", "--keys", "200",
		"--concurrency", "4", "--mix", "set=30,get=60,del=10", "--progress=false"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	total := 0
	for _, op := range []string{"SET", "GET", "DEL"} {
		n, err := strconv.Atoi(rowCount(t, out.String(), op))
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 3000 {
		t.Fatalf("table counts %d requests, want 3000:\n%s", total, out.String())
	}
}

func TestRedisProtocolRun(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", ""
	o := gridkv.DefaultOptions()
	o.BindAddr, o.ReplicationFactor = "127.0.0.1:0", 1
	node, err := gridkv.New(cfg.NodeOptions(o))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	srv, err := server.New(node, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"--servers", srv.Addr(), "--requests", "4000", "--keys", "500",
		"--concurrency", "4", "--pipeline", "8", "--progress=true"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	rowCount(t, out.String(), "SET")
	rowCount(t, out.String(), "GET")
	if !strings.Contains(errOut.String(), "100%") {
		t.Errorf("progress bar never reached 100%%:\n%s", errOut.String())
	}
}
