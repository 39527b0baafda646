package server

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gridkv/gridkv/gridkv"
)

// The string commands, built on gridkv's Get/Set/Delete. gridkv has no
// conditional write and no read-modify-write, so NX, XX, GET, KEEPTTL,
// EXPIRE, PERSIST, GETDEL and SETNX are check-then-act: a read followed by a
// write. Two clients racing on one key can both see "absent" and both write
// (last write wins). DEL and EXISTS count keys by reading them first.

// nowMs returns the server's wall clock in unix milliseconds.
func (s *Server) nowMs() int64 { return s.now().UnixMilli() }

// load reads key. found is false for a missing or expired key. For a value
// the server did not write, found is true and err is ErrNotString.
func (s *Server) load(c *client, key string) (env envelope, found bool, err error) {
	v, err := s.node.Get(s.ctx, key, c.callOpts...)
	if err != nil {
		if errors.Is(err, gridkv.ErrNotFound) {
			return envelope{}, false, nil
		}
		return envelope{}, false, err
	}
	env, err = decodeEnvelope(v)
	if err != nil {
		return envelope{}, true, err
	}
	if env.expireMs != 0 && env.expireMs <= s.nowMs() {
		return envelope{}, false, nil
	}
	return env, true, nil
}

// store writes value with an absolute expiry (0: none). An expiry that has
// already passed deletes the key instead, as Redis does.
func (s *Server) store(c *client, key string, value []byte, expireMs int64) error {
	if len(value) > s.cfg.MaxValueSize {
		// Checked here so that the limit clients see excludes the envelope.
		return fmt.Errorf("%w: %d bytes, limit %d", gridkv.ErrValueTooLarge, len(value), s.cfg.MaxValueSize)
	}
	var buf [2]gridkv.CallOption
	opts := append(buf[:0], c.callOpts...)
	if expireMs != 0 {
		ttl := expireMs - s.nowMs()
		if ttl <= 0 {
			return s.node.Delete(s.ctx, key, c.callOpts...)
		}
		opts = append(opts, gridkv.WithTTL(time.Duration(ttl)*time.Millisecond))
	}
	// The envelope is built in the client's buffer: Set keeps no
	// reference to the value it is given.
	c.envelope = appendEnvelope(c.envelope[:0], value, expireMs)
	if cap(c.envelope) > maxKeptEnvelope {
		defer func() { c.envelope = nil }() // a big value has passed
	}
	return s.node.Set(s.ctx, key, c.envelope, opts...)
}

func cmdGet(s *Server, c *client, args [][]byte) {
	env, found, err := s.load(c, keyOf(args[1]))
	switch {
	case err != nil:
		s.replyErr(c, err)
	case !found:
		s.keyspaceMisses.Add(1)
		c.wr.WriteNull()
	default:
		s.keyspaceHits.Add(1)
		c.wr.WriteBulk(env.value)
	}
}

// expiryArg converts a relative or absolute expiry argument to unix ms.
// unit is 1000 for seconds, 1 for milliseconds. It returns ok=false with
// the Redis error message to send.
func (s *Server) expiryArg(b []byte, unit int64, absolute bool, cmd string) (int64, string) {
	n, ok := parseInt(b)
	if !ok {
		return 0, errNotInt
	}
	if n <= 0 || n > math.MaxInt64/unit {
		return 0, "ERR invalid expire time in '" + cmd + "' command"
	}
	ms := n * unit
	if absolute {
		return ms, ""
	}
	now := s.nowMs()
	if ms > math.MaxInt64-now {
		return 0, "ERR invalid expire time in '" + cmd + "' command"
	}
	return now + ms, ""
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]
func cmdSet(s *Server, c *client, args [][]byte) {
	var nx, xx, get, keepTTL, hasExpiry bool
	var expireMs int64
	for i := 3; i < len(args); i++ {
		a := args[i]
		var unit int64
		var abs bool
		switch {
		case eq(a, "nx") && !xx:
			nx = true
			continue
		case eq(a, "xx") && !nx:
			xx = true
			continue
		case eq(a, "get"):
			get = true
			continue
		case eq(a, "keepttl") && !hasExpiry:
			keepTTL = true
			continue
		case eq(a, "ex"):
			unit = 1000
		case eq(a, "px"):
			unit = 1
		case eq(a, "exat"):
			unit, abs = 1000, true
		case eq(a, "pxat"):
			unit, abs = 1, true
		default:
			s.replyError(c, errSyntax)
			return
		}
		if hasExpiry || keepTTL || i+1 >= len(args) {
			s.replyError(c, errSyntax)
			return
		}
		ms, msg := s.expiryArg(args[i+1], unit, abs, "set")
		if msg != "" {
			s.replyError(c, msg)
			return
		}
		expireMs, hasExpiry = ms, true
		i++
	}
	key := keyOf(args[1])
	var old envelope
	var exists bool
	if nx || xx || get || keepTTL {
		var err error
		old, exists, err = s.load(c, key)
		if err != nil && !(errors.Is(err, ErrNotString) && !get) {
			// SET overwrites a value of another kind, but SET ... GET
			// cannot return it.
			s.replyErr(c, err)
			return
		}
	}
	if (nx && exists) || (xx && !exists) {
		if get && exists {
			c.wr.WriteBulk(old.value)
		} else {
			c.wr.WriteNull()
		}
		return
	}
	if keepTTL && exists {
		expireMs = old.expireMs
	}
	if err := s.store(c, key, args[2], expireMs); err != nil {
		s.replyErr(c, err)
		return
	}
	switch {
	case get && exists:
		c.wr.WriteBulk(old.value)
	case get:
		c.wr.WriteNull()
	default:
		c.wr.WriteString("OK")
	}
}

