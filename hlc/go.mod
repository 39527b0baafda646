module github.com/gridkv/gridkv/hlc

go 1.25
