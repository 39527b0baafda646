module github.com/gridkv/gridkv/examples

go 1.25.0

replace (
	github.com/gridkv/gridkv/gridkv => ../gridkv
	github.com/gridkv/gridkv/hlc => ../hlc
	github.com/gridkv/gridkv/ring => ../ring
	github.com/gridkv/gridkv/storage => ../storage
	github.com/gridkv/gridkv/swim => ../swim
	github.com/gridkv/gridkv/transport => ../transport
)

require (
	github.com/gridkv/gridkv/gridkv v0.0.0-00010101000000-000000000000
	github.com/gridkv/gridkv/hlc v0.0.0-00010101000000-000000000000
	github.com/gridkv/gridkv/ring v0.0.0-00010101000000-000000000000
	github.com/gridkv/gridkv/swim v0.0.0-00010101000000-000000000000
	github.com/gridkv/gridkv/transport v0.0.0-00010101000000-000000000000
	github.com/redis/go-redis/v9 v9.14.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/gridkv/gridkv/storage v0.0.0-00010101000000-000000000000 // indirect
	github.com/panjf2000/ants/v2 v2.12.1 // indirect
	github.com/panjf2000/gnet/v2 v2.9.7 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	golang.org/x/crypto v0.46.0 // indirect
	golang.org/x/sync v0.11.0 // indirect
	golang.org/x/sys v0.39.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)
