// Package gridkv will hold the replicated key-value store composed of the
// hlc, ring, swim, transport and storage modules.
package gridkv
