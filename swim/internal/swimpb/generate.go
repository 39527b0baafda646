// Package swimpb holds the protobuf wire messages of the swim module. The
// Go code is generated from swim.proto and committed.
package swimpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative swim.proto
