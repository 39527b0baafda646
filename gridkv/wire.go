package gridkv

import (
	"fmt"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/storage"
)

func toWire(e storage.Entry) *wire.Entry {
	return &wire.Entry{Value: e.Value, Version: e.Version[:], Expiry: e.Expiry, Tombstone: e.Tombstone}
}

// fromWire validates and converts an entry received from the network.
func fromWire(w *wire.Entry) (storage.Entry, error) {
	if w == nil {
		return storage.Entry{}, fmt.Errorf("%w: missing entry", errBadMessage)
	}
	return entryOf(w.Value, w.Version, w.Expiry, w.Tombstone)
}

// entryOf validates and assembles an entry from its wire fields.
func entryOf(value, version []byte, expiry int64, tombstone bool) (storage.Entry, error) {
	var e storage.Entry
	if len(version) != len(e.Version) {
		return e, fmt.Errorf("%w: version of %d bytes", errBadMessage, len(version))
	}
	copy(e.Version[:], version)
	e.Value, e.Expiry, e.Tombstone = value, expiry, tombstone
	if e.Tombstone {
		e.Value = nil
	}
	return e, nil
}

func fromWireVersion(b []byte) (storage.Version, error) {
	var v storage.Version
	if len(b) != len(v) {
		return v, fmt.Errorf("%w: version of %d bytes", errBadMessage, len(b))
	}
	copy(v[:], b)
	return v, nil
}

func encodeClock(ts hlc.Timestamp) []byte {
	b, _ := ts.MarshalBinary()
	return b
}

// observe merges the sender's clock into ours; a sender too far ahead is
// refused so that its writes cannot win every race by clock skew.
func (n *Node) observe(clock []byte) error {
	var ts hlc.Timestamp
	if err := ts.UnmarshalBinary(clock); err != nil {
		return fmt.Errorf("%w: clock: %v", errBadMessage, err)
	}
	if err := n.clock.Update(ts); err != nil {
		n.met.clockRejections.Add(1)
		return err
	}
	return nil
}
