// Package wire holds the generated protobuf types of GridKV's data-path
// messages. Regenerate with `go generate ./...` in the gridkv module
// (needs protoc and protoc-gen-go v1.36.12 on PATH).
package wire

//go:generate protoc --go_out=. --go_opt=paths=source_relative wire.proto