func setWithExpiry(s *Server, c *client, args [][]byte, unit int64, name string) {
	ms, msg := s.expiryArg(args[2], unit, false, name)
	if msg != "" {
		s.replyError(c, msg)
		return
	}
	if err := s.store(c, keyOf(args[1]), args[3], ms); err != nil {
		s.replyErr(c, err)
		return
	}
	c.wr.WriteString("OK")
}

func cmdSetex(s *Server, c *client, args [][]byte)  { setWithExpiry(s, c, args, 1000, "setex") }
func cmdPsetex(s *Server, c *client, args [][]byte) { setWithExpiry(s, c, args, 1, "psetex") }

func cmdSetnx(s *Server, c *client, args [][]byte) {
	key := keyOf(args[1])
	_, exists, err := s.load(c, key)
	if err != nil && !errors.Is(err, ErrNotString) {
		s.replyErr(c, err)
		return
	}
	if exists {
		c.wr.WriteInt(0)
		return
	}
	if err := s.store(c, key, args[2], 0); err != nil {
		s.replyErr(c, err)
		return
	}
	c.wr.WriteInt(1)
}

func cmdGetdel(s *Server, c *client, args [][]byte) {
	key := keyOf(args[1])
	env, found, err := s.load(c, key)
	switch {
	case err != nil:
		s.replyErr(c, err)
		return
	case !found:
		c.wr.WriteNull()
		return
	}
	if err := s.node.Delete(s.ctx, key, c.callOpts...); err != nil {
		s.replyErr(c, err)
		return
	}
	c.wr.WriteBulk(env.value)
}

func cmdDel(s *Server, c *client, args [][]byte) {
	n := 0
	for _, k := range args[1:] {
		key := str(k)
		_, found, err := s.load(c, key)
		if err != nil && !errors.Is(err, ErrNotString) {
			s.replyErr(c, err)
			return
		}
		if !found {
			continue
		}
		if err := s.node.Delete(s.ctx, key, c.callOpts...); err != nil {
			s.replyErr(c, err)
			return
		}
		n++
	}
	c.wr.WriteInt(n)
}

func cmdExists(s *Server, c *client, args [][]byte) {
	n := 0
	for _, k := range args[1:] {
		_, found, err := s.load(c, str(k))
		if err != nil && !errors.Is(err, ErrNotString) {
			s.replyErr(c, err)
			return
		}
		if found {
			n++
		}
	}
	c.wr.WriteInt(n)
}

func cmdMget(s *Server, c *client, args [][]byte) {
	type result struct {
		v     []byte
		found bool
	}
	res := make([]result, 0, len(args)-1)
	for _, k := range args[1:] {
		env, found, err := s.load(c, str(k))
		if errors.Is(err, ErrNotString) {
			found = false // MGET answers nil for keys of another kind
		} else if err != nil {
			s.replyErr(c, err)
			return
		}
		res = append(res, result{env.value, found})
	}
	c.wr.WriteArray(len(res))
	for _, r := range res {
		if r.found {
			s.keyspaceHits.Add(1)
			c.wr.WriteBulk(r.v)
		} else {
			s.keyspaceMisses.Add(1)
			c.wr.WriteNull()
		}
	}
}

