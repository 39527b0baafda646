package hlc

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestTimestampCompare(t *testing.T) {
	tests := []struct {
		a, b Timestamp
		want int
	}{
		{Timestamp{}, Timestamp{}, 0},
		{Timestamp{1, 0}, Timestamp{2, 0}, -1},
		{Timestamp{2, 0}, Timestamp{1, 9}, 1},
		{Timestamp{5, 1}, Timestamp{5, 2}, -1},
		{Timestamp{5, 2}, Timestamp{5, 1}, 1},
		{Timestamp{-1, 0}, Timestamp{0, 0}, -1},
		{Timestamp{math.MinInt64, 0}, Timestamp{math.MaxInt64, math.MaxUint32}, -1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.a.Less(tt.b); got != (tt.want < 0) {
			t.Errorf("%v.Less(%v) = %v", tt.a, tt.b, got)
		}
	}
	if !(Timestamp{}).IsZero() || (Timestamp{Logical: 1}).IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestTimestampString(t *testing.T) {
	tests := []struct {
		ts   Timestamp
		want string
	}{
		{Timestamp{}, "0.000000000,0"},
		{Timestamp{1700000000000065536, 3}, "1700000000.000065536,3"},
		{Timestamp{-1, 0}, "-0.000000001,0"},
		{Timestamp{-1500000000, 7}, "-1.500000000,7"},
		{Timestamp{math.MaxInt64, math.MaxUint32}, "9223372036.854775807,4294967295"},
		{Timestamp{math.MinInt64, 0}, "-9223372036.854775808,0"},
	}
	for _, tt := range tests {
		if got := tt.ts.String(); got != tt.want {
			t.Errorf("String(%#v) = %q, want %q", tt.ts, got, tt.want)
		}
		back, err := Parse(tt.want)
		if err != nil || back != tt.ts {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", tt.want, back, err, tt.ts)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"", ",", "1.000000000", "1,0", "1.00000000,0", "1.0000000000,0", "x.000000000,0",
		"1.000000000,-1", "1.000000000,4294967296", "9223372036.854775808,0",
		"-9223372036.854775809,0", "99999999999999999999.000000000,0", "+1.000000000,0",
		"1.000000000, 1", "--1.000000000,0", "1.00000000a,0",
	} {
		if _, err := Parse(s); !errors.Is(err, ErrInvalidTimestamp) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalidTimestamp", s, err)
		}
	}
}

func TestBinaryOrderMatchesCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}
	gen := func() Timestamp {
		w := int64(r.Uint64())
		if r.IntN(4) == 0 {
			w = edges[r.IntN(len(edges))]
		}
		return Timestamp{WallTime: w, Logical: uint32(r.IntN(3))}
	}
	for range 20000 {
		a, b := gen(), gen()
		if r.IntN(3) == 0 {
			b.WallTime = a.WallTime
		}
		ea, _ := a.MarshalBinary()
		eb, _ := b.MarshalBinary()
		if got, want := bytes.Compare(ea, eb), a.Compare(b); got != want {
			t.Fatalf("bytes.Compare(enc(%v), enc(%v)) = %d, Compare = %d", a, b, got, want)
		}
		var back Timestamp
		if err := back.UnmarshalBinary(ea); err != nil || back != a {
			t.Fatalf("round trip of %v gave %v, %v", a, back, err)
		}
	}
}

func TestUnmarshalBinaryLength(t *testing.T) {
	for _, n := range []int{0, 1, EncodedLen - 1, EncodedLen + 1, 64} {
		var ts Timestamp
		if err := ts.UnmarshalBinary(make([]byte, n)); !errors.Is(err, ErrInvalidTimestamp) {
			t.Errorf("UnmarshalBinary(%d bytes) error = %v, want ErrInvalidTimestamp", n, err)
		}
	}
}

func TestAppendBinaryAppends(t *testing.T) {
	prefix := []byte("key/")
	out, err := Timestamp{WallTime: 42, Logical: 7}.AppendBinary(prefix)
	if err != nil || len(out) != len(prefix)+EncodedLen || !bytes.HasPrefix(out, prefix) {
		t.Fatalf("AppendBinary = %x, %v", out, err)
	}
	var ts Timestamp
	if err := ts.UnmarshalBinary(out[len(prefix):]); err != nil || ts != (Timestamp{42, 7}) {
		t.Fatalf("decoded %v, %v", ts, err)
	}
}

func TestTextRoundTrip(t *testing.T) {
	in := Timestamp{WallTime: 1234567890123456789, Logical: 12}
	b, err := in.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var out Timestamp
	if err := out.UnmarshalText(b); err != nil || out != in {
		t.Fatalf("text round trip: %v, %v", out, err)
	}
	if err := out.UnmarshalText([]byte("garbage")); !errors.Is(err, ErrInvalidTimestamp) {
		t.Fatalf("UnmarshalText(garbage) = %v", err)
	}
	if out != in {
		t.Fatal("failed UnmarshalText modified the receiver")
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, EncodedLen))
	f.Add(bytes.Repeat([]byte{0xff}, EncodedLen))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add(make([]byte, EncodedLen+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ts Timestamp
		err := ts.UnmarshalBinary(b)
		if len(b) != EncodedLen {
			if !errors.Is(err, ErrInvalidTimestamp) {
				t.Fatalf("len %d: err = %v", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid length rejected: %v", err)
		}
		again, _ := ts.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip %x -> %v -> %x", b, ts, again)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0.000000000,0", "1700000000.000065536,3", "-1.500000000,7", "", "1,2,3", "9223372036.854775807,4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTimestamp) {
				t.Fatalf("Parse(%q) untyped error %v", s, err)
			}
			return
		}
		back, err := Parse(ts.String())
		if err != nil || back != ts {
			t.Fatalf("Parse(%q) = %v, re-parse of %q = %v, %v", s, ts, ts.String(), back, err)
		}
	})
}
