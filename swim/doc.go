// Package swim will hold GridKV's membership layer: SWIM failure detection
// with the Lifeguard extensions, gossip dissemination, push-pull state
// exchange and an encrypted, authenticated wire format.
package swim
