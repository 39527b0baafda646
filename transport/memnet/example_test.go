package memnet_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridkv/gridkv/transport"
	"github.com/gridkv/gridkv/transport/memnet"
)

func Example() {
	n := memnet.NewNetwork(1) // seed for the fault injection
	a, _ := n.Listen("a:7000", memnet.DefaultConfig())
	b, _ := n.Listen("b:7000", memnet.DefaultConfig())
	defer a.Close()
	defer b.Close()
	_ = b.Handle(1, func(_ context.Context, from string, p []byte) ([]byte, error) {
		return []byte(from + " said " + string(p)), nil
	})

	var t transport.Transport = a // same interface as a socket endpoint
	resp, err := t.Call(context.Background(), "b:7000", 1, []byte("hi"))
	fmt.Println(string(resp), err)

	n.Partition([]string{"a:7000"}, []string{"b:7000"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = t.Call(ctx, "b:7000", 1, []byte("hi"))
	fmt.Println(errors.Is(err, context.DeadlineExceeded))

	n.Heal()
	_ = n.Kill("b:7000")
	_, err = t.Call(context.Background(), "b:7000", 1, nil)
	fmt.Println(errors.Is(err, transport.ErrDial))
	// Output:
	// a:7000 said hi <nil>
	// true
	// true
}

// Delays run on an injected clock: no sleeping in tests.
func ExampleManualClock() {
	n := memnet.NewNetwork(7)
	clk := memnet.NewManualClock(time.Unix(0, 0))
	n.SetClock(clk)
	n.SetDelay(memnet.UniformDelay(5*time.Millisecond, 15*time.Millisecond))
	a, _ := n.Listen("", memnet.DefaultConfig())
	b, _ := n.Listen("", memnet.DefaultConfig())
	defer a.Close()
	defer b.Close()
	got := make(chan string, 1)
	b.HandlePackets(func(_ string, p []byte) { got <- string(p) })

	_ = a.SendPacket(b.Addr(), []byte("ping"))
	fmt.Println("scheduled:", clk.Pending())
	clk.Advance(15 * time.Millisecond)
	fmt.Println(<-got)
	// Output:
	// scheduled: 1
	// ping
}
