package server

import (
	"strings"
	"testing"
)

// TestCluster starts three servers (N=3) and uses redis-cli against each:
// a write through one node is read through the others, members and ring
// ownership are reported, and /cluster shows the peers.
func TestCluster(t *testing.T) {
	requireRedisCLI(t)
	nodes := startCluster(t, 3)
	p0, p1, p2 := nodes[0].port(), nodes[1].port(), nodes[2].port()

	if got := cli(t, p0, "SET", "city", "lisbon", "EX", "300"); got != "OK" {
		t.Fatalf("SET via node 0: %q", got)
	}
	for _, p := range []string{p1, p2} {
		got := normalize(cliStdin(t, p, "GRIDKV CONSISTENCY ALL\nGET city\nTTL city\n"))
		ls := strings.Split(got, "\n")
		if len(ls) != 3 || ls[0] != "OK" || ls[1] != "lisbon" || (ls[2] != "300" && ls[2] != "299") {
			t.Fatalf("node on port %s: %q", p, got)
		}
	}
	if got := cli(t, p1, "DEL", "city"); got != "1" {
		t.Fatalf("DEL via node 1: %q", got)
	}
	if got := normalize(cliStdin(t, p2, "GRIDKV CONSISTENCY QUORUM\nEXISTS city\n")); got != "OK\n0" {
		t.Fatalf("EXISTS after DEL via node 2: %q", got)
	}

	members := cli(t, p2, "GRIDKV", "MEMBERS")
	for _, n := range nodes {
		if !strings.Contains(members, n.node.ID()) {
			t.Errorf("GRIDKV MEMBERS lacks %s:\n%s", n.node.ID(), members)
		}
	}
	if c := strings.Count(members, "alive"); c != 3 {
		t.Errorf("GRIDKV MEMBERS shows %d alive:\n%s", c, members)
	}
	// With N=3 on three nodes every node holds every key.
	if c := strings.Count(cli(t, p0, "GRIDKV", "RING"), "100.00% replica"); c != 3 {
		t.Errorf("GRIDKV RING: %d members replicate everything, want 3", c)
	}
	if info := cli(t, p0, "INFO", "cluster"); !strings.Contains(info, "gridkv_members:3") || !strings.Contains(info, "gridkv_members_alive:3") {
		t.Errorf("INFO cluster:\n%s", info)
	}

	st := nodes[0].srv.ClusterStatus()
	if len(st.Members) != 3 || len(st.Ring) != 3 || !st.Ready {
		t.Fatalf("ClusterStatus: %+v", st)
	}
	var sum float64
	for _, o := range st.Ring {
		sum += o.Primary
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("primary ownership sums to %v", sum)
	}
	peers := 0
	for _, p := range st.Peers {
		if p.MsgsOut > 0 {
			peers++
		}
	}
	if peers < 2 {
		t.Errorf("node 0 sent to %d peers, want 2: %+v", peers, st.Peers)
	}
}
