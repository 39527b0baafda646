//go:build race

package main

// raceEnabled makes the test build the binary with -race too, so that it
// reuses the race-instrumented packages the test itself was built from.
const raceEnabled = true
