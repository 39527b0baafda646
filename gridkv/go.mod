module github.com/gridkv/gridkv/gridkv

go 1.25.0

replace (
	github.com/gridkv/gridkv/hlc => ../hlc
	github.com/gridkv/gridkv/ring => ../ring
	github.com/gridkv/gridkv/storage => ../storage
	github.com/gridkv/gridkv/swim => ../swim
	github.com/gridkv/gridkv/transport => ../transport
)

require (
	github.com/cespare/xxhash/v2 v2.3.0
	go.uber.org/zap v1.28.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
)
