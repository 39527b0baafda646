package hlc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EncodedLen is the length in bytes of a Timestamp's binary encoding.
const EncodedLen = 12

// ErrInvalidTimestamp is returned (wrapped) when bytes or text do not decode
// to a Timestamp.
var ErrInvalidTimestamp = errors.New("hlc: invalid timestamp")

// Timestamp is a hybrid logical clock reading: a wall time in nanoseconds
// since the Unix epoch and a logical counter that orders events sharing a
// wall time. It is a small comparable value; the zero Timestamp is before
// every timestamp a Clock produces.
//
// Timestamps are totally ordered by (WallTime, Logical).
type Timestamp struct {
	// WallTime is nanoseconds since the Unix epoch. A Clock produces wall
	// times that are multiples of its tick (see Tick).
	WallTime int64
	// Logical orders timestamps that share a WallTime.
	Logical uint32
}

// Compare returns -1 if t is before u, +1 if t is after u and 0 if they are
// equal.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.WallTime < u.WallTime:
		return -1
	case t.WallTime > u.WallTime:
		return 1
	case t.Logical < u.Logical:
		return -1
	case t.Logical > u.Logical:
		return 1
	}
	return 0
}

// Less reports whether t is before u.
func (t Timestamp) Less(u Timestamp) bool { return t.Compare(u) < 0 }

// IsZero reports whether t is the zero Timestamp.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

// Time returns the wall-time component as a time.Time.
func (t Timestamp) Time() time.Time { return time.Unix(0, t.WallTime) }

// String formats t as "<seconds>.<nanoseconds>,<logical>", for example
// "1700000000.000065536,3". Parse reads the same form back.
func (t Timestamp) String() string {
	return string(t.appendText(make([]byte, 0, 32)))
}

func (t Timestamp) appendText(b []byte) []byte {
	// Work in uint64 so that math.MinInt64 has a magnitude.
	mag := uint64(t.WallTime)
	if t.WallTime < 0 {
		b = append(b, '-')
		mag = -mag
	}
	b = strconv.AppendUint(b, mag/1e9, 10)
	b = append(b, '.')
	var frac [9]byte
	for i, n := 8, mag%1e9; i >= 0; i, n = i-1, n/10 {
		frac[i] = byte('0' + n%10)
	}
	b = append(b, frac[:]...)
	b = append(b, ',')
	return strconv.AppendUint(b, uint64(t.Logical), 10)
}

// Parse reads a Timestamp in the form produced by Timestamp.String. Errors
// wrap ErrInvalidTimestamp.
func Parse(s string) (Timestamp, error) {
	wall, logical, ok := strings.Cut(s, ",")
	if !ok {
		return Timestamp{}, fmt.Errorf("%w: %q lacks ','", ErrInvalidTimestamp, s)
	}
	neg := strings.HasPrefix(wall, "-")
	if neg {
		wall = wall[1:]
	}
	secs, nanos, ok := strings.Cut(wall, ".")
	if !ok || len(nanos) != 9 || !digitsOnly(secs) || !digitsOnly(nanos) {
		return Timestamp{}, fmt.Errorf("%w: %q: wall time is not <seconds>.<9 digits>", ErrInvalidTimestamp, s)
	}
	sec, err := strconv.ParseUint(secs, 10, 64)
	if err != nil {
		return Timestamp{}, fmt.Errorf("%w: %q: %v", ErrInvalidTimestamp, s, err)
	}
	ns, _ := strconv.ParseUint(nanos, 10, 64) // nine digits always parse
	if sec > maxSeconds {
		return Timestamp{}, fmt.Errorf("%w: %q: wall time out of range", ErrInvalidTimestamp, s)
	}
	mag := sec*1e9 + ns
	if (!neg && mag > 1<<63-1) || (neg && mag > 1<<63) {
		return Timestamp{}, fmt.Errorf("%w: %q: wall time out of range", ErrInvalidTimestamp, s)
	}
	if !digitsOnly(logical) {
		return Timestamp{}, fmt.Errorf("%w: %q: logical is not a decimal number", ErrInvalidTimestamp, s)
	}
	l, err := strconv.ParseUint(logical, 10, 32)
	if err != nil {
		return Timestamp{}, fmt.Errorf("%w: %q: %v", ErrInvalidTimestamp, s, err)
	}
	w := int64(mag)
	if neg {
		w = -int64(mag-1) - 1 // avoids overflow at math.MinInt64
	}
	return Timestamp{WallTime: w, Logical: uint32(l)}, nil
}

// maxSeconds is the largest whole-seconds value an int64 of nanoseconds holds.
const maxSeconds = uint64(1<<63) / 1000000000

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AppendBinary appends the EncodedLen-byte encoding of t to b. The encoding
// sorts bytewise in the same order as Compare: the wall time and the logical
// counter are written big-endian, the wall time with its sign bit flipped.
// It never returns an error; the signature matches encoding.BinaryAppender.
func (t Timestamp) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint64(b, uint64(t.WallTime)^(1<<63))
	return binary.BigEndian.AppendUint32(b, t.Logical), nil
}

// MarshalBinary returns the EncodedLen-byte encoding of t (see AppendBinary).
func (t Timestamp) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(make([]byte, 0, EncodedLen))
}

// UnmarshalBinary decodes an encoding produced by AppendBinary. Any length
// other than EncodedLen is rejected with an error wrapping
// ErrInvalidTimestamp; every EncodedLen-byte input is a valid timestamp.
func (t *Timestamp) UnmarshalBinary(b []byte) error {
	if len(b) != EncodedLen {
		return fmt.Errorf("%w: encoding is %d bytes, want %d", ErrInvalidTimestamp, len(b), EncodedLen)
	}
	t.WallTime = int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	t.Logical = binary.BigEndian.Uint32(b[8:])
	return nil
}

// MarshalText implements encoding.TextMarshaler using the String form.
func (t Timestamp) MarshalText() ([]byte, error) {
	return t.appendText(nil), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using Parse.
func (t *Timestamp) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
