package swim

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the length of every keyring key (ChaCha20-Poly1305).
const KeySize = chacha20poly1305.KeySize

// Keyring holds the shared keys of a cluster. Outgoing packets and frames
// are sealed with the primary key; incoming ones are accepted under any
// installed key, so keys rotate without downtime: Install the new key on
// every node, then Use it on every node, then Remove the old one.
//
// A Keyring is safe for concurrent use and may be shared by several nodes.
type Keyring struct {
	mu    sync.RWMutex
	keys  [][]byte // keys[0] is the primary
	aeads []cipher.AEAD
}

// NewKeyring returns a keyring whose primary key is primary, with the other
// keys installed for decryption.
func NewKeyring(primary []byte, others ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	if err := k.Install(primary); err != nil {
		return nil, err
	}
	for _, o := range others {
		if err := k.Install(o); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Install adds key for decryption (a no-op if present).
func (k *Keyring) Install(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("%w: key must have %d bytes, got %d", ErrKey, KeySize, len(key))
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKey, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, have := range k.keys {
		if bytes.Equal(have, key) {
			return nil
		}
	}
	k.keys = append(k.keys, slices.Clone(key))
	k.aeads = append(k.aeads, aead)
	return nil
}

// Use makes an installed key the primary.
func (k *Keyring) Use(key []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, have := range k.keys {
		if bytes.Equal(have, key) {
			k.keys[0], k.keys[i] = k.keys[i], k.keys[0]
			k.aeads[0], k.aeads[i] = k.aeads[i], k.aeads[0]
			return nil
		}
	}
	return fmt.Errorf("%w: key not installed", ErrKey)
}

// Remove uninstalls a key; the primary cannot be removed.
func (k *Keyring) Remove(key []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, have := range k.keys {
		if bytes.Equal(have, key) {
			if i == 0 {
				return fmt.Errorf("%w: cannot remove the primary key", ErrKey)
			}
			k.keys = slices.Delete(k.keys, i, i+1)
			k.aeads = slices.Delete(k.aeads, i, i+1)
			return nil
		}
	}
	return nil
}

// Keys returns copies of the installed keys, primary first.
func (k *Keyring) Keys() [][]byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([][]byte, len(k.keys))
	for i, key := range k.keys {
		out[i] = slices.Clone(key)
	}
	return out
}

const (
	wirePlain  = 0
	wireSealed = 1
	nonceSize  = chacha20poly1305.NonceSize
	// sealedOverhead is what sealing adds: version, nonce, tag.
	sealedOverhead = 1 + nonceSize + chacha20poly1305.Overhead
)

// codec seals and opens packets and frames for one node.
type codec struct {
	keyring *Keyring
	label   []byte
}

func (c *codec) overhead() int {
	if c.keyring != nil {
		return sealedOverhead
	}
	return 2 + len(c.label)
}

// seal appends the sealed form of plain to dst.
func (c *codec) seal(dst, plain []byte) ([]byte, error) {
	if c.keyring == nil {
		dst = append(dst, wirePlain, byte(len(c.label)))
		dst = append(dst, c.label...)
		return append(dst, plain...), nil
	}
	c.keyring.mu.RLock()
	aead := c.keyring.aeads[0]
	c.keyring.mu.RUnlock()
	dst = append(dst, wireSealed)
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	dst = append(dst, nonce[:]...)
	return aead.Seal(dst, nonce[:], plain, c.label), nil
}

// open returns the plain text of a sealed packet or frame.
func (c *codec) open(b []byte) ([]byte, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: empty", ErrBadPacket)
	}
	switch b[0] {
	case wirePlain:
		if c.keyring != nil {
			return nil, fmt.Errorf("%w: plain-text packet while encryption is on", ErrAuth)
		}
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return nil, fmt.Errorf("%w: short header", ErrBadPacket)
		}
		if !bytes.Equal(b[2:2+int(b[1])], c.label) {
			return nil, fmt.Errorf("%w: label mismatch", ErrAuth)
		}
		return b[2+int(b[1]):], nil
	case wireSealed:
		if c.keyring == nil {
			return nil, fmt.Errorf("%w: encrypted packet but no keyring", ErrAuth)
		}
		if len(b) < sealedOverhead {
			return nil, fmt.Errorf("%w: short sealed packet", ErrBadPacket)
		}
		nonce, ct := b[1:1+nonceSize], b[1+nonceSize:]
		c.keyring.mu.RLock()
		defer c.keyring.mu.RUnlock()
		for _, aead := range c.keyring.aeads {
			if plain, err := aead.Open(nil, nonce, ct, c.label); err == nil {
				return plain, nil
			}
		}
		return nil, fmt.Errorf("%w: no installed key opens the packet", ErrAuth)
	}
	return nil, fmt.Errorf("%w: unknown version %d", ErrBadPacket, b[0])
}
