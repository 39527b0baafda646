module github.com/gridkv/gridkv/ring

go 1.25
