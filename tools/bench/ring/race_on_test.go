//go:build race

package ringbench

// The race detector slows lookups about tenfold; TestBalanceAndMovement then
// samples fewer keys (the figures are printed with the count used).
const raceEnabled = true
