module github.com/gridkv/gridkv/swim

go 1.25

require (
	go.uber.org/goleak v1.3.0
	golang.org/x/crypto v0.46.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sys v0.39.0 // indirect
)
