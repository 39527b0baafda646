package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/tidwall/redcon"

	"github.com/gridkv/gridkv/gridkv"
)

// client is one connection's state.
type client struct {
	id       int64
	conn     net.Conn
	rd       *cmdReader
	envelope []byte // the value being stored, encoded (Server.store)
	// prefetchKeys is Server.prefetch's list, reused.
	prefetchKeys []string
	wr           *redcon.Writer
	addr         string
	name         string
	authed       bool
	quit         bool
	level        gridkv.Consistency // GRIDKV CONSISTENCY; Default means the node's
	callOpts     []gridkv.CallOption
}

// command describes one Redis command. Arity follows Redis: positive means
// exactly that many arguments (name included), negative means at least.
type command struct {
	name                    string
	arity                   int
	flags                   []string
	firstKey, lastKey, step int
	run                     func(s *Server, c *client, args [][]byte)
	idx                     int
	calls                   atomic.Uint64
	noAuth                  bool // allowed before AUTH
}

// commandTable builds the command set. It is a value built per Server (no
// package-level registry).
func commandTable() (map[string]*command, []*command) {
	w, r, f := []string{"write"}, []string{"readonly", "fast"}, []string{"fast"}
	list := []*command{
		{name: "ping", arity: -1, flags: f, run: cmdPing},
		{name: "echo", arity: 2, flags: f, run: cmdEcho},
		{name: "quit", arity: -1, flags: f, run: cmdQuit, noAuth: true},
		{name: "select", arity: 2, flags: f, run: cmdSelect},
		{name: "auth", arity: -2, flags: f, run: cmdAuth, noAuth: true},
		{name: "hello", arity: -1, flags: f, run: cmdHello, noAuth: true},
		{name: "get", arity: 2, flags: r, firstKey: 1, lastKey: 1, step: 1, run: cmdGet},
		{name: "set", arity: -3, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdSet},
		{name: "setex", arity: 4, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdSetex},
		{name: "psetex", arity: 4, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdPsetex},
		{name: "setnx", arity: 3, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdSetnx},
		{name: "getdel", arity: 2, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdGetdel},
		{name: "del", arity: -2, flags: w, firstKey: 1, lastKey: -1, step: 1, run: cmdDel},
		{name: "exists", arity: -2, flags: r, firstKey: 1, lastKey: -1, step: 1, run: cmdExists},
		{name: "mget", arity: -2, flags: r, firstKey: 1, lastKey: -1, step: 1, run: cmdMget},
		{name: "mset", arity: -3, flags: w, firstKey: 1, lastKey: -1, step: 2, run: cmdMset},
		{name: "expire", arity: -3, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdExpire},
		{name: "pexpire", arity: -3, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdPexpire},
		{name: "ttl", arity: 2, flags: r, firstKey: 1, lastKey: 1, step: 1, run: cmdTTL},
		{name: "pttl", arity: 2, flags: r, firstKey: 1, lastKey: 1, step: 1, run: cmdPTTL},
		{name: "persist", arity: 2, flags: w, firstKey: 1, lastKey: 1, step: 1, run: cmdPersist},
		{name: "dbsize", arity: 1, flags: r, run: cmdDbsize},
		{name: "info", arity: -1, flags: nil, run: cmdInfo},
		{name: "config", arity: -2, flags: nil, run: cmdConfig},
		{name: "command", arity: -1, flags: nil, run: cmdCommand},
		{name: "client", arity: -2, flags: nil, run: cmdClient},
		{name: "gridkv", arity: -2, flags: nil, run: cmdGridkv},
	}
	m := make(map[string]*command, len(list))
	for i, c := range list {
		c.idx = i
		m[c.name] = c
	}
	return m, list
}

// exec runs one command and writes its reply.
func (s *Server) exec(c *client, args [][]byte) {
	s.commandsTotal.Add(1)
	if len(args) == 0 {
		return
	}
	var lower [24]byte
	name := args[0]
	var cmd *command
	if len(name) <= len(lower) {
		for i, b := range name {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			lower[i] = b
		}
		cmd = s.cmds[string(lower[:len(name)])]
	}
	if cmd == nil {
		s.unknownCommands.Add(1)
		var b strings.Builder
		b.WriteString("ERR unknown command '")
		b.WriteString(clip(name))
		b.WriteString("', with args beginning with: ")
		for _, a := range args[1:min(len(args), 4)] {
			b.WriteString("'")
			b.WriteString(clip(a))
			b.WriteString("' ")
		}
		s.replyError(c, b.String())
		return
	}
	if !c.authed && !cmd.noAuth {
		s.replyError(c, "NOAUTH Authentication required.")
		return
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		s.replyError(c, "ERR wrong number of arguments for '"+cmd.name+"' command")
		return
	}
	cmd.calls.Add(1)
	cmd.run(s, c, args)
}

