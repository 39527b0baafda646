package server

import (
	"bytes"
	"errors"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		value []byte
		exp   int64
	}{
		{nil, 0}, {[]byte("v"), 0}, {[]byte("hello"), 1_800_000_000_123}, {[]byte{tagExpiry, 0, 1}, 1},
	} {
		env, err := decodeEnvelope(encodeEnvelope(tc.value, tc.exp))
		if err != nil || !bytes.Equal(env.value, tc.value) || env.expireMs != tc.exp {
			t.Errorf("round trip of %q/%d: %q/%d, %v", tc.value, tc.exp, env.value, env.expireMs, err)
		}
	}
	for _, bad := range [][]byte{nil, {}, {0x00, 'x'}, {tagExpiry, 1, 2}, {tagExpiry, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := decodeEnvelope(bad); !errors.Is(err, ErrNotString) {
			t.Errorf("decode %x: %v, want ErrNotString", bad, err)
		}
	}
}

// FuzzEnvelope: any bytes decode to a typed error or to an envelope that
// re-encodes to the same bytes.
func FuzzEnvelope(f *testing.F) {
	f.Add(encodeEnvelope([]byte("value"), 0))
	f.Add(encodeEnvelope([]byte("value"), 1_800_000_000_000))
	f.Add([]byte{})
	f.Add([]byte{tagExpiry})
	f.Add([]byte("plain bytes"))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrNotString) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if again := encodeEnvelope(env.value, env.expireMs); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %x gives %x", b, again)
		}
	})
}
