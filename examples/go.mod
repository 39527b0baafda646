module github.com/gridkv/gridkv/examples

go 1.25

replace (
	github.com/gridkv/gridkv/gridkv => ../gridkv
	github.com/gridkv/gridkv/hlc => ../hlc
	github.com/gridkv/gridkv/ring => ../ring
	github.com/gridkv/gridkv/storage => ../storage
	github.com/gridkv/gridkv/swim => ../swim
	github.com/gridkv/gridkv/transport => ../transport
)

require github.com/gridkv/gridkv/hlc v0.0.0-00010101000000-000000000000
