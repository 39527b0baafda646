package gridkv

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/ring"
	"github.com/gridkv/gridkv/storage"
)

// maxBatch bounds the entries of one PutRequest or FetchRequest.
const maxBatch = 4096

func (n *Node) handlePut(_ context.Context, _ string, payload []byte) ([]byte, error) {
	var req putRequest // decoded in place, see wirefast.go
	if err := parsePutRequest(payload, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadMessage, err)
	}
	if err := n.observe(req.clock); err != nil {
		return nil, err
	}
	if req.count > maxBatch {
		return nil, fmt.Errorf("%w: %d entries in one request", errBadMessage, req.count)
	}
	if req.strict && n.recovering.Load() {
		return nil, errRecovering
	}
	hintFor := string(req.hintFor)
	applied := uint32(0)
	var ke putEntry
	for req.next(&ke) {
		e, err := ke.entry()
		if err != nil {
			return nil, err
		}
		if len(ke.key) == 0 || len(ke.key) > n.opts.MaxKeySize {
			return nil, fmt.Errorf("%w: key of %d bytes", errBadMessage, len(ke.key))
		}
		if hintFor != "" && hintFor != n.id {
			if !n.hints.add(hintFor, ke.key, e) {
				n.met.hintsDropped.Add(1)
				return nil, fmt.Errorf("%w: hint store full", ErrOverloaded)
			}
			n.met.hintsStored.Add(1)
			applied++
			continue
		}
		ok, err := n.store.Put(ke.key, e)
		if err != nil {
			return nil, err
		}
		if ok {
			applied++
		}
	}
	return appendPutResponse(make([]byte, 0, 24), n.clock.Last(), applied), nil
}

func (n *Node) handleGet(_ context.Context, _ string, payload []byte) ([]byte, error) {
	clock, key, strict, err := parseGetRequest(payload) // in place, see wirefast.go
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadMessage, err)
	}
	if err := n.observe(clock); err != nil {
		return nil, err
	}
	if strict && n.recovering.Load() {
		return nil, errRecovering
	}
	// The value is read into a buffer on the stack when it fits (the
	// response below copies it): a concrete call lets the compiler keep the
	// buffer there. Clock, found and the entry's fields take at most 64
	// bytes besides the value.
	var scratch [256]byte
	var e storage.Entry
	if s, ok := n.store.(*storage.Sharded); ok {
		e, err = s.GetEntry(key, scratch[:0])
	} else {
		e, err = n.store.GetEntry(key, nil)
	}
	switch {
	case err == storage.ErrNotFound:
		return appendGetResponse(make([]byte, 0, 16), n.clock.Last(), false, e), nil
	case err != nil:
		return nil, err
	}
	return appendGetResponse(make([]byte, 0, 64+len(e.Value)), n.clock.Last(), true, e), nil
}

func (n *Node) handleDigest(_ context.Context, _ string, payload []byte) ([]byte, error) {
	var req wire.DigestRequest
	if err := proto.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadMessage, err)
	}
	if err := n.observe(req.Clock); err != nil {
		return nil, err
	}
	if len(req.Ranges) > maxDigestRanges {
		return nil, fmt.Errorf("%w: %d ranges in one request", errBadMessage, len(req.Ranges))
	}
	ranges := make([]ring.Range, len(req.Ranges))
	for i, r := range req.Ranges {
		ranges[i] = ring.Range{Start: r.GetStart(), End: r.GetEnd()}
	}
	digests, err := rangeDigests(n.store, ranges)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(&wire.DigestResponse{Clock: encodeClock(n.clock.Last()), Digests: digests})
}

func (n *Node) handleKeys(_ context.Context, _ string, payload []byte) ([]byte, error) {
	var req wire.KeysRequest
	if err := proto.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadMessage, err)
	}
	if err := n.observe(req.Clock); err != nil {
		return nil, err
	}
	if req.Range == nil {
		return nil, fmt.Errorf("%w: missing range", errBadMessage)
	}
	limit := int(min(req.Limit, maxKeysPerRequest))
	resp := &wire.KeysResponse{Clock: encodeClock(n.clock.Last())}
	err := n.store.Range(req.Range.Start, req.Range.End, func(key []byte, e storage.Entry) bool {
		if len(resp.Keys) >= limit {
			resp.Truncated = true
			return false
		}
		resp.Keys = append(resp.Keys, &wire.KeyVersion{Key: append([]byte(nil), key...), Version: append([]byte(nil), e.Version[:]...)})
		return true
	})
	if err != nil {
		return nil, err
	}
	return proto.Marshal(resp)
}

func (n *Node) handleFetch(_ context.Context, _ string, payload []byte) ([]byte, error) {
	var req wire.FetchRequest
	if err := proto.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadMessage, err)
	}
	if err := n.observe(req.Clock); err != nil {
		return nil, err
	}
	if len(req.Keys) > maxBatch {
		return nil, fmt.Errorf("%w: %d keys in one request", errBadMessage, len(req.Keys))
	}
	resp := &wire.FetchResponse{Clock: encodeClock(n.clock.Last())}
	for _, k := range req.Keys {
		e, err := n.store.GetEntry(k, nil)
		if err != nil {
			continue // gone since it was listed: nothing to send
		}
		resp.Entries = append(resp.Entries, &wire.KeyEntry{Key: k, Entry: toWire(e)})
	}
	return proto.Marshal(resp)
}
