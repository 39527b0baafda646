// Command bench-swim compares the swim module with hashicorp/memberlist
// v0.7.0 side by side on loopback: N nodes of one implementation, then of
// the other, each wrapped by the same fault-injecting layer (byte counting,
// random datagram loss, a stalled node, black-holed killed nodes).
//
// Usage:
//
//	go run ./cmd/bench-swim                 # N = 16 and 64, all rows
//	go run ./cmd/bench-swim -n 16 -loss-window 10s -idle-window 10s
//
// Rows: swim (DefaultLANConfig + keyring), memberlist with matched settings
// (same probe/gossip/suspicion/push-pull/MTU values, AES-GCM encryption)
// and memberlist with its LAN defaults as shipped (no encryption).
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gridkv/gridkv/swim"
)

type options struct {
	sizes            []int
	joins, kills     int
	lossWindow       time.Duration
	stallFor         time.Duration
	stallObserve     time.Duration
	idleWindow       time.Duration
	bootstrapTimeout time.Duration
	detectTimeout    time.Duration
	only             string
}

// fp is a false-positive tally: distinct live members wrongly declared dead
// and the failure events about them summed over all observers.
type fp struct{ victims, events int }

func (f fp) String() string { return fmt.Sprintf("%d (%d ev)", f.victims, f.events) }

type result struct {
	name                 string
	n                    int
	joinP50, joinMax     time.Duration
	bootstrap            time.Duration
	bootstrapOK          bool
	killP50, killMax     time.Duration
	killMissed           int
	fp10, fp30, fpStall  fp
	idleBytes, cpuPerSec float64
}

