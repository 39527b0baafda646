package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gridkv/gridkv/gridkv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettingsPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gridkv.conf")
	conf := "# comment\naddr = 127.0.0.1:7000\nzone = \"file-zone\"\nmax-clients = 11\nrequest-timeout = 3s\nrequirepass = from-file\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := load([]string{"--zone", "flag-zone"}, env(map[string]string{
		"GRIDKV_CONFIG":      file,
		"GRIDKV_ZONE":        "env-zone",
		"GRIDKV_MAX_CLIENTS": "22",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want any }{
		{s.zone, "flag-zone"},      // flag beats env and file
		{s.maxClients, 22},         // env beats file
		{s.addr, "127.0.0.1:7000"}, // file beats default
		{s.requestTimeout, 3 * time.Second},
		{s.password, "from-file"},
		{s.adminAddr, "127.0.0.1:8380"}, // default
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %v, want %v", i, c.got, c.want)
		}
	}
}

func TestSettingsReplicationDefaults(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 1},
		{[]string{"--seeds", "127.0.0.1:7481"}, 3},
		{[]string{"--cluster"}, 3},
		{[]string{"--cluster", "--replication-factor", "5"}, 5},
		{[]string{"--local-cluster", "2"}, 2},
		{[]string{"--local-cluster", "5"}, 3},
	} {
		s, err := load(tc.args, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.nodeOptions(0)
		if err != nil {
			t.Fatal(err)
		}
		if o.ReplicationFactor != tc.want {
			t.Errorf("%v: N = %d, want %d", tc.args, o.ReplicationFactor, tc.want)
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
	s, _ := load([]string{"--local-cluster", "3", "--addr", "127.0.0.1:6380", "--cluster-addr", "127.0.0.1:0"}, env(nil), io.Discard)
	o, _ := s.nodeOptions(2)
	c, err := s.serverConfig(2)
	if err != nil || c.Addr != "127.0.0.1:6382" || c.AdminAddr != "127.0.0.1:8382" || o.BindAddr != "127.0.0.1:0" || o.Gossip != gridkv.GossipLocal {
		t.Errorf("local cluster node 2: %q %q %q gossip %v, %v", c.Addr, c.AdminAddr, o.BindAddr, o.Gossip, err)
	}
}

func TestSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		target error
	}{
		{"unknown key", []string{"--config", write("a", "bogus = 1\n")}, nil, ErrConfigFile},
		{"no equals", []string{"--config", write("b", "addr 127.0.0.1:1\n")}, nil, ErrConfigFile},
		{"bad value", []string{"--config", write("c", "max-clients = many\n")}, nil, ErrConfigFile},
		{"config in config", []string{"--config", write("d", "config = x\n")}, nil, ErrConfigFile},
		{"missing file", []string{"--config", filepath.Join(dir, "none")}, nil, os.ErrNotExist},
		{"bad env", nil, map[string]string{"GRIDKV_MAX_CLIENTS": "x"}, nil},
		{"stray argument", []string{"extra"}, nil, nil},
		{"help", []string{"--help"}, nil, flag.ErrHelp},
	} {
		_, err := load(tc.args, env(tc.env), io.Discard)
		if err == nil || (tc.target != nil && !errors.Is(err, tc.target)) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.target)
		}
	}
	for _, args := range [][]string{
		{"--consistency", "sometimes"}, {"--engine", "carrier-pigeon"}, {"--gossip", "loud"},
		{"--cluster-key", "zz"}, {"--cluster-addr", "nohost"},
	} {
		s, err := load(args, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.nodeOptions(0); !errors.Is(err, gridkv.ErrInvalidOptions) {
			t.Errorf("%v: %v, want ErrInvalidOptions", args, err)
		}
	}
}

// TestSettingsPortOverlap: the port ranges of --addr, --admin-addr and
// --cluster-addr (one port per --local-cluster node) must not overlap on a
// host; port 0 and different hosts never collide.
func TestSettingsPortOverlap(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true}, // the defaults: 6380, 8380, 7480
		{[]string{"--local-cluster", "3"}, true},
		{[]string{"--addr", "127.0.0.1:7480"}, false},
		{[]string{"--local-cluster", "3", "--addr", "127.0.0.1:7478"}, false}, // 7478-7480 meets 7480-7482
		{[]string{"--local-cluster", "3", "--addr", "127.0.0.1:7477"}, true},
		{[]string{"--addr", ":7480"}, false}, // every interface includes 127.0.0.1
		{[]string{"--addr", "0.0.0.0:7480"}, false},
		{[]string{"--addr", "[::]:7481", "--local-cluster", "2"}, false},
		{[]string{"--addr", "127.0.0.2:7480"}, true},
		{[]string{"--addr", "127.0.0.1:0", "--cluster-addr", "127.0.0.1:0"}, true},
		{[]string{"--admin-addr", "", "--addr", "127.0.0.1:7480", "--cluster-addr", "127.0.0.1:7481"}, true},
		{[]string{"--admin-addr", "127.0.0.1:7481", "--cluster-addr", "127.0.0.1:7481"}, false},
		{[]string{"--cluster-addr", "127.0.0.1:http"}, false},
	} {
		s, err := load(tc.args, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		err = s.checkPorts()
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, gridkv.ErrInvalidOptions)) {
			t.Errorf("%v: checkPorts() = %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}

// TestHelpDocumentsEverySetting checks --help lists every flag with its
// environment variable rule.
func TestHelpDocumentsEverySetting(t *testing.T) {
	var out strings.Builder
	s := &settings{}
	fs := newFlagSet(s, &out)
	fs.Usage()
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" || !strings.Contains(out.String(), "-"+f.Name) {
			t.Errorf("flag %s undocumented", f.Name)
		}
	})
	if !strings.Contains(out.String(), "GRIDKV_") {
		t.Error("help does not mention the environment variables")
	}
}

// FuzzConfigFile: arbitrary file content never panics; what parses renders
// back to a file that parses to the same settings.
func FuzzConfigFile(f *testing.F) {
	f.Add("addr = 127.0.0.1:1\n# c\nzone = \"z\"\n")
	f.Add("max-clients = 3\nrequest-timeout = 1s\n")
	f.Add("bogus\n")
	f.Add("cluster = true\n\n   \n")
	f.Fuzz(func(t *testing.T, text string) {
		s1 := &settings{}
		fs1 := newFlagSet(s1, io.Discard)
		if err := applyConfigFile(fs1, strings.NewReader(text), map[string]bool{}); err != nil {
			if !errors.Is(err, ErrConfigFile) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		var names []string
		var b strings.Builder
		fs1.VisitAll(func(fl *flag.Flag) {
			if fl.Name != "config" {
				names = append(names, fl.Name)
				fmt.Fprintf(&b, "%s = %q\n", fl.Name, fl.Value.String())
			}
		})
		sort.Strings(names)
		s2 := &settings{}
		fs2 := newFlagSet(s2, io.Discard)
		if err := applyConfigFile(fs2, strings.NewReader(b.String()), map[string]bool{}); err != nil {
			t.Fatalf("rendered file does not parse: %v\n%s", err, b.String())
		}
		for _, n := range names {
			if a, b := fs1.Lookup(n).Value.String(), fs2.Lookup(n).Value.String(); a != b {
				t.Fatalf("%s: %q became %q", n, a, b)
			}
		}
	})
}
