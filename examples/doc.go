// Package examples holds runnable GridKV scenarios, one folder each.
package examples
