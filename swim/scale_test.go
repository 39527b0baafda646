package swim

import (
	"testing"
	"time"
)

// The scale tests run 64 cores over the simulated network in virtual time.

func scaleSim(t *testing.T, seed uint64) (*simCluster, []*simNode) {
	t.Helper()
	s := newSim(t, DefaultLANConfig(), seed)
	nodes := s.bootstrap(64, 5*time.Millisecond)
	took, ok := s.runFor(10*time.Second, s.converged)
	if !ok {
		t.Fatalf("64-node bootstrap did not converge within 10s of virtual time")
	}
	t.Logf("bootstrap converged %v after the last join", took)
	return s, nodes
}

func TestScale64JoinReachesEveryMember(t *testing.T) {
	s, _ := scaleSim(t, 1)
	newcomer := s.add("late")
	s.join(newcomer, s.nodes[10])
	took, ok := s.runFor(5*time.Second, func() bool { return s.allSee(newcomer, StateAlive) })
	if !ok {
		t.Fatalf("join did not reach every member within 5s")
	}
	t.Logf("join reached all 64 others after %v (virtual)", took)
	if _, ok := s.runFor(5*time.Second, s.converged); !ok {
		t.Fatal("cluster did not converge after the join")
	}
	if f := s.failEvents(nil, nil); f != 0 {
		t.Fatalf("%d fail events during a plain join", f)
	}
}

func TestScale64KilledMemberMarkedDeadByAll(t *testing.T) {
	s, nodes := scaleSim(t, 2)
	victim := nodes[17]
	s.kill(victim)
	took, ok := s.runFor(60*time.Second, func() bool { return s.allSee(victim, StateDead) })
	if !ok {
		t.Fatalf("killed member not marked dead by every member within 60s")
	}
	t.Logf("kill -> all dead after %v (virtual)", took)
	// Nobody else was declared dead.
	for _, n := range nodes {
		if n == victim {
			continue
		}
		if f := s.failEvents(nil, n); f != 0 {
			t.Fatalf("live member %s declared dead %d times", n.name, f)
		}
	}
}

func TestScale64LossNoFalsePositives(t *testing.T) {
	s, _ := scaleSim(t, 3)
	s.drop = 0.30
	s.run(120 * time.Second)
	if f := s.failEvents(nil, nil); f != 0 {
		t.Fatalf("with 30%% packet loss, %d fail events about live members", f)
	}
	s.drop = 0
	if _, ok := s.runFor(30*time.Second, s.converged); !ok {
		t.Fatal("cluster did not converge once loss stopped")
	}
}

func TestScale64StalledNodeNotDeclaredDead(t *testing.T) {
	s, nodes := scaleSim(t, 4)
	stalled := nodes[33]
	s.stall(stalled, 6*time.Second)
	s.run(40 * time.Second)
	if f := s.failEvents(nil, stalled); f != 0 {
		t.Fatalf("stalled node declared dead %d times", f)
	}
	if f := s.failEvents(stalled, nil); f != 0 {
		t.Fatalf("stalled node declared %d others dead", f)
	}
	if f := s.failEvents(nil, nil); f != 0 {
		t.Fatalf("%d fail events", f)
	}
	if !s.converged() {
		t.Fatal("cluster not converged 34s after the stall ended")
	}
}
