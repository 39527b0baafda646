package swim_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gridkv/gridkv/swim"
)

// Two nodes on the in-memory network: b joins through a, and both list the
// same members right after Join returns (the join is a full-state exchange).
func Example() {
	network := swim.NewMemNetwork(1)
	defer network.Close()
	start := func(name string) *swim.Node {
		tr, err := network.NewTransport(name)
		if err != nil {
			log.Fatal(err)
		}
		cfg := swim.DefaultLocalConfig()
		cfg.Name, cfg.Transport = name, tr
		cfg.Meta = []byte("zone=" + name)
		n, err := swim.Create(cfg)
		if err != nil {
			log.Fatal(err)
		}
		return n
	}
	a, b := start("a"), start("b")
	defer a.Shutdown()
	defer b.Shutdown()

	joined, err := b.Join(context.Background(), []string{"a"})
	fmt.Println("seeds answered:", joined, err)
	for _, m := range a.Members() {
		fmt.Println(m.Name, m.State, string(m.Meta))
	}
	fmt.Println("same table:", a.Checksum() == b.Checksum())
	// Output:
	// seeds answered: 1 <nil>
	// a alive zone=a
	// b alive zone=b
	// same table: true
}

// A node over the standard UDP+TCP transport on loopback, with encryption.
func ExampleNewNetTransport() {
	key := make([]byte, swim.KeySize) // use a random secret in production
	keyring, err := swim.NewKeyring(key)
	if err != nil {
		log.Fatal(err)
	}
	var nodes []*swim.Node
	for _, name := range []string{"x", "y"} {
		tr, err := swim.NewNetTransport(swim.DefaultNetTransportConfig())
		if err != nil {
			log.Fatal(err)
		}
		cfg := swim.DefaultLANConfig()
		cfg.Name, cfg.Transport, cfg.Keyring, cfg.Label = name, tr, keyring, "example"
		n, err := swim.Create(cfg)
		if err != nil {
			log.Fatal(err)
		}
		defer n.Shutdown()
		nodes = append(nodes, n)
	}
	if _, err := nodes[1].Join(context.Background(), []string{nodes[0].Addr()}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(nodes[0].NumMembers(), nodes[1].NumMembers())
	// Output: 2 2
}

// Key rotation: install the new key everywhere, make it primary everywhere,
// then remove the old one.
func ExampleKeyring() {
	oldKey := make([]byte, swim.KeySize)
	newKey := make([]byte, swim.KeySize)
	newKey[0] = 1
	kr, err := swim.NewKeyring(oldKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kr.Install(newKey), kr.Use(newKey), kr.Remove(oldKey), len(kr.Keys()))
	// Output: <nil> <nil> <nil> 1
}
