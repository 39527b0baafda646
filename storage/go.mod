module github.com/gridkv/gridkv/storage

go 1.25
