// Command bench-all runs every comparison benchmark in the tools module and
// writes one Markdown report, BENCHMARKS.md at the repository root: each
// figure next to its anchor measured in the same run, the ratio, the
// machine's core count, load and the date.
//
//	go run ./cmd/bench-all            # full run (long: tens of minutes)
//	go run ./cmd/bench-all --quick    # smaller counts and windows
//	go run ./cmd/bench-all --only ring,server
//
// Sections: ring, storage, transport (go test -bench in tools/bench/*),
// swim (cmd/bench-swim), storage-memory (cmd/bench-storage), server
// (scripts/compare-redis.sh: redis-server vs gridkv-server) and cluster
// (cmd/gridkv-bench on an embedded 3-node cluster). A section that fails is
// reported as failed with its error output; the others still run.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// section is one benchmark step of the report.
type section struct {
	name, title, about string
	cmd                []string
	env                []string
	timeout            time.Duration
	gobench            bool // parse go test -bench output into tables
	// repeat runs cmd this many times in a row (at least once): with
	// -count 1, every implementation is measured once per run, so the
	// runs interleave them and a slow spell of the machine falls on all
	// of them alike instead of on whichever ran during it.
	repeat int
}

func sections(quick bool) []section {
	runs, benchtime := 5, "1s"
	swim := []string{"go", "run", "./cmd/bench-swim"}
	storageMem := []string{"go", "run", "./cmd/bench-storage"}
	compare := []string{"ROUNDS=7", "REQUESTS=500000"}
	cluster := []string{"go", "run", "./cmd/gridkv-bench", "--nodes", "3", "--duration", "20s", "--progress=false"}
	if quick {
		runs, benchtime = 3, "300ms"
		swim = append(swim, "-n", "16", "-joins", "2", "-kills", "1", "-loss-window", "8s", "-stall", "3s",
			"-stall-observe", "6s", "-idle-window", "6s")
		storageMem = append(storageMem, "-n", "1000000")
		compare = []string{"ROUNDS=5", "REQUESTS=200000"}
		cluster = []string{"go", "run", "./cmd/gridkv-bench", "--nodes", "3", "--duration", "5s", "--keys", "20000", "--progress=false"}
	}
	gotest := func(pkg string) []string {
		return []string{"go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-benchtime", benchtime, pkg}
	}
	return []section{
		{name: "ring", title: "Consistent-hash ring", gobench: true, repeat: runs, timeout: 30 * time.Minute, cmd: gotest("./bench/ring"),
			about: "tools/bench/ring: gridkv's ring against buraksezer/consistent and groupcache/consistenthash (see its doc.go)."},
		{name: "storage", title: "Storage engine", gobench: true, repeat: runs, timeout: 60 * time.Minute, cmd: gotest("./bench/storage"),
			about: "tools/bench/storage: gridkv's sharded store against otter, ristretto, xsync.Map and sync.Map (see its doc.go)."},
		{name: "transport", title: "Transport", gobench: true, repeat: runs, timeout: 30 * time.Minute, cmd: gotest("./bench/transport"),
			about: "tools/bench/transport: gridkv's transport against a raw net.Conn echo and gRPC (see its doc.go)."},
		{name: "swim", title: "Membership (SWIM vs memberlist)", timeout: 60 * time.Minute, cmd: swim,
			about: "cmd/bench-swim: swim and hashicorp/memberlist side by side on loopback with the same fault injection; rows are measured in the same run."},
		{name: "storage-memory", title: "Storage memory and GC cost", timeout: 60 * time.Minute, cmd: storageMem,
			about: "cmd/bench-storage: heap bytes per entry and forced-GC time per implementation, each in a fresh process."},
		{name: "server", title: "Server: gridkv-server vs redis-server", timeout: 30 * time.Minute, env: compare,
			cmd:   []string{"bash", "scripts/compare-redis.sh"},
			about: "scripts/compare-redis.sh: the same redis-benchmark -t set,get -P 16 -c 50 -d 64 -r 100000 against redis-server and a single-node gridkv-server, in rotating order, medians and ratios. gridkv-server runs twice: on one core (GOMAXPROCS=1, as redis-server uses one, leaving the other core of a 2-core machine to the single-threaded redis-benchmark) and with Go's default of every core (competing with redis-benchmark for its core). redis-benchmark is pinned to CPU 0 and the single-core servers to the last CPU; the servers not being measured are stopped (SIGSTOP) meanwhile; one unmeasured pass per server fills the key space first. Server CPU per request (from /proc/PID/task/*/schedstat) is reported too: it moves less than requests per second when the single-threaded client is the bottleneck, though a server that waits for its client spends more per request on sleeping and waking."},
		{name: "cluster", title: "Embedded 3-node cluster (gridkv-bench)", timeout: 10 * time.Minute, cmd: cluster,
			about: "cmd/gridkv-bench: 3 nodes on loopback TCP, N=3, QUORUM, 20% SET / 80% GET, 64-byte values, 50 workers. No peer anchor: an absolute figure for tracking."},
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-all", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "smaller counts, windows and entry counts (minutes instead of tens of minutes)")
	only := fs.String("only", "", "comma-separated sections to run (ring, storage, transport, swim, storage-memory, server, cluster); empty runs all")
	out := fs.String("out", "", "report path (default: BENCHMARKS.md at the repository root)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	toolsDir, err := moduleDir()
	if err != nil {
		fmt.Fprintln(stderr, "bench-all:", err)
		return 1
	}
	if *out == "" {
		*out = filepath.Join(filepath.Dir(toolsDir), "BENCHMARKS.md")
	}
	want := map[string]bool{}
	for s := range strings.SplitSeq(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	var report bytes.Buffer
	writeHeader(&report, toolsDir, *quick)
	failed := 0
	for _, s := range sections(*quick) {
		if len(want) > 0 && !want[s.name] {
			continue
		}
		fmt.Fprintf(stderr, "bench-all: %s: %s\n", s.name, strings.Join(s.cmd, " "))
		start := time.Now()
		outText, errText, err := execute(ctx, toolsDir, s)
		took := time.Since(start).Round(time.Second)
		times := ""
		if s.repeat > 1 {
			times = fmt.Sprintf(" (%d runs in a row)", s.repeat)
		}
		fmt.Fprintf(&report, "\n## %s\n\n%s\n\nCommand (in tools/): `%s%s`%s — took %v, load average before: %s.\n",
			s.title, s.about, envPrefix(s.env), strings.Join(s.cmd, " "), times, took, loadAvg())
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "bench-all: %s failed: %v\n", s.name, err)
			fmt.Fprintf(&report, "\n**FAILED**: %v\n\n```\n%s\n```\n", err, tail(outText+errText, 4000))
			continue
		}
		if s.gobench {
			rows := summarize(parseBench(strings.NewReader(outText)))
			if len(rows) == 0 {
				failed++
				fmt.Fprintf(&report, "\n**FAILED**: no benchmark results\n\n```\n%s\n```\n", tail(outText+errText, 4000))
				continue
			}
			fmt.Fprintf(&report, "\nEach run measures every implementation once. Columns are medians over the runs; ratio = the median over runs of ns/op ÷ the anchor's ns/op in the same run (below 1: faster than the anchor).\n")
			writeBenchTables(&report, rows)
		} else {
			fmt.Fprintf(&report, "\n```\n%s\n```\n", strings.TrimSpace(outText))
		}
	}
	if err := os.WriteFile(*out, report.Bytes(), 0o644); err != nil {
		fmt.Fprintln(stderr, "bench-all:", err)
		return 1
	}
	fmt.Fprintf(stdout, "bench-all: wrote %s (%d section(s) failed)\n", *out, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func envPrefix(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return strings.Join(env, " ") + " "
}

// moduleDir returns the tools module's directory.
func moduleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if !strings.HasSuffix(mod, filepath.Join("tools", "go.mod")) {
		return "", fmt.Errorf("run bench-all from the tools module (go.mod here: %q)", mod)
	}
	return filepath.Dir(mod), nil
}

// execute runs s.cmd (s.repeat times, stopping at the first failure) and
// returns the runs' standard output and error, concatenated.
func execute(ctx context.Context, dir string, s section) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var out, errb bytes.Buffer
	for range max(s.repeat, 1) {
		cmd := exec.CommandContext(ctx, s.cmd[0], s.cmd[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), s.env...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return out.String(), errb.String(), err
		}
	}
	return out.String(), errb.String(), nil
}

func writeHeader(w io.Writer, toolsDir string, quick bool) {
	commit := "unknown"
	if out, err := exec.Command("git", "-C", toolsDir, "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	mode := "full"
	if quick {
		mode = "quick (--quick: fewer runs, shorter windows)"
	}
	fmt.Fprintf(w, "# GridKV benchmarks\n\n")
	fmt.Fprintf(w, "Generated by `go run ./cmd/bench-all` in tools/ — do not edit by hand.\n\n")
	fmt.Fprintf(w, "- date: %s\n- cores: %d (GOMAXPROCS %d), %s/%s, %s\n- commit: %s\n- mode: %s\n- load average at start: %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH,
		runtime.Version(), commit, mode, loadAvg())
	fmt.Fprintf(w, "Every comparison puts GridKV and its anchor (the library or server users would otherwise pick, or the floor) in the same run on the same machine. "+
		"Absolute numbers depend on the machine and its load; the ratios are what to compare. A shared machine makes single figures noisy: several runs, medians.\n")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
