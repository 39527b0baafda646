package storage

import (
	"fmt"
	"sort"
)

// Backend names registered by NewRegistry.
const (
	// BackendSharded is the sharded, GC-friendly backend (the default).
	BackendSharded = "sharded"
	// BackendMap is the single-lock map backend, for tests and tiny stores.
	BackendMap = "map"
)

// Factory builds an engine from a configuration.
type Factory func(Config) (Engine, error)

// Registry maps backend names to factories. It is a plain value: build one
// with NewRegistry and pass it where it is needed; there is no package-level
// registry. A Registry is not safe for concurrent Register calls; register
// everything before sharing it.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns a Registry holding the two built-in backends,
// BackendSharded and BackendMap.
func NewRegistry() *Registry {
	r := &Registry{factories: make(map[string]Factory)}
	r.factories[BackendSharded] = func(c Config) (Engine, error) { return NewSharded(c) }
	r.factories[BackendMap] = func(c Config) (Engine, error) { return NewMap(c) }
	return r
}

// Register adds a backend. It returns ErrDuplicateBackend if name is taken.
func (r *Registry) Register(name string, f Factory) error {
	if _, ok := r.factories[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateBackend, name)
	}
	r.factories[name] = f
	return nil
}

// Open builds the backend registered under name. It returns
// ErrUnknownBackend for an unknown name and the factory's error (usually
// ErrInvalidConfig) otherwise.
func (r *Registry) Open(name string, c Config) (Engine, error) {
	f, ok := r.factories[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (have %v)", ErrUnknownBackend, name, r.Names())
	}
	return f(c)
}

// Names returns the registered backend names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
