//go:build !linux

package main

import "io"

// readPasswordFromTerminal does not hide input on this system: the caller
// reads a line from in instead.
func readPasswordFromTerminal(io.Reader, io.Writer, string) (string, bool, error) {
	return "", false, nil
}
