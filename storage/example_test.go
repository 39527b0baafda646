package storage_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridkv/gridkv/storage"
)

func Example() {
	cfg := storage.DefaultConfig()
	cfg.SweepInterval = 0 // no background goroutine for this example
	eng, err := storage.NewRegistry().Open(storage.BackendSharded, cfg)
	if err != nil {
		panic(err)
	}
	defer eng.Close()

	v1, v2 := storage.Version{15: 1}, storage.Version{15: 2}
	eng.Put([]byte("user:1"), storage.Entry{Value: []byte("ada"), Version: v2})
	applied, _ := eng.Put([]byte("user:1"), storage.Entry{Value: []byte("old"), Version: v1})
	val, _ := eng.Get([]byte("user:1"), nil)
	fmt.Println(string(val), applied)
	// Output: ada false
}

func ExampleEngine_Get_allocationFree() {
	cfg := storage.DefaultConfig()
	cfg.SweepInterval = 0
	eng, _ := storage.NewSharded(cfg)
	defer eng.Close()

	eng.Put([]byte("k"), storage.Entry{Value: []byte("value"), Version: storage.Version{15: 1}})
	buf := make([]byte, 0, 64) // reused across reads: no allocation
	for i := 0; i < 2; i++ {
		var err error
		buf, err = eng.Get([]byte("k"), buf[:0])
		fmt.Println(string(buf), err)
	}
	_, err := eng.Get([]byte("missing"), buf[:0])
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	// Output:
	// value <nil>
	// value <nil>
	// true
}

func ExampleManualClock() {
	clock := storage.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg := storage.DefaultConfig()
	cfg.Clock = clock
	cfg.SweepInterval = 0 // call Sweep by hand
	cfg.TombstoneGrace = time.Minute
	eng, _ := storage.NewSharded(cfg)
	defer eng.Close()

	eng.Put([]byte("session"), storage.Entry{Value: []byte("x"), Version: storage.Version{15: 1},
		Expiry: clock.Now() + int64(10*time.Second)})
	clock.Advance(10 * time.Second)
	_, err := eng.Get([]byte("session"), nil)
	fmt.Println("read after expiry:", err)

	fmt.Printf("sweep: %+v\n", eng.Sweep()) // the expired entry becomes a tombstone
	e, _ := eng.GetEntry([]byte("session"), nil)
	fmt.Println("tombstone:", e.Tombstone)

	clock.Advance(time.Minute)
	fmt.Printf("sweep: %+v, entries left: %d\n", eng.Sweep(), eng.Len())
	// Output:
	// read after expiry: storage: not found
	// sweep: {Expired:1 Purged:0}
	// tombstone: true
	// sweep: {Expired:0 Purged:1}, entries left: 0
}

func ExampleEngine_Digests() {
	cfg := storage.DefaultConfig()
	cfg.SweepInterval = 0
	a, _ := storage.NewSharded(cfg)
	b, _ := storage.NewMap(cfg) // digests do not depend on the backend
	defer a.Close()
	defer b.Close()

	for i := 0; i < 100; i++ {
		key := []byte(fmt.Sprintf("key-%d", i))
		e := storage.Entry{Value: []byte("v"), Version: storage.Version{15: 1}}
		a.Put(key, e)
		if i != 42 { // replica b missed one write
			b.Put(key, e)
		}
	}
	da, _ := a.Digests(nil)
	db, _ := b.Digests(nil)
	for bucket := range da {
		if da[bucket] != db[bucket] {
			start, end := a.BucketRange(bucket)
			a.Range(start, end, func(key []byte, e storage.Entry) bool {
				if _, err := b.GetEntry(key, nil); err != nil {
					fmt.Printf("bucket %d differs; b lacks %s\n", bucket, key)
				}
				return true
			})
		}
	}
	// Output: bucket 559 differs; b lacks key-42
}

func ExampleRegistry() {
	reg := storage.NewRegistry()
	fmt.Println(reg.Names())
	_, err := reg.Open("lsm", storage.DefaultConfig())
	fmt.Println(errors.Is(err, storage.ErrUnknownBackend))
	// Output:
	// [map sharded]
	// true
}
