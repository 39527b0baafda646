// Package cputime reads the CPU time of the running process, for
// benchmarks that report CPU per operation next to wall time: on a machine
// shared with other tenants, CPU time moves less than wall time does.
package cputime
