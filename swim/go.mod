module github.com/gridkv/gridkv/swim

go 1.25