// clip makes client bytes safe to echo in an error line.
func clip(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, string(b))
}

func (s *Server) replyError(c *client, msg string) {
	s.errorReplies.Add(1)
	c.wr.WriteError(msg)
}

// replyErr maps a gridkv or server error to a Redis error line.
func (s *Server) replyErr(c *client, err error) {
	msg := strings.TrimPrefix(err.Error(), "gridkv: ")
	switch {
	case errors.Is(err, ErrNotString):
		s.replyError(c, "WRONGTYPE Operation against a key holding the wrong kind of value")
	case errors.Is(err, gridkv.ErrQuorum):
		s.replyError(c, "QUORUM "+msg)
	case errors.Is(err, gridkv.ErrOverloaded):
		s.replyError(c, "OVERLOADED "+msg)
	case errors.Is(err, gridkv.ErrClosed), errors.Is(err, context.Canceled):
		s.replyError(c, "SHUTDOWN node is shutting down")
	case errors.Is(err, context.DeadlineExceeded):
		s.replyError(c, "TIMEOUT "+msg)
	case errors.Is(err, gridkv.ErrEmptyKey):
		s.replyError(c, "ERR empty keys are not supported by gridkv")
	default:
		s.replyError(c, "ERR "+msg)
	}
}

// str returns b as a string without copying, for use within the command
// only: arguments alias the connection's read buffer (cmdReader), which the
// next read overwrites.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// keyOf returns a key argument as a string of its own: gridkv may hold a
// key after the call returns (a hint, a background read repair), longer
// than the argument bytes stay valid.
func keyOf(b []byte) string { return string(b) }

func eq(b []byte, lower string) bool { return strings.EqualFold(str(b), lower) }

func parseInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(str(b), 10, 64)
	return n, err == nil
}

const (
	errSyntax    = "ERR syntax error"
	errNotInt    = "ERR value is not an integer or out of range"
	errNoAuthSet = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."
)

