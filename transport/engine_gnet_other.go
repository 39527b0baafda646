//go:build !unix

package transport

import (
	"errors"
	"fmt"
	"net"
)

// errGnetUnsupported: the gnet engine writes to descriptors directly
// (rawWriter, write(2)), so it is built on Unix systems only.
var errGnetUnsupported = errors.New("transport: EngineGnet is only available on Unix systems")

type gnetEngine struct{}

func newGnetEngine(*Endpoint) (*gnetEngine, error) {
	return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errGnetUnsupported)
}

func (*gnetEngine) attach(*session, net.Conn) error { return errGnetUnsupported }
func (*gnetEngine) close()                          {}
