module github.com/gridkv/gridkv/swim

go 1.25.14

require (
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
