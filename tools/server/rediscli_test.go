package server

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// normalize trims trailing spaces of every line and trailing blank lines
// (redis-cli ends error replies with an empty line).
func normalize(s string) string {
	ls := strings.Split(s, "\n")
	for i := range ls {
		ls[i] = strings.TrimRight(ls[i], " \r")
	}
	return strings.TrimRight(strings.Join(ls, "\n"), "\n")
}

// TestRedisCLI drives every supported command, and their error cases,
// through the real redis-cli against a single-node server.
func TestRedisCLI(t *testing.T) {
	requireRedisCLI(t)
	clock := &manualClock{t: time.Unix(1_800_000_000, 0)}
	ts := startServer(t, 1, nil, func(c *Config) { c.Now = clock.Now })
	p := ts.port()
	nowS := clock.Now().Unix()

	steps := []struct {
		args    []string
		want    string
		advance time.Duration // applied to the server clock after the step
	}{
		{args: []string{"PING"}, want: "PONG"},
		{args: []string{"PING", "hi"}, want: "hi"},
		{args: []string{"ECHO", "hello world"}, want: "hello world"},
		{args: []string{"SELECT", "0"}, want: "OK"},
		{args: []string{"SELECT", "1"}, want: "ERR DB index is out of range"},
		{args: []string{"SELECT", "x"}, want: "ERR value is not an integer or out of range"},
		{args: []string{"QUIT"}, want: "OK"},
		// GET / SET and options
		{args: []string{"GET", "k"}, want: ""},
		{args: []string{"SET", "k", "v1"}, want: "OK"},
		{args: []string{"GET", "k"}, want: "v1"},
		{args: []string{"SET", "k", "v2", "NX"}, want: ""},
		{args: []string{"GET", "k"}, want: "v1"},
		{args: []string{"SET", "k", "v2", "XX", "GET"}, want: "v1"},
		{args: []string{"SET", "absent", "x", "XX"}, want: ""},
		{args: []string{"EXISTS", "absent"}, want: "0"},
		{args: []string{"SET", "k", "v3", "GET"}, want: "v2"},
		{args: []string{"SET", "fresh", "x", "NX", "GET"}, want: ""},
		{args: []string{"GET", "fresh"}, want: "x"},
		{args: []string{"SET", "k", "v", "NX", "XX"}, want: "ERR syntax error"},
		{args: []string{"SET", "k", "v", "EX", "10", "PX", "100"}, want: "ERR syntax error"},
		{args: []string{"SET", "k", "v", "EX"}, want: "ERR syntax error"},
		{args: []string{"SET", "k", "v", "BOGUS"}, want: "ERR syntax error"},
		{args: []string{"SET", "k", "v", "EX", "ten"}, want: "ERR value is not an integer or out of range"},
		{args: []string{"SET", "k", "v", "EX", "0"}, want: "ERR invalid expire time in 'set' command"},
		{args: []string{"SET", "k", "v", "PX", "-5"}, want: "ERR invalid expire time in 'set' command"},
		{args: []string{"SET", "k"}, want: "ERR wrong number of arguments for 'set' command"},
		{args: []string{"SET", "", "v"}, want: "ERR empty keys are not supported by gridkv"},
		// expiry: EX, PX, EXAT, PXAT, KEEPTTL, TTL, PTTL
		{args: []string{"SET", "e", "1", "EX", "100"}, want: "OK"},
		{args: []string{"TTL", "e"}, want: "100"},
		{args: []string{"PTTL", "e"}, want: "100000", advance: 40 * time.Second},
		{args: []string{"TTL", "e"}, want: "60"},
		{args: []string{"SET", "e", "2", "KEEPTTL"}, want: "OK"},
		{args: []string{"TTL", "e"}, want: "60"},
		{args: []string{"GET", "e"}, want: "2"},
		{args: []string{"SET", "e", "3"}, want: "OK"},
		{args: []string{"TTL", "e"}, want: "-1"},
		{args: []string{"TTL", "nokey"}, want: "-2"},
		{args: []string{"PTTL", "nokey"}, want: "-2"},
		{args: []string{"SET", "px", "1", "PX", "1500"}, want: "OK"},
		{args: []string{"PTTL", "px"}, want: "1500"},
		{args: []string{"SET", "at", "1", "EXAT", strconv.FormatInt(nowS+40+500, 10)}, want: "OK"},
		{args: []string{"TTL", "at"}, want: "500"},
		{args: []string{"SET", "pat", "1", "PXAT", strconv.FormatInt((nowS+40)*1000+2500, 10)}, want: "OK"},
		{args: []string{"PTTL", "pat"}, want: "2500", advance: 2 * time.Second},
		{args: []string{"GET", "px"}, want: ""}, // expired on the server's clock
		{args: []string{"EXISTS", "px"}, want: "0"},
		{args: []string{"SET", "past", "1", "EXAT", strconv.FormatInt(nowS, 10)}, want: "OK"},
		{args: []string{"GET", "past"}, want: ""},
		// SETEX, PSETEX, SETNX, GETDEL
		{args: []string{"SETEX", "sx", "30", "a"}, want: "OK"},
		{args: []string{"TTL", "sx"}, want: "30"},
		{args: []string{"SETEX", "sx", "0", "a"}, want: "ERR invalid expire time in 'setex' command"},
		{args: []string{"SETEX", "sx", "x", "a"}, want: "ERR value is not an integer or out of range"},
		{args: []string{"PSETEX", "psx", "2500", "b"}, want: "OK"},
		{args: []string{"PTTL", "psx"}, want: "2500"},
		{args: []string{"PSETEX", "psx", "-1", "b"}, want: "ERR invalid expire time in 'psetex' command"},
		{args: []string{"SETNX", "nx", "1"}, want: "1"},
		{args: []string{"SETNX", "nx", "2"}, want: "0"},
		{args: []string{"GET", "nx"}, want: "1"},
		{args: []string{"GETDEL", "nx"}, want: "1"},
		{args: []string{"GETDEL", "nx"}, want: ""},
		{args: []string{"GET", "nx"}, want: ""},
		// DEL, EXISTS, MGET, MSET
		{args: []string{"MSET", "a", "1", "b", "2", "c", "3"}, want: "OK"},
		{args: []string{"MSET", "a", "1", "b"}, want: "ERR wrong number of arguments for 'mset' command"},
		{args: []string{"MGET", "a", "nope", "c"}, want: lines("1", "", "3")},
		{args: []string{"EXISTS", "a", "b", "nope", "a"}, want: "3"},
		{args: []string{"DEL", "a", "b", "nope"}, want: "2"},
		{args: []string{"EXISTS", "a", "b", "c"}, want: "1"},
		{args: []string{"DEL"}, want: "ERR wrong number of arguments for 'del' command"},
		// EXPIRE, PEXPIRE, PERSIST
		{args: []string{"EXPIRE", "c", "100"}, want: "1"},
		{args: []string{"TTL", "c"}, want: "100"},
		{args: []string{"EXPIRE", "c", "50", "GT"}, want: "0"},
		{args: []string{"EXPIRE", "c", "50", "LT"}, want: "1"},
		{args: []string{"EXPIRE", "c", "70", "NX"}, want: "0"},
		{args: []string{"EXPIRE", "c", "70", "XX"}, want: "1"},
		{args: []string{"TTL", "c"}, want: "70"},
		{args: []string{"EXPIRE", "c", "70", "NX", "XX"}, want: "ERR NX and XX, GT or LT options at the same time are not compatible"},
		{args: []string{"EXPIRE", "c", "70", "FOO"}, want: "ERR Unsupported option FOO"},
		{args: []string{"EXPIRE", "c", "soon"}, want: "ERR value is not an integer or out of range"},
		{args: []string{"PEXPIRE", "c", "1234"}, want: "1"},
		{args: []string{"PTTL", "c"}, want: "1234"},
		{args: []string{"PERSIST", "c"}, want: "1"},
		{args: []string{"PERSIST", "c"}, want: "0"},
		{args: []string{"TTL", "c"}, want: "-1"},
		{args: []string{"EXPIRE", "nope", "10"}, want: "0"},
		{args: []string{"EXPIRE", "c", "-1"}, want: "1"},
		{args: []string{"GET", "c"}, want: ""},
		// introspection
		{args: []string{"CLIENT", "GETNAME"}, want: ""},
		{args: []string{"CLIENT", "SETNAME", "bad name"}, want: "ERR Client names cannot contain spaces, newlines or special characters."},
		{args: []string{"CLIENT", "NOPE"}, want: "ERR unknown subcommand 'NOPE'. Try CLIENT HELP."},
		{args: []string{"CONFIG", "GET", "save"}, want: "save"},
		{args: []string{"CONFIG", "GET", "append*"}, want: lines("appendonly", "no")},
		{args: []string{"CONFIG", "SET", "save", ""}, want: "ERR CONFIG SET is not supported by gridkv-server; restart with flags or GRIDKV_* variables"},
		{args: []string{"COMMAND", "COUNT"}, want: "27"},
		{args: []string{"COMMAND", "INFO", "get"}, want: lines("get", "2", "readonly", "fast", "1", "1", "1")},
		{args: []string{"GRIDKV", "CONSISTENCY"}, want: "DEFAULT"},
		{args: []string{"GRIDKV", "CONSISTENCY", "sometimes"}, want: "ERR consistency must be ONE, QUORUM, ALL, LINEARIZABLE or DEFAULT"},
		{args: []string{"GRIDKV", "NOPE"}, want: "ERR unknown subcommand or wrong number of arguments for 'gridkv|NOPE'. Try GRIDKV MEMBERS, GRIDKV RING or GRIDKV CONSISTENCY [ONE|QUORUM|ALL|LINEARIZABLE|DEFAULT]."},
		{args: []string{"GRIDKV", "MEMBERS"}, want: lines(ts.node.ID(), ts.node.Addr(), "", "alive", "in-ring")},
		{args: []string{"GRIDKV", "RING"}, want: lines(ts.node.ID(), "", "100.00% primary", "100.00% replica")},
		{args: []string{"FLUSHALL"}, want: "ERR unknown command 'FLUSHALL', with args beginning with:"},
		{args: []string{"LPUSH", "l", "x"}, want: "ERR unknown command 'LPUSH', with args beginning with: 'l' 'x'"},
		{args: []string{"AUTH", "pw"}, want: "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"},
		{args: []string{"HELLO", "3"}, want: "NOPROTO sorry, this protocol version is not supported"},
	}
	for i, st := range steps {
		got := normalize(cli(t, p, st.args...))
		if got != st.want {
			t.Errorf("step %d: redis-cli %s\n got: %q\nwant: %q", i, strings.Join(st.args, " "), got, st.want)
		}
		if st.advance > 0 {
			clock.Advance(st.advance)
		}
	}

	// A value written through the gridkv API (not in the server's
	// envelope) is another kind of value for Redis commands.
	if err := ts.node.Set(t.Context(), "raw", []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "raw"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]string{"TTL", "raw"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]string{"EXISTS", "raw"}, "1"},
		{[]string{"MGET", "raw"}, ""},
		{[]string{"SET", "raw", "x", "GET"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]string{"SET", "raw", "x"}, "OK"},
		{[]string{"GET", "raw"}, "x"},
	} {
		if got := normalize(cli(t, p, st.args...)); got != st.want {
			t.Errorf("redis-cli %s\n got: %q\nwant: %q", strings.Join(st.args, " "), got, st.want)
		}
	}

	// Several commands on one connection (stdin mode), including a
	// per-connection consistency level and a client name.
	got := normalize(cliStdin(t, p, "CLIENT SETNAME tester\nCLIENT GETNAME\nGRIDKV CONSISTENCY one\nGRIDKV CONSISTENCY\nSET s 1\nGET s\nBADCMD\nGET s\n"))
	want := lines("OK", "tester", "OK", "ONE", "OK", "1", "ERR unknown command 'BADCMD', with args beginning with:", "", "1")
	if got != want {
		t.Errorf("session:\n got: %q\nwant: %q", got, want)
	}

	info := cli(t, p, "INFO")
	for _, section := range []string{"# Server", "# Clients", "# Stats", "# Keyspace", "# Cluster"} {
		if !strings.Contains(info, section) {
			t.Errorf("INFO lacks %q:\n%s", section, info)
		}
	}
	for _, field := range []string{"redis_version:", "connected_clients:", "total_commands_processed:", "db0:keys=", "gridkv_members:1", "gridkv_replication_factor:1"} {
		if !strings.Contains(info, field) {
			t.Errorf("INFO lacks %q", field)
		}
	}
	if got := cli(t, p, "INFO", "keyspace"); strings.Contains(got, "# Server") || !strings.Contains(got, "# Keyspace") {
		t.Errorf("INFO keyspace returned other sections: %q", got)
	}
	n, err := strconv.Atoi(cli(t, p, "DBSIZE"))
	if err != nil || n < 5 {
		t.Errorf("DBSIZE = %v, %v; want at least the 5 live keys", n, err)
	}
	if got := cli(t, p, "COMMAND"); !strings.Contains(got, "getdel") || !strings.Contains(got, "gridkv") {
		t.Errorf("COMMAND does not list the commands: %q", got)
	}
}