// cmdMset writes the pairs one by one: not atomic (a failure part-way
// leaves the earlier pairs written, and other clients may see a mix).
func cmdMset(s *Server, c *client, args [][]byte) {
	if len(args)%2 != 1 {
		s.replyError(c, "ERR wrong number of arguments for 'mset' command")
		return
	}
	for i := 1; i < len(args); i += 2 {
		if err := s.store(c, keyOf(args[i]), args[i+1], 0); err != nil {
			s.replyErr(c, err)
			return
		}
	}
	c.wr.WriteString("OK")
}

// EXPIRE key seconds [NX|XX|GT|LT], PEXPIRE in milliseconds.
func expire(s *Server, c *client, args [][]byte, unit int64, name string) {
	n, ok := parseInt(args[2])
	if !ok {
		s.replyError(c, errNotInt)
		return
	}
	var nx, xx, gt, lt bool
	for _, a := range args[3:] {
		switch {
		case eq(a, "nx"):
			nx = true
		case eq(a, "xx"):
			xx = true
		case eq(a, "gt"):
			gt = true
		case eq(a, "lt"):
			lt = true
		default:
			s.replyError(c, "ERR Unsupported option "+clip(a))
			return
		}
	}
	if nx && (xx || gt || lt) {
		s.replyError(c, "ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if gt && lt {
		s.replyError(c, "ERR GT and LT options at the same time are not compatible")
		return
	}
	now := s.nowMs()
	if n > (math.MaxInt64-now)/unit || n < (math.MinInt64+now)/unit {
		s.replyError(c, "ERR invalid expire time in '"+name+"' command")
		return
	}
	at := now + n*unit
	key := keyOf(args[1])
	env, found, err := s.load(c, key)
	if err != nil {
		s.replyErr(c, err)
		return
	}
	if !found {
		c.wr.WriteInt(0)
		return
	}
	has := env.expireMs != 0
	switch {
	case nx && has, xx && !has,
		gt && (!has || at <= env.expireMs), // no expiry counts as infinite
		lt && has && at >= env.expireMs:
		c.wr.WriteInt(0)
		return
	}
	if at <= now {
		err = s.node.Delete(s.ctx, key, c.callOpts...)
	} else {
		err = s.store(c, key, env.value, at)
	}
	if err != nil {
		s.replyErr(c, err)
		return
	}
	c.wr.WriteInt(1)
}

func cmdExpire(s *Server, c *client, args [][]byte)  { expire(s, c, args, 1000, "expire") }
func cmdPexpire(s *Server, c *client, args [][]byte) { expire(s, c, args, 1, "pexpire") }

// ttl answers TTL/PTTL: -2 missing, -1 no expiry.
func ttl(s *Server, c *client, args [][]byte, ms bool) {
	env, found, err := s.load(c, keyOf(args[1]))
	switch {
	case err != nil:
		s.replyErr(c, err)
	case !found:
		c.wr.WriteInt(-2)
	case env.expireMs == 0:
		c.wr.WriteInt(-1)
	default:
		left := max(env.expireMs-s.nowMs(), 0)
		if !ms {
			left = (left + 500) / 1000
		}
		c.wr.WriteInt64(left)
	}
}

func cmdTTL(s *Server, c *client, args [][]byte)  { ttl(s, c, args, false) }
func cmdPTTL(s *Server, c *client, args [][]byte) { ttl(s, c, args, true) }

func cmdPersist(s *Server, c *client, args [][]byte) {
	key := keyOf(args[1])
	env, found, err := s.load(c, key)
	switch {
	case err != nil:
		s.replyErr(c, err)
		return
	case !found || env.expireMs == 0:
		c.wr.WriteInt(0)
		return
	}
	if err := s.store(c, key, env.value, 0); err != nil {
		s.replyErr(c, err)
		return
	}
	c.wr.WriteInt(1)
}

// cmdDbsize reports the entries in this node's local store: an
// approximation. It counts this node's replicas only (in a cluster each key
// is on N nodes; DBSIZE on one node is about keys*N/nodes), and includes
// tombstones and expired entries not yet purged.
func cmdDbsize(s *Server, c *client, _ [][]byte) {
	c.wr.WriteInt(s.node.Metrics().StorageEntries)
}

// maxKeptEnvelope is the largest envelope buffer a client keeps between
// writes.
const maxKeptEnvelope = 64 << 10
