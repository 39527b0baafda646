package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gridkv/gridkv/gridkv"
)

// Sessions is the "application" under test: login sessions kept in GridKV
// with a TTL. It depends only on a *gridkv.Node, so its tests can hand it
// a single in-memory node or a whole in-memory cluster.
type Sessions struct {
	store *gridkv.Node
	ttl   time.Duration
}

// Errors the application reports; its callers never see gridkv's errors.
var (
	ErrNoSession   = errors.New("sessions: no such session")
	ErrUnavailable = errors.New("sessions: store unavailable, retry later")
)

// NewSessions returns sessions stored in store that last ttl.
func NewSessions(store *gridkv.Node, ttl time.Duration) *Sessions {
	return &Sessions{store: store, ttl: ttl}
}

// Login creates a session for user and returns its token.
func (s *Sessions) Login(ctx context.Context, user string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	if err := s.store.Set(ctx, "session:"+token, []byte(user), gridkv.WithTTL(s.ttl)); err != nil {
		return "", s.mapErr(err)
	}
	return token, nil
}

// User returns the user a token belongs to.
func (s *Sessions) User(ctx context.Context, token string) (string, error) {
	v, err := s.store.Get(ctx, "session:"+token)
	if err != nil {
		return "", s.mapErr(err)
	}
	return string(v), nil
}

// Logout ends a session.
func (s *Sessions) Logout(ctx context.Context, token string) error {
	return s.mapErr(s.store.Delete(ctx, "session:"+token))
}

func (s *Sessions) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gridkv.ErrNotFound):
		return ErrNoSession
	case errors.Is(err, gridkv.ErrQuorum), errors.Is(err, gridkv.ErrOverloaded):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