// TestRedisCLIAuth checks requirepass: NOAUTH before AUTH, WRONGPASS, and
// commands after a successful AUTH or HELLO AUTH.
func TestRedisCLIAuth(t *testing.T) {
	requireRedisCLI(t)
	ts := startServer(t, 1, nil, func(c *Config) { c.Password = "s3cret" })
	p := ts.port()
	for _, st := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "k"}, "NOAUTH Authentication required."},
		{[]string{"AUTH", "wrong"}, "WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"AUTH", "other", "s3cret"}, "WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"AUTH", "s3cret"}, "OK"},
		{[]string{"AUTH", "default", "s3cret"}, "OK"},
		{[]string{"-a", "s3cret", "--no-auth-warning", "SET", "k", "v"}, "OK"},
		{[]string{"--user", "default", "--pass", "s3cret", "--no-auth-warning", "GET", "k"}, "v"},
		{[]string{"HELLO", "2", "AUTH", "default", "nope"}, "WRONGPASS invalid username-password pair or user is disabled."},
	} {
		if got := normalize(cli(t, p, st.args...)); got != st.want {
			t.Errorf("redis-cli %s\n got: %q\nwant: %q", strings.Join(st.args, " "), got, st.want)
		}
	}
	got := normalize(cliStdin(t, p, "HELLO 2 AUTH default s3cret\nGET k\n"))
	if !strings.HasSuffix(got, "\nv") || !strings.Contains(got, "gridkv") {
		t.Errorf("HELLO AUTH then GET:\n%s", got)
	}
}
