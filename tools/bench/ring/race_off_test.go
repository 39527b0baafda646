//go:build !race

package ringbench

const raceEnabled = false
