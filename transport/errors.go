package transport

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of these
// (or is a *RemoteError), so callers branch with errors.Is / errors.As.
var (
	// ErrClosed is returned by every method of a Transport after Close.
	ErrClosed = errors.New("transport: closed")
	// ErrConnClosed fails calls whose connection broke (the peer crashed,
	// closed the connection or sent bytes that forced us to close it).
	ErrConnClosed = errors.New("transport: connection closed")
	// ErrDial is returned when no connection to the peer could be
	// established (dial or handshake failed, or the peer is in reconnect
	// backoff after such a failure).
	ErrDial = errors.New("transport: peer unreachable")
	// ErrFrameTooLarge is returned for a payload, frame or packet above the
	// configured maximum, locally or when a peer sends one.
	ErrFrameTooLarge = errors.New("transport: frame too large")
	// ErrBadFrame marks a malformed header, hello or packet.
	ErrBadFrame = errors.New("transport: bad frame")
	// ErrUnknownType is returned when the peer has no handler for the
	// message type.
	ErrUnknownType = errors.New("transport: unknown message type")
	// ErrOverloaded is returned when the peer's handler pool (or a local
	// bounded queue that must not block) is saturated.
	ErrOverloaded = errors.New("transport: overloaded")
	// ErrUnauthenticated marks a connection or packet that failed
	// authentication: wrong key, or one side encrypts and the other not.
	ErrUnauthenticated = errors.New("transport: unauthenticated")
	// ErrHandlerExists is returned by Handle when the type already has a
	// handler.
	ErrHandlerExists = errors.New("transport: handler already registered")
)

// Reserved remote error codes. Codes below CodeUser are used by the
// transport itself; applications pick codes at or above CodeUser.
const (
	// CodeInternal is sent when a handler returns an error that is not a
	// *RemoteError; Message carries err.Error().
	CodeInternal uint16 = 1
	// CodeOverloaded: the peer's handler pool was saturated.
	CodeOverloaded uint16 = 2
	// CodeUnknownType: the peer has no handler for the message type.
	CodeUnknownType uint16 = 3
	// CodeUser is the first code free for applications.
	CodeUser uint16 = 256
)

// maxRemoteMessage bounds the message text carried by an error response.
const maxRemoteMessage = 1024

// RemoteError is an error returned by the peer's handler, carried back to
// the caller. A handler that returns a *RemoteError has its Code and
// Message delivered unchanged (Message truncated to 1 KiB), so applications
// can send their own typed codes (>= CodeUser). Reserved codes unwrap to
// the matching sentinel: errors.Is(err, ErrOverloaded) holds for
// CodeOverloaded and errors.Is(err, ErrUnknownType) for CodeUnknownType.
type RemoteError struct {
	Code    uint16
	Message string
}

// Error implements error.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("transport: remote error %d: %s", e.Code, e.Message)
}

// Unwrap maps reserved codes to their sentinels.
func (e *RemoteError) Unwrap() error {
	switch e.Code {
	case CodeOverloaded:
		return ErrOverloaded
	case CodeUnknownType:
		return ErrUnknownType
	}
	return nil
}

// remoteErrorFrom converts a handler error into the code and message sent
// back to the caller.
func remoteErrorFrom(err error) (uint16, string) {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Code, re.Message
	}
	if errors.Is(err, ErrOverloaded) {
		return CodeOverloaded, err.Error()
	}
	if errors.Is(err, ErrUnknownType) {
		return CodeUnknownType, err.Error()
	}
	return CodeInternal, err.Error()
}

// AppendErrorPayload encodes a remote error as a response payload: a
// 2-byte big-endian code followed by the message, truncated to 1 KiB. It is
// exported for alternative implementations (such as memnet) so that errors
// cross them exactly as they cross a socket.
func AppendErrorPayload(dst []byte, code uint16, msg string) []byte {
	if len(msg) > maxRemoteMessage {
		msg = msg[:maxRemoteMessage]
	}
	dst = append(dst, byte(code>>8), byte(code))
	return append(dst, msg...)
}

// ParseErrorPayload decodes a payload built by AppendErrorPayload into a
// *RemoteError. A payload shorter than 2 bytes yields ErrBadFrame.
func ParseErrorPayload(p []byte) error {
	if len(p) < 2 {
		return fmt.Errorf("%w: short error payload (%d bytes)", ErrBadFrame, len(p))
	}
	msg := p[2:]
	if len(msg) > maxRemoteMessage {
		msg = msg[:maxRemoteMessage]
	}
	return &RemoteError{Code: uint16(p[0])<<8 | uint16(p[1]), Message: string(msg)}
}

// ErrorPayload returns the wire payload for a handler error (see
// AppendErrorPayload and RemoteError).
func ErrorPayload(err error) []byte {
	code, msg := remoteErrorFrom(err)
	return AppendErrorPayload(nil, code, msg)
}
