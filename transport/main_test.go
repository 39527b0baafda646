package transport_test

import (
	"testing"

	"go.uber.org/goleak"
)

// IgnoreCurrent: importing ants starts its package-level default pool's
// two goroutines at init; every pool this package creates must be gone.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }
