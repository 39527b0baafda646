// Command transport-monitor polls gridkv-server admin endpoints (/cluster)
// and shows a live table of every node's transport peers: member state,
// round-trip time (p50/p99), calls in flight, bytes per second each way,
// connections and errors.
//
//	transport-monitor --nodes 127.0.0.1:8380,127.0.0.1:8381,127.0.0.1:8382
//	transport-monitor --nodes 127.0.0.1:8380 --interval 2s --count 5
//
// On a terminal the table is redrawn in place; otherwise each poll is
// printed after the previous one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gridkv/gridkv/tools/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout))
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// maxStatusBytes bounds a /cluster response.
const maxStatusBytes = 8 << 20

// fetch gets one node's status.
func fetch(ctx context.Context, client *http.Client, admin string) (server.ClusterStatus, error) {
	var st server.ClusterStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/cluster", nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: HTTP %d", admin, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusBytes)).Decode(&st); err != nil {
		return st, fmt.Errorf("%s: bad /cluster JSON: %w", admin, err)
	}
	return st, nil
}

type peerKey struct{ node, peer string }

type sample struct {
	at              time.Time
	bytesIn, bytesO uint64
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	fs := flag.NewFlagSet("transport-monitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodes := fs.String("nodes", "127.0.0.1:8380", "comma-separated admin addresses (gridkv-server --admin-addr)")
	interval := fs.Duration("interval", time.Second, "poll interval")
	count := fs.Int("count", 0, "stop after this many polls (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *interval <= 0 {
		fmt.Fprintln(stderr, "transport-monitor: --interval must be positive")
		return 2
	}
	admins := strings.Split(*nodes, ",")
	client := &http.Client{Timeout: max(*interval, time.Second)}
	prev := map[peerKey]sample{}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for poll := 1; ; poll++ {
		var b strings.Builder
		render(ctx, &b, client, admins, prev)
		if tty {
			fmt.Fprint(stdout, "\033[H\033[2J")
		} else if poll > 1 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, b.String())
		if *count > 0 && poll >= *count {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

// render writes one poll's table; prev carries byte counters between polls
// for the rates.
func render(ctx context.Context, w io.Writer, client *http.Client, admins []string, prev map[peerKey]sample) {
	now := time.Now()
	fmt.Fprintf(w, "transport-monitor  %s  (%d nodes)\n\n", now.Format("15:04:05"), len(admins))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPEER\tSTATE\tRTT p50\tRTT p99\tIN-FLIGHT\tIN B/s\tOUT B/s\tCONNS\tRECONNECTS\tERRORS\t")
	var problems []string
	for _, admin := range admins {
		st, err := fetch(ctx, client, admin)
		if err != nil {
			fmt.Fprintf(tw, "%s\t-\tunreachable\t\t\t\t\t\t\t\t\t\n", admin)
			problems = append(problems, err.Error())
			continue
		}
		states := map[string]string{}
		for _, m := range st.Members {
			states[m.Addr] = m.State
		}
		if len(st.Peers) == 0 {
			fmt.Fprintf(tw, "%s\t(no peers)\t\t\t\t\t\t\t\t\t\t\n", st.Node)
		}
		for _, p := range st.Peers {
			k := peerKey{st.Node, p.Addr}
			inRate, outRate := "-", "-"
			if s, ok := prev[k]; ok {
				if dt := now.Sub(s.at).Seconds(); dt > 0 && p.BytesIn >= s.bytesIn && p.BytesOut >= s.bytesO {
					inRate = rate(float64(p.BytesIn-s.bytesIn) / dt)
					outRate = rate(float64(p.BytesOut-s.bytesO) / dt)
				}
			}
			prev[k] = sample{now, p.BytesIn, p.BytesOut}
			state := states[p.Addr]
			if state == "" {
				state = "?"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t\n", st.Node, p.Addr, state,
				micros(p.RTTP50Micros, p.Calls), micros(p.RTTP99Micros, p.Calls), p.InFlight, inRate, outRate,
				p.Conns, p.Reconnects, p.Errors)
		}
	}
	_ = tw.Flush()
	for _, p := range problems {
		fmt.Fprintf(w, "! %s\n", p)
	}
}

func micros(v float64, calls uint64) string {
	if calls == 0 {
		return "-"
	}
	if v >= 1000 {
		return fmt.Sprintf("≤%.1fms", v/1000)
	}
	return fmt.Sprintf("≤%.0fµs", v)
}

func rate(v float64) string {
	switch {
	case v >= 1<<20:
		return fmt.Sprintf("%.1fMiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1fKiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f", v)
}