func main() {
	var o options
	sizes := flag.String("n", "16,64", "cluster sizes, comma separated")
	flag.IntVar(&o.joins, "joins", 5, "nodes joined one at a time after bootstrap (join -> all)")
	flag.IntVar(&o.kills, "kills", 3, "nodes killed one at a time (kill -> all dead)")
	flag.DurationVar(&o.lossWindow, "loss-window", 30*time.Second, "duration of each packet-loss phase")
	flag.DurationVar(&o.stallFor, "stall", 6*time.Second, "how long one node is stalled")
	flag.DurationVar(&o.stallObserve, "stall-observe", 20*time.Second, "observation time after the stall ends")
	flag.DurationVar(&o.idleWindow, "idle-window", 20*time.Second, "idle measurement window")
	flag.DurationVar(&o.bootstrapTimeout, "bootstrap-timeout", 120*time.Second, "give up waiting for bootstrap after this")
	flag.DurationVar(&o.detectTimeout, "detect-timeout", 60*time.Second, "give up waiting for join/kill detection after this")
	flag.StringVar(&o.only, "only", "", "run only rows whose name contains this")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 4 {
			fmt.Fprintf(os.Stderr, "bad -n %q\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	kr, err := swim.NewKeyring(key)
	if err != nil {
		panic(err)
	}
	lan := swim.DefaultLANConfig()
	matched := func(c *memberlist.Config) {
		c.ProbeInterval, c.ProbeTimeout = lan.ProbeInterval, lan.ProbeTimeout
		c.IndirectChecks = lan.IndirectChecks
		c.SuspicionMult, c.SuspicionMaxTimeoutMult = lan.SuspicionMult, lan.SuspicionMaxTimeoutMult
		c.AwarenessMaxMultiplier = lan.AwarenessMaxMultiplier
		c.GossipInterval, c.GossipNodes = lan.GossipInterval, lan.GossipNodes
		c.GossipToTheDeadTime = lan.GossipToTheDeadTime
		c.RetransmitMult = lan.RetransmitMult
		c.PushPullInterval = lan.PushPullInterval
		c.UDPBufferSize = lan.MTU
		c.SecretKey = key
	}
	type row struct {
		name string
		mk   func(*faults, *failLog) impl
	}
	rows := []row{
		{"swim", func(f *faults, l *failLog) impl {
			return newSwimImpl(f, l, func(c *swim.Config) { c.Keyring = kr })
		}},
		{"memberlist-matched", func(f *faults, l *failLog) impl { return newMLImpl(f, l, matched) }},
		{"memberlist-lan-defaults", func(f *faults, l *failLog) impl { return newMLImpl(f, l, func(*memberlist.Config) {}) }},
	}
	var results []result
	for _, n := range o.sizes {
		for _, r := range rows {
			if o.only != "" && !strings.Contains(r.name, o.only) {
				continue
			}
			fmt.Fprintf(os.Stderr, "== %s N=%d\n", r.name, n)
			f := newFaults(uint64(n))
			l := newFailLog()
			res := run(r.mk(f, l), f, l, n, o)
			res.name = r.name
			results = append(results, res)
			printTable(results)
		}
	}
}

func printTable(rs []result) {
	fmt.Println()
	fmt.Println("| impl | N | join->all p50 | join->all max | bootstrap | kill->all dead p50 | kill->all dead max | FP 10% loss | FP 30% loss | FP 6s stall | idle B/node/s | CPU ms/node/s |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		boot := r.bootstrap.Round(time.Millisecond).String()
		if !r.bootstrapOK {
			boot = ">" + boot
		}
		kill := fmt.Sprintf("%v | %v", r.killP50.Round(time.Millisecond), r.killMax.Round(time.Millisecond))
		if r.killMissed > 0 {
			kill += fmt.Sprintf(" (%d missed)", r.killMissed)
		}
		fmt.Printf("| %s | %d | %v | %v | %s | %s | %v | %v | %v | %.0f | %.2f |\n",
			r.name, r.n, r.joinP50.Round(time.Millisecond), r.joinMax.Round(time.Millisecond), boot, kill,
			r.fp10, r.fp30, r.fpStall, r.idleBytes, r.cpuPerSec)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitUntil polls cond every 10ms (this is a measuring tool, not a test).
func waitUntil(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1)+0.5)]
}

func run(im impl, f *faults, fails *failLog, n int, o options) result {
	res := result{n: n}
	addrs := map[int]string{}
	live := map[int]bool{}
	defer func() {
		for i := range addrs {
			im.shutdown(i)
		}
	}()
	liveNames := func() map[string]bool {
		m := map[string]bool{}
		for i := range live {
			m[nodeName(i)] = true
		}
		return m
	}
	// sees reports whether every live node lists exactly the live set.
	converged := func() bool {
		want := liveNames()
		for i := range live {
			got := im.live(i)
			if len(got) != len(want) {
				return false
			}
			for _, g := range got {
				if !want[g] {
					return false
				}
			}
		}
		return true
	}
	for i := 0; i < n; i++ {
		a, err := im.start(i)
		if err != nil {
			panic(err)
		}
		addrs[i] = a
		live[i] = true
	}
	// Bootstrap: everyone joins node 0 at once.
	start := time.Now()
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := im.join(i, addrs[0]); err != nil {
				fmt.Fprintf(os.Stderr, "join %d: %v\n", i, err)
			}
		}()
	}
	wg.Wait()
	_, ok := waitUntil(o.bootstrapTimeout, converged)
	res.bootstrap, res.bootstrapOK = time.Since(start), ok
	fmt.Fprintf(os.Stderr, "bootstrap %v ok=%v\n", res.bootstrap, ok)

	// Join -> all.
	var joins []time.Duration
	var extra []int
	for j := 0; j < o.joins; j++ {
		i := n + j
		a, err := im.start(i)
		if err != nil {
			panic(err)
		}
		addrs[i] = a
		t0 := time.Now()
		if err := im.join(i, addrs[0]); err != nil {
			fmt.Fprintf(os.Stderr, "join %d: %v\n", i, err)
		}
		name := nodeName(i)
		waitUntil(o.detectTimeout, func() bool {
			for k := range live {
				if !slices.Contains(im.live(k), name) {
					return false
				}
			}
			return true
		})
		joins = append(joins, time.Since(t0))
		live[i] = true
		extra = append(extra, i)
		waitUntil(o.detectTimeout, converged)
	}
	res.joinP50, res.joinMax = pct(joins, 0.5), pct(joins, 1)
	fmt.Fprintf(os.Stderr, "joins %v\n", joins)

	// Kill -> all dead (black hole), one at a time.
	var kills []time.Duration
	for k := 0; k < o.kills && k < len(extra); k++ {
		i := extra[k]
		name := nodeName(i)
		f.kill(addrs[i])
		delete(live, i)
		d, ok := waitUntil(o.detectTimeout, func() bool {
			for j := range live {
				if slices.Contains(im.live(j), name) {
					return false
				}
			}
			return true
		})
		if !ok {
			res.killMissed++
		}
		kills = append(kills, d)
		im.shutdown(i)
		delete(addrs, i)
	}
	res.killP50, res.killMax = pct(kills, 0.5), pct(kills, 1)
	fmt.Fprintf(os.Stderr, "kills %v\n", kills)
	waitUntil(o.detectTimeout, converged)

	liveSet := liveNames()
	isLive := func(s string) bool { return liveSet[s] }
	// Only live observers count: a killed node is black-holed and, in
	// memberlist, its suspicion timers keep firing after Shutdown.
	for _, loss := range []float64{0.10, 0.30} {
		fails.reset()
		f.setDrop(loss)
		time.Sleep(o.lossWindow)
		f.setDrop(0)
		// Judgements still pending when loss stops count too.
		time.Sleep(5 * time.Second)
		fp := fails.tally(isLive, isLive)
		if loss < 0.2 {
			res.fp10 = fp
		} else {
			res.fp30 = fp
		}
		fmt.Fprintf(os.Stderr, "loss %.0f%%: %v false positives %v\n", loss*100, fp, fails.snapshot())
		waitUntil(o.detectTimeout, converged)
	}

	// Stall one node.
	fails.reset()
	var victim int
	for i := range live {
		if i != 0 {
			victim = i
			break
		}
	}
	f.stall(addrs[victim])
	time.Sleep(o.stallFor)
	f.resume(addrs[victim])
	time.Sleep(o.stallObserve)
	vname := nodeName(victim)
	res.fpStall = fails.tally(isLive, isLive)
	fmt.Fprintf(os.Stderr, "stall of %s: %v false positives %v\n", vname, res.fpStall, fails.snapshot())
	waitUntil(o.detectTimeout, converged)

	// Idle traffic and CPU.
	p0, s0 := f.packetBytes.Load(), f.streamBytes.Load()
	b0 := p0 + s0
	c0 := cpuTime()
	t0 := time.Now()
	time.Sleep(o.idleWindow)
	secs := time.Since(t0).Seconds()
	b1 := f.packetBytes.Load() + f.streamBytes.Load()
	c1 := cpuTime()
	res.idleBytes = float64(b1-b0) / float64(len(live)) / secs
	fmt.Fprintf(os.Stderr, "idle: packets %.0f B/node/s, streams %.0f B/node/s\n",
		float64(f.packetBytes.Load()-p0)/float64(len(live))/secs, float64(f.streamBytes.Load()-s0)/float64(len(live))/secs)
	res.cpuPerSec = float64((c1 - c0).Milliseconds()) / float64(len(live)) / secs
	return res
}
