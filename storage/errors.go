package storage

import "errors"

// Sentinel errors returned (possibly wrapped with details) by this package.
// Test for them with errors.Is; the wrapping text is for humans only.
var (
	// ErrNotFound is returned by Get when the key is absent, deleted
	// (tombstone) or expired, and by GetEntry when no entry is stored.
	ErrNotFound = errors.New("storage: not found")
	// ErrEmptyKey is returned for a zero-length key.
	ErrEmptyKey = errors.New("storage: empty key")
	// ErrKeyTooLarge is returned for a key longer than Config.MaxKeySize.
	ErrKeyTooLarge = errors.New("storage: key too large")
	// ErrValueTooLarge is returned for a value longer than
	// Config.MaxValueSize.
	ErrValueTooLarge = errors.New("storage: value too large")
	// ErrMemoryLimit is returned by Put when the write would exceed the
	// memory limit and either the limit policy is LimitReject or eviction
	// could not free enough room (for example because the memory is held by
	// tombstones younger than the purge grace period, which are never
	// evicted).
	ErrMemoryLimit = errors.New("storage: memory limit reached")
	// ErrClosed is returned by every operation on a closed engine.
	ErrClosed = errors.New("storage: engine closed")
	// ErrUnknownBackend is returned by Registry.Open for a name that was not
	// registered.
	ErrUnknownBackend = errors.New("storage: unknown backend")
	// ErrDuplicateBackend is returned by Registry.Register for a name that
	// is already registered.
	ErrDuplicateBackend = errors.New("storage: backend already registered")
	// ErrInvalidConfig is returned by Config.Validate and by constructors for
	// a configuration that cannot work.
	ErrInvalidConfig = errors.New("storage: invalid config")
)