func cmdPing(s *Server, c *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.wr.WriteString("PONG")
	case 2:
		c.wr.WriteBulk(args[1])
	default:
		s.replyError(c, "ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(_ *Server, c *client, args [][]byte) { c.wr.WriteBulk(args[1]) }

func cmdQuit(_ *Server, c *client, _ [][]byte) {
	c.wr.WriteString("OK")
	c.quit = true
}

func cmdSelect(s *Server, c *client, args [][]byte) {
	n, ok := parseInt(args[1])
	switch {
	case !ok:
		s.replyError(c, errNotInt)
	case n != 0:
		s.replyError(c, "ERR DB index is out of range")
	default:
		c.wr.WriteString("OK")
	}
}

func (s *Server) checkPassword(user, pass []byte) bool {
	if user != nil && !eq(user, "default") {
		return false
	}
	return subtle.ConstantTimeCompare(pass, []byte(s.cfg.Password)) == 1
}

func cmdAuth(s *Server, c *client, args [][]byte) {
	var user, pass []byte
	switch len(args) {
	case 2:
		pass = args[1]
	case 3:
		user, pass = args[1], args[2]
	default:
		s.replyError(c, errSyntax)
		return
	}
	if s.cfg.Password == "" {
		s.replyError(c, errNoAuthSet)
		return
	}
	if !s.checkPassword(user, pass) {
		s.replyError(c, errWrongPass)
		return
	}
	c.authed = true
	c.wr.WriteString("OK")
}

// cmdHello speaks RESP2 only: HELLO 3 gets -NOPROTO, which clients such as
// go-redis take as "fall back to RESP2".
func cmdHello(s *Server, c *client, args [][]byte) {
	i := 1
	if len(args) > 1 {
		v, ok := parseInt(args[1])
		if !ok {
			s.replyError(c, "ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 {
			s.replyError(c, "NOPROTO sorry, this protocol version is not supported")
			return
		}
		i = 2
	}
	authed, name := c.authed, c.name
	for ; i < len(args); i++ {
		switch {
		case eq(args[i], "auth") && i+2 < len(args):
			if s.cfg.Password == "" {
				s.replyError(c, errNoAuthSet)
				return
			}
			if !s.checkPassword(args[i+1], args[i+2]) {
				s.replyError(c, errWrongPass)
				return
			}
			authed = true
			i += 2
		case eq(args[i], "setname") && i+1 < len(args):
			if !validClientName(args[i+1]) {
				s.replyError(c, errClientName)
				return
			}
			name = string(args[i+1])
			i++
		default:
			s.replyError(c, "ERR Syntax error in HELLO option '"+clip(args[i])+"'")
			return
		}
	}
	if !authed {
		s.replyError(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	c.authed, c.name = authed, name
	c.wr.WriteArray(14)
	c.wr.WriteBulkString("server")
	c.wr.WriteBulkString("gridkv")
	c.wr.WriteBulkString("version")
	c.wr.WriteBulkString(redisCompatVersion)
	c.wr.WriteBulkString("proto")
	c.wr.WriteInt(2)
	c.wr.WriteBulkString("id")
	c.wr.WriteInt64(c.id)
	c.wr.WriteBulkString("mode")
	c.wr.WriteBulkString("standalone")
	c.wr.WriteBulkString("role")
	c.wr.WriteBulkString("master")
	c.wr.WriteBulkString("modules")
	c.wr.WriteArray(0)
}

const errClientName = "ERR Client names cannot contain spaces, newlines or special characters."

func validClientName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func cmdClient(s *Server, c *client, args [][]byte) {
	switch sub := args[1]; {
	case eq(sub, "setname") && len(args) == 3:
		if !validClientName(args[2]) {
			s.replyError(c, errClientName)
			return
		}
		c.name = string(args[2])
		c.wr.WriteString("OK")
	case eq(sub, "getname") && len(args) == 2:
		if c.name == "" {
			c.wr.WriteNull()
			return
		}
		c.wr.WriteBulkString(c.name)
	case eq(sub, "id") && len(args) == 2:
		c.wr.WriteInt64(c.id)
	case eq(sub, "setinfo") && len(args) == 4:
		// Library name/version reported by clients: accepted, not kept.
		c.wr.WriteString("OK")
	case eq(sub, "setname"), eq(sub, "getname"), eq(sub, "id"), eq(sub, "setinfo"):
		s.replyError(c, "ERR wrong number of arguments for 'client|"+strings.ToLower(str(sub))+"' command")
	default:
		s.replyError(c, "ERR unknown subcommand '"+clip(sub)+"'. Try CLIENT HELP.")
	}
}

// cmdGridkv implements cluster inspection and the per-connection
// consistency level: GRIDKV MEMBERS | RING | CONSISTENCY [level].
func cmdGridkv(s *Server, c *client, args [][]byte) {
	switch sub := args[1]; {
	case eq(sub, "members") && len(args) == 2:
		ms := s.node.Members()
		c.wr.WriteArray(len(ms))
		for _, m := range ms {
			c.wr.WriteArray(5)
			c.wr.WriteBulkString(m.ID)
			c.wr.WriteBulkString(m.Addr)
			c.wr.WriteBulkString(m.Zone)
			c.wr.WriteBulkString(m.State)
			if m.InRing {
				c.wr.WriteBulkString("in-ring")
			} else {
				c.wr.WriteBulkString("not-in-ring")
			}
		}
	case eq(sub, "ring") && len(args) == 2:
		own := s.ownership()
		c.wr.WriteArray(len(own))
		for _, o := range own {
			c.wr.WriteArray(4)
			c.wr.WriteBulkString(o.ID)
			c.wr.WriteBulkString(o.Zone)
			c.wr.WriteBulkString(strconv.FormatFloat(100*o.Primary, 'f', 2, 64) + "% primary")
			c.wr.WriteBulkString(strconv.FormatFloat(100*o.Replica, 'f', 2, 64) + "% replica")
		}
	case eq(sub, "consistency") && len(args) == 2:
		c.wr.WriteBulkString(c.level.String())
	case eq(sub, "consistency") && len(args) == 3:
		if eq(args[2], "default") {
			c.level, c.callOpts = gridkv.Default, nil
			c.wr.WriteString("OK")
			return
		}
		lvl, err := gridkv.ParseConsistency(strings.ToUpper(str(args[2])))
		if err != nil {
			s.replyError(c, "ERR consistency must be ONE, QUORUM, ALL, LINEARIZABLE or DEFAULT")
			return
		}
		c.level, c.callOpts = lvl, []gridkv.CallOption{gridkv.WithConsistency(lvl)}
		c.wr.WriteString("OK")
	default:
		s.replyError(c, "ERR unknown subcommand or wrong number of arguments for 'gridkv|"+clip(sub)+"'. Try GRIDKV MEMBERS, GRIDKV RING or GRIDKV CONSISTENCY [ONE|QUORUM|ALL|LINEARIZABLE|DEFAULT].")
	}
}
